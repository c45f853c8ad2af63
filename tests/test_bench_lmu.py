"""bench/bench_lmu.py's naive torch loop: an independent reference for snnkit's LMU.

The loop writes the cell equations out again with Ā, B̄ from ``scipy.signal.cont2discrete``;
with the same weights it must give snnkit's logits and gradients (keras-lmu, the benchmark's
other peer, is not installed in CI and is checked by the benchmark itself).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch

from snnkit.train.lmu import LMU, LMUClassifier

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_lmu.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_lmu", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_sequential_loop_equals_snnkit_lmu() -> None:
    bench = _bench()
    g = torch.Generator().manual_seed(3)
    ref = LMUClassifier(LMU(1, 6, order=12, theta=40.0), 5).double()
    with torch.no_grad():  # every connection non-zero (the psMNIST init has zeros)
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / max(1, p.shape[-1]) ** 0.5)
    loop = bench.SequentialLMU(hidden=6, order=12, theta=40.0, n_classes=5).double()
    loop.copy_from(ref.lmu.cell, ref.readout)
    x = torch.rand(60, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 4])

    want = ref(x[..., None], parallel=False)
    got = loop(x)
    assert want.abs().max() > 0.1
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)

    torch.nn.functional.cross_entropy(want, y).backward()
    torch.nn.functional.cross_entropy(got, y).backward()
    c = ref.lmu.cell
    pairs = [(loop.e_x, c.e_x), (loop.e_h, c.e_h), (loop.e_m, c.e_m), (loop.W_x, c.W_x),
             (loop.W_h, c.W_h), (loop.W_m, c.W_m), (loop.readout_w, ref.readout.weight),
             (loop.readout_b, ref.readout.bias)]
    for mine, theirs in pairs:
        assert theirs.grad.abs().max() > 0
        torch.testing.assert_close(mine.grad, theirs.grad.reshape(mine.grad.shape),
                                   rtol=1e-9, atol=1e-10)


def test_sequential_loop_has_the_psmnist_size() -> None:
    """d = 256, θ = 784, 212 hidden: 102,027 trainable parameters, as snnkit's psMNIST LMU."""
    loop = _bench().SequentialLMU()
    assert sum(p.numel() for p in loop.parameters()) == 102_027
    assert loop.abar_t.shape == (256, 256) and loop.bbar.shape == (256,)
