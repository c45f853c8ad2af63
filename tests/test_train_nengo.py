"""The (hybrid-spiking) LMU in nengo and nengo-dl: same predictions and spikes as torch."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import nengo
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from snnkit.cli import app
from snnkit.errors import SnnkitError
from snnkit.train import nengo_export as ne
from snnkit.train.data import load_dataset
from snnkit.train.lmu_config import LmuConfig
from snnkit.train.lmu_trainer import build_lmu_network, sequences
from snnkit.train.model import save_model
from snnkit.train.quantize import SigmaDeltaQuantizer, set_quantizer_dt

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
T, N_SEQ = 40, 50
runner = CliRunner()


def _net(spiking: bool = True, initial: str = "zeros", dt: float = 1.0, kind: str = "lmu",
         nonlinearity: str = "tanh"):
    """A tiny LMU with every coupling (e_h, e_m, W_x, W_h) random, seeded."""
    model = {"kind": kind, "order": 6, "hidden": 12, "theta": 30.0, "nonlinearity": nonlinearity}
    if kind == "parallel":
        model.update(hidden_to_memory=False, memory_to_memory=False)
    values = {"method": "lmu", "model": model}
    if spiking:
        values["spiking"] = {"enabled": True, "dt_start": max(dt, 1.0), "dt_end": 1.0,
                             "initial": initial, "seed": 3}
    cfg = LmuConfig.from_mapping(values)
    net = build_lmu_network(cfg).eval()
    if spiking:
        set_quantizer_dt(net, dt)  # e.g. a model evaluated during the dt schedule
    if kind == "lmu":
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            c = net.core.cell
            for p in (c.e_h, c.e_m, c.W_x, c.W_h):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            c.W_m.mul_(3.0)
            net.readout.weight.mul_(3.0)
    return net, cfg


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    """The first T pixels of N_SEQ psMNIST test sequences, (T, N_SEQ, 1)."""
    ds = load_dataset("psmnist", "test", data_dir=DATA / "mnist")
    return sequences(ds.images, np.arange(N_SEQ), torch.device("cpu"))[:T]


def _torch(net, x):
    with torch.no_grad():
        logits, h = net(x)
    counts = net.counts(h).numpy() if net.quantizer is not None else h.numpy()
    return logits.numpy(), counts


def test_regular_spiking_equals_quantizer() -> None:
    """One nengo.RegularSpiking population = SigmaDeltaQuantizer, spike for spike."""
    J = np.random.default_rng(0).normal(0, 1.5, (200, 30))
    for base, act, dt, amp in ((nengo.Tanh(tau_ref=1.0), torch.tanh, 1.0, 1.0),
                               (nengo.RectifiedLinear(), torch.relu, 0.25, 2.0)):
        q = SigmaDeltaQuantizer(act, dt=dt, amplitude=amp, initial="uniform", seed=5)
        v0 = q.initial_state(torch.zeros(30))
        expected, _ = q.spike_counts(torch.as_tensor(J), v0)
        with nengo.Network() as net:
            inp = nengo.Node(nengo.processes.PresentInput(J, dt))
            ens = nengo.Ensemble(30, 1, gain=np.ones(30), bias=np.zeros(30),
                                 neuron_type=nengo.RegularSpiking(
                                     base, amplitude=amp, initial_state={"voltage": v0.numpy()}))
            nengo.Connection(inp, ens.neurons, synapse=None)
            probe = nengo.Probe(ens.neurons, synapse=None)
        with nengo.Simulator(net, dt=dt, progress_bar=False) as sim:
            sim.run_steps(len(J))
        counts = sim.data[probe] * dt / amp
        assert np.array_equal(counts, expected.numpy())
        assert np.abs(expected).sum() > 500


def test_spiking_lmu_nengo_equals_torch(x: torch.Tensor) -> None:
    net, _ = _net()
    logits, counts = _torch(net, x)
    assert 0.2 < np.abs(counts).mean() < 1  # spikes of both signs, not saturated
    r = ne.run_nengo(net, x, "nengo", spikes=True)
    agree = (r["logits"].argmax(1) == logits.argmax(1)).mean()
    assert agree == 1.0
    assert np.array_equal(r["counts"], counts)
    assert np.abs(r["logits"] - logits).max() < 1e-4
    assert np.array_equal(ne.predict_nengo(ne.to_nengo(net), x[:, :5]), logits[:5].argmax(1))


def test_spiking_lmu_nengo_dl_batched_equals_torch(x: torch.Tensor) -> None:
    net, _ = _net(dt=2.0)  # up to 2 spikes per step; 50 sequences in minibatches of 20 (padded)
    logits, counts = _torch(net, x)
    r = ne.run_nengo(net, x, "nengo_dl", batch=20, spikes=True)
    assert (r["logits"].argmax(1) == logits.argmax(1)).mean() == 1.0
    assert np.array_equal(r["counts"], counts)
    assert np.abs(counts).max() == 2


def test_rate_lmu_equals_torch(x: torch.Tensor) -> None:
    net, _ = _net(spiking=False)
    logits, h = _torch(net, x)
    for backend in ne.BACKENDS:
        r = ne.run_nengo(net, x[:, :20], backend, batch=20, spikes=True)
        assert np.array_equal(r["logits"].argmax(1), logits[:20].argmax(1))
        assert np.abs(r["counts"] - h[:, :20]).max() < 1e-4
    assert isinstance(ne.to_nengo(net).h.neuron_type, nengo.Tanh)


def test_uniform_initial_voltage_is_a_batch_of_one(x: torch.Tensor) -> None:
    """v0 ~ U(0, 1) (seeded): nengo starts every sequence like torch does a batch of one."""
    net, _ = _net(initial="uniform")
    r = ne.run_nengo(net, x[:, :5], "nengo", spikes=True)
    for b in range(5):
        _, counts = _torch(net, x[:, b:b + 1])
        assert np.array_equal(r["counts"][:, b:b + 1], counts)


def test_unsupported_models_one_line() -> None:
    net, _ = _net(spiking=False, kind="parallel")
    with pytest.raises(SnnkitError, match=r"unsupported model.*supported: kind = 'lmu'") as exc:
        ne.to_nengo(net)
    assert "\n" not in str(exc.value)
    with pytest.raises(SnnkitError, match="backend"):
        ne.predict_nengo(_net()[0], np.zeros((3, 2, 1)), backend="loihi")


def test_missing_nengo_dl_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nengo_dl", None)
    with pytest.raises(SnnkitError, match=r"pip install 'snnkit\[nengo\]'") as exc:
        ne.import_nengo_dl()
    assert "\n" not in str(exc.value)


def test_cli_export_nengo(tmp_path: Path, x: torch.Tensor) -> None:
    net, cfg = _net()
    save_model(tmp_path / "model.pt", net, cfg, {"dt": 1.0})
    out = tmp_path / "net.pkl"
    res = runner.invoke(app, ["export", str(tmp_path / "model.pt"), "--format", "nengo",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "RegularSpiking" in res.output
    with out.open("rb") as f:
        loaded = pickle.load(f)
    assert isinstance(loaded, nengo.Network)
    logits, _ = _torch(net, x[:, :10])
    assert np.array_equal(ne.predict_nengo(loaded, x[:, :10]), logits.argmax(1))

    par, pcfg = _net(spiking=False, kind="parallel")
    save_model(tmp_path / "par.pt", par, pcfg, {})
    res = runner.invoke(app, ["export", str(tmp_path / "par.pt"), "--format", "nengo",
                              "--out", str(tmp_path / "p.pkl")])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "unsupported model" in res.output


def test_trained_hybrid_lmu_runs_in_nengo_as_in_torch() -> None:
    """The committed hybrid-spiking psMNIST model (models/trained/slmu_psmnist.pt), exported to
    nengo, predicts the first full-length test sequences as torch does, spike for spike."""
    from snnkit.train.lmu_trainer import load_lmu_model

    net, cfg, info = load_lmu_model(ROOT / "models" / "trained" / "slmu_psmnist.pt")
    assert cfg.spiking.enabled and info["dt"] == cfg.spiking.dt_end == 1.0
    ds = load_dataset("psmnist", "test", data_dir=DATA / "mnist")
    x = sequences(ds.images, np.arange(3), torch.device("cpu")).double()
    logits, counts = _torch(net.double(), x)
    assert x.shape[0] == 784 and np.abs(counts).max() == 1  # at most one spike per step
    r = ne.run_nengo(net, x, "nengo", spikes=True)
    assert np.array_equal(r["logits"].argmax(1), logits.argmax(1))
    assert np.array_equal(logits.argmax(1), ds.labels[:3])
    assert (r["counts"] == counts).mean() > 0.999
