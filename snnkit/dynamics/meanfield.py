r"""Mean-field theory of heterogeneous inhibitory LIF networks with δ-pulses.

Units and model
---------------
Time is in units of the membrane time constant :math:`\tau_m`, rates in
:math:`1/\tau_m`, the membrane potential is dimensionless with threshold
:math:`v_{th} = 1` and reset :math:`v_r = 0` (both configurable where stated),
no refractory period unless ``tau_ref`` is given.  Neuron :math:`i` obeys

.. math::

    \dot v_i = I_i - v_i - \frac{g}{K}\sum_{\text{pulses}} \delta(t - t_k),

with excitabilities :math:`I \sim U[I_l, I_h]` and inhibitory pulses of size
:math:`g/K` (:math:`K = N` for global coupling).  See
``/work/shared/reference/dynamics.md`` §2 and §4.

Single neuron (exact)
---------------------
A neuron with constant drive :math:`\mu` fires periodically iff :math:`\mu > 1`,
at the rate (:func:`lif_rate`)

.. math::

    \nu(\mu) = \frac{1}{\tau_{ref} + \ln\frac{\mu}{\mu - 1}}.

Global coupling: Winner-Takes-All solution (:func:`wta_solution`)
-----------------------------------------------------------------
In the asynchronous state with global coupling and :math:`N \to \infty`, the
pulse train received by every neuron is a constant current :math:`g\bar\nu`, where
:math:`\bar\nu` is the mean rate over **all** neurons (silent ones included):

.. math::

    \mu_i = I_i - g\bar\nu, \qquad
    \bar\nu = \frac{1}{I_h - I_l}\int_{I_l}^{I_h} \nu(I - g\bar\nu)\,dI, \qquad
    I^* = 1 + g\bar\nu, \qquad n_A = \frac{I_h - I^*}{I_h - I_l}\ \text{(clipped to [0, 1])}.

**This is exact** for global coupling in the asynchronous state as
:math:`N \to \infty` (the O(1/N) granularity of the pulses vanishes).  It does not
apply with collective oscillations.  :func:`wta_solution_discrete` solves the same
self-consistency with a finite set of excitabilities (finite-N comparisons).

Sparse coupling: diffusion closure (:func:`sparse_meanfield`)
------------------------------------------------------------
With in-degree :math:`K` and presynaptic trains treated as **independent Poisson
processes** of rate :math:`\bar\nu`, the input is replaced by a white-noise
(diffusion) approximation,

.. math::

    dv = (\mu - v)\,dt + \sigma\,dW, \qquad
    \mu_i = I_i - g\bar\nu, \qquad \sigma^2 = \frac{g^2 \bar\nu}{K},

and every neuron fires at the Ricciardi/Siegert rate (:func:`siegert_rate`)

.. math::

    \frac{1}{\nu(\mu, \sigma)} = \tau_{ref} + \sqrt\pi
        \int_{(v_r - \mu)/\sigma}^{(v_{th} - \mu)/\sigma} e^{u^2}\,(1 + \operatorname{erf} u)\,du,

with the ISI coefficient of variation (:func:`siegert_cv`, Brunel 2000)

.. math::

    CV^2 = 2\pi\nu^2 \int_{y_r}^{y_{th}} e^{x^2}\,dx
           \int_{-\infty}^{x} e^{y^2}\,(1 + \operatorname{erf} y)^2\,dy, \qquad
    y = \frac{v - \mu}{\sigma}.

(The CV formula was re-derived here from the backward equations
:math:`\tfrac{\sigma^2}{2}T_n'' + (\mu - v)T_n' = -nT_{n-1}` for the moments of the
first-passage time; it is the variance :math:`T_2 - T_1^2` divided by the squared
mean ISI.)  The self-consistency is :math:`\bar\nu = \langle\nu(I - g\bar\nu,
g\sqrt{\bar\nu/K})\rangle_I`.

**This closure is an approximation.**  The Siegert formulas are exact for the
diffusion process, but the diffusion approximation of the pulse input (small pulses,
many inputs) and above all the Poisson assumption are not: when the presynaptic
neurons fire regularly (CV ≈ 0, the supra-threshold regime below the :math:`n_A`
minimum), the true input fluctuations are much smaller than
:math:`g^2\bar\nu/K`, so this closure **over-estimates the fluctuations** there (reference
note §4.3).  The paper's own closure is unknown; use these curves as illustrations
and the parameter-free checks of the note for validation.

:func:`g_c_naive` gives the coupling at which the most excitable neuron's mean
drive reaches threshold, :math:`I_h - g\bar\nu(g) = 1` (the note's criterion for
the :math:`n_A` minimum), with :math:`\bar\nu(g)` from this closure.

Numerics
--------
* The Siegert integrand is written :math:`e^{u^2}(1 + \operatorname{erf}u) =
  \operatorname{erfcx}(-u)`.  For :math:`u > 0` it is split as
  :math:`2e^{u^2} - \operatorname{erfcx}(u)`, whose first part integrates to
  :math:`2e^{x^2}D(x)` (Dawson's function :math:`D`); :math:`\int\operatorname{erfcx}`
  (bounded integrand, logarithmic growth) is integrated by fixed Gauss-Legendre rules,
  with the :math:`1/(\sqrt\pi w)` tail integrated analytically.  The mean
  first-passage time is carried as :math:`\log T`, so huge times (rates below ~1e-300)
  give a rate of exactly 0 without overflow; for :math:`\sigma \to 0` with
  :math:`\mu > 1` the rate tends to :func:`lif_rate`, and ``sigma = 0`` returns
  exactly the deterministic rate.  Vectorised: 10⁴ evaluations take a few tens of milliseconds.
* The CV uses adaptive quadrature (``scipy.integrate.quad``) on scaled, overflow-free
  integrands, point by point (about a millisecond each).
* Neurons that never fire (``sigma = 0`` and ``mu <= v_th``) have rate 0 and CV ``nan``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, special

__all__ = [
    "SparseSolution",
    "WTASolution",
    "g_c_naive",
    "lif_rate",
    "siegert_cv",
    "siegert_rate",
    "sparse_meanfield",
    "wta_curve",
    "wta_solution",
    "wta_solution_discrete",
]

FloatOrArray = float | NDArray[np.float64]

_SQRT_PI = float(np.sqrt(np.pi))
_LOG_SQRT_PI = float(0.5 * np.log(np.pi))
_QUAD_KW = dict(epsabs=0.0, epsrel=1e-10, limit=200)


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    """A 0-d array as a Python float, anything else unchanged."""
    return float(x) if np.ndim(x) == 0 else x


def _det_rate(mu: NDArray[np.float64], tau_ref: float, v_th: float,
              v_r: float) -> NDArray[np.float64]:
    """Deterministic rate 1/(tau_ref + ln[(mu - v_r)/(mu - v_th)]) for mu > v_th, else 0."""
    mu = np.asarray(mu, dtype=np.float64)
    fires = mu > v_th
    safe = np.where(fires, mu, v_th + 1.0)
    # ln[(mu - v_r)/(mu - v_th)] = log1p((v_th - v_r)/(mu - v_th)), accurate for mu >> v_th;
    # mu = inf gives rate inf, mu - v_th below ~1e-308 gives rate 0, silently
    with np.errstate(divide="ignore", over="ignore"):
        period = tau_ref + np.log1p((v_th - v_r) / (safe - v_th))
        return np.where(fires, 1.0 / period, 0.0)


def lif_rate(mu: ArrayLike, tau_ref: float = 0.0) -> FloatOrArray:
    r"""Firing rate of a LIF neuron with constant drive (threshold 1, reset 0).

    .. math:: \nu(\mu) = \frac{1}{\tau_{ref} + \ln\frac{\mu}{\mu - 1}}
              \ \text{for}\ \mu > 1, \qquad \nu = 0\ \text{for}\ \mu \le 1.

    Vectorised over ``mu``; no warnings for ``mu <= 1``.  Returns a float for scalar input.
    """
    if tau_ref < 0:
        raise ValueError(f"tau_ref must be >= 0, got {tau_ref}")
    return _out(_det_rate(np.asarray(mu, dtype=np.float64), float(tau_ref), 1.0, 0.0))


# ---------------------------------------------------------------------------------------
# Global coupling: WTA mean field
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Siegert rate
# ---------------------------------------------------------------------------------------


@cache
def _gauss_legendre(n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _gl_integrate(f: Callable[[NDArray[np.float64]], NDArray[np.float64]],
                  lo: NDArray[np.float64], hi: NDArray[np.float64], n: int = 32
                  ) -> NDArray[np.float64]:
    """Gauss-Legendre rule of ``n`` nodes for ∫_lo^hi f, vectorised over the limits."""
    x, w = _gauss_legendre(n)
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    nodes = mid[..., None] + half[..., None] * x
    return half * np.sum(w * f(nodes), axis=-1)


_X_SPLIT = 2.0      # ∫erfcx: direct rule on [0, 2], tail beyond with w -> t = 1/w
_T_SERIES = 0.02    # below this t, the tail integrand is evaluated by its series


def _tail_q(t: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""(erfcx(1/t) - t/√π)/t², the tail integrand in t = 1/w (smooth on [0, 1/2])."""
    small = t < _T_SERIES
    ts = np.where(small, 1.0, t)
    direct = (special.erfcx(1.0 / ts) - ts / _SQRT_PI) / ts**2
    t2 = t * t
    series = t * (-0.5 + t2 * (0.75 + t2 * (-1.875 + t2 * 6.5625))) / _SQRT_PI
    return np.where(small, series, direct)


