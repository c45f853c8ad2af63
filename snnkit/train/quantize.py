r"""The sigma-delta spiking quantizer of the hybrid-spiking LMU, its gradients and metrics.

Nengo's ``RegularSpiking`` (and ``keras_spiking``/``pytorch_spiking.SpikingActivation``) turn a
base activation :math:`f` into spikes with one state :math:`v` per neuron.  At each step,

.. math::

    v \leftarrow v + \Delta t\, f(x_t),\qquad n_t = \lfloor v \rfloor,\qquad
    v \leftarrow v - n_t,\qquad y_t = a\, n_t / \Delta t,

with amplitude :math:`a` and :math:`v_0 = 0` or :math:`v_0 \sim U(0, 1)`.  The residual
:math:`v \in [0, 1)` carries the quantisation error to the next step (first-order error
diffusion), so :math:`|\sum_t \Delta t\,y_t/a - \sum_t \Delta t f(x_t)| < 1`.
:math:`\Delta t f \le 1` gives 0 or 1 spike per step (spiking); :math:`\Delta t f \gg 1` gives
:math:`y \to a f(x)` with resolution :math:`a/\Delta t` (nearly an ANN).  Training moves
:math:`\Delta t` from the second regime to the first (:func:`interpolation_schedule`,
:func:`set_quantizer_dt`).

**Parallel over time.**  With :math:`S_t = v_0 + \sum_{k \le t} \Delta t f(x_k)`, induction gives
:math:`v_t = S_t - \lfloor S_t \rfloor` and :math:`n_t = \lfloor S_t \rfloor - \lfloor S_{t-1}
\rfloor` (:math:`S_{-1} = v_0`), for either sign of :math:`f`.  To make this *bit-identical* to
the loop, the accumulator is fixed point: the drive :math:`\Delta t f(x)` is computed in float64
and rounded to a multiple of :math:`2^{-24}` (:data:`ACCUMULATOR_FRACTION_BITS`, the resolution
of float32 at 1), and :math:`v` is float64 on the same grid.  Then every sum in either path is a
multiple of :math:`2^{-24}` below :math:`2^{29}` in magnitude, hence exact in float64 (53 bits),
so both paths compute the same real numbers.  **Condition**: :math:`|v_0| + \sum_t |\Delta t
f(x_t)| < 2^{29}` per neuron (checked; otherwise the loop is used) and :math:`v_0` on the grid
(as :func:`initial_voltage` and both paths produce it).  Elementwise :math:`f` must give the same
values for a whole sequence as for one step (true for ReLU/identity; vectorised ``tanh`` may
differ in the last bit between a slice and a whole tensor).

**Gradient** (spiking-aware training): the forward value is :math:`y_t`, the backward pass is
the straight-through estimator of a rate :math:`g`, i.e.
:math:`y = n\,a/\Delta t + (g - \mathrm{sg}(g))`, exactly :math:`n\,a/\Delta t` in value.

* ``gradient="activation"``: :math:`g = a f(x)`, so :math:`\partial y/\partial x = a f'(x)`
  (``pytorch_spiking``'s rule; the ReLU STE of Yin et al. for a ReLU base).
* ``gradient="clipped_relu"``: :math:`g = a \min(\max(x, 0), c)`, the clipped ReLU STE of
  Yin et al. (ICLR 2019): :math:`\partial y/\partial x = a\,[0 \le x \le c]`, with
  :math:`c = 1/\Delta t` by default (a ReLU neuron saturating at one spike per step).

:math:`v` gets no gradient.

Tensors are time-major: sequences are (T, ...).  A quantizer is a *stateful nonlinearity*:
``initial_state(like)``, ``forward_step(x, state)`` and ``forward_sequence(x, state)``, which
:mod:`snnkit.train.lmu` uses for its hidden units.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from snnkit.errors import ConfigError, SnnkitError

#: Fractional bits of the fixed-point accumulator v (and of the per-step drive dt·f(x)).
ACCUMULATOR_FRACTION_BITS = 24
_SCALE = float(2**ACCUMULATOR_FRACTION_BITS)
#: The parallel path is exact while |v0| + Σ|dt·f| stays below this (53 − 24 bits).
PARALLEL_EXACT_LIMIT = float(2 ** (53 - ACCUMULATOR_FRACTION_BITS))

GRADIENTS = ("activation", "clipped_relu")
INITIAL_STATES = ("zeros", "uniform")


def accumulator_drive(rate: torch.Tensor, dt: float) -> torch.Tensor:
    """dt·rate in float64, rounded to the accumulator grid :math:`2^{-24}` (no gradient)."""
    return torch.round(rate.detach().double() * float(dt) * _SCALE) / _SCALE


def initial_voltage(shape: tuple[int, ...], kind: str = "zeros", seed: int | None = None,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Initial v (float64, on the grid): zeros, or U(0, 1) drawn from ``seed`` (global RNG if None).

    A given seed gives the same v for the same shape at every call, so repeated runs (and the
    sequential and parallel paths) start from the same state.
    """
    if kind == "zeros":
        return torch.zeros(shape, dtype=torch.float64, device=device)
    if kind != "uniform":
        raise ConfigError("initial", f"one of {', '.join(INITIAL_STATES)}", kind)
    gen = None
    if seed is not None:
        gen = torch.Generator(device=device or "cpu").manual_seed(seed)
    u = torch.rand(shape, dtype=torch.float64, device=device, generator=gen)
    return torch.floor(u * _SCALE) / _SCALE


