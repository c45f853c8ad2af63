"""The sigma-delta quantizer: loop vs parallel (bit-exact), regimes, STE gradients, helpers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from snnkit.errors import ConfigError, SnnkitError
from snnkit.train.quantize import (
    PARALLEL_EXACT_LIMIT,
    SigmaDeltaQuantizer,
    accumulator_drive,
    bits_per_activity,
    initial_voltage,
    interpolation_schedule,
    sigma_delta_parallel,
    sigma_delta_sequential,
    significant_bits,
)


def _inputs(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _nengo_loop(rate: np.ndarray, dt: float, v0: np.ndarray) -> np.ndarray:
    """Nengo's RegularSpiking step in plain float64 numpy, without the accumulator grid."""
    v = v0.copy()
    out = np.empty_like(rate)
    for t in range(rate.shape[0]):
        v += dt * rate[t]
        n = np.floor(v)
        v -= n
        out[t] = n
    return out


@pytest.mark.parametrize("dt", [0.05, 1.0, 37.3])
@pytest.mark.parametrize("initial", ["zeros", "uniform"])
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_parallel_equals_sequential_exactly(dt: float, initial: str, activation: str) -> None:
    f = torch.relu if activation == "relu" else (lambda x: x)  # identity: signed drive
    x = _inputs((400, 3, 50), seed=int(dt * 10)) * 2
    drive = accumulator_drive(f(x), dt)
    v0 = initial_voltage((3, 50), initial, seed=11)
    n_seq, v_seq = sigma_delta_sequential(drive, v0)
    n_par, v_par = sigma_delta_parallel(drive, v0)
    assert torch.equal(n_par, n_seq)
    assert torch.equal(v_par, v_seq)
    assert n_seq.abs().sum() > 1000  # spikes happen
    assert bool(((v_seq >= 0) & (v_seq < 1)).all())
    # the same counts as nengo's loop without the grid (no tie within 2^-24 on these inputs)
    ref = _nengo_loop(f(x).double().numpy(), dt, v0.numpy())
    assert np.array_equal(n_seq.numpy(), ref)
    # and through the module, per step and per sequence
    q = SigmaDeltaQuantizer(f, dt=dt, amplitude=0.7, initial=initial, seed=11)
    y_par, vq = q.forward_sequence(x)
    y_loop, vl = q.forward_sequence(x, parallel=False)
    steps, v = [], None
    for t in range(400):
        y, v = q.forward_step(x[t], v)
        steps.append(y)
    assert torch.equal(y_par, y_loop) and torch.equal(y_par, torch.stack(steps))
    assert torch.equal(vq, vl) and torch.equal(vq, v)
    assert torch.equal(y_par, (n_seq * (0.7 / dt)).float())


def test_parallel_falls_back_beyond_the_exact_range() -> None:
    drive = accumulator_drive(torch.rand(40, 6, generator=torch.Generator().manual_seed(0)),
                              PARALLEL_EXACT_LIMIT / 20)
    v0 = initial_voltage((6,), "uniform", seed=1)
    assert drive.sum(0).max() > PARALLEL_EXACT_LIMIT
    n_par, v_par = sigma_delta_parallel(drive, v0)
    n_seq, v_seq = sigma_delta_sequential(drive, v0)
    assert torch.equal(n_par, n_seq) and torch.equal(v_par, v_seq)


def test_regimes_and_error_diffusion() -> None:
    x = torch.rand(500, 200, generator=torch.Generator().manual_seed(3)) * 3
    spiking = SigmaDeltaQuantizer(torch.relu, dt=1 / 3)          # dt·f ≤ 1
    counts, _ = spiking.spike_counts(x)
    assert set(counts.unique().tolist()) == {0.0, 1.0}
    rate = SigmaDeltaQuantizer(torch.relu, dt=50.0, initial="uniform", seed=4)
    counts, v = rate.spike_counts(x)
    assert counts.max() > 100
    # error diffusion: total spikes = ⌊v0 + Σ dt·f⌋ exactly, within 1 of Σ dt·f
    v0 = rate.initial_state(x[0])
    total = accumulator_drive(x, 50.0).sum(0) + v0
    assert torch.equal(counts.sum(0), torch.floor(total))
    torch.testing.assert_close(counts.sum(0) + v, total, rtol=0, atol=1e-9)
    y = rate(x)
    assert (y - x).abs().max() <= 1 / 50 + 1e-6     # one step's resolution amplitude/dt


