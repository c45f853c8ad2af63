r"""Collective oscillation (CO): the peak of the population spectrum and its criterion.

From the spectra of :mod:`.spectra` (``p_pop``, ``p_indep``, default band 2-500 Hz):

* ``f* = argmax_{f_min <= f <= f_max, f > 0} p_pop(f)``;
* coherence ``kappa = p_pop(f*) / p_indep(f*)``: ~1 for independent neurons, up to
  ``n_a`` for a fully synchronous population;
* prominence ``p_pop(f*) / median_band(p_pop)``.

A CO is reported at ``f*`` when ``kappa >= threshold`` (default 5), the peak is
narrow (prominence ``>= 10``), the synchrony is at least twice its level for
independent neurons, ``chi sqrt(n_a) >= 2``, and there are ``n_a >= 2`` active
neurons and ``CO_MIN_SPIKES`` spikes.  Welch segments of 250 ms (4 Hz resolution)
keep chance peaks of independent neurons near ``kappa ~ 2`` in a 2 s window; the band
stops at 500 Hz because zero-delay global coupling correlates spikes within a
step (shared pulses), a sub-millisecond effect that is not an oscillation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snnkit.dynamics.measures._window import Window
from snnkit.dynamics.measures.spectra import window_spectrum
from snnkit.dynamics.measures.synchrony import window_chi
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["CO_MIN_SPIKES", "SpectralPeak", "co_frequency", "is_collective_oscillation",
           "spectral_peak"]

#: Fewer spikes than this in the window: no collective oscillation is reported.
CO_MIN_SPIKES = 10


@dataclass(frozen=True)
class SpectralPeak:
    """The largest peak of the population spectrum in a band.

    ``frequency`` f* (Hz), ``coherence`` kappa = p_pop(f*)/p_indep(f*) and
    ``prominence`` = p_pop(f*) / median of p_pop over the band; NaN when undefined.
    """

    frequency: float
    coherence: float
    prominence: float


def spectral_peak(spikes: SpikeTrains, f_min: float = 2.0, f_max: float = 500.0,
                  bin_ms: float = 0.5, segment_ms: float | None = None) -> SpectralPeak:
    """f* = argmax p_pop(f) over ``f_min <= f <= f_max`` (f > 0), with its coherence and
    prominence (:func:`~.spectra.population_spectrum` settings ``bin_ms``, ``segment_ms``)."""
    return window_peak(Window.of(spikes), f_min, f_max, bin_ms, segment_ms)


def window_peak(win: Window, f_min: float = 2.0, f_max: float = 500.0, bin_ms: float = 0.5,
                segment_ms: float | None = None) -> SpectralPeak:
    """:func:`spectral_peak` of a prepared :class:`Window`."""
    nan = SpectralPeak(math.nan, math.nan, math.nan)
    if win.n_spikes == 0:
        return nan
    f, p_pop, p_indep = window_spectrum(win, bin_ms=bin_ms, segment_ms=segment_ms)
    band = np.flatnonzero((f >= f_min) & (f > 0) & (f <= f_max))
    if band.size == 0:
        return nan
    k = band[np.argmax(p_pop[band])]
    if not p_indep[k] > 0:
        return nan
    median = float(np.median(p_pop[band]))
    prominence = float(p_pop[k] / median) if median > 0 else math.inf
    return SpectralPeak(float(f[k]), float(p_pop[k] / p_indep[k]), prominence)


def is_collective_oscillation(peak: SpectralPeak, n_active: int, n_spikes: int, chi: float,
                              threshold: float = 5.0, min_sync: float = 2.0,
                              min_prominence: float = 10.0) -> bool:
    """The CO criterion of :func:`co_frequency` (see there)."""
    return (n_active >= 2 and n_spikes >= CO_MIN_SPIKES and peak.coherence >= threshold
            and peak.prominence >= min_prominence and chi * math.sqrt(n_active) >= min_sync)


def co_frequency(
    spikes: SpikeTrains,
    threshold: float = 5.0,
    f_min: float = 2.0,
    bin_ms: float = 0.5,
    segment_ms: float | None = None,
    f_max: float = 500.0,
    chi: float | None = None,
    min_sync: float = 2.0,
    min_prominence: float = 10.0,
) -> tuple[float, float]:
    """Frequency (Hz) and coherence of the population's collective oscillation.

    From :func:`spectral_peak`: f* = argmax p_pop(f) over ``f_min <= f <= f_max``,
    coherence ``kappa = p_pop(f*) / p_indep(f*)`` (~1 for independent neurons, up to
    ``n_a`` for a synchronous population) and prominence ``p_pop(f*) / median(p_pop)``.

    Returns ``(f*, kappa)``.  ``f*`` is NaN (no CO) unless all of these hold:

    * ``kappa >= threshold``: the neurons are coherent at f*;
    * prominence ``>= min_prominence``: a narrow peak, a rhythm (broadband
      correlations, e.g. those shared pulses create at zero delay, and the
      spectra of independent neurons give prominences of 1.5-3; collective
      oscillations give 10^2-10^3);
    * ``chi sqrt(n_a) >= min_sync``: synchrony above its level for independent
      neurons (~1; ``chi`` from :func:`~.synchrony.golomb_chi` unless given);
    * at least 2 active neurons and ``CO_MIN_SPIKES`` spikes.

    Whether an oscillation is *macroscopic* (chi independent of N) can only be
    told from several network sizes (see the sweeps).  ``kappa`` is NaN when
    undefined (no spikes, no frequency in the band).

    Chance peaks: for independent neurons ``kappa`` is the largest of many noisy
    ratios whose spread shrinks with the number of Welch segments.  With 1 s
    segments a 2 s window has only 3 of them and independent Poisson neurons give
    a median ``kappa`` ~ 3.9 (above 5 in ~10 % of windows); the default 250 ms
    segments (15 in 2 s) bring chance peaks down to ~2.
    """
    win = Window.of(spikes)
    peak = window_peak(win, f_min, f_max, bin_ms, segment_ms)
    if win.n_spikes == 0 or not math.isfinite(peak.coherence):
        return math.nan, peak.coherence
    if chi is None:
        chi = window_chi(win)
    ok = is_collective_oscillation(peak, win.n_active, win.n_spikes, chi, threshold, min_sync,
                                   min_prominence)
    return (peak.frequency if ok else math.nan), peak.coherence
