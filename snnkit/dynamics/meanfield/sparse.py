r"""Sparse coupling: the Poisson diffusion closure (reference note §4.3).

With in-degree :math:`K`, pulses :math:`g/K` and presynaptic trains treated as
**independent Poisson processes** of rate :math:`\bar\nu`, the input is replaced by white
noise (diffusion approximation),

.. math::

    dv = (\mu - v)\,dt + \sigma\,dW, \qquad
    \mu_i = I_i - g\bar\nu, \qquad \sigma^2 = \frac{g^2 \bar\nu}{K},

every neuron fires at the Siegert rate :math:`\nu(\mu_i, \sigma)` (:mod:`.siegert`) and
:math:`\bar\nu = \langle\nu(I - g\bar\nu, g\sqrt{\bar\nu/K})\rangle_I` (:func:`sparse_meanfield`).

**This closure is an approximation.**  The Siegert formulas are exact for the diffusion
process, but the diffusion approximation of the pulse input (small pulses, many inputs)
and above all the Poisson assumption are not: when the presynaptic neurons fire regularly
(CV ≈ 0, below the :math:`n_A` minimum), the true input fluctuations are much smaller than
:math:`g^2\bar\nu/K`.  :mod:`.closures` compares it with other closures.

:func:`g_c_naive` gives the coupling at which the most excitable neuron's mean drive
reaches threshold, :math:`I_h - g\bar\nu(g) = 1` (the note's criterion for the
:math:`n_A` minimum), with :math:`\bar\nu(g)` from this closure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from .lif import lif_rate
from .siegert import _siegert_core, siegert_rate
from .siegert_cv import siegert_cv

__all__ = ["SparseSolution", "g_c_naive", "sparse_meanfield"]


@dataclass(frozen=True, eq=False)
class SparseSolution:
    """Self-consistent state of the sparse diffusion (Poisson) closure.

    Attributes:
        g: coupling; K: in-degree.
        nu_bar: mean rate over all neurons (1/tau_m).
        sigma: noise amplitude g*sqrt(nu_bar/K).
        mu: mean drive I - g*nu_bar on the grid ``I``.
        rates: Siegert rate on the grid.
        cv: ISI CV on the grid (``nan`` where a neuron cannot fire, i.e. sigma = 0 and
            mu <= 1).
        n_supra: fraction of the population with mu > 1 (mean-driven neurons).
        n_active_window: mean over I of 1 - exp(-rate*T_window): the probability of at
            least one spike in a window T_window **if the neuron fired as a Poisson
            process**: a proxy for the measured fraction of active neurons.
        I: the excitability grid (midpoints of ``n_grid`` equal bins of [I_low, I_high]).
        T_window: the window used for ``n_active_window`` (tau_m).
    """

    g: float
    K: float
    nu_bar: float
    sigma: float
    mu: NDArray[np.float64]
    rates: NDArray[np.float64]
    cv: NDArray[np.float64]
    n_supra: float
    n_active_window: float
    I: NDArray[np.float64]
    T_window: float


def _grid(I_low: float, I_high: float, n_grid: int) -> NDArray[np.float64]:
    if I_high < I_low:
        raise ValueError(f"need I_low <= I_high, got {I_low} > {I_high}")
    if n_grid < 1:
        raise ValueError(f"n_grid must be >= 1, got {n_grid}")
    return I_low + (I_high - I_low) * (np.arange(n_grid) + 0.5) / n_grid


def _sparse_nu(g: float, K: float, I: NDArray[np.float64]) -> float:
    """Self-consistent nu_bar = <siegert_rate(I - g nu, g sqrt(nu/K))>_I (brentq)."""
    def resid(nu: float) -> float:
        sig = np.full_like(I, g * np.sqrt(nu / K))
        return nu - float(np.mean(_siegert_core(I - g * nu, sig, 0.0, 1.0, 0.0)))

    r0 = resid(0.0)
    if g == 0.0 or r0 >= 0.0:  # uncoupled, or silent with no noise to wake it up
        return -r0
    hi = max(float(lif_rate(I.max())), 1e-3)
    for _ in range(200):
        if resid(hi) > 0.0:
            break
        hi *= 2.0
    else:  # pragma: no cover - the rate falls to 0 as nu -> inf
        raise RuntimeError("could not bracket the self-consistent rate")
    return float(optimize.brentq(resid, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                 maxiter=300))


def sparse_meanfield(g: float, K: float, I_low: float = 1.0, I_high: float = 1.5,
                     n_grid: int = 401, T_window: float = 200.0) -> SparseSolution:
    r"""Self-consistent sparse mean field with the Poisson diffusion closure (approximate).

    .. math::

        \bar\nu = \Big\langle \nu_{\rm Siegert}\big(I - g\bar\nu,\ g\sqrt{\bar\nu/K}\big)
                  \Big\rangle_I ,

    the average over :math:`I \sim U[I_l, I_h]` being the midpoint rule on ``n_grid`` equal
    bins (the solution is that of a population with these ``n_grid`` excitabilities).
    Solved by ``brentq`` on :math:`\bar\nu`.  ``g = 0`` gives the uncoupled deterministic
    population.  See the module docstring for why the closure over-estimates the
    fluctuations when the presynaptic neurons fire regularly.
    """
    g, K = float(g), float(K)
    if g < 0:
        raise ValueError(f"g must be >= 0 (inhibition), got {g}")
    if not K > 0:
        raise ValueError(f"K must be > 0, got {K}")
    if T_window < 0:
        raise ValueError(f"T_window must be >= 0, got {T_window}")
    I = _grid(float(I_low), float(I_high), int(n_grid))
    nu = _sparse_nu(g, K, I)
    sigma = g * np.sqrt(nu / K)
    mu = I - g * nu
    rates = np.asarray(siegert_rate(mu, np.full_like(I, sigma)), dtype=np.float64)
    cv = np.asarray(siegert_cv(mu, np.full_like(I, sigma)), dtype=np.float64)
    for arr in (mu, rates, cv, I):
        arr.setflags(write=False)
    return SparseSolution(
        g=g, K=K, nu_bar=nu, sigma=float(sigma), mu=mu, rates=rates, cv=cv,
        n_supra=float(np.mean(mu > 1.0)),
        n_active_window=float(np.mean(-np.expm1(-rates * T_window))),
        I=I, T_window=float(T_window))


def g_c_naive(K: float, I_low: float = 1.0, I_high: float = 1.5, n_grid: int = 401) -> float:
    r"""Coupling at which the most excitable neuron's mean drive reaches threshold.

    Root of :math:`I_h - g\,\bar\nu(g) = 1`, with :math:`\bar\nu(g)` from the sparse
    closure (:func:`sparse_meanfield`, same grid).  Under the WTA solution
    :math:`g\bar\nu < I_h - 1` for every g, so the root exists only because the
    closure's noise makes sub-threshold neurons fire; the note's candidate for the
    location of the :math:`n_A` minimum (reference note §4.3).
    """
    K = float(K)
    if not K > 0:
        raise ValueError(f"K must be > 0, got {K}")
    if not I_high > 1.0:
        raise ValueError("I_high must be > 1 (otherwise every drive is below threshold)")
    I = _grid(float(I_low), float(I_high), int(n_grid))

    def h(g: float) -> float:
        return I_high - 1.0 - g * _sparse_nu(g, K, I)

    lo, hi = 0.0, 1.0
    while h(hi) > 0.0:
        lo, hi = hi, 2.0 * hi
        if hi > 1e6:
            raise RuntimeError("g*nu_bar never reaches I_high - 1 (no crossing found)")
    return float(optimize.brentq(h, lo, hi, xtol=1e-10, rtol=1e-12))