def sigma_delta_step(drive: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step: counts n = ⌊v + drive⌋ and the new residual v + drive − n (float64)."""
    v = v + drive
    counts = torch.floor(v)
    return counts, v - counts


def sigma_delta_sequential(drive: torch.Tensor, v0: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts (T, ...) and final v of drives (T, ...) by the step loop (the reference)."""
    counts = torch.empty_like(drive)
    v = v0
    for t in range(drive.shape[0]):
        counts[t], v = sigma_delta_step(drive[t], v)
    return counts, v


def sigma_delta_parallel(drive: torch.Tensor, v0: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts (T, ...) and final v all at once: n_t = ⌊S_t⌋ − ⌊S_{t−1}⌋, S = v0 + cumsum(drive).

    Bit-identical to :func:`sigma_delta_sequential` under the module's conditions; falls back to
    it when some neuron's |v0| + Σ|drive| reaches :data:`PARALLEL_EXACT_LIMIT`.
    """
    if drive.shape[0] == 0:
        return drive.clone(), v0
    if float((drive.abs().sum(0) + v0.abs()).max()) >= PARALLEL_EXACT_LIMIT:
        return sigma_delta_sequential(drive, v0)
    s = torch.cumsum(drive, 0) + v0
    floors = torch.floor(s)
    counts = torch.diff(floors, dim=0, prepend=torch.floor(v0).expand_as(floors[:1]))
    return counts, s[-1] - floors[-1]


class SigmaDeltaQuantizer(nn.Module):
    """Sigma-delta spikes of a base activation, with a straight-through gradient.

    ``dt`` is a plain attribute that a schedule may change between epochs or steps;
    ``spiking=False`` gives the rate ``amplitude·f(x)`` in both passes.  As a plain call on a
    tensor it runs a whole time-major sequence (T, ...) from :meth:`initial_state`.
    """

    def __init__(self, activation: Callable[[torch.Tensor], torch.Tensor] = torch.relu,
                 dt: float = 1.0, amplitude: float = 1.0, initial: str = "zeros",
                 seed: int | None = None, gradient: str = "activation",
                 clip: float | None = None, spiking: bool = True):
        super().__init__()
        if not dt > 0:
            raise ConfigError("dt", "a positive number", dt)
        if initial not in INITIAL_STATES:
            raise ConfigError("initial", f"one of {', '.join(INITIAL_STATES)}", initial)
        if gradient not in GRADIENTS:
            raise ConfigError("gradient", f"one of {', '.join(GRADIENTS)}", gradient)
        if clip is not None and not clip > 0:
            raise ConfigError("clip", "a positive number or None (1/dt)", clip)
        self.activation = activation
        self.dt = float(dt)
        self.amplitude = float(amplitude)
        self.initial = initial
        self.seed = seed
        self.gradient = gradient
        self.clip = clip
        self.spiking = spiking

    def extra_repr(self) -> str:
        return (f"dt={self.dt:g}, amplitude={self.amplitude:g}, initial={self.initial!r}, "
                f"gradient={self.gradient!r}, spiking={self.spiking}")

    def initial_state(self, like: torch.Tensor) -> torch.Tensor:
        """v0 (float64) for inputs shaped like one step ``like``."""
        return initial_voltage(tuple(like.shape), self.initial, self.seed, like.device)

    def _surrogate(self, x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
        if self.gradient == "activation":
            return self.amplitude * rate
        clip = 1.0 / self.dt if self.clip is None else self.clip
        return self.amplitude * x.clamp(0.0, clip)

    def _output(self, x: torch.Tensor, rate: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        y = (counts * (self.amplitude / self.dt)).to(x.dtype)
        if torch.is_grad_enabled() and x.requires_grad:
            g = self._surrogate(x, rate)
            y = y + (g - g.detach())
        return y

    def forward_step(self, x: torch.Tensor, v: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: (output, new v).  ``v`` None starts from :meth:`initial_state`."""
        rate = self.activation(x)
        if not self.spiking:
            return self.amplitude * rate, v if v is not None else self.initial_state(x)
        if v is None:
            v = self.initial_state(x)
        counts, v = sigma_delta_step(accumulator_drive(rate, self.dt), v)
        return self._output(x, rate, counts), v

    def forward_sequence(self, x: torch.Tensor, v: torch.Tensor | None = None,
                         parallel: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """A time-major sequence (T, ...): (outputs, final v), parallel over time by default."""
        rate = self.activation(x)
        if v is None:
            v = self.initial_state(x[0])
        if not self.spiking:
            return self.amplitude * rate, v
        drive = accumulator_drive(rate, self.dt)
        run = sigma_delta_parallel if parallel else sigma_delta_sequential
        counts, v = run(drive, v)
        return self._output(x, rate, counts), v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(x)[0]

    @torch.no_grad()
    def spike_counts(self, x: torch.Tensor, v: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer spike counts (float64, T, ...) and final v of a sequence (for the metrics)."""
        if v is None:
            v = self.initial_state(x[0])
        return sigma_delta_parallel(accumulator_drive(self.activation(x), self.dt), v)


def set_quantizer_dt(module: nn.Module, dt: float) -> int:
    """Set ``dt`` of every :class:`SigmaDeltaQuantizer` in ``module``; returns how many."""
    if not dt > 0:
        raise ConfigError("dt", "a positive number", dt)
    found = [m for m in module.modules() if isinstance(m, SigmaDeltaQuantizer)]
    for m in found:
        m.dt = float(dt)
    return len(found)


def interpolation_schedule(kind: str, start: float, end: float, n: int) -> list[float]:
    r"""n values from ``start`` to ``end`` (both included): one per epoch or per step.

    ``kind="geometric"``: :math:`s\,(e/s)^{i/(n-1)}` (a constant ratio, e.g. dt from 100 down
    to 1 to move from the rate regime to ≤ 1 spike per step); ``"linear"``: evenly spaced.
    ``n = 1`` gives ``[end]`` (the target regime).
    """
    if kind not in ("geometric", "linear"):
        raise ConfigError("schedule", "'geometric' or 'linear'", kind)
    if not isinstance(n, int) or n < 1:
        raise ConfigError("schedule.n", "a number of epochs or steps >= 1", n)
    if kind == "geometric" and not (start > 0 and end > 0):
        raise ConfigError("schedule", "positive start and end for a geometric schedule",
                          (start, end))
    if n == 1:
        return [float(end)]
    if kind == "linear":
        return [start + (end - start) * i / (n - 1) for i in range(n - 1)] + [float(end)]
    ratio = math.log(end / start)
    return [start * math.exp(ratio * i / (n - 1)) for i in range(n - 1)] + [float(end)]


def _integer_counts(counts: torch.Tensor) -> torch.Tensor:
    c = torch.as_tensor(counts).double()
    if not bool(torch.all(c == torch.round(c))):
        raise SnnkitError("counts: expected integer spike counts (see spike_counts)")
    return c


def bits_per_activity(counts: torch.Tensor) -> float:
    r"""Mean over neurons of :math:`\log_2(\max_t n - \min_t n + 1)`, with max ≥ 0 ≥ min.

    ``counts`` (T, ..., N): neurons on the last axis; the extremes are taken over all other
    axes (time, batch).  A neuron whose counts stay in 0..K needs :math:`\log_2(K + 1)` bits per
    step (1 bit for pure spiking, 0 for a silent one); signed counts −K..K need
    :math:`\log_2(2K + 1)`.  This is the "at most" reading of the paper's 3.74 bits per activity
    (an upper bound per neuron, averaged); the paper's own definition is unconfirmed.
    """
    c = _integer_counts(counts).reshape(-1, counts.shape[-1])
    levels = c.amax(0).clamp(min=0) - c.amin(0).clamp(max=0) + 1
    return float(torch.log2(levels).mean())


def significant_bits(counts: torch.Tensor, fan_out: torch.Tensor | None = None) -> float:
    r"""Mean number of significant bits (MSB to LSB, inclusive) of the non-zero |counts|.

    1, 2, 4 → 1; 3, 6 → 2; 5 → 3: the shift-and-adds that multiply a weight by the count.
    ``fan_out`` (N,), optional, weights each neuron (last axis of ``counts``) by its number of
    non-zero outgoing weights, i.e. the mean over non-zero weight–activity products.  This is our
    reading of the paper's 1.26 significant bits per weight (unconfirmed).  NaN if no count
    is non-zero.
    """
    total, weight = significant_bit_sums(counts, fan_out)
    return total / weight if weight > 0 else math.nan


def significant_bit_sums(counts: torch.Tensor, fan_out: torch.Tensor | None = None
                         ) -> tuple[float, float]:
    """Numerator and denominator of :func:`significant_bits` (Σ bits·weight, Σ weight over
    the non-zero counts), to be summed over batches before dividing."""
    c = _integer_counts(counts).abs()
    weight = torch.ones_like(c) if fan_out is None else torch.as_tensor(
        fan_out, dtype=torch.float64).expand_as(c)
    nz = c > 0
    n = c[nz]
    lowest = (n.long() & -n.long()).double()  # lowest set bit
    bits = (torch.frexp(n).exponent - torch.frexp(lowest).exponent + 1).double()
    w = weight[nz]
    return float((bits * w).sum()), float(w.sum())