def _int_erfcx(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""∫_lo^hi erfcx(w) dw for 0 <= lo <= hi (vectorised, relative accuracy ~1e-14).

    On [0, 2] a Gauss-Legendre rule; beyond, erfcx(w) = 1/(√π w) + r(w) where the
    1/(√π w) part integrates to a logarithm and r(w) = O(w⁻³) is integrated in t = 1/w.
    """
    l1, h1 = np.minimum(lo, _X_SPLIT), np.minimum(hi, _X_SPLIT)
    part1 = _gl_integrate(special.erfcx, l1, h1)
    l2, h2 = np.maximum(lo, _X_SPLIT), np.maximum(hi, _X_SPLIT)
    part2 = np.log(h2 / l2) / _SQRT_PI + _gl_integrate(_tail_q, 1.0 / h2, 1.0 / l2)
    return part1 + part2


def _scaled_mfpt_integral(a: NDArray[np.float64], b: NDArray[np.float64]
                          ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""∫_a^b erfcx(-u) du = e^c S for a < b (finite); returns (S, c) with c = max(b, 0)².

    Uses erfcx(-u) = 2e^{u²} - erfcx(u) for u > 0 and ∫_0^x e^{u²}du = e^{x²}D(x).
    """
    bp = np.maximum(b, 0.0)
    c = bp * bp
    S = np.empty(np.broadcast(a, b).shape)
    # case b <= 0: ∫_a^b erfcx(-u) du = ∫_{-b}^{-a} erfcx(w) dw
    neg = b <= 0.0
    if np.any(neg):
        S[neg] = _int_erfcx(-b[neg], -a[neg])
    # case a < 0 < b
    mix = (a < 0.0) & (b > 0.0)
    if np.any(mix):
        am, bm = a[mix], b[mix]
        zero = np.zeros_like(am)
        S[mix] = 2.0 * special.dawsn(bm) + np.exp(-bm * bm) * (
            _int_erfcx(zero, -am) - _int_erfcx(zero, bm))
    # case 0 <= a < b
    pos = a >= 0.0
    if np.any(pos):
        ap, bq = a[pos], b[pos]
        S[pos] = (2.0 * special.dawsn(bq) - 2.0 * np.exp(ap * ap - bq * bq) * special.dawsn(ap)
                  - np.exp(-bq * bq) * _int_erfcx(ap, bq))
    return S, c


def _check_levels(v_th: float, v_r: float, tau_ref: float) -> None:
    if not v_th > v_r:
        raise ValueError(f"need v_th > v_r, got v_th={v_th}, v_r={v_r}")
    if tau_ref < 0:
        raise ValueError(f"tau_ref must be >= 0, got {tau_ref}")


def _siegert_core(mu: NDArray[np.float64], sigma: NDArray[np.float64], tau_ref: float,
                  v_th: float, v_r: float) -> NDArray[np.float64]:
    rate = _det_rate(mu, tau_ref, v_th, v_r)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        a = (v_r - mu) / sigma
        b = (v_th - mu) / sigma
    noisy = (sigma > 0) & np.isfinite(a) & np.isfinite(b)
    if np.any(noisy):
        S, c = _scaled_mfpt_integral(a[noisy], b[noisy])
        # T = sqrt(pi) e^c S = e^L; rate = 1/(tau_ref + T) = e^{-L}/(1 + tau_ref e^{-L})
        inv_t = np.exp(-(_LOG_SQRT_PI + np.log(S) + c))
        rate[noisy] = inv_t / (1.0 + tau_ref * inv_t)
    return rate


def _broadcast_mu_sigma(mu: ArrayLike, sigma: ArrayLike
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    mu_a, sig_a = np.broadcast_arrays(np.asarray(mu, dtype=np.float64),
                                      np.asarray(sigma, dtype=np.float64))
    if np.any(sig_a < 0):
        raise ValueError("sigma must be >= 0")
    return np.array(mu_a, dtype=np.float64), np.array(sig_a, dtype=np.float64)


def siegert_rate(mu: ArrayLike, sigma: ArrayLike, tau_ref: float = 0.0, v_th: float = 1.0,
                 v_r: float = 0.0) -> FloatOrArray:
    r"""Stationary rate of the LIF neuron driven by white noise (Ricciardi/Siegert).

    For :math:`dv = (\mu - v)\,dt + \sigma\,dW` with threshold ``v_th`` and reset ``v_r``:

    .. math::

        \frac{1}{\nu} = \tau_{ref} + \sqrt\pi\int_{(v_r-\mu)/\sigma}^{(v_{th}-\mu)/\sigma}
            \operatorname{erfcx}(-u)\,du, \qquad
            \operatorname{erfcx}(-u) = e^{u^2}(1 + \operatorname{erf}u).

    ``sigma = 0`` gives exactly the deterministic rate (:func:`lif_rate` for the default
    levels); small ``sigma`` tends to it continuously.  A mean first-passage time beyond
    the float range gives a rate of 0.  Vectorised (``mu`` and ``sigma`` broadcast);
    returns a float for scalar input.
    """
    _check_levels(v_th, v_r, tau_ref)
    mu_a, sig_a = _broadcast_mu_sigma(mu, sigma)
    return _out(_siegert_core(mu_a, sig_a, float(tau_ref), float(v_th), float(v_r)))


# ---------------------------------------------------------------------------------------
# Siegert CV
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Sparse coupling: Poisson/diffusion closure
# ---------------------------------------------------------------------------------------


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
