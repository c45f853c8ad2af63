r"""Global coupling: the Winner-Takes-All mean field (reference note §4.2).

In the asynchronous state with global coupling and :math:`N \to \infty`, the pulse train
received by every neuron is a constant current :math:`g\bar\nu`, where :math:`\bar\nu` is
the mean rate over **all** neurons (silent ones included):

.. math::

    \mu_i = I_i - g\bar\nu, \qquad
    \bar\nu = \frac{1}{I_h - I_l}\int_{I_l}^{I_h} \nu(I - g\bar\nu)\,dI, \qquad
    I^* = 1 + g\bar\nu, \qquad n_A = \frac{I_h - I^*}{I_h - I_l}\ \text{(clipped to [0, 1])},

with :math:`\nu` the free LIF rate (:func:`~.lif.lif_rate`).  **This is exact** for global
coupling in the asynchronous state as :math:`N \to \infty` (the O(1/N) granularity of the
pulses vanishes); it does not apply with collective oscillations.
:func:`wta_solution_discrete` solves the same self-consistency with a finite set of
excitabilities (finite-N comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize

from .lif import _det_rate, lif_rate

__all__ = ["WTASolution", "wta_curve", "wta_solution", "wta_solution_discrete"]

_QUAD_KW = dict(epsabs=0.0, epsrel=1e-10, limit=200)


@dataclass(frozen=True)
class WTASolution:
    """Self-consistent asynchronous state with global coupling.

    Attributes:
        g: coupling.
        nu_bar: mean rate over all neurons (1/tau_m).
        I_star: activation threshold 1 + g*nu_bar: neurons with I > I_star fire.
        n_active: fraction of firing neurons.
    """

    g: float
    nu_bar: float
    I_star: float
    n_active: float


def _mean_lif_uniform(shift: float, I_low: float, I_high: float) -> float:
    r"""Exact :math:`\frac{1}{I_h - I_l}\int_{I_l}^{I_h}\nu(I - \text{shift})\,dI`.

    With :math:`\mu = 1 + e^{-s}` the integrand becomes
    :math:`e^{-s}/(s + \ln(1 + e^{-s}))`, smooth and exponentially decaying, so the
    :math:`1/\ln(1/(\mu - 1))` behaviour at the activation threshold (the breakpoint
    :math:`I^*`, where quad would otherwise see an infinite slope) costs nothing.
    """
    mu_hi = I_high - shift
    mu_lo = max(I_low - shift, 1.0)
    if mu_hi <= 1.0:
        return 0.0
    s_lo = -np.log(mu_hi - 1.0)
    s_hi = np.inf if mu_lo <= 1.0 else -np.log(mu_lo - 1.0)

    def f(s: float) -> float:
        e = np.exp(-s)
        return e / (s + np.log1p(e))

    if np.isinf(s_hi) and s_lo < 0.0:
        # split at s = 0 so that the infinite-range part starts at a fixed point
        val = integrate.quad(f, s_lo, 0.0, **_QUAD_KW)[0] + integrate.quad(f, 0.0, np.inf,
                                                                          **_QUAD_KW)[0]
    else:
        val = integrate.quad(f, s_lo, s_hi, **_QUAD_KW)[0]
    return val / (I_high - I_low)


def _wta_from_nu(g: float, nu: float, I_low: float, I_high: float) -> WTASolution:
    I_star = 1.0 + g * nu
    n_a = float(np.clip((I_high - I_star) / (I_high - I_low), 0.0, 1.0))
    return WTASolution(g=float(g), nu_bar=float(nu), I_star=float(I_star), n_active=n_a)


def wta_solution(g: float, I_low: float = 1.0, I_high: float = 1.5) -> WTASolution:
    r"""WTA mean field for global coupling and :math:`I \sim U[I_l, I_h]` (exact as N → ∞).

    Solves :math:`\bar\nu = \frac{1}{I_h - I_l}\int_{I_l}^{I_h}\nu(I - g\bar\nu)\,dI`
    (``brentq`` on :math:`[0, \nu(I_h)]`, where the right-hand side is decreasing in
    :math:`\bar\nu`), then :math:`I^* = 1 + g\bar\nu` and
    :math:`n_A = \operatorname{clip}((I_h - I^*)/(I_h - I_l), 0, 1)`.

    ``g = 0`` gives the uncoupled population; ``I_high <= 1`` gives a silent one
    (``nu_bar = 0``, ``n_active = 0``).  ``I_low == I_high`` (identical neurons) is
    solved as a one-point distribution.
    """
    g, I_low, I_high = float(g), float(I_low), float(I_high)
    if g < 0:
        raise ValueError(f"g must be >= 0 (inhibition), got {g}")
    if I_high < I_low:
        raise ValueError(f"need I_low <= I_high, got {I_low} > {I_high}")
    if I_high == I_low:
        sol = wta_solution_discrete(g, np.array([I_low]))
        return sol
    if I_high <= 1.0:
        return _wta_from_nu(g, 0.0, I_low, I_high)
    if g == 0.0:
        return _wta_from_nu(g, _mean_lif_uniform(0.0, I_low, I_high), I_low, I_high)
    nu_max = float(lif_rate(I_high))
    nu = optimize.brentq(lambda x: x - _mean_lif_uniform(g * x, I_low, I_high), 0.0, nu_max,
                         xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
    return _wta_from_nu(g, nu, I_low, I_high)


def wta_curve(g_values: ArrayLike, I_low: float = 1.0,
              I_high: float = 1.5) -> dict[str, NDArray[np.float64]]:
    """:func:`wta_solution` over an array of couplings.

    Returns:
        dict with arrays ``"g"``, ``"nu_bar"``, ``"I_star"``, ``"n_active"`` (same shape
        as ``g_values``).
    """
    g_arr = np.asarray(g_values, dtype=np.float64)
    sols = [wta_solution(float(g), I_low, I_high) for g in g_arr.ravel()]
    out = {"g": g_arr.copy()}
    for key in ("nu_bar", "I_star", "n_active"):
        out[key] = np.array([getattr(s, key) for s in sols], dtype=np.float64).reshape(
            g_arr.shape)
    return out


def wta_solution_discrete(g: float, I: ArrayLike) -> WTASolution:
    r"""WTA self-consistency with a finite set of excitabilities.

    :math:`\bar\nu = \frac{1}{N}\sum_i \nu(I_i - g\bar\nu)`, :math:`I^* = 1 + g\bar\nu`,
    ``n_active`` = fraction of :math:`I_i > I^*`.  With evenly spaced ``I`` this converges
    to :func:`wta_solution` as ``len(I)`` grows; it is the N → ∞ theory evaluated on a
    finite network's excitabilities (the pulse granularity, O(1/N), is still neglected).
    """
    g = float(g)
    if g < 0:
        raise ValueError(f"g must be >= 0 (inhibition), got {g}")
    I_arr = np.asarray(I, dtype=np.float64).ravel()
    if I_arr.size == 0 or not np.all(np.isfinite(I_arr)):
        raise ValueError("I must be a non-empty array of finite values")

    def mean_rate(nu: float) -> float:
        return float(np.mean(_det_rate(I_arr - g * nu, 0.0, 1.0, 0.0)))

    nu_max = float(lif_rate(I_arr.max()))
    if nu_max == 0.0 or g == 0.0:
        nu = mean_rate(0.0)
    else:
        nu = optimize.brentq(lambda x: x - mean_rate(x), 0.0, nu_max, xtol=1e-15,
                             rtol=4 * np.finfo(float).eps, maxiter=200)
    I_star = 1.0 + g * nu
    return WTASolution(g=g, nu_bar=float(nu), I_star=float(I_star),
                       n_active=float(np.mean(I_arr > I_star)))
