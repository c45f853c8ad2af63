"""``engine = "event"``: the exact event-driven engine, compiled with numba.

Same model, same algorithm, same tie rule as the pure-Python reference
:mod:`snnkit.dynamics.exact` (which stays the readable reference and the one the
tests compare against); this module only moves the event loop into one
``numba.njit`` kernel, so there is no Python or NumPy call per event.

Model and exact solution between events
---------------------------------------
LIF neurons with excitability ``I_i``, threshold 1, reset 0, no refractory
period, coupled by inhibitory δ-pulses of size ``w = g/K`` that arrive one
fixed ``delay >= 0`` after the spike (sparse: synapses ``pre -> post``, repeated
synapses act several times; global: every neuron receives every spike, its
own included).  Between events, with ``v0`` the potential at ``t0``::

    v(t) = I + (v0 - I) exp(-(t - t0)/tau_m)

and a neuron with ``I > 1``, ``v < 1`` reaches threshold at::

    t* = t0 + tau_m ln[(I - v0)/(I - 1)]          (after a reset: + tau_m ln[I/(I - 1)])

A neuron with ``I <= 1`` never fires (``t* = inf``: pulses are inhibitory).
If rounding leaves ``v`` marginally above threshold after an arrival, the
ratio is clamped to 1 and the neuron fires at the arrival time.

Event ordering
--------------
* The next crossing ``tc`` is the smallest ``t_next``, kept at the root of a
  tournament tree over the neurons (a complete binary tree whose leaves are the
  neurons in index order and whose inner nodes hold the winner, the smaller
  ``(t_next, index)``, of their two children): reading it is O(1), changing one
  neuron's ``t_next`` replays the log2(N) matches on its path to the root.  The
  next arrival ``ta`` is the top of a binary heap of pulses in flight keyed
  ``(arrival time, sender)``; the run stops when both are ``>= t_stop``.
* Ties: at one time **all threshold crossings come first** (``tc <= ta``): every
  neuron with ``t_next == tc`` spikes (taken from the tree's root one after the
  other, which yields them in increasing index since a tie goes to the left
  child; recorded in that order, reset
  to 0, next free crossing one period later, one arrival pushed at
  ``tc + delay`` if it has targets and ``g > 0``); **then all arrivals** at
  ``ta``: every heap entry with that time is popped together, the pulses a
  target receives are summed (``w * count``) and applied once, after the
  target has been relaxed to ``ta``, and its ``t_next`` is recomputed.  With
  global coupling every neuron is relaxed and recomputed at each arrival time.
  Comparisons are tolerance-free (the same float).

Every floating-point operation is the one :mod:`snnkit.dynamics.exact` does, in
the same order, so the two engines agree to the last bits of ``exp``/``log``:
NumPy's vectorised ``exp``/``log`` (SIMD, e.g. AVX-512) and the C library's
scalar ones used here may differ by one ulp, hence spike times agree to float
rounding (~1e-13 relative), not always bit for bit; same neurons, same order.

Not supported (as in ``exact``): refractoriness (``t_ref > 0``) and α-pulses.

Cost: per spike O(log N) to reset the neuron in the tree and O(log P) heap work;
per arrival time O(fan-out · log N) with sparse coupling (relaxation, a logarithm
and a tree path per target), O(N) with global coupling (every neuron relaxed, the
tree rebuilt bottom-up), each a few ns to tens of ns of compiled code.  (The first
version scanned all N neurons for the next crossing at every event: O(N) per
event, 5 s instead of about 1 s on the N = 10,000, K = 100 benchmark network.)
The kernel is compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import threading

import numpy as np

from snnkit.dynamics.exact import _adjacency, checked_inputs
from snnkit.dynamics.spikes import SpikeTrains

__all__ = ["simulate_event"]

_kernel = None
_kernel_lock = threading.Lock()


def _compiled():
    """The njit kernel (numba imported and the kernel compiled or loaded on first use).

    The kernel calls the tree helpers by their global names, so those names are rebound
    to numba functions before it is compiled (numba is imported only here, on first
    use); the lock makes that happen once even when a multi-threaded Dask worker
    starts several tasks at the same moment.
    """
    global _kernel, _tree_replay, _tree_build
    with _kernel_lock:
        if _kernel is None:
            from numba import njit

            jit = njit(cache=True, nogil=True, error_model="numpy")
            _tree_replay, _tree_build = jit(_tree_replay_py), jit(_tree_build_py)
            _kernel = jit(_event_loop)
    return _kernel


def _tree_replay_py(tree, t_next, j, size):
    """Neuron ``j``'s ``t_next`` changed: replay the matches on its path to the root.

    Ties go to the left child (the smaller index).  The replay stops at the first
    node whose winner is unchanged and is not ``j``: that node's (winner, key) is
    the same as before, so no ancestor changes.  Inhibition only ever delays a
    crossing, so ``j`` is usually the winner of a few low nodes only and the
    replay is short.
    """
    node = (size + j) >> 1
    while node >= 1:
        a = tree[2 * node]
        b = tree[2 * node + 1]
        win = a if t_next[a] <= t_next[b] else b
        if win == tree[node] and win != j:
            break
        tree[node] = win
        node >>= 1


def _tree_build_py(tree, t_next, size):
    """Fill the tournament tree over ``t_next[:size]`` (leaves at ``size + j``)."""
    for j in range(size):
        tree[size + j] = j
    for node in range(size - 1, 0, -1):
        a = tree[2 * node]
        b = tree[2 * node + 1]
        tree[node] = a if t_next[a] <= t_next[b] else b


_tree_replay, _tree_build = _tree_replay_py, _tree_build_py  # jitted in _compiled()


def _event_loop(I, v, tau_m, w, delay, t_stop, t_record, sparse, indptr, targets, mult,
                max_events):
    """Run the event loop; returns ``(i, t, n_spikes, overflow, t_reached)``."""
    inf = np.inf
    N = I.size
    size = 1
    while size < N:
        size *= 2
    supra = np.empty(N, dtype=np.bool_)
    Im1 = np.empty(N)
    period = np.empty(N)
    t_last = np.zeros(N)
    t_next = np.full(size, inf)  # leaves beyond N never win
    for j in range(N):
        supra[j] = I[j] > 1.0
        if supra[j]:
            Im1[j] = I[j] - 1.0
            period[j] = tau_m * np.log(I[j] / Im1[j])
        else:
            Im1[j] = 1.0
            period[j] = inf
    for j in range(N):
        if supra[j]:
            r = (I[j] - v[j]) / Im1[j]
            if r < 1.0:
                r = 1.0
            t_next[j] = 0.0 + tau_m * np.log(r)
        else:
            t_next[j] = inf
    tree = np.empty(2 * size, dtype=np.int64)
    _tree_build(tree, t_next, size)
    has_targets = np.ones(N, dtype=np.bool_)
    if sparse:
        for j in range(N):
            has_targets[j] = indptr[j + 1] > indptr[j]
    deliver = w > 0.0

    # recorded spikes (grown by doubling)
    cap = 1024
    spk_i = np.empty(cap, dtype=np.int64)
    spk_t = np.empty(cap)
    n_spk = 0
    # pulses in flight: binary min-heap on (time, sender)
    hcap = 1024
    h_t = np.empty(hcap)
    h_k = np.empty(hcap, dtype=np.int64)
    hn = 0
    # scratch for one arrival time
    fired = np.empty(N, dtype=np.int64)
    senders = np.empty(16, dtype=np.int64)
    cnt = np.zeros(N)
    touched = np.empty(N, dtype=np.int64)
    n_events = 0

    while True:
        tc = t_next[tree[1]]
        ta = h_t[0] if hn > 0 else inf
        if tc >= t_stop and ta >= t_stop:
            break
        if tc <= ta:
            # ---- threshold crossing(s) at tc, in increasing index (ties go left)
            nf = 0
            while nf < N and t_next[tree[1]] == tc:  # nf < N: against tc + period == tc
                k = tree[1]
                fired[nf] = k
                nf += 1
                v[k] = 0.0
                t_last[k] = tc
                t_next[k] = tc + period[k]
                _tree_replay(tree, t_next, k, size)
            n_events += nf
            arrival = tc + delay
            for m in range(nf):
                k = fired[m]
                if tc >= t_record:
                    if n_spk == cap:
                        cap *= 2
                        new_i = np.empty(cap, dtype=np.int64)
                        new_t = np.empty(cap)
                        new_i[:n_spk] = spk_i[:n_spk]
                        new_t[:n_spk] = spk_t[:n_spk]
                        spk_i, spk_t = new_i, new_t
                    spk_i[n_spk] = k
                    spk_t[n_spk] = tc
                    n_spk += 1
                if deliver and has_targets[k]:
                    if hn == hcap:
                        hcap *= 2
                        new_ht = np.empty(hcap)
                        new_hk = np.empty(hcap, dtype=np.int64)
                        new_ht[:hn] = h_t[:hn]
                        new_hk[:hn] = h_k[:hn]
                        h_t, h_k = new_ht, new_hk
                    # sift up
                    pos = hn
                    hn += 1
                    while pos > 0:
                        parent = (pos - 1) >> 1
                        pt, pk = h_t[parent], h_k[parent]
                        if arrival < pt or (arrival == pt and k < pk):
                            h_t[pos] = pt
                            h_k[pos] = pk
                            pos = parent
                        else:
                            break
                    h_t[pos] = arrival
                    h_k[pos] = k
        else:
            # ---- pulse arrival(s) at ta: pop every entry with this time
            ns = 0
            while hn > 0 and h_t[0] == ta:
                if ns == senders.size:
                    new_s = np.empty(2 * ns, dtype=np.int64)
                    new_s[:ns] = senders[:ns]
                    senders = new_s
                senders[ns] = h_k[0]
                ns += 1
                # pop: move the last entry to the root and sift down
                hn -= 1
                lt, lk = h_t[hn], h_k[hn]
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= hn:
                        break
                    right = child + 1
                    if right < hn and (h_t[right] < h_t[child] or (
                            h_t[right] == h_t[child] and h_k[right] < h_k[child])):
                        child = right
                    ct, ck = h_t[child], h_k[child]
                    if ct < lt or (ct == lt and ck < lk):
                        h_t[pos] = ct
                        h_k[pos] = ck
                        pos = child
                    else:
                        break
                if hn > 0:
                    h_t[pos] = lt
                    h_k[pos] = lk
            n_events += ns
            if not sparse:
                drop = w * float(ns)
                for j in range(N):
                    vt = I[j] + (v[j] - I[j]) * np.exp((t_last[j] - ta) / tau_m)
                    v[j] = vt - drop
                    t_last[j] = ta
                    if supra[j]:
                        r = (I[j] - v[j]) / Im1[j]
                        if r < 1.0:
                            r = 1.0
                        t_next[j] = ta + tau_m * np.log(r)
                    else:
                        t_next[j] = inf
                _tree_build(tree, t_next, size)
            else:
                nt = 0
                for m in range(ns):
                    k = senders[m]
                    for s in range(indptr[k], indptr[k + 1]):
                        j = targets[s]
                        if cnt[j] == 0.0:
                            touched[nt] = j
                            nt += 1
                        cnt[j] += mult[s]
                for m in range(nt):
                    j = touched[m]
                    vt = I[j] + (v[j] - I[j]) * np.exp((t_last[j] - ta) / tau_m)
                    vt = vt - w * cnt[j]
                    cnt[j] = 0.0
                    v[j] = vt
                    t_last[j] = ta
                    if supra[j]:
                        r = (I[j] - vt) / Im1[j]
                        if r < 1.0:
                            r = 1.0
                        t_next[j] = ta + tau_m * np.log(r)
                        _tree_replay(tree, t_next, j, size)
        if n_events > max_events:
            return spk_i[:n_spk], spk_t[:n_spk], n_spk, True, min(tc, ta)
    return spk_i[:n_spk], spk_t[:n_spk], n_spk, False, t_stop


def simulate_event(
    I: np.ndarray,
    v0: np.ndarray,
    *,
    g: float,
    K: float,
    delay: float,
    tau_m: float,
    t_stop: float,
    pre: np.ndarray | None = None,
    post: np.ndarray | None = None,
    t_record: float = 0.0,
    max_events: int = 2_000_000_000,
) -> SpikeTrains:
    """Simulate the network exactly (event-driven, compiled, no time step).

    The signature, validation, tie rule and result are those of
    :func:`snnkit.dynamics.exact.simulate_exact` (see there), except for the
    default ``max_events`` (the compiled loop runs ~1e7-1e8 events/s).
    """
    I, v, g, K, delay, tau_m, t_record, t_stop = checked_inputs(
        I, v0, g, K, delay, tau_m, t_record, t_stop, max_events, pre, post)
    N = I.size
    sparse = pre is not None
    if sparse:
        indptr, targets, mult = _adjacency(pre, post, N)
    else:
        indptr = np.zeros(N + 1, dtype=np.int64)
        targets = np.zeros(0, dtype=np.int64)
        mult = np.zeros(0)
    w = g / K
    spk_i, spk_t, _, overflow, reached = _compiled()(
        I, v, tau_m, w, delay, t_stop, t_record, sparse, indptr.astype(np.int64),
        targets.astype(np.int64), mult.astype(np.float64), int(max_events))
    if overflow:
        raise RuntimeError(
            f"simulate_event: more than max_events={max_events} events before t_stop="
            f"{t_stop} ms (reached t = {reached} ms); raise max_events or shorten the run")
    return SpikeTrains(spk_i.copy(), spk_t.copy(), N, t_record, t_stop)
