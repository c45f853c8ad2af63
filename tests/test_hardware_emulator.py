"""The integer emulator against a slow per-neuron loop, the float model, and ST-RSBP's forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnkit.hardware.description import CubaNeuron, DenseLayer, NetworkDescription
from snnkit.hardware.emulator import emulate, simulate_float
from snnkit.hardware.fixed_point import IntLayer, IntNetwork, quantize
from snnkit.hardware.profile import load_profile


def _rs0(x: int) -> int:
    return -((-x) >> 12) if x < 0 else x >> 12


def slow_reference(net: IntNetwork, spikes: np.ndarray) -> list[np.ndarray]:
    """Plain Python integers, one neuron and one synapse at a time (hardware.md §2)."""
    T, B, _ = spikes.shape
    x = spikes.astype(int)
    outs = []
    for layer in net.layers:
        n_out, n_in = layer.weight.shape
        delay = np.zeros((n_out, n_in), int) if layer.delay is None else layer.delay
        out = np.zeros((T, B, n_out), int)
        for b in range(B):
            buf = [[0] * n_out for _ in range(T + 80)]
            u, v = [0] * n_out, [0] * n_out
            for t in range(T):
                for j in range(n_in):
                    if x[t, b, j]:
                        for i in range(n_out):
                            buf[t + 1 + int(delay[i, j])][i] += int(layer.weight[i, j])
                for i in range(n_out):
                    uu = _rs0(u[i] * (4096 - layer.i_decay)) + (buf[t][i] << 6)
                    uu = ((uu + 2**23) % 2**24) - 2**23
                    bias = 0 if layer.bias is None else int(layer.bias[i]) << 6
                    vv = _rs0(v[i] * (4096 - layer.v_decay)) + uu + bias
                    vv = max(-(2**23 - 1), min(2**23 - 1, vv))
                    if vv > layer.vth_mant << 6:
                        out[t, b, i] = 1
                        vv = 0
                    u[i], v[i] = uu, vv
                if layer.weight_rec is not None:
                    for l in range(n_out):
                        if out[t, b, l]:
                            for i in range(n_out):
                                buf[t + 1][i] += int(layer.weight_rec[i, l])
        outs.append(out)
        x = out
    return outs


def random_int_net(seed: int, *, rec: bool, bias: bool, delays: bool,
                   extremes: bool = False) -> IntNetwork:
    rng = np.random.default_rng(seed)
    sizes = [12, 9, 5]
    layers = []
    for k in range(2):
        w = 2 * rng.integers(-128, 128, size=(sizes[k + 1], sizes[k]))
        if extremes:
            w[0, :] = -256
            w[1, :] = 254
        layers.append(IntLayer(
            weight=w.astype(np.int32),
            weight_rec=(2 * rng.integers(-128, 128, size=(sizes[k + 1],) * 2)).astype(np.int32)
            if rec else None,
            bias=rng.integers(-200, 400, size=sizes[k + 1]).astype(np.int32) if bias else None,
            delay=rng.integers(0, 5, size=(sizes[k + 1], sizes[k])).astype(np.int32)
            if delays else None,
            i_decay=int(rng.choice([0, 512, 1024, 4096])) if extremes else 1024,
            v_decay=int(rng.choice([0, 64, 4096])) if extremes else 256,
            vth_mant=int(rng.integers(100, 600))))
    return IntNetwork(12, tuple(layers))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("rec", "bias", "delays", "extremes"), [
    (False, False, False, False), (True, True, False, False), (False, True, True, False),
    (True, False, True, True)])
def test_emulator_equals_slow_integer_loop(seed: int, rec: bool, bias: bool, delays: bool,
                                           extremes: bool) -> None:
    net = random_int_net(seed, rec=rec, bias=bias, delays=delays, extremes=extremes)
    rng = np.random.default_rng(100 + seed)
    spikes = (rng.random((50, 2, 12)) < 0.3).astype(np.int8)
    fast = emulate(net, torch.as_tensor(spikes))
    slow = slow_reference(net, spikes)
    assert sum(int(s.sum()) for s in slow) > 20
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.numpy(), b)


def test_current_wraps_around_like_the_integer_loop() -> None:
    """Without current decay and with large weights u passes 2^23 and wraps (24 bits); the
    chunked float64 state must wrap exactly where the integer loop does."""
    rng = np.random.default_rng(3)
    layer = IntLayer(weight=np.full((4, 40), 254, np.int32) - 2 * rng.integers(0, 3, (4, 40)),
                     i_decay=0, v_decay=4096, vth_mant=50_000,
                     weight_rec=np.array([[0, -256, 0, 0], [0, 0, 0, 0], [0, 0, 0, 254],
                                          [0, 0, 0, 0]], np.int32))
    net = IntNetwork(40, (layer,))
    spikes = (rng.random((80, 3, 40)) < 0.8).astype(np.int8)
    fast = emulate(net, torch.as_tensor(spikes))[0].numpy()
    slow = slow_reference(net, spikes)[0]
    assert 0 < slow.sum() < slow.size / 2  # spikes, and silent stretches after the wraps
    np.testing.assert_array_equal(fast, slow)
    assert np.array_equal(emulate(net, torch.as_tensor(spikes))[0].numpy(),
                          _chunks_of_one(net, spikes))


def _chunks_of_one(net: IntNetwork, spikes: np.ndarray) -> np.ndarray:
    from snnkit.hardware.emulator import _layer_int

    return _layer_int(torch.as_tensor(spikes), net.layers[0], chunk=1).numpy()


def _float_net(seed: int) -> NetworkDescription:
    rng = np.random.default_rng(seed)
    neuron = CubaNeuron(current_decay=1 / 8, voltage_decay=1 / 64, threshold=1.0)
    l1 = DenseLayer(rng.normal(0.0, 0.08, (40, 60)) + 0.02, neuron, name="0")
    l2 = DenseLayer(rng.normal(0.0, 0.1, (10, 40)) + 0.005, neuron,
                    weight_rec=rng.normal(0.0, 0.05, (10, 10)), name="1")
    return NetworkDescription(60, (l1, l2))


def test_fine_quantization_approaches_the_float_model() -> None:
    """Finer mantissas bring the integer spikes toward the float model's.

    A spike flips where the float potential crosses threshold by less than the quantization
    error (then that neuron's train shifts, since u is not reset), so the comparison is
    statistical: the fraction of differing (step, sample, neuron) entries of the feed-forward
    layer falls from 8-bit to 14-bit mantissas, and population rates agree within 0.01 (14-bit)
    and 0.02 (8-bit) spikes per step in both layers.
    """
    desc = _float_net(0)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(300, 8, 60, generator=g) < 0.1).to(torch.int8)
    rates_float = [s.mean() for s in simulate_float(desc, x)]
    assert min(rates_float) > 0.05
    first_float = simulate_float(desc, x)[0]
    mismatch = {}
    for bits, top, tol in ((8, 254, 0.02), (14, 8190, 0.01)):
        profile = load_profile("loihi").model_copy(update={"weight_min": -top - 2,
                                                           "weight_max": top})
        qnet, _ = quantize(desc, profile, calibration=x)
        spikes = emulate(qnet, x)
        mismatch[bits] = float((spikes[0].double() != first_float).double().mean())
        for s_int, r_float in zip(spikes, rates_float, strict=True):
            assert abs(float(s_int.double().mean()) - float(r_float)) < tol, bits
    assert mismatch[14] < 0.5 * mismatch[8] and mismatch[14] < 0.01, mismatch


def test_quantization_report_and_ranges() -> None:
    qnet, report = quantize(_float_net(1), load_profile("loihi"))
    for layer, row in zip(qnet.layers, report, strict=True):
        assert layer.weight.min() >= -256 and layer.weight.max() <= 254
        assert np.all(layer.weight % 2 == 0)
        assert layer.i_decay == 512 and layer.v_decay == 64
        assert row["weight_clip_fraction"] == 0.0 and row["weight_rel_rms_error"] < 0.02
        assert row["cores"] == 1
    _, report99 = quantize(_float_net(1), load_profile("loihi"), clip_percentile=99.0)
    assert report99[0]["weight_clip_fraction"] > 0.0


def test_refractory_needs_an_explicit_drop() -> None:
    desc = _float_net(2)
    neuron = CubaNeuron(1 / 8, 1 / 64, 1.0, refractory=2)
    desc = NetworkDescription(60, (DenseLayer(desc.layers[0].weight, neuron, name="0"),))
    with pytest.raises(Exception, match="refractory"):
        quantize(desc, load_profile("loihi"))
    quantize(desc, load_profile("loihi"), drop_refractory=True)
