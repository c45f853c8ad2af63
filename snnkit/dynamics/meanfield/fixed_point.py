r"""Self-consistent (nu_bar, nu_F) of the renewal closures (:mod:`.closures`).

Given the single-neuron rates :math:`r_i(\bar\nu, \nu_F)` and the squared ISI CVs
:math:`c_i^2` of the previous CV iterate, the closure needs

.. math::

    \bar\nu = \langle r_i \rangle_I, \qquad
    \nu_F = \langle r_i F_i \rangle_I, \quad F_i = c_i^2 + (1 - c_i^2)F_{per}(r_i),

(:func:`~.shot.periodic_fano`).  Since :math:`F_i \le 1`, every solution has
:math:`\nu_F \le \bar\nu`.

* :func:`nested_fixed_point` (candidates C, E, F): for each trial :math:`\bar\nu`, the
  largest root :math:`x \le \bar\nu` of :math:`x = \langle r(\bar\nu, x)F\rangle`, set to
  :math:`\bar\nu` when :math:`x - \langle r(\bar\nu, x) F\rangle < 0` at
  :math:`x = \bar\nu`; then ``brentq`` on :math:`\bar\nu`.  When the noise feeds back
  strongly (most neurons fluctuation-driven, :math:`\partial r/\partial\nu_F` large) that
  clip is active at the outer root, which is then the Poisson state
  :math:`\nu_F = \bar\nu` although :math:`\langle rF\rangle < \bar\nu` there: not a
  solution of the two equations.
* :func:`joint_fixed_point` (candidate G) solves the two equations together: with
  :math:`\nu_F = y\bar\nu`, :math:`\bar\nu(y)` is the root of
  :math:`\bar\nu = \langle r(\bar\nu, y\bar\nu)\rangle` and :math:`y` the largest root in
  [0, 1] of :math:`G(y) = y\bar\nu - \langle rF\rangle` (:math:`G(1) \ge 0`; scanned
  downwards from 1, refined by ``brentq``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from .shot import periodic_fano

__all__ = ["RateFn", "joint_fixed_point", "nested_fixed_point"]

RateFn = Callable[[float, float], NDArray[np.float64]]
_SCAN = np.array([0.0, 1e-6, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9])
_Y = np.array([1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.03, 0.01, 0.0])


def nested_fixed_point(rate: RateFn, cv2: NDArray[np.float64] | None, nu_max: float
                       ) -> tuple[float, float, NDArray[np.float64]]:
    """Solve nu = <r>, nu_F = <r F(r)> (nu_F = nu when cv2 is None); returns nu, nu_F, r."""
    found: dict[float, tuple[float, NDArray[np.float64]]] = {}

    def inner(nu: float) -> NDArray[np.float64]:
        nf = nu
        if cv2 is not None and nu > 0.0:
            def f(x: float) -> float:
                r = rate(nu, x)
                return x - float(np.mean(r * (cv2 + (1.0 - cv2) * periodic_fano(r))))
            if f(nu) > 0.0:  # else nu_F = nu; here take the largest root below nu
                below = next((x for x in nu * _SCAN[::-1] if f(x) < 0.0), None)
                nf = (0.0 if below is None else
                      optimize.brentq(f, below, nu, xtol=1e-5 * nu, rtol=1e-8))
        r = rate(nu, nf)
        found[nu] = (nf, r)
        return r

    def resid(nu: float) -> float:
        return nu - float(np.mean(inner(nu)))

    hi = nu_max
    while resid(hi) < 0.0:
        hi *= 2.0
    nu = optimize.brentq(resid, 0.0, hi, xtol=1e-6, rtol=1e-8)
    resid(nu)
    nf, r = found[nu]
    return float(nu), float(nf), r


def joint_fixed_point(rate: RateFn, cv2: NDArray[np.float64], nu_max: float
                      ) -> tuple[float, float, NDArray[np.float64]]:
    """Solve nu = <r(nu, y nu)> and y nu = <r F(r)> jointly, largest root y in [0, 1]."""
    found: dict[float, tuple[float, NDArray[np.float64]]] = {}

    def G(y: float) -> float:
        def resid(nu: float) -> float:
            return nu - float(np.mean(rate(nu, y * nu)))
        hi = nu_max
        while resid(hi) < 0.0:
            hi *= 2.0
        nu = optimize.brentq(resid, 0.0, hi, xtol=1e-7, rtol=1e-8)
        r = rate(nu, y * nu)
        found[y] = (nu, r)
        return y * nu - float(np.mean(r * (cv2 + (1.0 - cv2) * periodic_fano(r))))

    y = 0.0  # G(1) >= 0 (F <= 1); take the first sign change below y = 1
    for hi, lo in itertools.pairwise(_Y):
        if G(lo) < 0.0:
            y = optimize.brentq(G, lo, hi, xtol=1e-5, rtol=1e-8) if G(hi) > 0.0 else hi
            break
    G(y)
    nu, r = found[y]
    return nu, y * nu, r