def test_initial_state_is_seeded() -> None:
    a = initial_voltage((1000,), "uniform", seed=5)
    assert torch.equal(a, initial_voltage((1000,), "uniform", seed=5))
    assert not torch.equal(a, initial_voltage((1000,), "uniform", seed=6))
    assert bool(((a >= 0) & (a < 1)).all()) and 0.4 < a.mean() < 0.6
    assert torch.equal(a * 2**24, (a * 2**24).round())  # on the accumulator grid
    assert torch.count_nonzero(initial_voltage((10,))) == 0
    with pytest.raises(ConfigError, match="initial"):
        SigmaDeltaQuantizer(initial="gaussian")


@pytest.mark.parametrize("step", [False, True])
def test_gradient_is_the_activation_derivative(step: bool) -> None:
    x = _inputs((30, 4, 7), seed=7).requires_grad_(True)
    w = _inputs((30, 4, 7), seed=8)
    q = SigmaDeltaQuantizer(torch.tanh, dt=0.25, amplitude=1.5)
    if step:
        y = torch.stack([q.forward_step(x[t], q.initial_state(x[t]))[0] for t in range(30)])
    else:
        y = q(x)
    assert torch.equal(y * 0.25 / 1.5, (y * 0.25 / 1.5).round())  # the value is spikes
    (y * w).sum().backward()
    expected = w * 1.5 * (1 - torch.tanh(x.detach()) ** 2)
    torch.testing.assert_close(x.grad, expected, rtol=1e-6, atol=1e-7)


def test_gradient_clipped_relu_ste() -> None:
    x = (_inputs((50, 40), seed=9) * 3).requires_grad_(True)
    w = _inputs((50, 40), seed=10)
    q = SigmaDeltaQuantizer(torch.relu, dt=0.5, amplitude=2.0, gradient="clipped_relu")
    (q(x) * w).sum().backward()
    inside = (x.detach() > 0) & (x.detach() < 1 / 0.5)
    assert 0.2 < inside.float().mean() < 0.6
    assert torch.equal(x.grad, torch.where(inside, w * 2.0, torch.zeros(())))
    # the activation STE differs: ReLU' is 1 above the clip as well
    x.grad = None
    q.gradient = "activation"
    (q(x) * w).sum().backward()
    assert torch.equal(x.grad, torch.where(x.detach() > 0, w * 2.0, torch.zeros(())))


def test_rate_mode_and_no_grad_outputs() -> None:
    x = _inputs((20, 5), seed=12)
    q = SigmaDeltaQuantizer(torch.sigmoid, amplitude=3.0, spiking=False)
    torch.testing.assert_close(q(x), 3.0 * torch.sigmoid(x))


def test_interpolation_schedule() -> None:
    s = interpolation_schedule("geometric", 100.0, 1.0, 5)
    assert s[0] == 100.0 and s[-1] == 1.0 and len(s) == 5
    ratios = [b / a for a, b in itertools.pairwise(s)]
    assert all(r == pytest.approx(100 ** -0.25, rel=1e-12) for r in ratios)
    assert interpolation_schedule("linear", 0.0, 1.0, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert interpolation_schedule("geometric", 8.0, 1.0, 1) == [1.0]
    for args in [("cosine", 1.0, 2.0, 3), ("geometric", 0.0, 1.0, 3), ("linear", 1.0, 2.0, 0)]:
        with pytest.raises(ConfigError):
            interpolation_schedule(*args)


def test_bits_per_activity() -> None:
    counts = torch.zeros(6, 2, 4)
    counts[2, 0, 0] = 1                 # spiking: 1 bit
    counts[1, 1, 1] = 3                 # up to 3: 2 bits
    counts[0, 0, 2], counts[4, 1, 2] = 2, -2  # −2..2: log2 5
    # neuron 3 silent: 0 bits
    assert bits_per_activity(counts) == pytest.approx((1 + 2 + math.log2(5) + 0) / 4)
    with pytest.raises(SnnkitError, match="integer"):
        bits_per_activity(counts + 0.5)


def test_significant_bits() -> None:
    counts = torch.tensor([[1.0, 2, 3], [4, 5, 6], [0, -3, 12]])
    # bits: 1, 1, 2 / 1, 3, 2 / -, 2, 2
    assert significant_bits(counts) == pytest.approx(14 / 8)
    fan_out = torch.tensor([3.0, 0.0, 1.0])  # neuron 1's spikes reach no weight
    assert significant_bits(counts, fan_out) == pytest.approx((3 * (1 + 1) + (2 + 2 + 2)) / 9)
    assert math.isnan(significant_bits(torch.zeros(3, 2)))
    assert significant_bits(torch.tensor([[2.0**40 + 2.0**10]], dtype=torch.float64)) == 31
