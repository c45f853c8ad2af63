r"""ISI coefficient of variation of the white-noise-driven LIF neuron (Brunel 2000).

For :math:`dv = (\mu - v)\,dt + \sigma\,dW` (:func:`siegert_cv`):

.. math::

    CV^2 = 2\pi\nu^2 \int_{y_r}^{y_{th}} e^{x^2}\,dx
           \int_{-\infty}^{x} e^{y^2}\,(1 + \operatorname{erf} y)^2\,dy, \qquad
    y = \frac{v - \mu}{\sigma},

with :math:`\nu` the Siegert rate (:mod:`.siegert`).  The formula was re-derived from the
backward equations :math:`\tfrac{\sigma^2}{2}T_n'' + (\mu - v)T_n' = -nT_{n-1}` for the
moments of the first-passage time; it is the variance :math:`T_2 - T_1^2` divided by the
squared mean ISI.

Numerics: adaptive quadrature (``scipy.integrate.quad``) on scaled, overflow-free
integrands, point by point (about a millisecond each).  Neurons that never fire
(``sigma = 0`` and ``mu <= v_th``) have CV ``nan``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, special

from .lif import FloatOrArray, _out
from .siegert import _SQRT_PI, _broadcast_mu_sigma, _check_levels, _scaled_mfpt_integral

__all__ = ["siegert_cv"]

_QUAD_KW = dict(epsabs=0.0, epsrel=1e-10, limit=200)


def _hhat_neg(a: float) -> float:
    r"""e^{a²}∫_{-∞}^a e^{z²}(1+erf z)² dz for a <= 0, as ∫_0^∞ erfcx(|a|+s)² e^{2as-s²} ds."""
    scale = 1.0 / (1.0 - 2.0 * a)  # the integrand decays on this scale in s

    def f(r: float) -> float:
        s = r * scale
        return special.erfcx(s - a) ** 2 * np.exp(2.0 * a * s - s * s)

    return scale * float(integrate.quad(f, 0.0, np.inf, **_QUAD_KW)[0])


def _quad(f: Callable[[float], float], lo: float, hi: float, epsabs: float = 0.0) -> float:
    """Adaptive quadrature; a sliver of relative width < 1e-9 is done by the midpoint rule."""
    if hi - lo < 1e-9 * max(1.0, abs(lo), abs(hi)):
        return (hi - lo) * float(f(0.5 * (lo + hi)))
    return float(integrate.quad(f, lo, hi, epsabs=epsabs, epsrel=1e-10, limit=200)[0])


def _peaked(h: Callable[[float, float], float], z_lo: float, z_top: float) -> float:
    r"""∫_{z_lo}^{z_top} h(z, e^{z² - z_top²}) dz for 1 <= z_lo <= z_top.

    For large ``z_top`` the weight :math:`e^{z^2 - z_{top}^2}` confines the integral to
    within ~1/(2 z_top) of the top; with :math:`y = z_{top}^2 - z^2` it becomes
    :math:`\int h(z, e^{-y})\,dy/(2z)`, smooth on the scale y ~ 1.  Beyond y = 50 the
    weight is below e^{-50}: that part is integrated to an absolute tolerance set by the
    rest (``h`` must be bounded).
    """
    def hy(y: float) -> float:
        z = np.sqrt(z_top * z_top - y)
        return h(z, np.exp(-y)) / (2.0 * z)

    y_max = z_top * z_top - z_lo * z_lo
    y_mid = min(y_max, 50.0)
    val = _quad(hy, 0.0, y_mid)
    if y_max > y_mid:
        val += _quad(hy, y_mid, y_max, epsabs=1e-14 * abs(val))
    return val


def _scaled_variance(a: float, b: float) -> float:
    r"""e^{-2c} ∫_a^b e^{x²}∫_{-∞}^x e^{y²}(1+erf y)² dy dx, with c = max(b, 0)².

    The order of integration is swapped: with :math:`E(x) = \int_0^x e^{t^2}dt = e^{x^2}D(x)`,
    :math:`H(x) = \int_{-\infty}^x e^{y^2}(1+\operatorname{erf}y)^2dy` and
    :math:`Q(z) = \int_z^b e^{x^2-z^2}dx`, the double integral is
    :math:`(E(b) - E(a))H(a) + \int_a^b \operatorname{erfcx}(-z)^2 Q(z)\,dz`.
    Every piece is evaluated with its exponential scale factored out.
    """
    L = 2.0
    bp = max(b, 0.0)
    e2c = np.exp(-2.0 * bp * bp)  # only multiplies bounded quantities
    Db = special.dawsn(b)

    # --- P2 = ∫_a^b e^{-2c} erfcx(-z)² Q(z) dz, Q(z) = e^{-z²}(E(b) - E(z))
    def j(z: float) -> float:
        if z <= 0.0:
            psi2 = special.erfcx(-z) ** 2
            if b <= 0.0:
                return psi2 * (np.exp(b * b - z * z) * Db - special.dawsn(z))
            return psi2 * (np.exp(-b * b - z * z) * Db - e2c * special.dawsn(z))
        r = np.exp(z * z - b * b)
        return special.erfc(-z) ** 2 * r * (Db - r * special.dawsn(z))

    # right part (z > L), dominant when b > L: erfc(-z)² r (D(b) - r D(z)), r = e^{z²-b²}
    p2 = 0.0
    if b > L:
        p2 = _peaked(lambda z, r: special.erfc(-z) ** 2 * r * (Db - r * special.dawsn(z)),
                     max(a, L), b)
    eps = 1e-14 * p2  # the other parts are relatively tiny when b > L
    lo, hi = max(a, -L), min(b, L)
    if hi > lo:
        p2 += _quad(j, lo, hi, epsabs=eps)
    if a < -L:  # far left: z = -1/t, integrand ~ 1/(2π|z|³), dz = dt/t²
        t_hi = 1.0 / L if b >= -L else -1.0 / b
        p2 += _quad(lambda t: j(-1.0 / t) / (t * t), -1.0 / a, t_hi, epsabs=eps)

    # --- P1 = e^{-2c} (E(b) - E(a)) H(a)
    if a <= 0.0:
        hh = _hhat_neg(a)  # H(a) = e^{-a²} hh
        if b <= 0.0:
            p1 = (np.exp(b * b - a * a) * Db - special.dawsn(a)) * hh
        else:
            p1 = (np.exp(-b * b - a * a) * Db - e2c * special.dawsn(a)) * hh
    else:
        # e^{-b²}H(a) = e^{-b²}H(0) + ∫_0^a erfc(-z)² e^{z²-b²} dz, the integral being
        # e^{a²-b²} [∫_0^{min(a,1)} erfc(-z)² e^{z²-a²} dz + (peaked part on [1, a])]
        h_int = _quad(lambda z: special.erfc(-z) ** 2 * np.exp(z * z - a * a), 0.0, min(a, 1.0))
        if a > 1.0:
            h_int += _peaked(lambda z, r: special.erfc(-z) ** 2 * r, 1.0, a)
        ea = np.exp(a * a - b * b)
        p1 = (Db - ea * special.dawsn(a)) * (np.exp(-b * b) * _hhat_neg(0.0) + ea * h_int)
    return p1 + p2


def siegert_cv(mu: ArrayLike, sigma: ArrayLike, tau_ref: float = 0.0, v_th: float = 1.0,
               v_r: float = 0.0) -> FloatOrArray:
    r"""Coefficient of variation of the ISI of the white-noise-driven LIF neuron.

    .. math::

        CV^2 = 2\pi\nu^2 \int_{y_r}^{y_{th}} e^{x^2}\,dx
               \int_{-\infty}^{x} e^{y^2}\,(1 + \operatorname{erf} y)^2\,dy,
        \qquad y_r = \frac{v_r - \mu}{\sigma},\ y_{th} = \frac{v_{th} - \mu}{\sigma},

    with :math:`\nu` = :func:`siegert_rate` (refractoriness only adds to the mean ISI).
    Derivation: the moments :math:`T_n(v)` of the first-passage time from :math:`v` obey
    :math:`\tfrac{\sigma^2}{2}T_n'' + (\mu - v)T_n' = -nT_{n-1}`, :math:`T_n(v_{th}) = 0`,
    bounded as :math:`v \to -\infty`; integrating by parts,
    :math:`T_2 - T_1^2 = 2\pi\times` the double integral.

    Limits: :math:`CV \to 0` as :math:`\sigma \to 0` with :math:`\mu > v_{th}`
    (:math:`CV^2 \approx \tfrac{\sigma^2\nu^2}{2}[(\mu - v_{th})^{-2} - (\mu - v_r)^{-2}]`);
    :math:`CV \to 1` deep in the fluctuation-driven regime.  ``sigma = 0`` gives 0 if
    ``mu > v_th`` and ``nan`` otherwise (no spikes).  Evaluated point by point with
    adaptive quadrature (~1 ms each); returns a float for scalar input.
    """
    _check_levels(v_th, v_r, tau_ref)
    mu_a, sig_a = _broadcast_mu_sigma(mu, sigma)
    out = np.empty(mu_a.shape)
    for idx in np.ndindex(mu_a.shape):
        out[idx] = _cv_scalar(float(mu_a[idx]), float(sig_a[idx]), float(tau_ref),
                              float(v_th), float(v_r))
    return _out(out)


def _cv_scalar(mu: float, sigma: float, tau_ref: float, v_th: float, v_r: float) -> float:
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        a = (v_r - mu) / sigma if sigma > 0 else np.nan
        b = (v_th - mu) / sigma if sigma > 0 else np.nan
    if not (sigma > 0 and np.isfinite(a) and np.isfinite(b)):
        return 0.0 if mu > v_th else float("nan")
    S, c = _scaled_mfpt_integral(np.array([a]), np.array([b]))
    var_scaled = _scaled_variance(a, b)  # e^{-2c} V/(2π)
    mean_scaled = tau_ref * np.exp(-c[0]) + _SQRT_PI * S[0]  # e^{-c} (tau_ref + T)
    return float(np.sqrt(max(2.0 * np.pi * var_scaled, 0.0)) / mean_scaled)
