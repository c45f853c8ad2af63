"""The Norse-based forward pass equals the paper's recursion; the fast S-PSP equals the pairs."""

from __future__ import annotations

import pytest
import torch

from snnkit.train.lif import NeuronParams, compiled_lif_steps, reference_lif
from snnkit.train.network import (
    SPARSE_DRIVE_MIN_WIDTH,
    ChunkedDrive,
    SpikingNet,
    compiled_forward,
    drive,
    forward,
    layer_forward,
    parse_layers,
)
from snnkit.train.spsp import (
    free_trace,
    spsp,
    spsp_from_trains,
    spsp_reference,
    spsp_shared_pre,
)


def _random_inputs(T: int, B: int, N: int, seed: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pre = (torch.rand(T, B, 30, generator=g) < 0.15).double()
    w = (torch.rand(N, 30, generator=g, dtype=torch.float64) * 2 - 1) * scale
    return pre @ w.T


@pytest.mark.parametrize("refractory", [0, 2, 5])
@pytest.mark.parametrize("lateral", [False, True])
def test_norse_forward_equals_paper_recursion(refractory: int, lateral: bool) -> None:
    params = NeuronParams(tau_m=64.0, tau_s=8.0, v_th=4.0, refractory=refractory)
    current = _random_inputs(300, 3, 12, seed=refractory, scale=6.0)
    lat = None
    if lateral:
        g = torch.Generator().manual_seed(7)
        lat = (torch.rand(12, 12, generator=g, dtype=torch.float64) * 2 - 1) * 4.0
        lat.fill_diagonal_(0.0)
    fast = layer_forward(current, params, lat)
    ref = reference_lif(current, params, lat)
    assert fast.sum() > 100  # the layer is active
    assert torch.equal(fast, ref)


@pytest.mark.parametrize("width", [SPARSE_DRIVE_MIN_WIDTH - 1, SPARSE_DRIVE_MIN_WIDTH + 50])
def test_sparse_drive_equals_the_dense_product(width: int) -> None:
    g = torch.Generator().manual_seed(width)
    pre = (torch.rand(90, 6, 130, generator=g) < 0.05).float()
    w = torch.randn(width, 130, generator=g)
    with torch.no_grad():
        fast = drive(pre, w)
    assert fast.shape == (90, 6, width)
    torch.testing.assert_close(fast, pre @ w.T, rtol=1e-5, atol=1e-5)
    assert drive(pre, w.requires_grad_()).requires_grad  # autograd: the dense product


def test_compiled_step_gives_the_same_spikes() -> None:
    """torch.compile'd LIF steps: the paper's recursion spike for spike, and the eager forward
    pass of a whole recurrent network for two batch sizes (static shapes: a block kernel per
    batch size; T = 300 ends in a shorter, eager block)."""
    params = NeuronParams(tau_m=64.0, tau_s=8.0, v_th=4.0, refractory=2)
    current = _random_inputs(300, 3, 12, seed=2, scale=6.0)
    g = torch.Generator().manual_seed(7)
    lat = (torch.rand(12, 12, generator=g, dtype=torch.float64) * 2 - 1) * 4.0
    lat.fill_diagonal_(0.0)
    with torch.no_grad():
        fast = layer_forward(current, params, lat, steps=compiled_lif_steps())
    assert fast.sum() > 100
    assert torch.equal(fast, reference_lif(current, params, lat))
    layers = parse_layers("40-R30")
    net = SpikingNet(50, layers, 5, [NeuronParams(v_th=v) for v in (2.0, 2.0, 1.5)], seed=1)
    for batch in (4, 3):
        spikes = (torch.rand(120, batch, 50, generator=g) < 0.2).float()
        with torch.no_grad():
            eager = forward(net, spikes)
        compiled = compiled_forward(net, spikes)
        assert all(t.sum() > 0 for t in eager)
        for a, b in zip(compiled, eager, strict=True):
            assert a.dtype == torch.bool and torch.equal(a, b)
    # the currents made chunk by chunk (ChunkedDrive): chunk edges inside the sequence, a last
    # short block, bool input trains
    spikes = torch.rand(150, 3, 50, generator=g) < 0.2
    with torch.no_grad():
        eager = forward(net, spikes.float())
    for a, b in zip(compiled_forward(net, spikes), eager, strict=True):
        assert torch.equal(a, b)
    chunked = ChunkedDrive(spikes, net.weights[0], chunk=64)
    with torch.no_grad():
        whole = drive(spikes, net.weights[0])
        torch.testing.assert_close(chunked[64:72], whole[64:72], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(chunked[144:160], whole[144:], rtol=1e-6, atol=1e-6)
    with pytest.raises(IndexError, match="cross a chunk boundary"):
        chunked[60:68]


def test_compiled_step_falls_back_when_compiling_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kw: object) -> object:
        def run(*_a: object) -> None:
            raise RuntimeError("no C++ compiler\nmore detail")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    steps = compiled_lif_steps.__wrapped__()
    params = NeuronParams(tau_m=64.0, tau_s=8.0, v_th=4.0, refractory=2)
    current = _random_inputs(50, 2, 12, seed=1, scale=6.0)
    with pytest.warns(RuntimeWarning, match=r"failed \(RuntimeError: no C\+\+ compiler\); running"):
        fast = layer_forward(current, params, steps=steps)
    assert torch.equal(fast, layer_forward(current, params))


@pytest.mark.parametrize("refractory", [0, 2])
def test_fast_spsp_equals_pair_recursion(refractory: int) -> None:
    params = NeuronParams(tau_m=16.0, tau_s=4.0, v_th=1.0, refractory=refractory)
    g = torch.Generator().manual_seed(3)
    post = (torch.rand(120, 2, 5, generator=g) < 0.12).double()
    # a post neuron cannot fire while refractory: remove spikes that would
    for b in range(2):
        for i in range(5):
            blocked = 0
            for t in range(120):
                if blocked > 0:
                    post[t, b, i] = 0.0
                    blocked -= 1
                elif post[t, b, i] > 0:
                    blocked = refractory
    post[:, 0, 4] = 0.0  # one silent neuron
    pre = (torch.rand(120, 2, 7, generator=g) < 0.2).double()
    fast = spsp(post, free_trace(pre, params), params)
    ref = spsp_reference(post, pre, params)
    assert fast.abs().max() > 1.0
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    assert torch.all(fast[0, 4] == 0)
    # the chunked form (traces made and dropped block by block), chunk edges anywhere
    for chunk in (1, 2, 7, 64, 121, 500):
        torch.testing.assert_close(spsp_from_trains(post, pre, params, chunk), ref,
                                   rtol=1e-10, atol=1e-10)
    # bool trains (the encoder's and the compiled forward's): float32 values, same S-PSPs
    e_bool = spsp_from_trains(post.bool(), pre.bool(), params, 16)
    assert e_bool.dtype == torch.float32
    torch.testing.assert_close(e_bool, spsp_from_trains(post.float(), pre.float(), params, 16),
                               rtol=0, atol=0)


def test_shared_traces_give_each_layer_its_own_spsp() -> None:
    g = torch.Generator().manual_seed(11)
    pre = (torch.rand(90, 2, 6, generator=g) < 0.2).double()
    a = NeuronParams(tau_m=16.0, tau_s=4.0, v_th=1.0, refractory=0)
    b = NeuronParams(tau_m=16.0, tau_s=4.0, v_th=3.0, refractory=0)
    post_a = (torch.rand(90, 2, 3, generator=g) < 0.1).double()
    post_b = (torch.rand(90, 2, 5, generator=g) < 0.1).double()
    e_a, e_b = spsp_shared_pre([(post_a, a), (post_b, b)], pre, chunk=16)
    torch.testing.assert_close(e_a, spsp_reference(post_a, pre, a), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(e_b, spsp_reference(post_b, pre, b), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="share tau_s and tau_m"):
        spsp_shared_pre([(post_a, a), (post_b, b._replace(tau_m=20.0))], pre)
