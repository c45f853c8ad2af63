"""A Norse LIF network's description runs, in snnkit's float model, exactly as Norse runs it."""

from __future__ import annotations

import pytest
import torch
from norse.torch import LIFCell, LIFParameters, LIFRecurrentCell, SequentialState

from snnkit.errors import SnnkitError
from snnkit.hardware.description import from_norse
from snnkit.hardware.emulator import simulate_float


def _params(tau_syn_inv: float, tau_mem_inv: float, v_th: float, **kw) -> LIFParameters:
    f = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    return LIFParameters(tau_syn_inv=f(tau_syn_inv), tau_mem_inv=f(tau_mem_inv), v_th=f(v_th),
                         v_leak=f(kw.get("v_leak", 0.0)), v_reset=f(0.0))


def _norse_net(seed: int) -> SequentialState:
    torch.manual_seed(seed)
    lin = torch.nn.Linear(12, 9, bias=False)
    rec = LIFRecurrentCell(9, 7, p=_params(150.0, 60.0, 0.3), dt=1e-3)
    out = torch.nn.Linear(7, 5, bias=False)
    with torch.no_grad():
        lin.weight.mul_(6.0)
        rec.input_weights.mul_(3.0)
        rec.recurrent_weights.mul_(2.0)
        out.weight.mul_(5.0)
    return SequentialState(lin, LIFCell(_params(200.0, 100.0, 0.25), dt=1e-3), rec, out,
                           LIFCell(_params(120.0, 80.0, 0.2), dt=1e-3)).double()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_norse_network_equals_its_description(seed: int) -> None:
    net = _norse_net(seed)
    T = 120
    x = (torch.rand(T, 4, 12, generator=torch.Generator().manual_seed(seed)) < 0.3).double()
    state, norse_out = None, []
    with torch.no_grad():
        for t in range(T):
            z, state = net(x[t], state)
            norse_out.append(z)
    norse_out = torch.stack(norse_out)
    desc = from_norse(net)
    assert [layer.n_out for layer in desc.layers] == [9, 7, 5]
    assert desc.layers[1].weight_rec is not None
    ours = simulate_float(desc, x)[-1]
    k = len(desc.layers)  # Norse's feed-forward layers act in the same step: k steps ahead
    assert int(norse_out.sum()) > 20
    assert torch.equal(ours[k:], norse_out[:-k]) and int(ours[:k].sum()) == 0


def test_unsupported_norse_modules_are_named() -> None:
    with pytest.raises(SnnkitError, match=r"module 1 \(ReLU\): not supported"):
        from_norse(torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.ReLU()))
    with pytest.raises(SnnkitError, match="bias"):
        from_norse(torch.nn.Sequential(torch.nn.Linear(3, 2), LIFCell()))
    with pytest.raises(SnnkitError, match=r"p\.v_leak: expected 0"):
        from_norse(torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False),
                                       LIFCell(_params(200.0, 100.0, 1.0, v_leak=0.1))))
