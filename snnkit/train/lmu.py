r"""The Legendre Memory Unit (Voelker, Kajić, Eliasmith 2019) and its parallel form.

**Memory.**  :math:`\theta\,\dot m = A m + B u`, :math:`m \in \mathbb{R}^d`, with

.. math:: A_{ij} = (2i+1)\begin{cases}-1 & i < j\\ (-1)^{i-j+1} & i \ge j\end{cases},
    \qquad B_i = (2i+1)(-1)^i \qquad (i, j = 0..d-1),

holds the window :math:`u(t - \theta'),\ 0 \le \theta' \le \theta` as
:math:`u(t-\theta') \approx \sum_i P_i(2\theta'/\theta - 1)\, m_i(t)` (Legendre polynomials
:math:`P_i`, :func:`legendre_decoder`).  Zero-order hold with step :math:`\Delta t`
(:func:`discretize_zoh`): :math:`\bar A = e^{A\Delta t/\theta}`,
:math:`\bar B = \int_0^{\Delta t} e^{A s/\theta}ds\,B/\theta`, both from one matrix
exponential of :math:`[[A, B], [0, 0]]\,\Delta t/\theta`.

**Cell** (the paper's, keras-lmu ``paper`` branch), :math:`u_t` of ``memory_size`` channels:

.. math::
    u_t &= e_x x_t + e_h h_{t-1} + e_m m_{t-1}\\
    m_t &= \bar A m_{t-1} + \bar B u_t \\
    h_t &= f(W_x x_t + W_h h_{t-1} + W_m m_t)

with :math:`\bar A, \bar B` frozen buffers and no biases.  psMNIST (:func:`psmnist_lmu`):
d = 256, θ = 784, 212 tanh units, a dense 10-way readout (with bias) of the last :math:`h`;
:math:`e_x = 1`, :math:`e_h = e_m = 0`, :math:`W_x = W_h = 0`, :math:`W_m` Glorot-normal
(torch's untruncated ``xavier_normal_``), all trainable: 1 + 212 + 256 + 212 + 212² + 212·256
= 99,897 in the cell plus 2,130 in the readout = **102,027** trainable; frozen
:math:`\bar A, \bar B`: 256² + 256 = 65,792.

**Parallel memory.**  Without :math:`e_h, e_m` (``hidden_to_memory = memory_to_memory =
False``) :math:`u` depends on :math:`x` only and
:math:`m_t = \sum_{k=0}^{t} \bar A^k \bar B\, u_{t-k} + \bar A^{t+1} m_{-1}`: the impulse
response :math:`H_k = \bar A^k \bar B` (T, d) convolved causally with :math:`u` by FFT
(zero-padded to 2T: no wrap-around).  On CPU (T = 784, d = 256, one thread) the FFT took
0.24 s forward for a batch of 100 against 0.86 s for a product with the (B, T, T) Toeplitz
matrix of :math:`u` and 0.38 s for ``conv1d``.  Only :math:`h_t = f(W_x x_t + W_m m_t + W_h
h_{t-1})` stays sequential, its input terms computed for all steps at once.

**Parallel LMU** (Chilkuri & Eliasmith, ICML 2021; :class:`ParallelLMU`):
:math:`u_t = f_u(W_u x_t)`, :math:`m = H * u`, :math:`h_t = f_h(W_m m_t + W_x x_t)`, no
recurrence besides the memory, so the whole sequence is computed at once; the same model
runs as an RNN (:meth:`ParallelLMU.forward_step`) at inference.  Defaults follow the PyTorch
port hrshtv/pytorch-lmu (``LMUFFT``): ReLU for both, biases on :math:`W_u` and :math:`W_m`.

Sequences are time-major, (T, B, features), as in the rest of :mod:`snnkit.train`.  The
nonlinearity may be any callable, or a *stateful* one such as
:class:`snnkit.train.quantize.SigmaDeltaQuantizer` (it has ``initial_state(like)``,
``forward_step(x, state)`` and ``forward_sequence(x, state)``), whose state is carried in the
LMU state: the hybrid-spiking LMU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from snnkit.errors import ConfigError, SnnkitError

Nonlinearity = Callable[[torch.Tensor], torch.Tensor]


def _positive_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field, "an integer >= 1", value)
    return value


def _positive(field: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ConfigError(field, "a positive number", value)
    return float(value)


def legendre_state_space(order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Continuous-time A (d, d) and B (d,) of the LMU memory (float64), θ not applied."""
    _positive_int("order", order)
    q = torch.arange(order, dtype=torch.int64)
    i, j = q[:, None], q[None, :]
    parity = 1 - 2 * ((i - j + 1) % 2)  # (−1)^(i−j+1)
    scale = (2 * q + 1).double()
    A = torch.where(i < j, -1, parity).double() * scale[:, None]
    B = (1 - 2 * (q % 2)).double() * scale
    return A, B


