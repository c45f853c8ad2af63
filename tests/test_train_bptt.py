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


def test_detached_reset_step_equals_norses_recurrent_lif_step() -> None:
    """Values and gradients of lif_step(detach_reset=True) = Norse's recurrent ``lif_step``
    (which detaches the reset) fed through identity input weights, no recurrence."""
    from norse.torch.functional.lif import LIFState as NorseState
    from norse.torch.functional.lif import lif_step as norse_lif_step

    from snnkit.train.lif import initial_state, lif_step

    params = NeuronParams(64.0, 8.0, 1.0, 0)
    p = params.norse(method="super", alpha=100.0)
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(60, 3, 5, generator=g) * 0.9).requires_grad_()
    eye, zero = torch.eye(5), torch.zeros(5, 5)
    ours, state = [], initial_state((3, 5))
    ref, ns = [], NorseState(torch.zeros(3, 5), torch.zeros(3, 5), torch.zeros(3, 5))
    for t in range(60):
        z, state = lif_step(x[t], state, params, p, detach_reset=True)
        ours.append(z * (t + 1) + state.v)
        z2, ns = norse_lif_step(x[t], ns, eye, zero, p, dt=1.0)
        ref.append(z2 * (t + 1) + ns.v)
    a, b = torch.stack(ours), torch.stack(ref)
    assert torch.equal(a, b) and a.detach().sum() > 0
    ga, = torch.autograd.grad(a.sum(), x)
    gb, = torch.autograd.grad(b.sum(), x)
    torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-6)
    # without detaching, the same values but another gradient
    gc, = torch.autograd.grad(torch.stack(_undetached(x, params, p)).sum(), x)
    assert not torch.allclose(gc, ga)


def _undetached(x: torch.Tensor, params: NeuronParams, p) -> list[torch.Tensor]:
    from snnkit.train.lif import initial_state, lif_step

    out, state = [], initial_state(x.shape[1:])
    for t in range(len(x)):
        z, state = lif_step(x[t], state, params, p)
        out.append(z * (t + 1) + state.v)
    return out
