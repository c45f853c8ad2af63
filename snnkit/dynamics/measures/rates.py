r"""Firing rates, active fraction and the irregularity of the inter-spike intervals.

With ``n_i`` the number of spikes of neuron ``i`` in the window of length ``T`` ms:

* ``firing_rates``: ``nu_i = n_i / (T / 1000)`` in Hz.
* ``active_fraction``: ``n_A = #{i : n_i >= min_spikes} / N`` (``min_spikes = 1``
  by default).
* ``cv_isi``: with ``ISI_i = {t_{i,k+1} - t_{i,k}}`` the intervals between
  consecutive spikes of neuron ``i`` inside the window,

  ``CV_i = sqrt(<ISI_i^2> - <ISI_i>^2) / <ISI_i>``

  (population std, ``ddof = 0``, computed about the mean in a second pass); NaN
  for neurons with fewer than ``min_spikes`` (default 3) spikes.  ``CV = 0``:
  periodic firing (mean-driven); ``CV ~ 1``: Poisson-like (fluctuation-driven);
  ``CV > 1``: bursting.

Spikes outside ``[t_start, t_stop)`` are ignored.  Vectorised: spikes sorted by
``(i, t)``, differences that cross two neurons dropped, sums per neuron by ``bincount``.
"""

from __future__ import annotations

import math

import numpy as np

from snnkit.dynamics.measures._window import Window, in_window
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["active_fraction", "cv_isi", "firing_rates"]


def counts(spikes: SpikeTrains) -> np.ndarray:
    """Spike count ``n_i`` of each neuron inside the window, shape ``(N,)``."""
    return np.bincount(in_window(spikes)[0], minlength=spikes.N)


def firing_rates(spikes: SpikeTrains) -> np.ndarray:
    """Rate of each neuron in Hz, ``nu_i = n_i / (T/1000)``, shape ``(N,)``."""
    return counts(spikes) / (spikes.duration / 1000.0)


def active_fraction(spikes: SpikeTrains, min_spikes: int = 1) -> float:
    """Fraction ``n_A`` of the ``N`` neurons with at least ``min_spikes`` spikes in the window."""
    if spikes.N == 0:
        return math.nan
    return float(np.count_nonzero(counts(spikes) >= min_spikes) / spikes.N)


def cv_isi(spikes: SpikeTrains, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals, shape ``(N,)``.

    ``CV_i = sqrt(<ISI^2> - <ISI>^2) / <ISI>`` over the ISIs between consecutive
    spikes of neuron ``i`` inside the window (population std, ``ddof = 0``).
    NaN for neurons with fewer than ``min_spikes`` spikes (at least 2 are needed
    for one ISI).
    """
    return window_cv(Window.of(spikes), min_spikes)


def window_cv(win: Window, min_spikes: int = 3) -> np.ndarray:
    """:func:`cv_isi` of a prepared :class:`Window`."""
    N = win.N
    cv = np.full(N, np.nan)
    ok = win.counts >= max(int(min_spikes), 2)
    if not ok.any():
        return cv
    owner, isi = win.isis()
    n_isi = np.maximum(np.bincount(owner, minlength=N), 1).astype(np.float64)
    mean = np.bincount(owner, weights=isi, minlength=N) / n_isi
    # second pass about each neuron's mean: no cancellation for nearly periodic trains
    dev = isi - mean[owner]
    var = np.bincount(owner, weights=dev * dev, minlength=N) / n_isi
    with np.errstate(divide="ignore", invalid="ignore"):
        cv[ok] = np.sqrt(var[ok]) / mean[ok]  # mean ISI > 0 unless two spikes coincide
    return cv


def min_isi(win: Window) -> np.ndarray:
    """Shortest inter-spike interval of each neuron (``inf`` with fewer than 2 spikes)."""
    owner, isi = win.isis()
    out = np.full(win.N, np.inf)
    if isi.size:
        # owner is sorted: one reduceat segment per neuron with an interval
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        out[owner[starts]] = np.minimum.reduceat(isi, starts)
    return out
