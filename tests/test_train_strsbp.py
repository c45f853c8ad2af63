"""ST-RSBP's backward pass: direction against finite differences, and its pieces by hand."""

from __future__ import annotations

import pytest
import torch

from snnkit.errors import ConfigError
from snnkit.train.effect import effect_table
from snnkit.train.lif import NeuronParams
from snnkit.train.network import SpikingNet, forward, parse_layers
from snnkit.train.spsp import free_trace, spsp
from snnkit.train.strsbp import (
    StrsbpOptions,
    dead_target_spikes,
    error_below,
    lateral_factor,
    output_error,
    ratio,
    recurrent_matrix,
    strsbp_step,
)


def _tiny_net() -> SpikingNet:
    params = [NeuronParams(64.0, 8.0, 2.0, 2)] * 3
    net = SpikingNet(40, parse_layers("16-R12"), 3, params, recurrent="dense", seed=1,
                     inhibition=0.0)
    with torch.no_grad():
        for w in net.weights:
            w.mul_(0.5).add_(0.15)
    return net


def test_gradient_points_like_finite_differences() -> None:
    """Cosine between ST-RSBP's gradient and central differences of the mean count loss.

    The count loss of a spiking network is piecewise constant in the weights; averaged over
    400 input trains (the same trains for every evaluation) and differenced with a step of
    0.5 it becomes the smooth, rate-like loss that ST-RSBP's count-level chain rule
    approximates.  Compared along 12 random unit directions over all weights.
    """
    torch.set_num_threads(1)
    T, n = 200, 400
    net = _tiny_net()
    table = torch.as_tensor(effect_table(net.params[0], T, trials=200, seed=3),
                            dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(T, n, 40, generator=g) < torch.rand(n, 40, generator=g) * 0.1).float()
    labels = torch.randint(0, 3, (n,), generator=g)
    opts = StrsbpOptions(target_true=20.0, target_false=5.0, margin=0.0, reg_lambda=0.0,
                         dead_target=False, lateral_factor=False)

    def half_loss() -> float:
        with torch.no_grad():
            return 0.5 * float(output_error(forward(net, x)[-1].sum(0), labels, opts)[1].mean())

    strsbp_step(net, x, labels, torch.ones(n), table, opts)
    params = list(net.parameters())
    grad = torch.cat([p.grad.flatten() for p in params])
    fd, proj = [], []
    for _ in range(12):
        direction = torch.randn(grad.numel(), generator=g)
        direction /= direction.norm()
        parts = torch.split(direction, [p.numel() for p in params])
        with torch.no_grad():
            for p, d in zip(params, parts, strict=True):
                p.add_(0.5 * d.view_as(p))
            up = half_loss()
            for p, d in zip(params, parts, strict=True):
                p.sub_(1.0 * d.view_as(p))
            down = half_loss()
            for p, d in zip(params, parts, strict=True):
                p.add_(0.5 * d.view_as(p))
        fd.append((up - down) / 1.0)
        proj.append(float(grad @ direction))
    fd_t, proj_t = torch.tensor(fd), torch.tensor(proj)
    cosine = float(fd_t @ proj_t / (fd_t.norm() * proj_t.norm()))
    assert cosine > 0.5, (cosine, fd, proj)


def test_output_error_margin_and_targets() -> None:
    counts = torch.tensor([[40.0, 3.0, 12.0], [30.0, 5.0, 0.0]])
    delta, cost = output_error(counts, torch.tensor([0, 2]), StrsbpOptions())
    # label 0: 40 vs 35 is inside the margin (|5| is not > 5); 12 vs 5 is 7 over
    assert delta.tolist() == [[0.0, 0.0, 7.0], [25.0, 0.0, -35.0]]
    assert cost.tolist() == [49.0, 25.0**2 + 35.0**2]


def test_error_below_equals_the_ratio_tensor_product() -> None:
    """The fused error equals Σ_i y_i w_ij r_ij with the explicit ratio tensor, silent neurons
    on both sides included."""
    gen = torch.Generator().manual_seed(3)
    params = NeuronParams(16.0, 4.0, 1.0, 2)
    pre = (torch.rand(60, 4, 9, generator=gen) < 0.15).float()
    post = (torch.rand(60, 4, 7, generator=gen) < 0.1).float()
    pre[:, 0, :3] = 0.0    # silent presynaptic neurons
    post[:, 1, :2] = 0.0   # silent postsynaptic neurons
    e = spsp(post, free_trace(pre, params), params)
    o_post, o_pre = post.sum(0), pre.sum(0)
    y, w = torch.randn(4, 7, generator=gen), torch.randn(7, 9, generator=gen)
    for opts in (StrsbpOptions(), StrsbpOptions(effect_ratio=False),
                 StrsbpOptions(ratio_fallback=0.2)):
        want = torch.einsum("bi,bij->bj", y, w * ratio(e, o_post, o_pre, opts))
        got = error_below(y, w, e, o_post, o_pre, opts)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_recurrent_matrix_equals_its_definition() -> None:
    """L built in one buffer equals diag(D) − (W^r ∘ r)/V with its diagonal removed, built
    from the explicit ratio tensor, silent neurons included."""
    gen = torch.Generator().manual_seed(4)
    params = NeuronParams(16.0, 4.0, 1.0, 2)
    trains = (torch.rand(60, 3, 8, generator=gen) < 0.12).float()
    trains[:, 0, :2] = 0.0  # silent neurons
    e = spsp(trains, free_trace(trains, params), params)
    o = trains.sum(0)
    w, diag = torch.randn(8, 8, generator=gen), torch.rand(3, 8, generator=gen) + 0.5
    for opts in (StrsbpOptions(), StrsbpOptions(effect_ratio=False)):
        r = ratio(e, o, o, opts) * w / 1.5
        want = torch.diag_embed(diag) - (r - torch.diag_embed(torch.diagonal(r, 0, 1, 2)))
        torch.testing.assert_close(recurrent_matrix(e, o, w, diag, 1.5, opts), want)


