r"""Frozen reference: ``snnkit.dynamics.measures`` as it was before the sparse rewrite.

Test-only.  This is the pre-optimisation implementation (dense per-neuron
Welch spectra and filtered trains, chunked), kept unchanged as an independent
reference: ``tests/test_measures_reference.py`` checks that the package
``snnkit.dynamics.measures`` gives the same values.  Do not edit it to make a test
pass; it is slow (~1 s per measure set on N = 10,000 neurons).

Original docstring:

Measures of a population's spikes in one window (pure functions, no simulator, no I/O).

Every function takes a :class:`~snnkit.dynamics.spikes.SpikeTrains` (neuron
indices ``i``, times ``t`` in ms, population size ``N``, window
``[t_start, t_stop)`` of length ``T`` ms).  Spikes outside the window are ignored.

Notation: ``n_i`` is the number of spikes of neuron ``i`` in the window; a neuron
is *active* when ``n_i >= 1``; ``A`` is the set of active neurons, ``n_a = |A|``.

Measures
--------
``firing_rates``
    ``nu_i = n_i / (T / 1000)`` in Hz.
``active_fraction`` (``n_A``)
    ``n_A = #{i : n_i >= min_spikes} / N`` (``min_spikes = 1`` by default).
``cv_isi``
    With ``ISI_i = {t_{i,k+1} - t_{i,k}}`` the inter-spike intervals of neuron ``i``
    inside the window, ``CV_i = std(ISI_i) / mean(ISI_i)`` (population std,
    ``ddof = 0``); NaN for neurons with fewer than ``min_spikes`` (default 3) spikes.
    ``CV = 0``: periodic firing (mean-driven); ``CV ~ 1``: Poisson-like
    (fluctuation-driven); ``CV > 1``: bursting.
``golomb_chi`` (Golomb-Hansel synchrony ``chi``)
    Each spike train is filtered by a causal exponential kernel of time constant
    ``tau`` (ms), ``x_i(t) = sum_k exp(-(t - t_{i,k})/tau) H(t - t_{i,k})``, and
    ``X(t) = (1/n_a) sum_{i in A} x_i(t)``.  Then

    ``chi^2 = Var_t[X(t)] / ((1/n_a) sum_{i in A} Var_t[x_i(t)])``,

    time variances over the window, population averages over the *active*
    neurons only: a perfectly synchronous active subset gives ``chi = 1``
    whatever the number of silent neurons, independent trains give
    ``chi ~ n_a^(-1/2)``.  Spike counts are binned at ``bin_ms`` (default
    ``tau/8``) and filtered exactly, ``x[n] = x[n-1] exp(-bin/tau) + c[n]``,
    each filter starting at its stationary mean (not 0) at ``t_start``.
``population_spectrum``
    ``C(t) = sum_i c_i(t)``, the population spike count per bin of ``bin_ms``.
    ``p_pop(f)`` is its Welch power spectral density (Hann window, segments of
    ``segment_ms``, 50 % overlap, mean removed per segment, one-sided, counts^2/Hz),
    ``p_indep(f) = sum_i P[c_i](f)`` the sum of the neurons' own PSDs with the same
    settings.  For independent neurons ``E[p_pop] = p_indep`` (cross-spectra vanish).
``co_frequency`` (collective oscillation)
    ``f* = argmax_{f_min <= f <= f_max} p_pop(f)`` (default band 2-500 Hz) and
    coherence ``kappa = p_pop(f*) / p_indep(f*)``: ``kappa ~ 1`` for independent
    neurons, up to ``n_a`` for a fully synchronous population.  A CO is reported
    at ``f*`` when ``kappa >= threshold`` (default 5), the peak is narrow
    (``p_pop(f*)`` at least 10 times the band's median) and the synchrony is at
    least twice its level for independent neurons, ``chi sqrt(n_a) >= 2``.  Welch segments of 250 ms
    (4 Hz resolution) keep chance peaks of independent neurons near
    ``kappa`` ~ 2 in a 2 s window; the band stops at 500 Hz because zero-delay
    global coupling correlates spikes within a step (shared pulses), a
    sub-millisecond effect that is not an oscillation.
``input_fluctuation``
    Shot-noise amplitude of neuron ``j``'s input, ``sigma_j = (g/K) sqrt(tau_m R_j)``
    with ``R_j`` the total presynaptic rate (diffusion approximation).
``inhibitory_current``
    Measured mean inhibitory input of neuron ``j`` in threshold units,
    ``c_j = (g/K) tau_m sum_{i -> j} r_i`` with ``r_i = n_i / T`` (1/ms) and ``tau_m``
    in ms.  Global coupling (no synapse list): every neuron receives from all
    ``N`` neurons, itself included, so ``c_j = (g/K) tau_m sum_i r_i``.  The
    effective drive of neuron ``j`` is ``mu_j = I_j - c_j``.
``compute_measures``
    All of the above as one ``dict`` of floats (see its docstring for the keys;
    ``n_active`` is the fraction ``n_A``, not a count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from snnkit.dynamics.spikes import SpikeTrains

__all__ = [
    "active_fraction",
    "co_frequency",
    "compute_measures",
    "cv_isi",
    "firing_rates",
    "golomb_chi",
    "inhibitory_current",
    "input_fluctuation",
    "population_spectrum",
]

#: Upper bound on the number of float64 entries of one neuron-by-time block
#: (2**21 entries = 16 MiB); chunked computations stay within a few such blocks.
_BLOCK_ENTRIES = 1 << 21

#: Fewer spikes than this in the window: no collective oscillation is reported.
CO_MIN_SPIKES = 10

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


# --------------------------------------------------------------------------- helpers


def _window(spikes: SpikeTrains) -> tuple[np.ndarray, np.ndarray]:
    """``(i, t)`` of the spikes inside ``[t_start, t_stop)`` (no copy when all are)."""
    i, t = spikes.i, spikes.t
    if t.size and (t[0] < spikes.t_start or t[-1] >= spikes.t_stop):
        keep = (t >= spikes.t_start) & (t < spikes.t_stop)
        i, t = i[keep], t[keep]
    return i, t


def _counts(spikes: SpikeTrains) -> np.ndarray:
    """Spike count of each neuron inside the window, shape ``(N,)``."""
    i, _ = _window(spikes)
    return np.bincount(i, minlength=spikes.N)


def _bins(spikes: SpikeTrains, bin_ms: float) -> tuple[int, float, np.ndarray, np.ndarray]:
    """Tile the window with ``n`` equal bins of width ``dt ~ bin_ms``.

    Returns ``(n, dt, i, b)``: the window's spikes' neuron indices ``i`` and bin
    indices ``b``, sorted by neuron (then by time).
    """
    if not bin_ms > 0:
        raise ValueError(f"bin_ms must be > 0, got {bin_ms}")
    n = max(1, round(spikes.duration / bin_ms))
    dt = spikes.duration / n
    i, t = _window(spikes)
    b = np.floor((t - spikes.t_start) / dt).astype(np.int64)
    np.clip(b, 0, n - 1, out=b)
    order = np.argsort(i, kind="stable")
    return n, dt, i[order], b[order]


def _chunks(i_sorted: np.ndarray, active: np.ndarray, n_bins: int):
    """Yield dense ``(rows, n_bins)`` count matrices of the active neurons, in chunks.

    ``i_sorted`` are the (neuron-sorted) spikes' neuron indices; ``active`` the
    sorted ids of the neurons with at least one spike.  Each yielded item is
    ``(spike_slice, local_row_of_each_spike, rows)``.
    """
    rows_per_chunk = max(1, _BLOCK_ENTRIES // n_bins)
    for start in range(0, active.size, rows_per_chunk):
        ids = active[start:start + rows_per_chunk]
        lo = np.searchsorted(i_sorted, ids[0], side="left")
        hi = np.searchsorted(i_sorted, ids[-1], side="right")
        local = np.searchsorted(ids, i_sorted[lo:hi])
        yield slice(lo, hi), local, ids.size


def _dense(local: np.ndarray, b: np.ndarray, rows: int, n_bins: int) -> np.ndarray:
    """Count matrix ``(rows, n_bins)`` from spikes' row and bin indices."""
    flat = np.bincount(local * n_bins + b, minlength=rows * n_bins)
    return flat.astype(np.float64).reshape(rows, n_bins)


