r"""Spike-train-level post-synaptic potentials (S-PSPs) of ST-RSBP, without the pair recursion.

The S-PSP :math:`e_{i|j}` is the total effect of presynaptic train :math:`j` on the membrane of
neuron :math:`i`, read just before each of :math:`i`'s spikes and summed over them; the membrane
is reset at each postsynaptic spike and held at 0 during the refractory steps.  The official code
(``d_Spiking_accumulate_effect_step``) obtains it per pair by simulating, for every
:math:`(i, j)`, the neuron's own recursion driven by :math:`j` alone (:func:`spsp_reference`):

.. math::
    \epsilon_j(t) = (1 - \tfrac{1}{\tau_s})\,\epsilon_j(t-1) + s_j(t-1),\qquad
    u_{ij}(t) = (1 - \tfrac{1}{\tau_m})\,u_{ij}(t-1) + \epsilon_j(t)/\tau_s,

with :math:`u_{ij} \leftarrow 0` while :math:`i` is refractory and after each spike of
:math:`i`, and :math:`e_{i|j} = \sum_f u_{ij}(t_f)` over :math:`i`'s spike times :math:`t_f`.

**Fast path.**  The synaptic trace :math:`\epsilon_j` is never reset, so between resets
:math:`u_{ij}` is the *free* membrane trace :math:`V_j(t)` (the same recursion without any reset,
one per presynaptic neuron) minus the decayed value it had at the reset:

.. math::
    u_{ij}(t) = V_j(t) - d_m^{\,t - r}\,V_j(r),\qquad d_m = 1 - 1/\tau_m,

where :math:`r` is the last step at which :math:`i`'s membrane was held at 0 (the previous spike
plus the refractory steps; before the first spike :math:`V_j = 0`).  Collecting these as a sparse
(time × post) matrix :math:`M = S - Q` with :math:`S_{ti} = s_i(t)` and
:math:`Q_{r i} = \sum_{f: r_f = r} d_m^{\,t_f - r}`,

.. math:: e_{i|j} = \sum_t M_{ti}\, V_j(t)\quad\Longrightarrow\quad E = M^\top V,

one batched matrix product per layer: :math:`O(T\,N_{post}\,N_{pre})` multiply-adds in BLAS
instead of a pair-wise time loop.  ``tests/test_train_lif_spsp.py`` checks it against
:func:`spsp_reference` on random trains with refractoriness.

Trains may be float 0/1 or bool (as :mod:`snnkit.train.encoding` and the compiled forward pass
give them, a quarter of the memory); traces and S-PSPs of bool trains are float32
(:func:`value_type`).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from snnkit.train.lif import NeuronParams


def value_type(spikes: torch.Tensor) -> torch.dtype:
    """The float type of the values computed from ``spikes``: theirs if float, else (bool
    trains) torch's default float type."""
    return spikes.dtype if spikes.is_floating_point() else torch.get_default_dtype()


