"""The BPTT baseline: same forward spikes as ST-RSBP's, gradients through time."""

from __future__ import annotations

import torch

from snnkit.train.bptt import bptt_step
from snnkit.train.config import BpttConfig
from snnkit.train.lif import NeuronParams
from snnkit.train.network import SpikingNet, forward, parse_layers
from snnkit.train.strsbp import StrsbpOptions


def _net() -> SpikingNet:
    params = [NeuronParams(64.0, 8.0, 4.0, 2)] * 3
    return SpikingNet(30, parse_layers("20-R20"), 4, params, recurrent="grid", seed=0)


def test_surrogate_forward_spikes_equal_the_no_grad_forward() -> None:
    net = _net()
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(80, 5, 30, generator=g) < 0.2).float()
    with torch.no_grad():
        plain = forward(net, x)
    graded = forward(net, x, method="super")
    assert graded[-1].requires_grad
    for a, b in zip(plain, graded, strict=True):
        assert torch.equal(a, b.detach())


def test_bptt_gradient_flows_to_every_layer_and_lowers_the_loss() -> None:
    torch.manual_seed(0)
    net = _net()
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(80, 16, 30, generator=g) < 0.2).float()
    y = torch.randint(0, 4, (16,), generator=g)
    opts = StrsbpOptions(target_true=10.0, target_false=2.0, margin=1.0, reg_lambda=0.0)
    cfg = BpttConfig(loss="count_mse")
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    first = bptt_step(net, x, y, torch.ones(16), cfg, opts)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert torch.all(net.recurrent["1"].grad[net.mask_1 == 0] == 0)
    for _ in range(15):
        opt.step()
        last = bptt_step(net, x, y, torch.ones(16), cfg, opts)
    assert float(last.loss.mean()) < 0.85 * float(first.loss.mean())