def test_dead_target_gets_evenly_spaced_spikes() -> None:
    train = torch.zeros(400, 2, 3)
    train[5, 1, 2] = 1.0
    out = dead_target_spikes(train, torch.tensor([1, 2]), StrsbpOptions())
    assert out[:, 0, 1].nonzero().squeeze(1).tolist() == list(range(11, 400, 11))  # 36 spikes
    assert torch.equal(out[:, 1], train[:, 1])  # the target fired: unchanged
    assert out[:, 0, 0].sum() == 0


def test_lateral_factor_by_hand() -> None:
    params = NeuronParams(16.0, 4.0, 1.0, 0)
    g = torch.Generator().manual_seed(2)
    train = (torch.rand(100, 1, 3, generator=g) < 0.1).float()
    train[:, 0, 2] = 0.0
    counts = train.sum(0)
    e = spsp(train, free_trace(train, params), params)
    lam = lateral_factor(e, counts, torch.tensor([2]), params.v_th, 1.0, StrsbpOptions())
    r = torch.where((counts[0][:, None] == 0) | (counts[0][None, :] == 0), 0.5,
                    e[0] / counts[0].clamp(min=1)[None, :])
    d = torch.tensor([1.0, 1.0, 1.0])  # neurons 0, 1 fire; 2 is the target
    for j in range(3):
        s = sum(r[l, j] * d[l] * r[j, l] * d[j] for l in range(3) if l != j)
        torch.testing.assert_close(lam[0, j], 1.0 / (1.0 - s))


def test_step_sets_masked_finite_gradients() -> None:
    params = [NeuronParams(64.0, 8.0, 5.0, 2)] * 3
    net = SpikingNet(30, parse_layers("20-R20"), 4, params, recurrent="grid", seed=0)
    table = torch.as_tensor(effect_table(params[0], 100, trials=50), dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(100, 6, 30, generator=g) < 0.2).float()
    res = strsbp_step(net, x, torch.tensor([0, 1, 2, 3, 0, 1]), torch.ones(6), table,
                      StrsbpOptions())
    assert res.loss.shape == (6,) and res.counts.shape == (6, 4)
    mask = net.mask_1
    assert torch.all(net.recurrent["1"].grad[mask == 0] == 0)
    assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in net.parameters())


def test_bool_trains_give_the_float_trains_gradients() -> None:
    """The encoder's bool trains and the compiled forward's bool trains: the same loss, counts
    and gradients as float 0/1 trains through the eager forward pass."""
    from snnkit.train.network import compiled_forward

    params = [NeuronParams(64.0, 8.0, 5.0, 2)] * 3
    table = torch.as_tensor(effect_table(params[0], 100, trials=50), dtype=torch.float32)
    g = torch.Generator().manual_seed(4)
    x = torch.rand(100, 5, 30, generator=g) < 0.2
    labels = torch.tensor([0, 1, 2, 3, 0])
    grads = []
    for spikes, fwd in ((x.float(), None), (x, compiled_forward)):
        net = SpikingNet(30, parse_layers("20-R20"), 4, params, recurrent="grid", seed=0)
        res = strsbp_step(net, spikes, labels, torch.ones(5), table, StrsbpOptions(), fwd)
        grads.append(([p.grad for p in net.parameters()], res))
    (g_float, r_float), (g_bool, r_bool) = grads
    assert torch.equal(r_float.counts, r_bool.counts) and r_bool.counts.dtype == torch.float32
    torch.testing.assert_close(r_bool.loss, r_float.loss)
    for a, b in zip(g_bool, g_float, strict=True):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_dale_init_signs_lateral_weights_by_presynaptic_type() -> None:
    """``recurrent_init = "dale"``: the same grid, each existing lateral weight ±a by the
    presynaptic neuron's label (official first commit); feed-forward weights unchanged; refused
    without the grid's labels."""
    params = [NeuronParams(64.0, 8.0, 10.0, 2)] * 2
    layers = parse_layers("R64")
    uni = SpikingNet(30, layers, 4, params, recurrent="grid", seed=3, init_scale=0.5)
    dale = SpikingNet(30, layers, 4, params, recurrent="grid", seed=3, init_scale=0.5,
                      recurrent_init="dale")
    mask = dale.mask_0.bool()
    assert torch.equal(mask, uni.mask_0.bool()) and mask.any()
    w = dale.recurrent["0"].detach()
    assert torch.equal(w.abs(), 0.5 * mask.float())
    col_sign = torch.where(mask, w, 0.0).sum(0).sign()        # one sign per presynaptic column
    assert torch.equal(w, col_sign[None, :] * 0.5 * mask.float())
    assert 0.6 < (col_sign[mask.any(0)] > 0).float().mean() < 0.95   # ~80 % excitatory
    assert torch.equal(dale.weights[0], uni.weights[0])
    with pytest.raises(ConfigError, match=r"network\.recurrent_init"):
        SpikingNet(30, layers, 4, params, recurrent="dense", recurrent_init="dale")