def free_trace(spikes: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """Free membrane traces V (T + 1, B, N) of spike trains (T, B, N); ``V[0] = 0``.
    Float trains give traces of their type, bool trains (:func:`value_type`) float32.

    ``V[t + 1]`` is the value after step ``t`` (time index shifted by one so that the
    "before anything" value 0 has a row of its own).
    """
    return next(free_trace_chunks(spikes, params, spikes.shape[0] + 1))[1]


def free_trace_chunks(spikes: torch.Tensor, params: NeuronParams, chunk: int
                      ) -> Iterator[tuple[int, torch.Tensor]]:
    """The rows of :func:`free_trace` ``chunk`` at a time: ``(t0, V[t0:t0 + chunk])``.

    Only the recursion's state (ε and the last row) is carried between chunks, so a consumer
    that uses each chunk and drops it needs O(chunk·B·N) memory instead of O(T·B·N).  Two tensor
    ops per step: the trace is run as W = τ_s·V (W ← d_m W + ε) and each chunk scaled once.
    """
    if chunk < 1:
        raise ValueError(f"chunk: expected a positive number of rows, got {chunk}")
    T = spikes.shape[0]
    ds, dm = 1.0 - 1.0 / params.tau_s, 1.0 - 1.0 / params.tau_m
    dtype = value_type(spikes)
    eps = torch.zeros(spikes.shape[1:], dtype=dtype, device=spikes.device)
    prev = torch.zeros_like(eps)  # W of the row before the chunk
    for t0 in range(0, T + 1, chunk):
        t1 = min(t0 + chunk, T + 1)
        out = torch.empty((t1 - t0, *spikes.shape[1:]), dtype=dtype, device=spikes.device)
        lo = max(t0 - 2, 0)
        steps = spikes[lo:max(t1 - 2, 0)].to(dtype)  # the steps these rows read, converted once
        for r in range(t0, t1):  # row r = t + 1 holds V after step t; rows 0 and 1 are 0
            if r < 2:
                out[r - t0] = 0.0
            else:
                torch.add(steps[r - 2 - lo], eps, alpha=ds, out=eps)
                torch.add(eps, prev, alpha=dm, out=out[r - t0])
            prev = out[r - t0]
        prev = prev.clone()
        yield t0, out.mul_(1.0 / params.tau_s)


def readout_entries(spikes: torch.Tensor, params: NeuronParams
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Non-zeros of M = S − Q as (padded time, flat neuron, value), grouped by neuron.

    O(number of spikes): spikes are listed neuron by neuron in time order, so each spike's
    predecessor is the previous entry of the same neuron; its reset row is
    ``prev + refractory`` (padded time), holding :math:`-d_m^{t_f - r_f}`.  Every spike gives
    two entries, (reset row, coefficient) then (spike row, +1): per neuron the rows do not
    decrease, which is the order a CSR matrix wants.
    """
    T = spikes.shape[0]
    dm = 1.0 - 1.0 / params.tau_m
    flat = spikes.reshape(T, -1).T  # (neurons, T): nonzero() lists neuron-major, time-minor
    # nonzero() of a contiguous bool copy is about twice as fast as of the strided float view
    # (bool trains: a plain copy; ``!= 0`` of a strided bool view is 6x slower)
    fired = flat.contiguous() if flat.dtype == torch.bool else (flat != 0).contiguous()
    neuron, t = fired.nonzero(as_tuple=True)
    t = t + 1  # padded time of each spike
    same = torch.zeros_like(neuron, dtype=torch.bool)
    same[1:] = neuron[1:] == neuron[:-1]
    prev = torch.zeros_like(t)
    prev[1:] = t[:-1]
    reset = torch.where(same, prev + params.refractory, torch.zeros_like(t)).clamp_(max=T)
    value = flat[neuron, t - 1].to(value_type(spikes))
    coef = -(dm ** (t - reset).to(value.dtype)) * value
    rows = torch.stack([reset, t], dim=1).reshape(-1)
    return rows, neuron.repeat_interleave(2), torch.stack([coef, value], dim=1).reshape(-1)


def readout_matrix(spikes: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """M = S − Q (T + 1, B, N) as a dense tensor (see module docstring)."""
    T = spikes.shape[0]
    rows, cols, vals = readout_entries(spikes, params)
    M = torch.zeros((T + 1, spikes[0].numel()), dtype=value_type(spikes), device=spikes.device)
    M.index_put_((rows, cols), vals, accumulate=True)
    return M.view(T + 1, *spikes.shape[1:])


def spsp(post: torch.Tensor, pre_trace: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """S-PSPs e (B, N_post, N_pre) from postsynaptic trains (T, B, N_post) and presynaptic
    free traces (T + 1, B, N_pre) from :func:`free_trace` (``params`` are the post layer's).

    :math:`E_b = M_b^\top V_b` for every sample at once as one sparse × dense product: M's
    non-zeros (two per postsynaptic spike) form a block-diagonal CSR matrix of shape
    (B·N_post, (T+1)·B), built directly in row order, that multiplies V viewed as
    ((T+1)·B, N_pre).  Cost ∝ spikes × N_pre instead of T × N_post × N_pre.
    """
    T1, B, n_pre = pre_trace.shape
    n_post = post.shape[2]
    t, neuron, vals = readout_entries(post, params)
    matrix = _readout_csr(t, neuron, vals, B, n_post, T1)
    e = torch.empty((B * n_post, n_pre), dtype=pre_trace.dtype, device=pre_trace.device)
    # addmm_ with beta = 0 (e's contents ignored, no zero fill): 3-4x faster on CPU than
    # ``matrix @ trace`` (MKL, torch 2.13)
    return e.addmm_(matrix, pre_trace.reshape(T1 * B, n_pre), beta=0.0).view(B, n_post, n_pre)


def spsp_from_trains(post: torch.Tensor, pre: torch.Tensor, params: NeuronParams,
                     chunk: int = 64) -> torch.Tensor:
    r""":func:`spsp` from the presynaptic *trains* (T, B, N_pre), the free traces made and
    consumed ``chunk`` rows at a time (:func:`free_trace_chunks`):
    :math:`E = \sum_c M_c^\top V_c` over row blocks :math:`c`.  Equal to
    ``spsp(post, free_trace(pre, params), params)`` but the traces never exist whole, so the
    memory does not grow with T (apart from the trains themselves).
    """
    return spsp_shared_pre([(post, params)], pre, chunk)[0]


def shares_traces(a: NeuronParams, b: NeuronParams) -> bool:
    """Whether two postsynaptic layers can use the same presynaptic free traces (same τ_s, τ_m)."""
    return (a.tau_s, a.tau_m) == (b.tau_s, b.tau_m)


def spsp_shared_pre(posts: list[tuple[torch.Tensor, NeuronParams]], pre: torch.Tensor,
                    chunk: int = 64) -> list[torch.Tensor]:
    """:func:`spsp_from_trains` for several postsynaptic layers (trains, params) fed by the same
    presynaptic trains, e.g. a recurrent layer's own trains, presynaptic to its lateral weights
    and to the layer above: the free traces are made once.  The layers must share τ_s and τ_m
    (the traces depend on nothing else); each readout uses its own refractory steps."""
    params = posts[0][1]
    if not all(shares_traces(params, p) for _, p in posts):
        raise ValueError("spsp_shared_pre: the postsynaptic layers must share tau_s and tau_m")
    B, n_pre = pre.shape[1], pre.shape[2]
    readouts = [(readout_entries(post, p), post.shape[2]) for post, p in posts]
    es = [torch.empty((B * n_post, n_pre), dtype=value_type(pre), device=pre.device)
          for _, n_post in readouts]
    for t0, trace in free_trace_chunks(pre, params, chunk):
        rows = len(trace)
        flat = trace.reshape(rows * B, n_pre)
        for e, ((t, neuron, vals), n_post) in zip(es, readouts, strict=True):
            keep = (t >= t0) & (t < t0 + rows)
            matrix = _readout_csr(t[keep] - t0, neuron[keep], vals[keep], B, n_post, rows)
            # in place, no product temporary; the first block overwrites (beta = 0: no zero fill)
            e.addmm_(matrix, flat, beta=0.0 if t0 == 0 else 1.0)
    return [e.view(B, n_post, n_pre) for e, (_, n_post) in zip(es, readouts, strict=True)]


def _readout_csr(t: torch.Tensor, neuron: torch.Tensor, vals: torch.Tensor, B: int,
                 n_post: int, rows: int) -> torch.Tensor:
    """M as a block-diagonal CSR matrix (B·N_post, rows·B) from :func:`readout_entries`
    (entries grouped by neuron, time non-decreasing within each: CSR's row order)."""
    crow = torch.zeros(B * n_post + 1, dtype=torch.int64, device=vals.device)
    crow[1:] = torch.bincount(neuron, minlength=B * n_post).cumsum(0)
    cols = t * B + neuron // n_post
    return torch.sparse_csr_tensor(crow, cols, vals, (B * n_post, rows * B),
                                   check_invariants=False)


def spsp_reference(post: torch.Tensor, pre: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """The per-pair recursion (slow, float64; the test reference).  Trains (T, B, N)."""
    T, B, n_post = post.shape
    n_pre = pre.shape[2]
    ds, dm = 1.0 - 1.0 / params.tau_s, 1.0 - 1.0 / params.tau_m
    post, pre = post.double(), pre.double()
    e = torch.zeros(B, n_post, n_pre, dtype=torch.float64)
    for b in range(B):
        for i in range(n_post):
            for j in range(n_pre):
                eps = u = 0.0
                prev = 0.0
                count = 0
                for t in range(T):
                    eps = eps * ds + prev
                    u = u * dm + eps / params.tau_s
                    if count > 0:
                        u = 0.0
                        count -= 1
                    if post[t, b, i] > 0:
                        e[b, i, j] += u
                        u = 0.0
                        count = params.refractory
                    prev = float(pre[t, b, j])
    return e
