r"""Finite pulses and finite windows: shot-noise rate, input regularity, P(≥ 1 spike).

Time in :math:`\tau_m`, threshold 1, reset 0, no refractory period.

Inhibitory shot noise (:func:`shot_noise_rate`)
-----------------------------------------------
A neuron receiving pulses of size :math:`a = g/K` at the times of a Poisson process of
rate :math:`R` (= :math:`K\bar\nu` for K Poisson inputs) obeys

.. math:: dv = (I - v)\,dt - a\,dN_R(t).

Pulses only push :math:`v` down; it reaches threshold by drifting up towards :math:`I`
during a gap in the input, so a neuron with :math:`I \le 1` never fires.  The stationary
density :math:`P(v)` carries the probability flux
:math:`J(v) = (I - v)P(v) - R\int_v^{v+a}P(u)\,du`, equal to the rate :math:`\nu` on
:math:`(0, 1)` (reset at 0, threshold at 1) and to 0 below 0.  With
:math:`Q(v) = \frac{1}{\nu}\int_v^1 P(u)\,du`:

.. math::

    (I - v)\,(-Q'(v)) = H(v) + R\,[Q(v) - Q(v + a)], \qquad Q(v \ge 1) = 0, \qquad
    \nu = 1/Q(-\infty),

with :math:`H = 1` on :math:`(0, 1)` and 0 below.  The delay term :math:`Q(v + a)` is
known when integrating **downwards** from :math:`v = 1`, so :math:`Q` follows by one pass
on a grid of step :math:`h = a/m` (:math:`m` integer).  Over one step the homogeneous
part is integrated exactly, :math:`Q(v - h) = \rho\,Q(v) + \bar F\,(\rho - 1)/R` with
:math:`\rho = [(I - v + h)/(I - v)]^R` and :math:`\bar F` the step average of
:math:`H - R\,Q(\cdot + a)` (trapezoid), which is stable however steep :math:`R/(I - v)`.
This is exact for the jump process (no diffusion approximation); the error is the
:math:`O(h^2)` of the trapezoid.  For :math:`a \to 0` at fixed :math:`aR` it tends to the
free rate at drive :math:`I - aR`; for small :math:`a` it approaches the Siegert rate with
:math:`\mu = I - aR`, :math:`\sigma^2 = a^2R` (the diffusion approximation).

Regular presynaptic trains (:func:`periodic_fano`)
--------------------------------------------------
The membrane filters its input with :math:`e^{-t}`.  A Poisson train of rate :math:`\nu`
gives the filtered signal :math:`x = \sum_k e^{-(t - t_k)}` the variance :math:`\nu/2`
(Campbell).  A periodic train with a random phase has only the harmonics
:math:`\omega_n = 2\pi n\nu`, each of power :math:`\nu^2`, so
:math:`\operatorname{Var}x = \nu^2\sum_{n \ne 0}(1 + \omega_n^2)^{-1}` and, with
:math:`\sum_n (1 + (2\pi n\nu)^2)^{-1} = \coth(1/2\nu)/(2\nu)`,

.. math:: F_{per}(\nu) = \frac{\operatorname{Var}_{per}x}{\operatorname{Var}_{Poisson}x}
          = \coth\frac{1}{2\nu} - 2\nu ,

which is 1 for :math:`\nu \ll 1` (slow trains look Poisson to the membrane) and
:math:`\approx 1/(6\nu)` for :math:`\nu \gg 1`.  A renewal train with ISI coefficient of
variation CV is given :math:`F = CV^2 + (1 - CV^2)F_{per}(\nu)` (exact at CV = 0 and for
Poisson, an interpolation in between).

At least one spike in a window (:func:`p_active_window`)
--------------------------------------------------------
For a stationary renewal train of rate :math:`\nu` and ISI survival :math:`S(t)`, the
time to the first spike after an arbitrary instant has density :math:`\nu S(t)`, so

.. math:: P(\ge 1\ \text{spike in}\ T) = 1 - \nu\int_T^\infty S(t)\,dt .

For a Poisson train this is :math:`1 - e^{-\nu T}`.  With a gamma ISI distribution of the
same mean and CV (shape :math:`k = CV^{-2}`, :math:`x = k\nu T`) it is
:math:`1 - [Q(k + 1, x) - \nu T\,Q(k, x)]`, :math:`Q` the regularised upper incomplete
gamma function; CV → 0 gives :math:`\min(1, \nu T)` (a periodic train with a random phase).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from .lif import FloatOrArray, _det_rate, _out

__all__ = ["p_active_window", "periodic_fano", "shot_noise_rate"]

_BIG = 1e250  # Q beyond this: rate below 1e-250, reported as 0


def _check(a: float, R: float, h_max: float, m_min: int) -> None:
    if a < 0 or R < 0:
        raise ValueError(f"need a >= 0 and R >= 0, got a={a}, R={R}")
    if not h_max > 0 or m_min < 1:
        raise ValueError("need h_max > 0 and m_min >= 1")


def shot_noise_rate(I: ArrayLike, a: float, R: float, *, h_max: float = 0.05,
                    m_min: int = 8, tol: float = 1e-10) -> FloatOrArray:
    r"""Stationary rate of :math:`dv = (I - v)dt - a\,dN_R` (threshold 1, reset 0).

    Solves :math:`(I - v)(-Q') = H + R[Q(v) - Q(v + a)]`, :math:`\nu = 1/Q(-\infty)` by
    downward integration on a grid of step :math:`h = a/m`,
    :math:`m = \max(m_{min}, \lceil a/h_{max}\rceil)` (module docstring).  Vectorised over
    ``I``; ``a = 0`` or ``R = 0`` gives the free rate :func:`~.lif.lif_rate`; ``I <= 1``
    gives 0.  Integration stops below :math:`\min(0, I - aR) - 2a` once the last step
    added less than ``tol``·h relative to :math:`Q`.
    """
    a, R = float(a), float(R)
    _check(a, R, h_max, m_min)
    I_arr = np.asarray(I, dtype=np.float64)
    flat = I_arr.ravel()
    out = np.zeros(flat.shape)
    fire = flat > 1.0
    if a == 0.0 or R == 0.0:
        return _out(_det_rate(I_arr, 0.0, 1.0, 0.0))
    if np.any(fire):
        out[fire] = _shot_core(flat[fire], a, R, h_max, m_min, tol)
    return _out(out.reshape(I_arr.shape))


def _shot_core(Iv: NDArray[np.float64], a: float, R: float, h_max: float, m_min: int,
               tol: float) -> NDArray[np.float64]:
    m = max(int(m_min), int(np.ceil(a / h_max)))
    h = a / m
    n1 = int(np.floor(1.0 / h))
    if n1 * h >= 1.0:
        n1 -= 1
    v_top = n1 * h  # highest grid point below 1; the grid is v_j = j h
    dead = np.zeros(Iv.size, dtype=bool)

    def step(Q: NDArray[np.float64], v: float, vn: float, F: NDArray[np.float64] | float
             ) -> NDArray[np.float64]:
        lr = R * np.log((Iv - vn) / (Iv - v))
        return Q * np.exp(lr) + F * (np.expm1(lr) / R)

    Q = step(np.zeros_like(Iv), 1.0, v_top, 1.0)  # on (v_top, 1): H = 1, Q(v + a) = 0
    Q_top = Q.copy()
    qs = [Q]  # qs[k] = Q(v_top - k h)

    def q_at(k: int, v: float) -> NDArray[np.float64]:
        """Q at grid index k (v = v_top - k h) or, above the grid, linear up to Q(1) = 0."""
        if k >= 0:
            return qs[k]
        return Q_top * (1.0 - v) / (1.0 - v_top) if v < 1.0 else np.zeros_like(Q_top)

    v_stop = min(0.0, float(Iv.min()) - R * a) - 2.0 * a
    j = n1
    while True:
        j -= 1
        vn = j * h
        k = n1 - j
        H = 1.0 if j >= 0 else 0.0  # the step [vn, vn + h] lies in v >= 0
        F_lo = H - R * q_at(k - m, vn + a)
        F_hi = H - R * q_at(k - 1 - m, vn + h + a)
        Qn = step(Q, vn + h, vn, 0.5 * (F_lo + F_hi))
        over = ~(Qn < _BIG)
        if np.any(over):  # rate below 1/_BIG: drop these neurons (rate 0)
            dead |= over
            Qn[over] = 0.0
            for q in qs:
                q[over] = 0.0
            Q_top[over] = 0.0
        qs.append(Qn)
        inc, Q = Qn - Q, Qn
        if vn < v_stop and np.all((inc <= tol * h * Q) | dead):
            break
    return np.where(dead, 0.0, 1.0 / np.where(dead, 1.0, Q))


def periodic_fano(nu: ArrayLike) -> FloatOrArray:
    r"""Variance of the membrane-filtered periodic train relative to Poisson.

    .. math:: F_{per}(\nu) = \coth\frac{1}{2\nu} - 2\nu

    (module docstring); 1 at :math:`\nu = 0`, :math:`\approx 1/(6\nu)` for large
    :math:`\nu`.  ``nu`` in :math:`1/\tau_m`, vectorised.
    """
    nu_arr = np.asarray(nu, dtype=np.float64)
    if np.any(nu_arr < 0):
        raise ValueError("nu must be >= 0")
    x = 0.5 / np.maximum(nu_arr, 1e-300)
    # coth(x) - 1/x ... written to keep precision: coth(x) = 1 + 2/(e^{2x} - 1)
    with np.errstate(over="ignore"):
        coth = 1.0 + 2.0 / np.expm1(np.minimum(2.0 * x, 700.0))
    return _out(np.where(nu_arr > 0, coth - 2.0 * nu_arr, 1.0))


def p_active_window(rate: ArrayLike, T: float, cv: ArrayLike | None = None) -> FloatOrArray:
    r"""Probability of at least one spike in a window ``T`` (stationary renewal train).

    ``cv=None``: Poisson, :math:`1 - e^{-\nu T}`.  Otherwise a gamma ISI distribution with
    mean :math:`1/\nu` and the given CV: :math:`1 - [Q(k+1, k\nu T) - \nu T\,Q(k, k\nu T)]`,
    :math:`k = CV^{-2}` (module docstring).  ``nan`` CVs are treated as 1.  Vectorised.
    """
    if T < 0:
        raise ValueError(f"T must be >= 0, got {T}")
    r = np.asarray(rate, dtype=np.float64)
    if cv is None:
        return _out(-np.expm1(-r * T))
    c = np.nan_to_num(np.asarray(cv, dtype=np.float64), nan=1.0)
    r, c = np.broadcast_arrays(r, np.clip(c, 1e-3, None))
    k = 1.0 / (c * c)
    x = k * r * T
    none = special.gammaincc(k + 1.0, x) - r * T * special.gammaincc(k, x)
    return _out(np.where(r > 0, np.clip(1.0 - none, 0.0, 1.0), 0.0))
