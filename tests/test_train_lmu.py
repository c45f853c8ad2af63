"""The LMU: state space, zero-order hold, Legendre memory, parallel paths, psMNIST size."""

from __future__ import annotations

import math

import pytest
import torch

from snnkit.errors import ConfigError
from snnkit.train.lmu import (
    LMU,
    LegendreMemory,
    LMUCell,
    ParallelLMU,
    causal_convolution,
    discretize_zoh,
    impulse_response,
    legendre_decoder,
    legendre_state_space,
    psmnist_lmu,
)
from snnkit.train.quantize import SigmaDeltaQuantizer, set_quantizer_dt


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Non-zero values for every parameter (the psMNIST init has zeros that hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / max(1, p.shape[-1]) ** 0.5)


def test_state_space_closed_form() -> None:
    A, B = legendre_state_space(3)
    assert A.dtype == B.dtype == torch.float64
    assert torch.equal(A, torch.tensor([[-1.0, -1, -1], [3, -3, -3], [-5, 5, -5]],
                                       dtype=torch.float64))
    assert torch.equal(B, torch.tensor([1.0, -3, 5], dtype=torch.float64))
    A, B = legendre_state_space(7)
    for i in range(7):
        assert B[i] == (2 * i + 1) * (-1) ** i
        for j in range(7):
            assert A[i, j] == (2 * i + 1) * (-1 if i < j else (-1) ** (i - j + 1))


