"""A network realisation: the concrete arrays a :class:`ModelConfig` and its seed stand for.

Engines never draw random numbers themselves; they receive a
:class:`NetworkInstance` holding

* ``I``: excitabilities, I_i ~ U[I_low, I_high], either evenly spaced
  (I_i = I_low + (I_high - I_low) i/(N-1)) or drawn at random and **sorted**, so
  that the neuron index is the excitability rank in both cases (rasters then show
  the winner-takes-all cut as a horizontal line);
* ``v0``: initial potentials, v_i(0) ~ U[0, 1);
* ``pre``/``post``: the synapses of a sparse network with fixed in-degree K
  and no autapses (each neuron j draws K distinct sources among the N-1 others),
  or ``None`` for global coupling (every neuron receives every spike, its own
  included, so the in-degree is N).

The three random streams are independent children of ``np.random.SeedSequence(seed)``:
changing the spacing of I does not change the graph, and a Brian2, exact or
any other engine given the same instance simulates the same network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnkit.dynamics.config import ModelConfig


@dataclass(frozen=True)
class NetworkInstance:
    """Concrete excitabilities, initial state and synapses of one network."""

    config: ModelConfig
    I: np.ndarray
    v0: np.ndarray
    pre: np.ndarray | None
    post: np.ndarray | None

    @property
    def N(self) -> int:
        return self.config.N

    @property
    def n_synapses(self) -> int:
        return 0 if self.pre is None else int(self.pre.size)


def excitabilities(N: int, I_low: float, I_high: float, spacing: str, rng: np.random.Generator
                   ) -> np.ndarray:
    """I_i on [I_low, I_high]: an even grid, or sorted uniform random draws."""
    if spacing == "even":
        if N == 1:
            return np.array([0.5 * (I_low + I_high)])
        return np.linspace(I_low, I_high, N)
    return np.sort(rng.uniform(I_low, I_high, N))


def fixed_indegree(N: int, K: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random graph with exactly K inputs per neuron, no autapses, no multapses.

    For each target j, K distinct sources are drawn uniformly among the N-1
    other neurons: draw from {0..N-2} and shift values >= j up by one.
    Returns ``(pre, post)`` sorted by target, ``post = repeat(arange(N), K)``.
    """
    if not 1 <= K < N:
        raise ValueError(f"need 1 <= K < N, got K={K}, N={N}")
    post = np.repeat(np.arange(N, dtype=np.int64), K)
    if K * K > N:  # dense: K smallest of N-1 random keys per row, rows in chunks
        chunk = max(1, 4_000_000 // N)
        src = np.concatenate([
            np.argpartition(rng.random((min(chunk, N - r), N - 1)), K - 1, axis=1)[:, :K]
            for r in range(0, N, chunk)
        ])
    else:  # sparse: rejection of duplicates row by row is cheap when K << N
        src = rng.integers(0, N - 1, size=(N, K))
        for _ in range(1000):
            srt = np.sort(src, axis=1)
            dup_rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
            if dup_rows.size == 0:
                break
            src[dup_rows] = rng.integers(0, N - 1, size=(dup_rows.size, K))
        else:  # pragma: no cover - probability ~0
            raise RuntimeError("could not draw a graph without multapses")
    src = src + (src >= np.arange(N)[:, None])
    return src.ravel().astype(np.int64), post


def instantiate(config: ModelConfig) -> NetworkInstance:
    """Draw the network realisation of ``config`` (deterministic in ``config.seed``)."""
    seq_I, seq_v, seq_graph = np.random.SeedSequence(config.seed).spawn(3)
    I = excitabilities(config.N, config.I_low, config.I_high, config.I_spacing,
                       np.random.default_rng(seq_I))
    v0 = np.random.default_rng(seq_v).random(config.N)
    pre = post = None
    if config.coupling == "sparse":
        pre, post = fixed_indegree(config.N, config.K, np.random.default_rng(seq_graph))
    return NetworkInstance(config, I, v0, pre, post)
