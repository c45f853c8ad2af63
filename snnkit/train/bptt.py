r"""The baseline trainer: backpropagation through time with Norse's surrogate gradient.

Same network, encoding, output targets and regulariser as ST-RSBP; only the gradient differs.
The forward pass (:func:`snnkit.train.network.forward`) runs with Norse's SuperSpike threshold,
whose backward pass replaces :math:`\partial z/\partial v = \delta(v - V_{th})` by
:math:`1/(\alpha|v - V_{th}| + 1)^2`, and autograd unrolls all T steps (memory grows with T).
By default no gradient flows through the reset (``detach_reset``, Norse's recurrent-LIF
convention; see :func:`snnkit.train.lif.lif_step`): with it, a fresh 400-R400 network's
gradients overflow float32 at T = 400.

Losses on the output counts :math:`o_k = \sum_t z_k(t)`:

* ``count_mse`` (default, ST-RSBP's): :math:`E = \tfrac12\sum_k [|o_k - y_k| > m]\,(o_k - y_k)^2`
  with :math:`y_k` = 35 for the label and 5 otherwise, so :math:`\partial E/\partial o = \delta`;
* ``cross_entropy``: softmax cross-entropy of the counts divided by the target gap (30 spikes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snnkit.train.config import BpttConfig
from snnkit.train.lif import lif_step, lif_step_detached_reset
from snnkit.train.network import SpikingNet, forward
from snnkit.train.strsbp import StepResult, StrsbpOptions, output_error, regulariser


def bptt_step(net: SpikingNet, spikes: torch.Tensor, labels: torch.Tensor,
              sample_weight: torch.Tensor, cfg: BpttConfig, opts: StrsbpOptions) -> StepResult:
    """Forward with autograd, backward through time; sets ``.grad`` like :func:`strsbp_step`."""
    net.zero_grad(set_to_none=True)
    step = lif_step_detached_reset if cfg.detach_reset else lif_step
    trains = forward(net, spikes, method="super", alpha=cfg.alpha, step=step)
    counts = trains[-1].sum(0)
    if cfg.loss == "count_mse":
        with torch.no_grad():
            delta, _ = output_error(counts, labels, opts)
        mask = (delta != 0).to(counts.dtype)
        target = torch.full_like(counts, opts.target_false)
        target.scatter_(1, labels[:, None], opts.target_true)
        per_sample = 0.5 * (mask * (counts - target) ** 2).sum(1)
    else:
        gap = max(opts.target_true - opts.target_false, 1.0)
        per_sample = F.cross_entropy(counts / gap, labels, reduction="none")
    (per_sample * sample_weight).mean().backward()
    with torch.no_grad():
        for w in net.weights:
            w.grad += regulariser(w, opts)
        for key, w in net.recurrent.items():
            mask = getattr(net, f"mask_{key}")
            w.grad = (w.grad + regulariser(w, opts, mask)) * mask
        _, cost = output_error(counts.detach(), labels, opts)
        total = torch.stack([t.detach().sum((0, 2)) for t in trains]).sum(0)
    return StepResult(loss=cost, counts=counts.detach(), spikes=total)
