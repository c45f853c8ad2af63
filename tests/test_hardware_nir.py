"""NIR export: the parameter mapping, the file round trip, Norse's own importer against the
float description (exact, k steps apart for k layers), bad graphs, and ``snnkit export``."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from snnkit.cli import app
from snnkit.errors import SnnkitError
from snnkit.hardware.description import CubaNeuron, DenseLayer, NetworkDescription, from_strsbp
from snnkit.hardware.emulator import simulate_float
from snnkit.hardware.nir_graph import (
    from_nir,
    read_nir,
    run_norse,
    to_nir,
    without_refractory,
    write_nir,
)

MODEL = Path(__file__).resolve().parents[1] / "models" / "trained" / "strsbp_fmnist.pt"
runner = CliRunner()


def random_desc(seed: int, *, rec: tuple[int, ...] = (0,), bias: bool = False,
                delays: bool = False, sizes: tuple[int, ...] = (12, 9, 7, 5)
                ) -> NetworkDescription:
    """Float layers with random decays in (0, 1], thresholds, weights; ``rec``: which layers
    are recurrent."""
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        n_in, n_out = sizes[k], sizes[k + 1]
        layers.append(DenseLayer(
            weight=rng.normal(0.2, 0.7, (n_out, n_in)),
            weight_rec=rng.normal(0.0, 0.4, (n_out, n_out)) if k in rec else None,
            bias=rng.normal(0.0, 0.05, n_out) if bias else None,
            delay=rng.integers(0, 3, (n_out, n_in)) if delays else None,
            neuron=CubaNeuron(float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.01, 1.0)),
                              float(rng.uniform(0.5, 2.0))),
            name=f"L{k}"))
    return NetworkDescription(sizes[0], tuple(layers), {"source": "random", "seed": seed})


def bernoulli(T: int, B: int, n: int, p: float, seed: int) -> torch.Tensor:
    return (torch.rand(T, B, n, generator=torch.Generator().manual_seed(seed)) < p).double()


def assert_same_description(a: NetworkDescription, b: NetworkDescription) -> None:
    assert a.n_in == b.n_in and len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        np.testing.assert_allclose(lb.weight, la.weight, rtol=1e-12, atol=1e-15)
        for name in ("weight_rec", "bias"):
            x, y = getattr(la, name), getattr(lb, name)
            assert (x is None) == (y is None), name
            if x is not None:
                np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-15)
        if la.delay is None or not np.any(la.delay):
            assert lb.delay is None
        else:
            np.testing.assert_array_equal(lb.delay, la.delay)
        for name in ("current_decay", "voltage_decay", "threshold"):
            assert getattr(lb.neuron, name) == pytest.approx(getattr(la.neuron, name),
                                                             rel=1e-12)
        assert lb.neuron.refractory == 0
        assert lb.name == la.name


def test_parameter_mapping() -> None:
    """tau = dt/delta, w_in = 1/delta_u, r = 1/delta_v, v_leak = b/delta_v, v_reset = 0."""
    desc = random_desc(3, bias=True)
    dt = 2e-3
    g = to_nir(desc, dt)
    assert g.metadata["dt"] == dt and g.metadata["snnkit_latency_steps_per_layer"] == 1
    for k, layer in enumerate(desc.layers):
        lif, n = g.nodes[f"lif{k}"], layer.neuron
        assert isinstance(lif, nir.CubaLIF) and isinstance(g.nodes[f"fc{k}"], nir.Linear)
        np.testing.assert_allclose(lif.tau_syn, dt / n.current_decay)
        np.testing.assert_allclose(lif.tau_mem, dt / n.voltage_decay)
        np.testing.assert_allclose(lif.w_in, 1 / n.current_decay)
        np.testing.assert_allclose(lif.r, 1 / n.voltage_decay)
        np.testing.assert_allclose(lif.v_leak, layer.bias / n.voltage_decay)
        np.testing.assert_array_equal(lif.v_reset, 0.0)
        np.testing.assert_array_equal(lif.v_threshold, n.threshold)
        # forward Euler of the NIR equations: one unit of input adds 1 to I, I enters v with 1
        a_s, a_m = dt / lif.tau_syn, dt / lif.tau_mem
        np.testing.assert_allclose(a_s * lif.w_in, 1.0)
        np.testing.assert_allclose(a_m * lif.r, 1.0)
        np.testing.assert_allclose(a_m * lif.v_leak, layer.bias)
    assert ("lif0", "rec0") in g.edges and ("rec0", "lif0") in g.edges


@pytest.mark.parametrize(("seed", "kw"), [
    (0, {"rec": (0, 2), "bias": True}),
    (1, {"rec": (1,), "bias": True, "delays": True}),
    (2, {"rec": (), "bias": False}),
])
def test_round_trip_through_a_file(tmp_path, seed, kw) -> None:
    desc = random_desc(seed, **kw)
    path = tmp_path / "net.nir"
    nir.write(path, to_nir(desc, dt=1e-3))
    graph = nir.read(path)
    back = from_nir(graph)
    assert_same_description(desc, back)
    assert back.meta["seed"] == seed and back.meta["nir_dt"] == 1e-3
    # the snnkit writer/reader: atomic write, same result, no temporary file left behind
    write_nir(desc, tmp_path / "b.nir", dt=5e-4)
    assert_same_description(desc, read_nir(tmp_path / "b.nir"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.nir", "net.nir"]


def test_per_synapse_delays_become_delay_nodes() -> None:
    desc = random_desc(4, delays=True, rec=())
    g = to_nir(desc, dt=1e-3)
    delays = {name: node for name, node in g.nodes.items() if isinstance(node, nir.Delay)}
    assert delays and all(np.all(node.delay > 0) for node in delays.values())
    assert_same_description(desc, from_nir(g))
    with pytest.raises(SnnkitError, match="no Delay node"):
        run_norse(g, bernoulli(5, 1, desc.n_in, 0.3, 0))


@pytest.mark.parametrize(("seed", "kw"), [
    (10, {"rec": (0,)}),
    (11, {"rec": (0, 2)}),
    (12, {"rec": (2,), "sizes": (20, 30, 10)}),
    (13, {"rec": (), "sizes": (8, 6)}),
])
def test_norse_importer_equals_the_float_description(seed, kw) -> None:
    """norse.torch.from_nir on the exported graph spikes exactly as simulate_float, k steps
    earlier for k layers (snnkit/Lava add one step per synaptic layer, Norse none)."""
    desc = random_desc(seed, **kw)
    k = len(desc.layers)
    x = bernoulli(80, 6, desc.n_in, 0.3, seed)
    ref = simulate_float(desc, x)[-1]
    graph = to_nir(desc)
    assert torch.equal(ref[:k], torch.zeros_like(ref[:k]))  # nothing arrives before step k
    ours32 = run_norse(graph, x, double=False)
    ours = run_norse(graph, x)
    assert ours.shape == ref.shape and ours.dtype == torch.float64 and ref.sum() > 300
    assert torch.equal(ours[:-k], ref[k:])
    # Norse's own float32: 0 mismatches measured (1.2 M entries); allow rare threshold ties
    assert (ours32[:-k] != ref[k:]).sum() <= ref[k:].numel() // 1000
    # the shift is the right one: one step less or more does not match
    assert not torch.equal(ours[:-(k - 1) or None], ref[k - 1:])
    assert not torch.equal(ours[:-(k + 1)], ref[k + 1:])


def test_norse_runs_the_trained_model_from_a_file(tmp_path) -> None:
    """The committed ST-RSBP model (784-400-R400-R10, refractory dropped) written with
    write_nir, imported by Norse from the file: identical spikes, 3 steps earlier."""
    desc = without_refractory(from_strsbp(MODEL))
    path = write_nir(desc, tmp_path / "fmnist.nir")
    T = int(desc.meta["T"])
    x = bernoulli(T, 3, desc.n_in, float(desc.meta["p_max"]), 7)
    ref = simulate_float(desc, x)[-1]
    ours = run_norse(path, x)
    k = len(desc.layers)
    assert k == 3 and ref.sum() > 100
    assert torch.equal(ours[:-k], ref[k:])


def test_refractory_is_refused_unless_dropped() -> None:
    desc = from_strsbp(MODEL)
    assert desc.layers[0].neuron.refractory > 0
    with pytest.raises(SnnkitError, match=r"layer 0: a refractory period of 2 steps") as exc:
        to_nir(desc)
    assert "\n" not in str(exc.value)
    g = to_nir(desc, drop_refractory=True)
    assert g.nodes["lif0"].metadata["snnkit_dropped_refractory"] == 2
    assert from_nir(g).meta["dropped_refractory"] == [2, 2, 2]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_bad_graphs_are_one_line_errors_naming_the_node(tmp_path) -> None:
    g = to_nir(random_desc(5, rec=()))
    lif = g.nodes["lif1"]
    g.nodes["lif1"] = nir.LIF(tau=lif.tau_mem, r=lif.r, v_leak=lif.v_leak,
                              v_threshold=lif.v_threshold)
    with pytest.raises(SnnkitError, match=r"node 'lif1': type LIF is not supported") as exc:
        from_nir(g)
    _one_line(exc)
    nir.write(tmp_path / "lif.nir", g)
    with pytest.raises(SnnkitError, match=r"lif\.nir: node 'lif1': type LIF") as exc:
        read_nir(tmp_path / "lif.nir")
    _one_line(exc)

    g = to_nir(random_desc(5, rec=()))
    fc = g.nodes["fc1"]
    g.nodes["fc1"] = nir.Affine(weight=fc.weight, bias=np.ones(fc.weight.shape[0]))
    with pytest.raises(SnnkitError, match=r"node 'fc1': an Affine bias") as exc:
        from_nir(g)
    _one_line(exc)

    g = to_nir(random_desc(5, rec=()))
    g.nodes["lif0"].v_reset = np.full(9, 0.5)
    with pytest.raises(SnnkitError, match=r"node 'lif0': v_reset must be 0"):
        from_nir(g)

    g = to_nir(random_desc(5, rec=()))
    del g.metadata["dt"]
    with pytest.raises(SnnkitError, match="no dt"):
        from_nir(g)
    assert from_nir(g, dt=1e-3).n_out == 5

    (tmp_path / "junk.nir").write_text("not hdf5")
    with pytest.raises(SnnkitError, match="not a readable HDF5 NIR graph") as exc:
        read_nir(tmp_path / "junk.nir")
    _one_line(exc)
    with pytest.raises(SnnkitError, match="no such file"):
        read_nir(tmp_path / "missing.nir")

    no_leak = random_desc(6, rec=())
    layer = no_leak.layers[1]
    no_leak = NetworkDescription(no_leak.n_in, (no_leak.layers[0], DenseLayer(
        weight=layer.weight, neuron=CubaNeuron(0.5, 0.0, 1.0)), *no_leak.layers[2:]))
    with pytest.raises(SnnkitError, match=r"layer 1: voltage_decay = 0"):
        to_nir(no_leak)


def test_cli_exports_the_trained_model_as_nir(tmp_path) -> None:
    out = tmp_path / "fmnist.nir"
    result = runner.invoke(app, ["export", str(MODEL), "--format", "nir", "--out", str(out)])
    assert result.exit_code == 2 and "--drop-refractory" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["export", str(MODEL), "--format", "nir", "--drop-refractory",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "784-400-400-10" in result.output
    back = read_nir(out)
    assert_same_description(without_refractory(from_strsbp(MODEL)), back)
    assert back.meta["dropped_refractory"] == [2, 2, 2]
    result = runner.invoke(app, ["export", str(MODEL), "--format", "nir", "--prune", "0.1",
                                 "--drop-refractory", "--out", str(tmp_path / "p.nir")])
    assert result.exit_code == 2 and "netx only" in result.output
    result = runner.invoke(app, ["export", str(MODEL), "--format", "onnx"])
    assert result.exit_code == 2 and "expected netx, nir" in result.output
