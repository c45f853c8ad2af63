r"""Candidate mean-field closures for sparse networks (issue 13 item 5).

Network: in-degree :math:`K`, δ-pulses :math:`a = g/K`, no delay,
:math:`I \sim U[I_l, I_h]` (averages over :math:`I` by the midpoint rule on ``n_grid``
bins), time in :math:`\tau_m`.  Every closure has the same parameter-free structure:

1. **Mean input.**  Each neuron receives on average :math:`K\bar\nu` pulses per
   :math:`\tau_m`, i.e. the mean current :math:`g\bar\nu`; :math:`\mu_i = I_i - g\bar\nu`.
2. **Input fluctuations** (``inputs``).  ``"poisson"``: the K presynaptic trains are
   independent Poisson processes; the noise is that of a Poisson train of rate
   :math:`K\nu_F` with :math:`\nu_F = \bar\nu`.  ``"renewal"``: the trains are renewal
   processes with the CV of the neurons that emit them, and only their variance *seen by
   the membrane* counts, :math:`\nu_F = \langle\nu_i F_i\rangle_I` with
   :math:`F_i = CV_i^2 + (1 - CV_i^2)F_{per}(\nu_i)` (:func:`~.shot.periodic_fano`).  The
   input is then written as a constant current :math:`g(\bar\nu - \nu_F)` plus a Poisson
   train of rate :math:`K\nu_F` (same mean, same filtered variance).
3. **Single-neuron response** (``noise``).  ``"diffusion"``: white noise of intensity
   :math:`\sigma^2 = g^2\nu_F/K` around :math:`\mu_i`, Siegert rate
   :math:`\nu_i = \nu_{Sie}(\mu_i, \sigma)`.  ``"shot"``: the pulses themselves,
   :math:`\nu_i = \nu_{shot}(I_i - g(\bar\nu - \nu_F);\ a, K\nu_F)`
   (:func:`~.shot.shot_noise_rate`), exact for a Poisson pulse train.
4. **Self-consistency**: :math:`\bar\nu = \langle\nu_i\rangle_I` (and
   :math:`\nu_F = \langle\nu_iF_i\rangle_I`), ``solve="nested"`` or ``"joint"``
   (:mod:`.fixed_point`; they differ where the nested solver clips :math:`\nu_F` to
   :math:`\bar\nu`).  The closure takes the **largest** root :math:`\nu_F \le \bar\nu`, the
   state that carries finite-K fluctuations.  The CVs (``cv``) are ``"siegert"``: those of
   the diffusion with the same :math:`(\mu_i, \sigma)` (:func:`~.siegert_cv.siegert_cv`, a
   proxy), or ``"shot"``: the exact ISI CV of the shot-noise neuron of step 3
   (:func:`~.shot_fpt.shot_noise_isi`, backward equations for the first two moments of
   the first-passage time); iterated ``n_outer`` times from CV = 1.
5. **Active fraction** (``window``), the measured definition (≥ 1 spike in the window
   :math:`T_w`): ``"poisson"`` :math:`n_A = \langle 1 - e^{-\nu_i T_w}\rangle_I`;
   ``"fpt"`` :math:`n_A = \langle 1 - \nu_i\int_{T_w}^\infty S_i(t)dt\rangle_I` with a
   gamma first-passage-time (ISI) distribution of the neuron's rate and CV
   (:func:`~.shot.p_active_window`).

:data:`CANDIDATES` names the combinations compared with the simulations
(:mod:`.compare`): A is the closure of the reference note §4.3 (:func:`~.sparse.sparse_meanfield`
on a coarser grid), each further letter changes one ingredient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .fixed_point import RateFn, joint_fixed_point, nested_fixed_point
from .shot import p_active_window, shot_noise_rate
from .shot_fpt import shot_noise_isi
from .siegert import siegert_rate
from .siegert_cv import siegert_cv

__all__ = ["CANDIDATES", "ClosureSolution", "solve_closure"]

CANDIDATES: dict[str, dict[str, str]] = {
    "A Poisson diffusion (note §4.3)": dict(noise="diffusion", inputs="poisson",
                                            window="poisson"),
    "B A + FPT window": dict(noise="diffusion", inputs="poisson", window="fpt"),
    "C renewal diffusion": dict(noise="diffusion", inputs="renewal", window="poisson"),
    "D Poisson shot noise": dict(noise="shot", inputs="poisson", window="poisson"),
    "E renewal shot noise + FPT": dict(noise="shot", inputs="renewal", window="fpt"),
    "F E + shot-noise CV": dict(noise="shot", inputs="renewal", window="fpt", cv="shot"),
    "G F + joint fixed point": dict(noise="shot", inputs="renewal", window="fpt", cv="shot",
                                    solve="joint"),
}


@dataclass(frozen=True, eq=False)
class ClosureSolution:
    """Self-consistent state of one sparse closure.

    Attributes:
        g, K: coupling and in-degree; noise, inputs, window: the closure (module docstring).
        nu_bar: mean rate over all neurons (1/tau_m).
        nu_noise: rate nu_F whose Poisson train carries the input fluctuations
            (= nu_bar for Poisson inputs).
        I: excitability grid; mu: mean drive I - g*nu_bar.
        rates: rate of each grid neuron; cv: its ISI CV (diffusion proxy, 1 if not needed).
        n_active: mean probability of >= 1 spike in T_window; n_supra: fraction mu > 1.
        T_window: window (tau_m).
    """

    g: float
    K: float
    noise: str
    inputs: str
    window: str
    nu_bar: float
    nu_noise: float
    I: NDArray[np.float64]
    mu: NDArray[np.float64]
    rates: NDArray[np.float64]
    cv: NDArray[np.float64]
    n_active: float
    n_supra: float
    T_window: float


def _rate_fn(noise: str, I: NDArray[np.float64], g: float, K: float) -> RateFn:
    """(nu_bar, nu_F) -> rates on the grid, for the chosen single-neuron response."""
    if noise == "diffusion":
        return lambda nu, nf: np.asarray(
            siegert_rate(I - g * nu, np.full_like(I, g * np.sqrt(nf / K))))
    if noise == "shot":
        return lambda nu, nf: np.asarray(shot_noise_rate(I - g * (nu - nf), g / K, K * nf))
    raise ValueError(f"noise must be 'diffusion' or 'shot', got {noise!r}")


def solve_closure(g: float, K: float, noise: str = "shot", inputs: str = "poisson",
                  window: str = "poisson", cv: str = "siegert", solve: str = "nested",
                  I_low: float = 1.0, I_high: float = 1.5, T_window: float = 200.0,
                  n_grid: int = 32, n_outer: int = 3) -> ClosureSolution:
    r"""Solve one sparse closure (module docstring) at coupling ``g``, in-degree ``K``.

    ``n_grid`` midpoints of :math:`[I_l, I_h]`; ``n_outer`` CV iterations for renewal
    inputs.  ``g = 0`` gives the free population.  ``T_window`` in :math:`\tau_m`.
    """
    g, K = float(g), float(K)
    if g < 0 or not K > 0:
        raise ValueError(f"need g >= 0 and K > 0, got g={g}, K={K}")
    if (inputs not in ("poisson", "renewal") or window not in ("poisson", "fpt")
            or cv not in ("siegert", "shot") or solve not in ("nested", "joint")):
        raise ValueError(f"unknown option: {inputs!r}, {window!r}, {cv!r}, {solve!r}")
    if not (I_high > I_low and n_grid >= 1 and T_window >= 0):
        raise ValueError("need I_high > I_low, n_grid >= 1, T_window >= 0")
    I = I_low + (I_high - I_low) * (np.arange(n_grid) + 0.5) / n_grid
    rate = _rate_fn(noise, I, g, K)
    nu_max = max(float(np.mean(rate(0.0, 0.0))), 1e-3)
    cv2 = np.ones_like(I) if inputs == "renewal" else None
    cvs = np.ones_like(I)
    for _ in range(n_outer if inputs == "renewal" else 1):
        if solve == "joint" and cv2 is not None:
            nu, nf, r = joint_fixed_point(rate, cv2, nu_max)
        else:
            nu, nf, r = nested_fixed_point(rate, cv2, nu_max)
        if cv == "shot" and (inputs == "renewal" or window == "fpt"):
            cvs = shot_noise_isi(I - g * (nu - nf), g / K, K * nf)[1]
        elif inputs == "renewal" or window == "fpt":
            cvs = np.asarray(siegert_cv(I - g * nu, np.full_like(I, g * np.sqrt(nf / K))))
        cvs = np.where(np.isfinite(cvs), cvs, 1.0)
        if cv2 is not None:
            cv2 = np.minimum(cvs * cvs, 1.0)
    n_a = p_active_window(r, T_window, cvs if window == "fpt" else None)
    mu = I - g * nu
    return ClosureSolution(g=g, K=K, noise=noise, inputs=inputs, window=window, nu_bar=nu,
                           nu_noise=nf, I=I, mu=mu, rates=r, cv=cvs,
                           n_active=float(np.mean(n_a)), n_supra=float(np.mean(mu > 1.0)),
                           T_window=float(T_window))
