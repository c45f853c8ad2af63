r"""ISI mean and CV of the LIF neuron under inhibitory Poisson shot noise (exact jump process).

Time in :math:`\tau_m`, threshold 1, reset 0, no refractory period.  The neuron

.. math:: dv = (\mu_0 - v)\,dt - a\,dN_R(t)

(pulses :math:`a = g/K` at the times of a Poisson process of rate :math:`R`) fires only by
drifting up to threshold during a gap in its input, so :math:`\mu_0 \le 1` never fires.

Backward equations
------------------
Let :math:`T_1(v)` be the mean first-passage time to :math:`v = 1` from :math:`v` and
:math:`V(v)` its variance.  The generator of the jump process is
:math:`\mathcal L f = (\mu_0 - v)f'(v) + R[f(v - a) - f(v)]`, so the moments
:math:`T_n = E[\tau^n]` obey :math:`\mathcal L T_n = -n T_{n-1}`, :math:`T_n(1) = 0`.
With :math:`\mathcal L(T_1^2) = 2T_1(\mu_0 - v)T_1' + R[T_1(v-a)^2 - T_1^2]` the variance
:math:`V = T_2 - T_1^2` obeys

.. math::

    \mathcal L T_1 = -1, \qquad
    \mathcal L V = -R\,[T_1(v - a) - T_1(v)]^2, \qquad T_1(1) = V(1) = 0 ,

a source that vanishes with :math:`R` (no variance without pulses), so that CV → 0 is
reached without cancellation.  The ISI starts at the reset: mean ISI :math:`T_1(0)`
(:math:`= 1/\nu`, the rate of :func:`~.shot.shot_noise_rate`) and
:math:`CV = \sqrt{V(0)}/T_1(0)`.

Discretisation
--------------
Both equations read :math:`(\mu_0 - v)f' - Rf = -S(v)` with :math:`S = R f(v - a) + s(v)`
(:math:`s = 1` for :math:`T_1`, :math:`R[T_1(v-a) - T_1(v)]^2` for V).  Multiplying by
:math:`(\mu_0 - v)^{R-1}` makes the left side the exact derivative
:math:`-\frac{d}{dv}[(\mu_0 - v)^R f]`; integrating over a grid step
:math:`[v_j, v_{j+1}]` with :math:`S` replaced by the mean of its end values (trapezoid),

.. math::

    f_j = \rho_j f_{j+1} + \frac{1 - \rho_j}{R}\,\frac{S_j + S_{j+1}}{2}, \qquad
    \rho_j = \Big(\frac{\mu_0 - v_{j+1}}{\mu_0 - v_j}\Big)^R ,

exact for the homogeneous part however stiff :math:`R/(\mu_0 - v)` is near threshold
(:math:`(1 - \rho)/R \to \ln[(\mu_0 - v_j)/(\mu_0 - v_{j+1})]` as :math:`R \to 0`, which
gives the free period :math:`\ln[\mu_0/(\mu_0 - 1)]` and :math:`V = 0`); the error is
:math:`O(h^2)`.  Grid (:func:`_grid`): steps :math:`\min(a/m_{min}, h_{max},
\kappa(\mu_0 - v))` on [0, 1], so that the layer of width :math:`\sim\mu_0 - 1` below
threshold, where :math:`T_1` drops to 0 and the source of V is concentrated, is resolved
(without it the CV of rarely firing neurons is off by several %); below 0 steps
:math:`\min(a/m_{min}, \max(h_{max}, 2.5\kappa(\mu_0 - v)))`; 0 is a grid point.
:math:`f(v - a)` is interpolated linearly.  Below
:math:`v_{min} = \min(0, \mu_0 - aR) - c\,a(1 + \sqrt R)`, reached from the reset with
negligible probability, the neuron is taken to drift up to :math:`v_{min}` without pulses:
:math:`T_1(v) = T_1(v_{min}) + \ln\frac{\mu_0 - v}{\mu_0 - v_{min}}`,
:math:`V(v) = V(v_{min})`.  The banded system (one step up, about :math:`a/h` steps down)
is solved by sparse LU, one factorisation for both equations (about 1 ms per neuron,
10 ms for :math:`a \approx 10^{-3}`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.linalg import splu

from .lif import _det_rate

__all__ = ["shot_noise_isi"]


def shot_noise_isi(I: ArrayLike, a: float, R: float, *, h_max: float = 0.02,
                   m_min: int = 8, depth: float = 8.0
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Rate and ISI CV of :math:`dv = (I - v)dt - a\,dN_R` (threshold 1, reset 0).

    Solves :math:`\mathcal L T_1 = -1`, :math:`\mathcal L V = -R[T_1(v-a) - T_1(v)]^2`
    on a grid (module docstring); returns ``(rate, cv)`` = :math:`(1/T_1(0),
    \sqrt{V(0)}/T_1(0))`, arrays of the shape of ``I``.  ``I <= 1``: rate 0, CV ``nan``;
    ``a = 0`` or ``R = 0``: the free neuron, CV 0.  ``depth`` sets :math:`v_{min}`
    (:math:`c` in the module docstring).
    """
    a, R = float(a), float(R)
    if a < 0 or R < 0 or not h_max > 0 or m_min < 1:
        raise ValueError(f"need a >= 0, R >= 0, h_max > 0, m_min >= 1; got a={a}, R={R}")
    I_arr = np.asarray(I, dtype=np.float64)
    rate = np.zeros(I_arr.shape)
    cv = np.full(I_arr.shape, np.nan)
    fire = I_arr > 1.0
    if a == 0.0 or R == 0.0:
        rate[fire] = _det_rate(I_arr[fire], 0.0, 1.0, 0.0)
        cv[fire] = 0.0
        return rate, cv
    for idx in np.ndindex(I_arr.shape):
        if not fire[idx]:
            continue
        t1, var = _fpt_moments(float(I_arr[idx]), a, R, h_max, m_min, depth)
        rate[idx] = 1.0 / t1
        cv[idx] = np.sqrt(max(var, 0.0)) / t1
    return rate, cv


