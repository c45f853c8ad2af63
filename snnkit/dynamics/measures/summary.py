r"""All measures of one window at once: ``compute_measures`` and ``drive_measures``.

``compute_measures`` sorts the window's spikes once (:class:`~._window.Window`) and
evaluates every measure of :mod:`.rates`, :mod:`.synchrony`, :mod:`.spectra`,
:mod:`.oscillation` and :mod:`.currents` on it; the values are those of the single
functions.  ``drive_measures`` relates firing to the excitabilities ``I_i``, with
``c_j`` the measured inhibitory current and ``mu_j = I_j - c_j`` the drive:

* ``mu_max = max_j mu_j``, ``drive_top = max_j I_j - <c>``, ``frac_supra = #{mu_j > 1} / N``;
* ``sigma_shot = g sqrt(<nu> tau_m / K)`` (Poisson estimate of the input fluctuations);
* ``isi_free_ratio = median_i min ISI_i / T_i`` over neurons with ``>= 3`` spikes and
  ``I_i > 1``, ``T_i = tau_m ln[I_i / (I_i - 1)]`` the free period;
* ``frac_cv_above_1 = #{CV_i > 1} / #{CV_i finite}``.
"""

from __future__ import annotations

import math

import numpy as np

from snnkit.dynamics.measures._window import Window
from snnkit.dynamics.measures.currents import current_from_counts
from snnkit.dynamics.measures.oscillation import is_collective_oscillation, window_peak
from snnkit.dynamics.measures.rates import min_isi, window_cv
from snnkit.dynamics.measures.synchrony import window_chi
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["DRIVE_KEYS", "MEASURE_KEYS", "compute_measures", "drive_measures"]

MEASURE_KEYS = (
    "n_active",
    "mean_rate_hz",
    "mean_rate_active_hz",
    "cv_mean",
    "n_cv",
    "chi",
    "co_frequency_hz",
    "co_coherence",
    "co_prominence",
    "mean_inhibitory_current",
    "window_ms",
    "n_spikes",
)

#: Extra keys of :func:`compute_measures` when the excitabilities ``I`` are given.
DRIVE_KEYS = (
    "mu_max",
    "drive_top",
    "frac_supra",
    "sigma_shot",
    "isi_free_ratio",
    "frac_cv_above_1",
)


def compute_measures(
    spikes: SpikeTrains,
    *,
    g: float,
    K: int,
    tau_m: float,
    pre: np.ndarray | None = None,
    post: np.ndarray | None = None,
    chi_tau: float = 2.0,
    co_threshold: float = 5.0,
    I: np.ndarray | None = None,
) -> dict[str, float]:
    """All measures of one window, as plain Python floats (NaN where undefined).

    Keys:

    * ``n_active``: fraction of the ``N`` neurons with >= 1 spike (:func:`active_fraction`);
    * ``mean_rate_hz``: mean rate over all ``N`` neurons (silent ones included);
    * ``mean_rate_active_hz``: mean rate over the active neurons (NaN if none);
    * ``cv_mean``: mean of the finite ``CV_i`` of :func:`cv_isi` (NaN if none);
    * ``n_cv``: number of neurons with a finite CV (>= 3 spikes, not all coincident);
    * ``chi``: :func:`golomb_chi` with ``tau = chi_tau``;
    * ``co_frequency_hz``, ``co_coherence``, ``co_prominence``: :func:`co_frequency`
      with ``threshold = co_threshold`` (:func:`spectral_peak`);
    * ``mean_inhibitory_current``: mean over all neurons of :func:`inhibitory_current`;
    * ``window_ms``: window length ``T``; ``n_spikes``: spikes in the window.

    With the excitabilities ``I`` also the keys of :func:`drive_measures`.
    """
    win = Window.of(spikes)
    N = win.N
    rates = win.counts / (win.duration / 1000.0)
    active = rates > 0
    n_act = win.n_active
    cv = window_cv(win)
    cv_ok = cv[np.isfinite(cv)]
    chi = window_chi(win, tau=chi_tau)
    peak = window_peak(win)
    is_co = is_collective_oscillation(peak, n_act, win.n_spikes, chi, threshold=co_threshold)
    current = current_from_counts(win.counts, win.duration, g, K, tau_m, pre, post)
    out = {
        "n_active": n_act / N if N else math.nan,
        "mean_rate_hz": float(rates.mean()) if N else math.nan,
        "mean_rate_active_hz": float(rates[active].mean()) if n_act else math.nan,
        "cv_mean": float(cv_ok.mean()) if cv_ok.size else math.nan,
        "n_cv": cv_ok.size,
        "chi": chi,
        "co_frequency_hz": peak.frequency if is_co else math.nan,
        "co_coherence": peak.coherence,
        "co_prominence": peak.prominence,
        "mean_inhibitory_current": float(current.mean()) if N else math.nan,
        "window_ms": win.duration,
        "n_spikes": win.n_spikes,
    }
    result = {k: float(out[k]) for k in MEASURE_KEYS}
    if I is not None:
        result.update(_drive(win, I, current, g, K, tau_m, cv))
    return result


def drive_measures(spikes: SpikeTrains, I: np.ndarray, current: np.ndarray, g: float, K: int,
                   tau_m: float, cv: np.ndarray | None = None) -> dict[str, float]:
    """Measures that relate firing to each neuron's excitability ``I_i`` and drive.

    With ``c_j`` from :func:`inhibitory_current` and ``mu_j = I_j - c_j``:

    * ``mu_max = max_j mu_j``: the largest measured mean drive (reference note §4.3:
      at the minimum of ``n_A`` in sparse networks it should be ~1, claim B3);
    * ``drive_top = max_j I_j - <c>``: the same with the population-mean inhibition;
    * ``frac_supra``: fraction of neurons with ``mu_j > 1`` (mean-driven);
    * ``sigma_shot = g sqrt(<nu> tau_m / K)``: the Poisson (shot-noise) estimate of
      the input fluctuations, ``<nu>`` the mean rate over all neurons;
    * ``isi_free_ratio``: median over neurons with >= 3 spikes and ``I_i > 1`` of
      ``min ISI_i / T_i`` with ``T_i = tau_m ln[I_i/(I_i - 1)]`` the free period:
      ~1 when neurons fire bursts at their uninhibited rate (claim A6), > 1 when
      every interval is lengthened by inhibition;
    * ``frac_cv_above_1``: fraction of neurons with a CV that have ``CV > 1``.
    """
    return _drive(Window.of(spikes), I, current, g, K, tau_m, cv)


def _drive(win: Window, I: np.ndarray, current: np.ndarray, g: float, K: int, tau_m: float,
           cv: np.ndarray | None) -> dict[str, float]:
    I = np.asarray(I, dtype=np.float64)
    mu = I - current
    if cv is None:
        cv = window_cv(win)
    rate_tau = (win.counts / (win.duration / 1000.0)).mean() * tau_m * 1e-3
    use = (win.counts >= 3) & (I > 1)
    ratios = min_isi(win)[use] / (tau_m * np.log(I[use] / (I[use] - 1)))
    finite_cv = cv[np.isfinite(cv)]
    N = win.N
    return {
        "mu_max": float(mu.max()) if N else math.nan,
        "drive_top": float(I.max() - current.mean()) if N else math.nan,
        "frac_supra": float(np.mean(mu > 1)) if N else math.nan,
        "sigma_shot": float(g * math.sqrt(rate_tau / K)) if K else math.nan,
        "isi_free_ratio": float(np.median(ratios)) if ratios.size else math.nan,
        "frac_cv_above_1": float(np.mean(finite_cv > 1)) if finite_cv.size else math.nan,
    }