def discretize_zoh(A: torch.Tensor, B: torch.Tensor, theta: float | torch.Tensor,
                   dt: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-order hold of (A/θ, B/θ) with step ``dt``: (Ā, B̄), B of shape (d,) or (d, k).

    One ``matrix_exp`` of the block matrix [[A, B], [0, 0]]·dt/θ, differentiable in θ.
    """
    if not isinstance(theta, torch.Tensor):
        _positive("theta", theta)
    _positive("dt", dt)
    d = A.shape[0]
    vector = B.dim() == 1
    B2 = B[:, None] if vector else B
    k = B2.shape[1]
    block = torch.zeros(d + k, d + k, dtype=A.dtype, device=A.device)
    block[:d, :d] = A
    block[:d, d:] = B2
    E = torch.linalg.matrix_exp(block * (dt / theta))
    Bbar = E[:d, d:]
    return E[:d, :d], Bbar[:, 0] if vector else Bbar


def legendre_decoder(order: int, delays: torch.Tensor) -> torch.Tensor:
    r"""Decoder (len(delays), d): row r holds :math:`P_i(2r - 1)`, r = θ′/θ ∈ [0, 1].

    ``decoder @ m`` approximates the input r·θ steps ago.  Bonnet's recursion, float64.
    """
    x = 2 * torch.as_tensor(delays, dtype=torch.float64) - 1
    P = [torch.ones_like(x), x]
    for n in range(1, order - 1):
        P.append(((2 * n + 1) * x * P[n] - n * P[n - 1]) / (n + 1))
    return torch.stack(P[:order], dim=-1)


def impulse_response(abar: torch.Tensor, bbar: torch.Tensor, steps: int) -> torch.Tensor:
    """H (steps, d) with H_k = Ā^k B̄, computed in float64, returned in Ā's dtype."""
    a, h = abar.double(), bbar.double()
    out = torch.empty(steps, a.shape[0], dtype=torch.float64, device=a.device)
    for k in range(steps):
        out[k] = h
        h = a @ h
    return out.to(abar.dtype)


def causal_convolution(u: torch.Tensor, impulse: torch.Tensor) -> torch.Tensor:
    """m_t = Σ_{k≤t} H_k u_{t−k} by FFT: u (T, ...), H (≥T, d) → (T, ..., d)."""
    T = u.shape[0]
    n = 2 * T  # ≥ 2T − 1: the circular convolution equals the linear one on the first T steps
    u_f = torch.fft.rfft(u.movedim(0, -1), n=n)              # (..., F)
    h_f = torch.fft.rfft(impulse[:T].T.to(u.dtype), n=n)     # (d, F)
    m = torch.fft.irfft(u_f[..., None, :] * h_f, n=n)[..., :T]  # (..., d, T)
    return m.movedim(-1, 0)


def _stateful(f: object) -> bool:
    return all(hasattr(f, name) for name in ("initial_state", "forward_step", "forward_sequence"))


def _activate_step(f: Nonlinearity, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
    if _stateful(f):
        return f.forward_step(x, state)
    return f(x), None


def _activate_sequence(f: Nonlinearity, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
    if _stateful(f):
        return f.forward_sequence(x, state)
    return f(x), None


class LegendreMemory(nn.Module):
    """Ā, B̄ of order d and window θ (frozen buffers) and the memory's step and sequence forms.

    Memory states are (..., memory_size, d); inputs u are (..., memory_size).
    """

    def __init__(self, order: int, theta: float):
        super().__init__()
        self.order = _positive_int("order", order)
        self.theta = _positive("theta", theta)
        abar, bbar = discretize_zoh(*legendre_state_space(order), self.theta)
        dtype = torch.get_default_dtype()
        self.register_buffer("abar", abar.to(dtype))
        self.register_buffer("bbar", bbar.to(dtype))
        self._impulse: dict[tuple, torch.Tensor] = {}

    def extra_repr(self) -> str:
        return f"order={self.order}, theta={self.theta:g}"

    def step(self, m: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """m_t = Ā m_{t−1} + B̄ u_t."""
        return m @ self.abar.T + u[..., None] * self.bbar

    def impulse_response(self, steps: int) -> torch.Tensor:
        """H (steps, d), cached per length, dtype, device and buffer version."""
        key = (self.abar.dtype, self.abar.device, self.abar._version, self.bbar._version)
        cached = self._impulse.get(key)
        if cached is None or cached.shape[0] < steps:
            self._impulse = {key: impulse_response(self.abar, self.bbar, steps)}
        return self._impulse[key][:steps]

    def last(self, u: torch.Tensor) -> torch.Tensor:
        r"""The last memory state (..., memory_size, d) of inputs u (T, ..., memory_size) from
        m = 0: :math:`m_{T-1} = \sum_{k=0}^{T-1} H_k u_{T-1-k}`, one product instead of the
        whole convolution (a classifier reads only the last step)."""
        H = self.impulse_response(u.shape[0]).to(u.dtype)
        return torch.einsum("t...m,td->...md", u.flip(0), H)

    def sequence(self, u: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        """All memory states (T, ..., memory_size, d) of inputs u (T, ..., memory_size)."""
        T = u.shape[0]
        m = causal_convolution(u, self.impulse_response(T))
        if m0 is not None:  # + Ā^{t+1} m0, O(T d²) per sample
            free = torch.empty_like(m)
            z = m0
            for t in range(T):
                z = z @ self.abar.T
                free[t] = z
            m = m + free
        return m


class LMUState(NamedTuple):
    """Hidden state h (B, hidden), memory m (B, memory_size, d), nonlinearity state (or None)."""

    h: torch.Tensor
    m: torch.Tensor
    act: Any = None


class LMUCell(nn.Module):
    """One LMU step (module docstring); ``hidden_to_memory``/``memory_to_memory`` False drop
    e_h/e_m, which makes the memory feed-forward and allows the parallel path of :class:`LMU`.
    """

    def __init__(self, input_size: int, hidden_size: int, order: int, theta: float,
                 memory_size: int = 1, nonlinearity: Nonlinearity = torch.tanh,
                 hidden_to_memory: bool = True, memory_to_memory: bool = True):
        super().__init__()
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.memory_size = _positive_int("memory_size", memory_size)
        self.memory = LegendreMemory(order, theta)
        self.nonlinearity = nonlinearity
        md = memory_size * order
        self.e_x = nn.Parameter(torch.empty(memory_size, input_size))
        self.e_h = nn.Parameter(torch.empty(memory_size, hidden_size)) if hidden_to_memory else None
        self.e_m = nn.Parameter(torch.empty(memory_size, md)) if memory_to_memory else None
        self.W_x = nn.Parameter(torch.empty(hidden_size, input_size))
        self.W_h = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.W_m = nn.Parameter(torch.empty(hidden_size, md))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The psMNIST notebook's initialisation: e_x = 1, e_h = e_m = W_x = W_h = 0, W_m Glorot."""
        with torch.no_grad():
            self.e_x.fill_(1.0)
            for p in (self.e_h, self.e_m, self.W_x, self.W_h):
                if p is not None:
                    p.zero_()
            nn.init.xavier_normal_(self.W_m)

    @property
    def feedforward_memory(self) -> bool:
        """True when u depends on x only (no e_h, e_m): the memory can run in parallel."""
        return self.e_h is None and self.e_m is None

    def initial_state(self, batch: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> LMUState:
        dtype = dtype or self.W_x.dtype
        h = torch.zeros(batch, self.hidden_size, device=device, dtype=dtype)
        m = torch.zeros(batch, self.memory_size, self.memory.order, device=device, dtype=dtype)
        act = self.nonlinearity.initial_state(h) if _stateful(self.nonlinearity) else None
        return LMUState(h, m, act)

    def forward_step(self, x: torch.Tensor, state: LMUState | None = None
                     ) -> tuple[torch.Tensor, LMUState]:
        """x (B, input_size) → (h_t, new state)."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device, x.dtype)
        h, m, act = state
        u = F.linear(x, self.e_x)
        if self.e_h is not None:
            u = u + F.linear(h, self.e_h)
        if self.e_m is not None:
            u = u + F.linear(m.flatten(1), self.e_m)
        m = self.memory.step(m, u)
        pre = F.linear(x, self.W_x) + F.linear(h, self.W_h) + F.linear(m.flatten(1), self.W_m)
        h, act = _activate_step(self.nonlinearity, pre, act)
        return h, LMUState(h, m, act)

    def forward(self, x: torch.Tensor, state: LMUState | None = None
                ) -> tuple[torch.Tensor, LMUState]:
        return self.forward_step(x, state)


class LMU(nn.Module):
    """An :class:`LMUCell` over a time-major sequence (T, B, input_size) → h (T, B, hidden)."""

    def __init__(self, input_size: int, hidden_size: int, order: int, theta: float,
                 memory_size: int = 1, nonlinearity: Nonlinearity = torch.tanh,
                 hidden_to_memory: bool = True, memory_to_memory: bool = True):
        super().__init__()
        self.cell = LMUCell(input_size, hidden_size, order, theta, memory_size, nonlinearity,
                            hidden_to_memory, memory_to_memory)

    def forward(self, x: torch.Tensor, state: LMUState | None = None,
                parallel: bool | None = None) -> tuple[torch.Tensor, LMUState]:
        """(h for every step, final state).  ``parallel`` None: the parallel memory whenever
        the memory is feed-forward; True demands it, False forces the step loop."""
        if x.dim() != 3 or x.shape[-1] != self.cell.input_size:
            raise SnnkitError(f"LMU input: expected (T, B, {self.cell.input_size}), "
                              f"got {tuple(x.shape)}")
        if parallel and not self.cell.feedforward_memory:
            raise ConfigError("parallel", "hidden_to_memory = memory_to_memory = False "
                              "(the memory input must depend on x only)", parallel)
        fresh = state is None
        if state is None:
            state = self.cell.initial_state(x.shape[1], x.device, x.dtype)
        if parallel is False or not self.cell.feedforward_memory:
            outs = []
            for t in range(x.shape[0]):
                h, state = self.cell.forward_step(x[t], state)
                outs.append(h)
            return torch.stack(outs), state
        return self._forward_parallel(x, state, fresh)

    def _forward_parallel(self, x: torch.Tensor, state: LMUState, fresh: bool
                          ) -> tuple[torch.Tensor, LMUState]:
        c = self.cell
        m = c.memory.sequence(F.linear(x, c.e_x), None if fresh else state.m)  # (T, B, S, d)
        drive = F.linear(x, c.W_x) + F.linear(m.flatten(2), c.W_m)  # (T, B, hidden)
        h, act = state.h, state.act
        outs = []
        for t in range(x.shape[0]):
            h, act = _activate_step(c.nonlinearity, drive[t] + F.linear(h, c.W_h), act)
            outs.append(h)
        return torch.stack(outs), LMUState(h, m[-1], act)


class LMUClassifier(nn.Module):
    """An :class:`LMU` and a dense readout (with bias) of its last hidden state."""

    def __init__(self, lmu: LMU, n_classes: int):
        super().__init__()
        self.lmu = lmu
        self.readout = nn.Linear(lmu.cell.hidden_size, _positive_int("n_classes", n_classes))

    def forward(self, x: torch.Tensor, parallel: bool | None = None) -> torch.Tensor:
        """Logits (B, n_classes) of sequences (T, B, input_size)."""
        h, _ = self.lmu(x, parallel=parallel)
        return self.readout(h[-1])


def psmnist_lmu(nonlinearity: Nonlinearity = torch.tanh, hidden_to_memory: bool = True,
                memory_to_memory: bool = True) -> LMUClassifier:
    """The psMNIST LMU: input 1, d = 256, θ = 784, 212 hidden, 10 classes (102,027 trainable).

    With ``hidden_to_memory = memory_to_memory = False`` (the modern keras-lmu example,
    parallel memory) it has 212 + 256 = 468 fewer: 101,559.
    """
    lmu = LMU(1, 212, order=256, theta=784, nonlinearity=nonlinearity,
              hidden_to_memory=hidden_to_memory, memory_to_memory=memory_to_memory)
    return LMUClassifier(lmu, 10)


class ParallelLMUState(NamedTuple):
    """Memory m (B, memory_size, d) and the states of stateful f_u and f_h (or None)."""

    m: torch.Tensor
    act_u: Any = None
    act_h: Any = None


class ParallelLMU(nn.Module):
    """Chilkuri & Eliasmith's LMU (module docstring): parallel over time, or one step at a time."""

    def __init__(self, input_size: int, hidden_size: int, order: int, theta: float,
                 memory_size: int = 1, input_nonlinearity: Nonlinearity = torch.relu,
                 hidden_nonlinearity: Nonlinearity = torch.relu, bias: bool = True):
        super().__init__()
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.memory_size = _positive_int("memory_size", memory_size)
        self.memory = LegendreMemory(order, theta)
        self.input_nonlinearity = input_nonlinearity
        self.hidden_nonlinearity = hidden_nonlinearity
        self.W_u = nn.Linear(input_size, memory_size, bias=bias)
        self.W_m = nn.Linear(memory_size * order, hidden_size, bias=bias)
        self.W_x = nn.Linear(input_size, hidden_size, bias=False)

    def initial_state(self, batch: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> ParallelLMUState:
        dtype = dtype or self.W_x.weight.dtype
        m = torch.zeros(batch, self.memory_size, self.memory.order, device=device, dtype=dtype)
        fu, fh = self.input_nonlinearity, self.hidden_nonlinearity
        act_u = fu.initial_state(m[..., 0]) if _stateful(fu) else None
        act_h = fh.initial_state(m.new_zeros(batch, self.hidden_size)) if _stateful(fh) else None
        return ParallelLMUState(m, act_u, act_h)

    def forward(self, x: torch.Tensor, state: ParallelLMUState | None = None
                ) -> tuple[torch.Tensor, ParallelLMUState]:
        """Whole sequence (T, B, input_size) at once → (h (T, B, hidden), final state)."""
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise SnnkitError(f"ParallelLMU input: expected (T, B, {self.input_size}), "
                              f"got {tuple(x.shape)}")
        fresh = state is None
        if state is None:
            state = self.initial_state(x.shape[1], x.device, x.dtype)
        u, act_u = _activate_sequence(self.input_nonlinearity, self.W_u(x), state.act_u)
        m = self.memory.sequence(u, None if fresh else state.m)
        pre = self.W_m(m.flatten(2)) + self.W_x(x)
        h, act_h = _activate_sequence(self.hidden_nonlinearity, pre, state.act_h)
        return h, ParallelLMUState(m[-1], act_u, act_h)

    def forward_last(self, x: torch.Tensor) -> torch.Tensor:
        """Only the last hidden state h_{T-1} (B, hidden) of a sequence from a fresh state.

        :math:`h_{T-1} = f_h(W_m m_{T-1} + W_x x_{T-1})` needs the memory at the last
        step only (:meth:`LegendreMemory.last`): for a classifier of the last step this
        skips the (T·B, order)·(order, hidden) product and the FFT of every step.  A
        stateful (spiking) nonlinearity depends on the whole sequence: then
        :meth:`forward` runs.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise SnnkitError(f"ParallelLMU input: expected (T, B, {self.input_size}), "
                              f"got {tuple(x.shape)}")
        if _stateful(self.hidden_nonlinearity) or _stateful(self.input_nonlinearity):
            return self.forward(x)[0][-1]
        m = self.memory.last(self.input_nonlinearity(self.W_u(x)))
        return self.hidden_nonlinearity(self.W_m(m.flatten(1)) + self.W_x(x[-1]))

    def forward_step(self, x: torch.Tensor, state: ParallelLMUState | None = None
                     ) -> tuple[torch.Tensor, ParallelLMUState]:
        """The RNN form for inference: x (B, input_size) → (h_t, new state)."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device, x.dtype)
        u, act_u = _activate_step(self.input_nonlinearity, self.W_u(x), state.act_u)
        m = self.memory.step(state.m, u)
        h, act_h = _activate_step(self.hidden_nonlinearity,
                                  self.W_m(m.flatten(1)) + self.W_x(x), state.act_h)
        return h, ParallelLMUState(m, act_u, act_h)

    def forward_recurrent(self, x: torch.Tensor, state: ParallelLMUState | None = None
                          ) -> tuple[torch.Tensor, ParallelLMUState]:
        """The same outputs as :meth:`forward`, one step at a time (as an RNN)."""
        outs = []
        for t in range(x.shape[0]):
            h, state = self.forward_step(x[t], state)
            outs.append(h)
        return torch.stack(outs), state
