"""Spike trains of a population in one time window.

A :class:`SpikeTrains` is the only thing the analysis functions
(:mod:`snnkit.dynamics.measures`) look at: two flat arrays, neuron index ``i``
and spike time ``t`` (ms), the population size ``N`` and the window
``[t_start, t_stop)`` (ms) in which the spikes were recorded.  Times keep the
simulation's clock (the window of a run with a 1 s transient starts at 1000 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpikeTrains:
    """Spikes of ``N`` neurons in the window ``[t_start, t_stop)`` (ms).

    ``i`` (int) and ``t`` (float, ms) have one entry per spike, sorted by time.
    """

    i: np.ndarray
    t: np.ndarray
    N: int
    t_start: float
    t_stop: float

    def __post_init__(self) -> None:
        i = np.asarray(self.i, dtype=np.int64).ravel()
        t = np.asarray(self.t, dtype=np.float64).ravel()
        if i.shape != t.shape:
            raise ValueError(f"i and t must have the same length, got {i.size} and {t.size}")
        if self.t_stop <= self.t_start:
            raise ValueError(f"t_stop ({self.t_stop}) must be > t_start ({self.t_start})")
        if i.size and (i.min() < 0 or i.max() >= self.N):
            raise ValueError(
                f"neuron indices must lie in [0, {self.N}), got [{i.min()}, {i.max()}]")
        order = np.argsort(t, kind="stable")
        if order.size and np.any(order != np.arange(order.size)):
            i, t = i[order], t[order]
        object.__setattr__(self, "i", i)
        object.__setattr__(self, "t", t)

    @property
    def duration(self) -> float:
        """Window length in ms."""
        return float(self.t_stop - self.t_start)

    @property
    def n_spikes(self) -> int:
        return int(self.i.size)

    def counts(self) -> np.ndarray:
        """Number of spikes of each neuron in the window, shape ``(N,)``."""
        return np.bincount(self.i, minlength=self.N)

    def trains(self) -> list[np.ndarray]:
        """Spike times of each neuron (ms, sorted), a list of ``N`` arrays."""
        order = np.argsort(self.i, kind="stable")  # stable: times stay sorted
        splits = np.cumsum(self.counts())[:-1]
        return np.split(self.t[order], splits)

    def select(self, t_start: float, t_stop: float) -> SpikeTrains:
        """The spikes inside a sub-window ``[t_start, t_stop)``."""
        keep = (self.t >= t_start) & (self.t < t_stop)
        return SpikeTrains(self.i[keep], self.t[keep], self.N, t_start, t_stop)
