r"""Welch spectra of the population count and of the single neurons' counts.

``c_i[n]`` is neuron ``i``'s spike count in bin ``n`` of width ``dt ~ bin_ms``
(sampling frequency ``fs = 1000/dt`` Hz), ``C[n] = sum_i c_i[n]`` the population
count.  Welch settings: Hann window ``w`` (periodic) of ``L = segment_ms / dt``
samples, step ``s = L - floor(L/2)`` (50 % overlap), ``S = floor((M - floor(L/2)) / s)``
segments of the ``M`` bins, mean removed per segment, one-sided density:

    ``P[y](f_k) = e_k / (fs sum_n w[n]^2) * (1/S) sum_{segments} |Y_seg(f_k)|^2``,
    ``Y_seg(f_k) = sum_{n<L} w[n] (y[seg s + n] - mean_seg y) exp(-2 pi i k n / L)``,

``f_k = k fs / L``, ``e_k = 2`` except ``e_0 = 1`` and, for even ``L``, ``e_{L/2} = 1``.

``p_pop = P[C]`` and ``p_indep = sum_i P[c_i]``, the sum of the neurons' own PSDs
(silent neurons contribute 0).  For independent neurons ``E[p_pop] = p_indep``
(cross-spectra vanish).

``p_pop`` is :func:`scipy.signal.welch` of ``C``.  ``p_indep`` is not built from
``N`` dense spectra: with ``g`` one neuron's spikes in one segment (``k_g`` of them
at offsets ``n_a``, each of count 1) and ``m_g = k_g / L`` its mean,
``Y_g = A_g - m_g W`` where ``A_g(f) = sum_a w[n_a] e^{-2 pi i f n_a}`` and ``W`` is the
transform of ``w``, so

    ``sum_g |Y_g|^2 = Re F[R] - 2 Re(F[w D] conj(W)) + (sum_g m_g^2) |W|^2``

with ``F`` the length-``L`` DFT,

    ``R[l] = sum_g sum_{a, b in g: n_b - n_a = l >= 0} (2 - [a = b]) w[n_a] w[n_b]``

the windowed autocorrelation of all the neurons' segments (pairs of spikes of
one neuron closer than ``L`` bins; ``Re F[R](f_k) = sum_g |A_g(f_k)|^2``) and
``D[n] = sum_g m_g #{a in g : n_a = n}``.
The work is ``O(pairs)``; neurons with so many spikes that their pairs would
cost more than a dense spectrum get the dense one (:func:`scipy.signal.welch`).
Both routes give the same values to rounding.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from snnkit.dynamics.measures._window import BLOCK_ENTRIES, Window, dense_rows, pairs
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["population_spectrum"]

#: A neuron's spectrum is computed densely when its estimated number of spike pairs
#: (``n_i^2 L / M``) exceeds this many times its ``M`` bins (both cost ~30 ns on one
#: core: per pair here, per bin of a dense Welch spectrum).
_DENSE_PAIRS_PER_BIN = 1.0


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
    return window_spectrum(Window.of(spikes), bin_ms, segment_ms)


def window_spectrum(win: Window, bin_ms: float = 0.5, segment_ms: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`population_spectrum` of a prepared :class:`Window`."""
    n_bins, dt, b = win.bins(bin_ms)
    if segment_ms is None:
        segment_ms = min(250.0, win.duration / 4.0)
    L = int(min(n_bins, max(2, round(segment_ms / dt))))
    fs = 1000.0 / dt
    if n_bins < 2:
        return np.zeros(1), np.zeros(1), np.zeros(1)
    kw = {"fs": fs, "window": "hann", "nperseg": L, "noverlap": L // 2,
          "detrend": "constant", "scaling": "density"}
    f, p_pop = signal.welch(np.bincount(b, minlength=n_bins).astype(np.float64), **kw)
    w = signal.get_window("hann", L)
    step = L - L // 2
    n_seg = (n_bins - L // 2) // step
    # one-sided density: (1/S) sum |Y|^2 e_k / (fs sum w^2)
    scale = np.full(f.size, 2.0 / (fs * float(np.sum(w * w)) * n_seg))
    scale[0] /= 2.0
    if L % 2 == 0:
        scale[-1] /= 2.0
    active = np.flatnonzero(win.counts)
    k = win.counts[active].astype(np.float64)
    dense = active[k * k * L / n_bins > _DENSE_PAIRS_PER_BIN * n_bins]
    if not dense.size:
        return f, p_pop, segment_power(win.i, b, w, step, n_seg) * scale
    sparse = ~np.isin(win.i, dense)
    p_indep = segment_power(win.i[sparse], b[sparse], w, step, n_seg) * scale
    # welch holds ~2x its input in overlapping segments: half-size blocks
    for rows in dense_rows(win.i, b, dense, n_bins, max(1, BLOCK_ENTRIES // (2 * n_bins))):
        p_indep += signal.welch(rows, axis=-1, **kw)[1].sum(axis=0)
    return f, p_pop, p_indep


def segment_power(i: np.ndarray, b: np.ndarray, w: np.ndarray, step: int, n_seg: int
                  ) -> np.ndarray:
    """``sum_g |Y_g(f_k)|^2`` over every (neuron, segment) ``g``, ``k = 0 .. L//2``.

    ``i``/``b`` are the spikes' neurons and bins sorted by neuron, then bin; segment
    ``s`` holds bins ``[s step, s step + L)``, ``L = len(w)``, ``0 <= s < n_seg``.
    A bin ``b`` lies in segment ``h = b // step`` at offset ``p = b - h step`` and in
    segment ``h - 1`` at offset ``p + step`` (``L <= 2 step``), if those exist.
    """
    L = w.size
    W = np.fft.rfft(w)
    if i.size == 0:
        return np.zeros(W.size)
    # the window, 0 past its end: a spike beyond a segment gets weight 0
    w_ext = np.zeros(2 * L + 2 * step)
    w_ext[:L] = w
    half = b // step
    p0 = b - half * step
    in0 = half < n_seg
    in1 = (half >= 1) & (half <= n_seg) & (p0 + step < L)
    a0 = np.where(in0, w_ext[p0], 0.0)  # the spike's window weight in segment half
    a1 = np.where(in1, w_ext[p0 + step], 0.0)  # ... and in segment half - 1
    R = np.zeros(L)
    R[0] = float(np.dot(a0, a0) + np.dot(a1, a1))
    for j, lag in pairs(i, b, L):
        pk = p0[j] + lag  # offset of the later spike in segment half[j]
        weight = a0[j] * w_ext[pk] + a1[j] * w_ext[pk + step]
        R += 2.0 * np.bincount(lag, weights=weight, minlength=L)
    # mean removal: k_g spikes in group g, m_g = k_g / L, D[n] = sum_g m_g #{spikes at n}
    k0, k1, m2 = _group_counts(i, half, in0, in1, n_seg)
    wD = (np.bincount(p0, weights=a0 * k0, minlength=L)
          + np.bincount(p0 + step, weights=a1 * k1, minlength=2 * L)[:L]) / L
    cross = np.fft.rfft(wD) * np.conj(W)
    return np.fft.rfft(R).real - 2.0 * cross.real + m2 / (L * L) * (W.real**2 + W.imag**2)


def _group_counts(i: np.ndarray, half: np.ndarray, in0: np.ndarray, in1: np.ndarray,
                  n_seg: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Spikes ``k_g`` of each spike's (neuron, segment) groups and ``sum_g k_g^2``.

    Returns ``(k0, k1, sum k_g^2)`` with ``k0[j]``/``k1[j]`` the size of spike ``j``'s
    group in segment ``half[j]`` / ``half[j] - 1`` (0 where it is not in that segment).
    """
    rank = np.cumsum(np.bincount(i, minlength=int(i[-1]) + 1) > 0) - 1
    base = rank[i] * np.int64(n_seg)
    g0 = np.where(in0, base + half, -1)
    g1 = np.where(in1, base + half - 1, -1)
    both = np.concatenate((g0[in0], g1[in1]))
    if int(rank[-1] + 1) * n_seg <= 4 * both.size + (1 << 12):
        size = np.bincount(both, minlength=int(rank[-1] + 1) * n_seg)
        k0, k1 = size[g0], size[g1]
        sizes = size
    else:  # few spikes per group (very long windows): number the groups that occur
        _, inverse, sizes = np.unique(both, return_inverse=True, return_counts=True)
        k0 = np.zeros(i.size, dtype=np.int64)
        k1 = np.zeros(i.size, dtype=np.int64)
        k0[in0] = sizes[inverse[:np.count_nonzero(in0)]]
        k1[in1] = sizes[inverse[np.count_nonzero(in0):]]
    k0 = np.where(in0, k0, 0).astype(np.float64)
    k1 = np.where(in1, k1, 0).astype(np.float64)
    return k0, k1, float(np.dot(sizes.astype(np.float64), sizes))