# --------------------------------------------------------------------------- rates & ISIs


def firing_rates(spikes: SpikeTrains) -> np.ndarray:
    """Rate of each neuron in Hz, ``nu_i = n_i / (T/1000)``, shape ``(N,)``."""
    return _counts(spikes) / (spikes.duration / 1000.0)


def active_fraction(spikes: SpikeTrains, min_spikes: int = 1) -> float:
    """Fraction ``n_A`` of the ``N`` neurons with at least ``min_spikes`` spikes in the window."""
    if spikes.N == 0:
        return math.nan
    return float(np.count_nonzero(_counts(spikes) >= min_spikes) / spikes.N)


def _isis(spikes: SpikeTrains) -> tuple[np.ndarray, np.ndarray]:
    """All inter-spike intervals in the window and the neuron each belongs to.

    Spikes sorted by ``(i, t)``; differences that cross two neurons are dropped.
    """
    i, t = _window(spikes)
    order = np.lexsort((t, i))
    i_s, t_s = i[order], t[order]
    same = i_s[1:] == i_s[:-1]
    return i_s[1:][same], np.diff(t_s)[same]


def cv_isi(spikes: SpikeTrains, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals, shape ``(N,)``.

    ``CV_i = sqrt(<ISI^2> - <ISI>^2) / <ISI>`` over the ISIs between consecutive
    spikes of neuron ``i`` inside the window (population std, ``ddof = 0``).
    NaN for neurons with fewer than ``min_spikes`` spikes (at least 2 are needed
    for one ISI).  Vectorised: spikes sorted by ``(i, t)``, differences that
    cross two neurons masked, per-neuron sums by ``bincount``.
    """
    N = spikes.N
    counts = np.bincount(_window(spikes)[0], minlength=N)
    cv = np.full(N, np.nan)
    ok = counts >= max(int(min_spikes), 2)
    if not ok.any():
        return cv
    owner, isi = _isis(spikes)
    n_isi = np.maximum(np.bincount(owner, minlength=N), 1).astype(np.float64)
    mean = np.bincount(owner, weights=isi, minlength=N) / n_isi
    # second pass about each neuron's mean: no cancellation for nearly periodic trains
    dev = isi - mean[owner]
    var = np.bincount(owner, weights=dev * dev, minlength=N) / n_isi
    with np.errstate(divide="ignore", invalid="ignore"):
        cv[ok] = np.sqrt(var[ok]) / mean[ok]  # mean ISI > 0 unless two spikes coincide
    return cv


# --------------------------------------------------------------------------- synchrony


def golomb_chi(spikes: SpikeTrains, tau: float = 2.0, bin_ms: float | None = None) -> float:
    r"""Golomb-Hansel synchrony ``chi`` of exponentially filtered spike trains.

    ``x_i(t) = sum_k exp(-(t - t_{i,k})/tau) H(t - t_{i,k})`` (``tau`` in ms),
    ``X = (1/n_a) sum_{i in A} x_i`` and

    .. math:: \chi^2 = \frac{\mathrm{Var}_t[X]}{\frac{1}{n_a}\sum_{i\in A}\mathrm{Var}_t[x_i]}

    with ``A`` the active neurons (``>= 1`` spike in the window), so silent
    neurons do not dilute ``chi``: ``chi = 1`` for a perfectly synchronous active
    set, ``chi ~ n_a^(-1/2)`` for independent neurons, and 1 (to rounding) when a
    single neuron is active.  Spikes are binned at ``bin_ms`` (default ``tau/8``,
    adjusted so the bins tile the window) and filtered exactly,
    ``x[n] = exp(-bin/tau) x[n-1] + c[n]``; the time variances run over the whole
    window.  The spikes before ``t_start`` are unknown, so each filter starts at its
    stationary mean (its mean count per bin / (1 - exp(-bin/tau))) instead of 0,
    which would add a start-up transient of relative weight ~ ``n_a nu tau^2 / T``
    to ``chi^2`` in the asynchronous state (+40 % at n_a = 10^4, 20 Hz, T = 2 s).
    ``X`` is the filter of the population count; the ``x_i`` are built in chunks
    of neurons (memory ~ tens of MB for any N).

    Returns NaN when no neuron is active or the window holds a single bin.
    """
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    n_bins, dt, i_s, b_s = _bins(spikes, tau / 8.0 if bin_ms is None else bin_ms)
    active = np.flatnonzero(np.bincount(i_s, minlength=spikes.N))
    n_a = active.size
    if n_a == 0 or n_bins < 2:
        return math.nan
    a = math.exp(-dt / tau)
    decay = [1.0, -a]
    # start each filter at its stationary mean, a * (mean count per bin) / (1 - a) as the
    # lfilter state, rather than at 0: no transient at t_start biases the variances
    zi_scale = a / (1.0 - a) / n_bins
    c_pop = np.bincount(b_s, minlength=n_bins).astype(np.float64)
    pop, _ = signal.lfilter([1.0], decay, c_pop, zi=[zi_scale * b_s.size])
    var_pop = float(np.var(pop)) / n_a**2
    var_sum = 0.0
    for sl, local, rows in _chunks(i_s, active, n_bins):
        zi = zi_scale * np.bincount(local, minlength=rows).astype(np.float64)[:, None]
        x, _ = signal.lfilter([1.0], decay, _dense(local, b_s[sl], rows, n_bins), axis=1, zi=zi)
        var_sum += float(np.var(x, axis=1).sum())
    var_mean = var_sum / n_a
    if not var_mean > 0:
        return math.nan
    return math.sqrt(max(var_pop / var_mean, 0.0))


# --------------------------------------------------------------------------- spectra


def population_spectrum(
    spikes: SpikeTrains, bin_ms: float = 0.5, segment_ms: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch spectra of the population count and of the single neurons' counts.

    Spikes are counted in bins of ``bin_ms`` (adjusted so the bins tile the
    window; sampling frequency ``fs = 1000/bin`` Hz).  ``p_pop`` is the Welch PSD
    of the population count ``C[n] = sum_i c_i[n]``; ``p_indep = sum_i P[c_i]``
    the sum of every neuron's own PSD (silent neurons contribute 0).  Welch
    settings for both: Hann window, ``nperseg = segment_ms / bin`` (default
    ``segment_ms = min(250, T/4)``; at most the number of bins), 50 % overlap,
    mean removed per segment, one-sided density (counts^2 / Hz).  Independent
    neurons give ``E[p_pop] = p_indep``.

    Returns ``(f_hz, p_pop, p_indep)``, three arrays of the same length.
    """
    n_bins, dt, i_s, b_s = _bins(spikes, bin_ms)
    if segment_ms is None:
        segment_ms = min(250.0, spikes.duration / 4.0)
    nperseg = int(min(n_bins, max(2, round(segment_ms / dt))))
    fs = 1000.0 / dt
    kw = {"fs": fs, "window": "hann", "nperseg": nperseg, "noverlap": nperseg // 2,
          "detrend": "constant", "scaling": "density"}
    if n_bins < 2:
        f = np.zeros(1)
        return f, np.zeros(1), np.zeros(1)
    pop = np.bincount(b_s, minlength=n_bins).astype(np.float64)
    f, p_pop = signal.welch(pop, **kw)
    p_indep = np.zeros_like(p_pop)
    active = np.flatnonzero(np.bincount(i_s, minlength=spikes.N))
    # welch holds ~2x its input in overlapping segments: half-size blocks
    for sl, local, rows in _chunks(i_s, active, 2 * n_bins):
        _, p = signal.welch(_dense(local, b_s[sl], rows, n_bins), axis=-1, **kw)
        p_indep += p.sum(axis=0)
    return f, p_pop, p_indep


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
    prominence (:func:`population_spectrum` settings ``bin_ms``, ``segment_ms``)."""
    nan = SpectralPeak(math.nan, math.nan, math.nan)
    if _window(spikes)[0].size == 0:
        return nan
    f, p_pop, p_indep = population_spectrum(spikes, bin_ms=bin_ms, segment_ms=segment_ms)
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
      neurons (~1; ``chi`` from :func:`golomb_chi` unless given);
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
    i, _ = _window(spikes)
    peak = spectral_peak(spikes, f_min, f_max, bin_ms, segment_ms)
    if i.size == 0 or not math.isfinite(peak.coherence):
        return math.nan, peak.coherence
    n_active = int(np.count_nonzero(np.bincount(i, minlength=spikes.N)))
    if chi is None:
        chi = golomb_chi(spikes)
    ok = is_collective_oscillation(peak, n_active, i.size, chi, threshold, min_sync,
                                   min_prominence)
    return (peak.frequency if ok else math.nan), peak.coherence


# --------------------------------------------------------------------------- currents


def inhibitory_current(
    spikes: SpikeTrains,
    g: float,
    K: int,
    tau_m: float,
    pre: np.ndarray | None = None,
    post: np.ndarray | None = None,
) -> np.ndarray:
    """Measured mean inhibitory input of each neuron, in threshold units, shape ``(N,)``.

    ``c_j = (g/K) * tau_m * sum_{synapses i->j} r_i`` with ``r_i = n_i/T`` in 1/ms
    and ``tau_m`` in ms: each presynaptic spike lowers ``v_j`` by ``g/K``, and in
    the dimensionless model ``dv/dt = (I - v - ...)/tau_m`` a pulse train of rate
    ``r`` acts as a constant current ``(g/K) r tau_m``.

    ``pre``/``post`` (same length, one entry per synapse ``pre[s] -> post[s]``;
    multiple synapses count multiply) give a sparse graph.  Both None: global
    coupling, every neuron receives from all ``N`` neurons (self included), so
    ``c_j = (g/K) tau_m sum_i r_i`` for all ``j`` (``K`` is used as given).
    """
    return g / K * tau_m * _input_rate(spikes, pre, post)


def input_fluctuation(
    spikes: SpikeTrains,
    g: float,
    K: int,
    tau_m: float,
    pre: np.ndarray | None = None,
    post: np.ndarray | None = None,
) -> np.ndarray:
    """Shot-noise amplitude of each neuron's inhibitory input, threshold units, shape ``(N,)``.

    ``sigma_j = (g/K) sqrt(tau_m R_j)`` with ``R_j = sum_{i->j} r_i`` (1/ms) the
    total rate of the spikes neuron ``j`` receives: in the diffusion
    approximation the input ``(g/K) sum_k delta(t - t_k)`` has mean ``c_j`` and
    white-noise intensity ``sigma_j^2``, i.e. ``dv = (I - c - v) dt' + sigma dW``
    with ``t' = t/tau_m``.  For K inputs at rate ``nu`` (1/tau_m) this is the note's
    ``sigma^2 = g^2 nu / K``.  These are the "current fluctuations" of claims
    A5/B3.  ``pre``/``post`` as in :func:`inhibitory_current`.
    """
    return g / K * np.sqrt(tau_m * _input_rate(spikes, pre, post))


def _input_rate(spikes: SpikeTrains, pre: np.ndarray | None, post: np.ndarray | None
                ) -> np.ndarray:
    """Total presynaptic spike rate (1/ms) received by each neuron."""
    if (pre is None) != (post is None):
        raise ValueError("pre and post must be both given or both None")
    rates = _counts(spikes) / spikes.duration  # 1/ms
    if pre is None:
        return np.full(spikes.N, rates.sum())
    pre = np.asarray(pre, dtype=np.int64).ravel()
    post = np.asarray(post, dtype=np.int64).ravel()
    if pre.shape != post.shape:
        raise ValueError(f"pre and post differ in length: {pre.size} and {post.size}")
    return np.bincount(post, weights=rates[pre], minlength=spikes.N)


# --------------------------------------------------------------------------- all at once


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
    rates = firing_rates(spikes)
    active = rates > 0
    n_act = int(np.count_nonzero(active))
    cv = cv_isi(spikes)
    cv_ok = cv[np.isfinite(cv)]
    chi = golomb_chi(spikes, tau=chi_tau)
    peak = spectral_peak(spikes)
    n_spikes = _window(spikes)[0].size
    is_co = is_collective_oscillation(peak, n_act, n_spikes, chi, threshold=co_threshold)
    current = inhibitory_current(spikes, g, K, tau_m, pre, post)
    N = spikes.N
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
        "window_ms": spikes.duration,
        "n_spikes": n_spikes,
    }
    result = {k: float(out[k]) for k in MEASURE_KEYS}
    if I is not None:
        result.update(drive_measures(spikes, I, current, g, K, tau_m, cv))
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
    I = np.asarray(I, dtype=np.float64)
    mu = I - current
    if cv is None:
        cv = cv_isi(spikes)
    rate_tau = firing_rates(spikes).mean() * tau_m * 1e-3
    owner, isi = _isis(spikes)
    min_isi = np.full(spikes.N, np.inf)
    np.minimum.at(min_isi, owner, isi)
    counts = np.bincount(_window(spikes)[0], minlength=spikes.N)
    use = (counts >= 3) & (I > 1)
    ratios = min_isi[use] / (tau_m * np.log(I[use] / (I[use] - 1)))
    finite_cv = cv[np.isfinite(cv)]
    N = spikes.N
    return {
        "mu_max": float(mu.max()) if N else math.nan,
        "drive_top": float(I.max() - current.mean()) if N else math.nan,
        "frac_supra": float(np.mean(mu > 1)) if N else math.nan,
        "sigma_shot": float(g * math.sqrt(rate_tau / K)) if K else math.nan,
        "isi_free_ratio": float(np.median(ratios)) if ratios.size else math.nan,
        "frac_cv_above_1": float(np.mean(finite_cv > 1)) if finite_cv.size else math.nan,
    }
