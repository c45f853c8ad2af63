r"""The spikes of one window, sorted by neuron: the shared input of every measure (private).

:class:`Window` keeps the spikes inside ``[t_start, t_stop)`` ordered by neuron
index ``i`` and, within a neuron, by time (a stable sort of the time-ordered
spikes by ``i``), with the spike counts ``n_i``.  Binning at a width ``~bin_ms``
tiles the window of length ``T`` with ``n = max(1, round(T / bin_ms))`` bins of
width ``dt = T / n``; a spike at ``t`` falls in bin ``b = floor((t - t_start) / dt)``
(clipped to ``[0, n - 1]``).

Two sparse building blocks:

* :func:`pairs`: the pairs ``(j, j + d)``, ``d >= 1``, of spikes of the same
  neuron closer than a given number of bins, with their lags ``b[j+d] - b[j]``, in
  rounds of increasing ``d`` (the work is proportional to the pairs).
* :func:`linear_scan`: ``x_j = A_j x_{j-1} + w_j`` for all ``j`` at once
  (Hillis-Steele prefix scan, ``log2`` of the longest chain rounds).

and the dense fallback :func:`dense_rows` (count matrices of a few neurons).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from snnkit.dynamics.spikes import SpikeTrains

#: Upper bound on the number of float64 entries of one neuron-by-time block
#: (2**21 entries = 16 MiB); dense computations stay within a few such blocks.
BLOCK_ENTRIES = 1 << 21

#: Factors of a linear scan below this are set to 0 (their products stay normal floats;
#: a contribution 1e-150 times smaller than the current value is far below rounding).
_SCAN_FLOOR = 1e-150


def in_window(spikes: SpikeTrains) -> tuple[np.ndarray, np.ndarray]:
    """``(i, t)`` of the spikes inside ``[t_start, t_stop)``, time order (no copy when all are)."""
    i, t = spikes.i, spikes.t
    if t.size and (t[0] < spikes.t_start or t[-1] >= spikes.t_stop):
        keep = (t >= spikes.t_start) & (t < spikes.t_stop)
        i, t = i[keep], t[keep]
    return i, t


def neuron_order(i: np.ndarray, N: int) -> np.ndarray:
    """Stable ordering of spikes by neuron index (radix sort when ``N <= 2**16``)."""
    if i.size < 2:
        return np.arange(i.size)
    key = i.astype(np.uint16) if N <= 1 << 16 else i
    return np.argsort(key, kind="stable")


@dataclass(frozen=True)
class Window:
    """Spikes of ``N`` neurons inside ``[t_start, t_start + duration)``, sorted by ``(i, t)``."""

    i: np.ndarray
    t: np.ndarray
    counts: np.ndarray
    N: int
    t_start: float
    duration: float

    @classmethod
    def of(cls, spikes: SpikeTrains) -> Window:
        i, t = in_window(spikes)
        order = neuron_order(i, spikes.N)
        return cls(i[order], t[order], np.bincount(i, minlength=spikes.N), spikes.N,
                   spikes.t_start, spikes.duration)

    @property
    def n_spikes(self) -> int:
        return int(self.i.size)

    @property
    def n_active(self) -> int:
        """Number of neurons with at least one spike."""
        return int(np.count_nonzero(self.counts))

    def bins(self, bin_ms: float) -> tuple[int, float, np.ndarray]:
        """``(n, dt, b)``: number and width of the bins tiling the window, each spike's bin."""
        if not bin_ms > 0:
            raise ValueError(f"bin_ms must be > 0, got {bin_ms}")
        n = max(1, round(self.duration / bin_ms))
        dt = self.duration / n
        b = np.floor((self.t - self.t_start) / dt).astype(np.int64)
        np.clip(b, 0, n - 1, out=b)
        return n, dt, b

    def isis(self) -> tuple[np.ndarray, np.ndarray]:
        """``(owner, isi)``: every inter-spike interval in the window and its neuron.

        Differences between consecutive spikes that belong to two neurons are dropped;
        intervals come neuron by neuron, in time order.
        """
        same = self.i[1:] == self.i[:-1]
        return self.i[1:][same], np.diff(self.t)[same]


def pairs(i: np.ndarray, b: np.ndarray, max_lag: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs ``(j, j + d)``, ``d >= 1``, of one neuron's spikes less than ``max_lag`` bins apart.

    ``i`` and ``b`` sorted by neuron, then bin.  Yields ``(j, lag)`` round by round,
    ``d = 1, 2, ...``: ``n_j``, the number of later spikes of the same neuron within
    ``max_lag`` bins, is found once (one ``searchsorted``) and spike ``j`` is a
    candidate while ``d <= n_j``, so each round costs the pairs it yields.
    """
    n = i.size
    if n < 2:
        return
    key = i * np.int64(int(b.max()) + max_lag + 1) + b  # sorted, neurons kept apart
    partners = np.searchsorted(key, key + max_lag) - np.arange(1, n + 1)
    j = np.flatnonzero(partners > 0)
    d = 1
    while j.size:
        yield j, b[j + d] - b[j]
        d += 1
        j = j[partners[j] >= d]


def linear_scan(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x`` with ``x_0 = w_0`` and ``x_j = A_j x_{j-1} + w_j`` (``0 <= A_j <= 1``).

    Hillis-Steele scan: after round ``r`` each ``x_j`` holds the terms of its last
    ``2^r`` predecessors and ``A_j`` their product; it stops when every product
    is 0 (``A_j = 0`` separates independent chains).  Factors below ``1e-150`` are
    set to 0, i.e. contributions that small relative to ``x`` are dropped.
    """
    x = w.astype(np.float64, copy=True)
    A = np.where(A < _SCAN_FLOOR, 0.0, A)
    s = 1
    while s < x.size:
        As = A[s:]
        if not As.any():
            break
        x[s:] = x[s:] + As * x[:-s]
        A[s:] = As * A[:-s]
        A[:s] = 0.0
        A[A < _SCAN_FLOOR] = 0.0
        s *= 2
    return x


def dense_rows(i: np.ndarray, b: np.ndarray, ids: np.ndarray, n_bins: int,
               rows_per_block: int) -> Iterator[np.ndarray]:
    """Count matrices ``(len(block), n_bins)`` of the neurons ``ids`` (sorted), block by block.

    ``i``/``b`` sorted by neuron; at most ``rows_per_block`` rows per matrix.
    """
    for start in range(0, ids.size, rows_per_block):
        block = ids[start:start + rows_per_block]
        lo = np.searchsorted(i, block[0], side="left")
        hi = np.searchsorted(i, block[-1], side="right")
        sel = np.isin(i[lo:hi], block)
        local = np.searchsorted(block, i[lo:hi][sel])
        flat = np.bincount(local * n_bins + b[lo:hi][sel], minlength=block.size * n_bins)
        yield flat.astype(np.float64).reshape(block.size, n_bins)