def _grid(mu: float, a: float, R: float, h_max: float, m_min: int, kappa: float,
          depth: float) -> NDArray[np.float64]:
    """Grid from v_min up to 1 (module docstring); 0 is a grid point.

    Step at v: min(a/m_min, h_max, kappa (mu - v)) on [0, 1], refined near threshold;
    below 0 min(a/m_min, max(h_max, 2.5 kappa (mu - v))), coarser far below.
    """
    v_min = min(0.0, mu - a * R) - depth * a * (1.0 + np.sqrt(R))
    h_a = a / m_min
    pts = [1.0]
    v = 1.0
    while v > v_min:
        d = mu - v
        h = min(h_a, h_max, kappa * d) if v > 0.0 else min(h_a, max(h_max, 2.5 * kappa * d))
        v = 0.0 if v > 0.0 and v - h < 0.5 * h else v - h
        pts.append(v)
    return np.array(pts[::-1])


def _fpt_moments(mu: float, a: float, R: float, h_max: float, m_min: int,
                 depth: float, kappa: float = 0.02) -> tuple[float, float]:
    """T_1(0) and V(0) for one drive ``mu > 1`` (module docstring)."""
    v = _grid(mu, a, R, h_max, m_min, kappa, depth)
    N = v.size - 1                            # unknowns f_0 ... f_{N-1}; f_N = f(1) = 0
    j0 = int(np.searchsorted(v, 0.0))         # v[j0] = 0
    lr = np.log((mu - v[1:]) / (mu - v[:-1]))  # < 0, one per step
    rho = np.exp(R * lr)
    c = -np.expm1(R * lr) / R                 # (1 - rho)/R
    # f(v_i - a) at the N + 1 grid points: linear interpolation, or below v_min extrapolated
    x = v - a
    below = x < v[0]
    k = np.clip(np.searchsorted(v, x, side="right") - 1, 0, N - 1)
    w = (x - v[k]) / (v[k + 1] - v[k])
    ok = np.nonzero(~below)[0]
    rows = np.concatenate([ok, ok, np.nonzero(below)[0]])
    cols = np.concatenate([k[ok], k[ok] + 1, np.zeros(below.sum(), np.int64)])
    vals = np.concatenate([1.0 - w[ok], w[ok], np.ones(below.sum())])
    keep = cols < N
    D = sparse.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(N + 1, N))
    ext = np.where(below, np.log((mu - x) / (mu - v[0])), 0.0)  # T_1: drift up to v_min
    # step j: f_j - rho_j f_{j+1} - (R c_j/2)(Df_j + Df_{j+1}) = (c_j/2)(s_j + s_{j+1})
    Dc = D.tocoo()
    rD, cD, vD = Dc.row, Dc.col, Dc.data
    lo, hi = rD < N, rD >= 1                   # D row j enters step j and step j - 1
    A = sparse.coo_matrix((
        np.concatenate([np.ones(N), -rho[:-1], -0.5 * R * c[rD[lo]] * vD[lo],
                        -0.5 * R * c[rD[hi] - 1] * vD[hi]]),
        (np.concatenate([np.arange(N), np.arange(N - 1), rD[lo], rD[hi] - 1]),
         np.concatenate([np.arange(N), np.arange(1, N), cD[lo], cD[hi]]))),
        shape=(N, N)).tocsc()
    lu = splu(A)

    def solve(s: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.append(lu.solve(0.5 * c * (s[:-1] + s[1:])), 0.0)

    t1 = solve(1.0 + R * ext)                  # R T_1(v - a) below v_min goes to the source
    var = solve(R * (D @ t1[:N] + ext - t1) ** 2)
    return float(t1[j0]), float(var[j0])
