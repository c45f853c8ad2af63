r"""Measured inhibitory input: its mean and its shot-noise fluctuations.

With ``r_i = n_i / T`` the measured rate of neuron ``i`` (1/ms) and
``R_j = sum_{i -> j} r_i`` the total rate of the spikes neuron ``j`` receives:

* ``inhibitory_current``: ``c_j = (g/K) tau_m R_j`` in threshold units
  (``tau_m`` in ms).  Each presynaptic spike lowers ``v_j`` by ``g/K``; in the
  dimensionless model ``dv/dt = (I - v - ...)/tau_m`` a pulse train of rate ``r``
  acts as a constant current ``(g/K) r tau_m``.  The effective drive of neuron
  ``j`` is ``mu_j = I_j - c_j``.
* ``input_fluctuation``: ``sigma_j = (g/K) sqrt(tau_m R_j)``, the shot-noise
  amplitude in the diffusion approximation (``dv = (I - c - v) dt' + sigma dW``,
  ``t' = t/tau_m``); for K inputs at rate ``nu`` (1/tau_m), ``sigma^2 = g^2 nu / K``.

``pre``/``post`` (one entry per synapse ``pre[s] -> post[s]``; multiple synapses
count multiply) give a sparse graph.  Both None: global coupling, every neuron
receives from all ``N`` neurons, itself included, so ``R_j = sum_i r_i``.
"""

from __future__ import annotations

import numpy as np

from snnkit.dynamics.measures.rates import counts as spike_counts
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["inhibitory_current", "input_fluctuation"]


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
    return current_from_counts(spike_counts(spikes), spikes.duration, g, K, tau_m, pre, post)


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
    rate = input_rate(spike_counts(spikes), spikes.duration, pre, post)
    return g / K * np.sqrt(tau_m * rate)


def current_from_counts(counts: np.ndarray, duration: float, g: float, K: int, tau_m: float,
                        pre: np.ndarray | None, post: np.ndarray | None) -> np.ndarray:
    """:func:`inhibitory_current` from the spike counts of a window of ``duration`` ms."""
    return g / K * tau_m * input_rate(counts, duration, pre, post)


def input_rate(counts: np.ndarray, duration: float, pre: np.ndarray | None,
               post: np.ndarray | None) -> np.ndarray:
    """Total presynaptic spike rate ``R_j`` (1/ms) received by each neuron."""
    if (pre is None) != (post is None):
        raise ValueError("pre and post must be both given or both None")
    rates = counts / duration  # 1/ms
    if pre is None:
        return np.full(counts.size, rates.sum())
    pre, post = _indices(pre), _indices(post)
    if pre.shape != post.shape:
        raise ValueError(f"pre and post differ in length: {pre.size} and {post.size}")
    return np.bincount(post, weights=rates[pre], minlength=counts.size)


def _indices(a: np.ndarray) -> np.ndarray:
    """``a`` as a flat integer array (int64 unless it is already of an integer type)."""
    a = np.asarray(a).ravel()
    return a if a.dtype.kind in "iu" else a.astype(np.int64)
