r"""A bit-accurate emulator of Lava's fixed-point CUBA-LIF with Dense synapses, batched in torch.

Written for speed and batch evaluation; it reproduces ``PyLifModelBitAcc`` and
``PyDenseModelBitAcc`` (lava-nc 0.10.0, ``Loihi2SimCfg(select_tag='fixed_pt')``), which are
one network at a time in Python.  Per step, for every layer, with
:math:`\mathrm{rs}(x) = \mathrm{sign}(x)\,(|x| \gg 12)` (rounding toward zero):

.. math::
    u &\leftarrow \mathrm{wrap}_{24}\big(\mathrm{rs}(u\,(4096 - \mathrm{iDecay}))
         + (a_{in} \ll 6)\big)\\
    v &\leftarrow \mathrm{clip}_{\pm(2^{23}-1)}\big(\mathrm{rs}(v\,(4096 - \mathrm{vDecay})) + u
         + (b \ll 6)\big)\\
    s &= [v > \mathrm{vThMant} \ll 6],\qquad v \leftarrow 0 \text{ where } s

(Lava's ``du = iDecay − 1`` plus its offset of 1 give the factor 4096 − iDecay.)  The Dense
synapse delivers at step t + 1 what it accumulated from the spikes of step t (one step of latency
per layer), plus ``delay`` extra steps per synapse (``DelayDense``); recurrent weights
(``dense_rec``) take the layer's own spikes through the same one-step buffer.  Weights are the
exported even 8-bit mantissas, for which NetX's weight exponent is lossless, so
:math:`a_{in} = \sum_j w_{ij} s_j` exactly (computed in float64: exact below 2^53).

Step indexing equals snnkit's float models: input spikes of step t reach layer 1 at step t + 1.
Lava's step ``t + 1`` corresponds to index ``t`` here.

:func:`simulate_float` is the same network in floating point without rounding, the reference
for the "fine quantization" limit.
"""

from __future__ import annotations

import torch

from snnkit.errors import SnnkitError
from snnkit.hardware.description import NetworkDescription
from snnkit.hardware.fixed_point import IntLayer, IntNetwork

_STATE = 1 << 23
_EXACT32 = float(1 << 24)


def _delayed_weights(w: torch.Tensor, delay: torch.Tensor | None) -> list[tuple[int, torch.Tensor]]:
    """(extra delay, weight matrix holding only the synapses with that delay)."""
    if delay is None:
        return [(0, w)]
    return [(int(d), torch.where(delay == d, w, torch.zeros_like(w)))
            for d in torch.unique(delay).tolist()]


def _layer_int(x: torch.Tensor, layer: IntLayer, chunk: int = 256) -> torch.Tensor:
    r"""Spikes (T, B, N) of one integer layer for presynaptic spikes ``x`` (T, B, N_in).

    Speed without changing a bit: the synaptic sums are float32 matrix products, exact because
    every partial sum is an integer below :math:`2^{24}` (checked); the state runs in float64,
    where every value is an integer below :math:`2^{53}`, so :math:`u\,(4096-d)/4096` is exact
    and ``trunc`` is the shift rounding toward zero; the batch is run in chunks of ``chunk``
    samples so that the synaptic input of a chunk, not of the whole batch, is held in memory.
    """
    T, B, _ = x.shape
    dev = x.device
    w = torch.as_tensor(layer.weight, dtype=torch.float32, device=dev)
    w_rec = (None if layer.weight_rec is None
             else torch.as_tensor(layer.weight_rec, dtype=torch.float32, device=dev))
    for m in (w, w_rec):
        if m is not None and float(m.abs().sum(1).max()) >= _EXACT32:
            raise SnnkitError("emulator: a neuron's summed |weights| reach 2^24; float32 sums "
                              "would not be exact")
    delay = None if layer.delay is None else torch.as_tensor(layer.delay, device=dev)
    groups = _delayed_weights(w, delay)
    depth = 1 + max(d for d, _ in groups)
    bias = (torch.zeros(layer.n_out, dtype=torch.float64, device=dev) if layer.bias is None
            else torch.as_tensor(layer.bias, dtype=torch.float64, device=dev) * 64.0)
    cu, cv = (4096 - layer.i_decay) / 4096.0, (4096 - layer.v_decay) / 4096.0
    vth = float(layer.vth_mant << 6)
    top = float(_STATE - 1)
    out = torch.zeros(T, B, layer.n_out, dtype=torch.int8, device=dev)
    for b0 in range(0, B, chunk):
        sl = slice(b0, min(b0 + chunk, B))
        # feed-forward input (<< 6) of every step, delivered 1 + d steps after the spike
        xs = x[:, sl].to(torch.float32)
        a_ff = torch.zeros(T + depth, xs.shape[1], layer.n_out, dtype=torch.float64,
                           device=dev)
        for d, wd in groups:
            a_ff[1 + d:T + 1 + d] += (xs @ wd.T).to(torch.float64)
        a_ff *= 64.0
        u = torch.zeros(xs.shape[1], layer.n_out, dtype=torch.float64, device=dev)
        v = torch.zeros_like(u)
        a_rec = None
        for t in range(T):
            u.mul_(cu).trunc_().add_(a_ff[t])
            if a_rec is not None:
                u.add_(a_rec)
            if float(u.abs().max()) >= _STATE:  # 24-bit wrap (rare)
                u = torch.remainder(u + _STATE, 2 * _STATE) - _STATE
            v.mul_(cv).trunc_().add_(u).add_(bias).clamp_(-top, top)
            s = v > vth
            v.masked_fill_(s, 0.0)
            out[t, sl] = s
            if w_rec is not None:
                a_rec = (s.to(torch.float32) @ w_rec.T).to(torch.float64).mul_(64.0)
    return out