@pytest.mark.parametrize(("d", "theta", "dt"), [(8, 20.0, 1.0), (12, 100.0, 0.5), (64, 784.0, 1.0)])
def test_zoh_matches_scipy(d: int, theta: float, dt: float) -> None:
    from scipy import signal  # a core dependency of snnkit: never skipped

    A, B = legendre_state_space(d)
    Abar, Bbar = discretize_zoh(A, B, theta, dt)
    Ad, Bd, *_ = signal.cont2discrete(
        (A.numpy() / theta, B.numpy()[:, None] / theta, torch.ones(1, d).numpy(), [[0.0]]),
        dt=dt, method="zoh")
    torch.testing.assert_close(Abar, torch.from_numpy(Ad), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(Bbar, torch.from_numpy(Bd[:, 0]), rtol=1e-12, atol=1e-12)


def test_zoh_is_differentiable_in_theta() -> None:
    A, B = legendre_state_space(5)
    theta = torch.tensor(30.0, dtype=torch.float64, requires_grad=True)
    Abar, _ = discretize_zoh(A, B, theta)
    Abar.sum().backward()
    eps = 1e-5
    fd = (discretize_zoh(A, B, 30.0 + eps)[0].sum() - discretize_zoh(A, B, 30.0 - eps)[0].sum())
    assert theta.grad is not None
    assert abs(theta.grad.item() - fd.item() / (2 * eps)) < 1e-7


def test_memory_reconstructs_the_window_with_legendre_polynomials() -> None:
    """After 600 steps of a slow sine, P_i(2r − 1)·m decodes u(t − rθ) for r in [0, 1].

    Input u_k is the sine at the middle of step k's hold interval (k − 1, k].  Measured relative
    L2 error 1.5e-4 (d = 12, θ = 200); decoding with the reversed window gives 0.6.
    """
    d, theta, T = 12, 200.0, 600
    mem = LegendreMemory(d, theta).double()

    def s(tau: torch.Tensor) -> torch.Tensor:
        return torch.sin(2 * math.pi * tau / 400 + 0.3)

    u = s(torch.arange(1, T + 1, dtype=torch.float64) - 0.5)
    m = torch.zeros(1, d, dtype=torch.float64)
    for t in range(T):
        m = mem.step(m, u[t : t + 1])
    r = torch.linspace(0, 1, 101, dtype=torch.float64)
    true = s(T - r * theta)
    err = ((legendre_decoder(d, r) @ m[0]) - true).norm() / true.norm()
    assert err < 5e-4
    wrong = ((legendre_decoder(d, 1 - r) @ m[0]) - true).norm() / true.norm()
    assert wrong > 0.1


def test_impulse_response_and_fft_convolution() -> None:
    mem = LegendreMemory(10, 40.0).double()
    H = impulse_response(mem.abar, mem.bbar, 50)
    assert torch.equal(H[0], mem.bbar)
    torch.testing.assert_close(H[3], torch.linalg.matrix_power(mem.abar, 3) @ mem.bbar)
    g = torch.Generator().manual_seed(1)
    u = torch.randn(50, 3, generator=g, dtype=torch.float64)
    direct = torch.stack([sum(H[k] * u[t - k, :, None] for k in range(t + 1)) for t in range(50)])
    torch.testing.assert_close(causal_convolution(u, H), direct, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", [torch.tanh, torch.nn.ReLU()])
def test_parallel_memory_equals_step_by_step(nonlinearity) -> None:
    """float32: parallel memory (FFT) and the step loop agree to 1e-5 (measured ≈ 2e-6).

    Also when run in two chunks (the second starts from the first's state) and in the
    gradients of every parameter.
    """
    lmu = LMU(3, 20, order=32, theta=100.0, memory_size=2, nonlinearity=nonlinearity,
              hidden_to_memory=False, memory_to_memory=False)
    _randomize(lmu, seed=0)
    x = torch.randn(300, 4, 3, generator=torch.Generator().manual_seed(2))
    h_seq, s_seq = lmu(x, parallel=False)
    h_par, s_par = lmu(x)  # auto: parallel
    assert h_seq.shape == (300, 4, 20) and h_seq.abs().max() > 0.1
    torch.testing.assert_close(h_par, h_seq, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(s_par.m, s_seq.m, rtol=1e-5, atol=1e-5)
    h1, st = lmu(x[:120], parallel=True)
    h2, st = lmu(x[120:], st, parallel=True)
    torch.testing.assert_close(torch.cat([h1, h2]), h_seq, rtol=1e-5, atol=1e-5)

    grads = []
    for parallel in (False, True):
        lmu.zero_grad()
        h, _ = lmu(x, parallel=parallel)
        (h[-1] ** 2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in lmu.named_parameters()})
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-4, atol=1e-5, msg=name)


def test_parallel_requires_a_feedforward_memory() -> None:
    lmu = LMU(1, 4, order=8, theta=10.0)
    with pytest.raises(ConfigError, match="parallel"):
        lmu(torch.zeros(5, 2, 1), parallel=True)


def test_cell_follows_the_paper_equations() -> None:
    """One step by hand: u = e_x x + e_h h + e_m m; m' = Ā m + B̄ u; h' = tanh(...)."""
    cell = LMUCell(2, 3, order=4, theta=8.0).double()
    _randomize(cell, seed=5)
    g = torch.Generator().manual_seed(6)
    x, h, m = (torch.randn(s, generator=g, dtype=torch.float64)
               for s in [(1, 2), (1, 3), (1, 1, 4)])
    u = x @ cell.e_x.T + h @ cell.e_h.T + m[:, 0] @ cell.e_m.T
    m_new = m[:, 0] @ cell.memory.abar.T + u * cell.memory.bbar
    h_new = torch.tanh(x @ cell.W_x.T + h @ cell.W_h.T + m_new @ cell.W_m.T)
    out, state = cell.forward_step(x, (h, m, None))
    torch.testing.assert_close(state.m[:, 0], m_new)
    torch.testing.assert_close(out, h_new)
    assert cell.memory.abar.requires_grad is False
    assert {n for n, _ in cell.named_buffers()} == {"memory.abar", "memory.bbar"}


def test_psmnist_parameter_count_and_init() -> None:
    model = psmnist_lmu()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(b.numel() for b in model.buffers())
    assert trainable == 102_027
    assert frozen == 65_792  # Ā (256²) + B̄ (256)
    assert sum(p.numel() for p in psmnist_lmu(hidden_to_memory=False, memory_to_memory=False)
               .parameters()) == 102_027 - 212 - 256
    c = model.lmu.cell
    assert torch.all(c.e_x == 1)
    assert all(torch.all(p == 0) for p in (c.e_h, c.e_m, c.W_x, c.W_h))
    assert c.W_m.std().item() == pytest.approx(math.sqrt(2 / (256 + 212)), rel=0.03)
    logits = model(torch.rand(784, 2, 1))
    assert logits.shape == (2, 10)


def test_parallel_lmu_recurrent_form_agrees() -> None:
    model = ParallelLMU(3, 16, order=24, theta=60.0, memory_size=2)
    _randomize(model, seed=3)
    x = torch.randn(200, 5, 3, generator=torch.Generator().manual_seed(4))
    h_par, s_par = model(x)
    h_rnn, s_rnn = model.forward_recurrent(x)
    assert (h_par > 0).float().mean() > 0.2  # ReLU units are active
    torch.testing.assert_close(h_par, h_rnn, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(s_par.m, s_rnn.m, rtol=1e-5, atol=1e-5)
    h1, st = model(x[:77])
    h2, _ = model(x[77:], st)
    torch.testing.assert_close(torch.cat([h1, h2]), h_rnn, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.forward_last(x), h_rnn[-1], rtol=1e-5, atol=1e-5)


def test_hybrid_lmu_with_spiking_hidden_units() -> None:
    """The quantizer as the cell's nonlinearity: outputs are spike counts × amplitude/dt, its
    state travels in the LMU state, and the training schedule reaches it through set_quantizer_dt.
    """
    q = SigmaDeltaQuantizer(activation=torch.relu, dt=0.5, amplitude=2.0)
    lmu = LMU(2, 8, order=16, theta=30.0, nonlinearity=q)
    _randomize(lmu, seed=8)
    x = torch.randn(60, 3, 2, generator=torch.Generator().manual_seed(9))
    h, state = lmu(x)
    counts = h * q.dt / q.amplitude
    assert torch.equal(counts, counts.round()) and counts.max() >= 1
    assert state.act.dtype == torch.float64 and state.act.shape == (3, 8)
    assert set_quantizer_dt(lmu, 0.01) == 1
    h_fine, _ = lmu(x)
    assert torch.equal(h_fine * 0.01 / 2.0, (h_fine * 0.01 / 2.0).round())
    assert not torch.equal(h_fine, h)


@pytest.mark.parametrize(("kwargs", "field"), [({"order": 0}, "order"), ({"theta": -1.0}, "theta"),
                                               ({"hidden_size": 2.5}, "hidden_size")])
def test_bad_sizes_are_config_errors(kwargs: dict, field: str) -> None:
    args = {"input_size": 1, "hidden_size": 4, "order": 8, "theta": 10.0} | kwargs
    with pytest.raises(ConfigError, match=field):
        LMU(**args)