@torch.no_grad()
def emulate(net: IntNetwork, spikes: torch.Tensor, chunk: int = 256) -> list[torch.Tensor]:
    """Spikes (T, B, N_k) of every layer for input spikes (T, B, n_in) (0/1), ``chunk``
    samples at a time through the whole network."""
    if spikes.shape[1] == 0:
        return [torch.zeros(spikes.shape[0], 0, layer.n_out, dtype=torch.int8)
                for layer in net.layers]
    parts: list[list[torch.Tensor]] = []
    for b0 in range(0, spikes.shape[1], chunk):
        x, mine = spikes[:, b0:b0 + chunk], []
        for layer in net.layers:
            x = _layer_int(x, layer, chunk)
            mine.append(x)
        parts.append(mine)
    return [torch.cat(layer_parts, dim=1) for layer_parts in zip(*parts, strict=True)]


@torch.no_grad()
def simulate_float(desc: NetworkDescription, spikes: torch.Tensor,
                   peaks: list[float] | None = None) -> list[torch.Tensor]:
    """The float network of a description (no rounding, no wrap), same indexing as
    :func:`emulate`; refractory steps are honoured.  ``peaks``, if given, receives the largest
    |u| of each layer (for the quantizer's calibration)."""
    out, x = [], spikes.to(torch.float64)
    for layer in desc.layers:
        T, B, _ = x.shape
        n = layer.neuron
        w = torch.as_tensor(layer.weight, dtype=torch.float64)
        a_ff = torch.zeros(T + 1, B, layer.n_out, dtype=torch.float64)
        a_ff[1:] = x @ w.T
        w_rec = None if layer.weight_rec is None else torch.as_tensor(layer.weight_rec)
        bias = 0.0 if layer.bias is None else torch.as_tensor(layer.bias, dtype=torch.float64)
        u = torch.zeros(B, layer.n_out, dtype=torch.float64)
        v, a_rec, refrac = u.clone(), u.clone(), u.clone()
        s_all = torch.zeros(T, B, layer.n_out, dtype=torch.float64)
        peak = 0.0
        for t in range(T):
            u = u * (1 - n.current_decay) + a_ff[t] + a_rec
            peak = max(peak, float(u.abs().max()))
            v = v * (1 - n.voltage_decay) + u + bias
            v = v.masked_fill(refrac > 0, 0.0)
            s = (v > n.threshold).to(torch.float64)
            v = v.masked_fill(s > 0, 0.0)
            refrac = (refrac - 1).clamp_(min=0) + n.refractory * s
            s_all[t] = s
            if w_rec is not None:
                a_rec = s @ w_rec.to(torch.float64).T
        out.append(s_all)
        if peaks is not None:
            peaks.append(peak)
        x = s_all
    return out
