r"""The post-count derivative :math:`\partial e_{i|j}/\partial o_i` of ST-RSBP, regenerated.

The S-PSP :math:`e_{i|j}` depends on the postsynaptic count :math:`o_i` too: more output spikes
mean more read-outs but shorter integration windows.  The official code takes this derivative from
a table made offline in MATLAB (``other_tools/Effect_Ratio_Generator``): for every pair of counts
:math:`(n_j, n_i)` it averages :math:`e_{i|j}` over random spike trains (spike times uniform on
:math:`[0, T)`, at least ``refractory + 1`` steps apart), fits per presynaptic count a degree-4
polynomial :math:`p_{n_j}(o_i)` and differentiates it analytically:

.. math:: \frac{\partial e_{i|j}}{\partial o_i} \approx p'_{\min(\max(o_j, 1),\,n_{max})}(o_i).

snnkit regenerates that table with the same Monte-Carlo recipe, using the fast S-PSP of
:mod:`snnkit.train.spsp` (so for any τ_m, τ_s, T and refractory period, not only the shipped
64/8/400), and caches it on disk.  Uniform random trains with a minimum gap are drawn as sorted
distinct draws :math:`u_1 < \dots < u_n` from :math:`\{0, .., T - 1 - n\,r\}` shifted by
:math:`k\,r`, which is uniform over all valid trains.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from snnkit.io import atomic_write, cache_dir
from snnkit.train.lif import NeuronParams
from snnkit.train.spsp import free_trace, spsp


def random_trains(counts: torch.Tensor, T: int, refractory: int, trials: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Trains (T, trials, len(counts)) with exactly ``counts[k]`` spikes, gaps > refractory."""
    out = torch.zeros(T, trials, len(counts), dtype=torch.float64)
    for k, n in enumerate(counts.tolist()):
        span = T - n * refractory
        if n == 0:
            continue
        u = torch.rand(trials, span, generator=generator).argsort(dim=1)[:, :n].sort(dim=1).values
        times = u + torch.arange(n) * refractory
        out[:, :, k].scatter_(0, times.T, 1.0)
    return out


def effect_table(params: NeuronParams, T: int, n_max: int = 100, trials: int = 1000,
                 seed: int = 0, cache: bool = True) -> np.ndarray:
    """Polynomial coefficients (n_max, 5), highest power first; row ``n − 1`` for ``o_j = n``."""
    n_max = min(n_max, T // (params.refractory + 1))  # more spikes do not fit in T steps
    key = f"{params.tau_m}-{params.tau_s}-{params.refractory}-{T}-{n_max}-{trials}-{seed}"
    path = cache_dir("effect") / f"p_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npy"
    if cache and path.is_file():
        return np.load(path)
    gen = torch.Generator().manual_seed(seed)
    counts = torch.arange(1, n_max + 1)
    post_counts = torch.arange(1, n_max + 1)
    total = torch.zeros(n_max, n_max, dtype=torch.float64)  # (post count, pre count)
    chunk = max(1, min(trials, 50))
    done = 0
    while done < trials:
        m = min(chunk, trials - done)
        pre = random_trains(counts, T, params.refractory, m, gen)
        post = random_trains(post_counts, T, params.refractory, m, gen)
        e = spsp(post, free_trace(pre, params), params)
        total += e.sum(0)
        done += m
    mean = (total / trials).numpy()  # mean[x - 1, n - 1] = E[e | o_i = x, o_j = n]
    x = post_counts.numpy().astype(float)
    coef = np.stack([np.polyfit(x, mean[:, n], 4) for n in range(n_max)])
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: np.save(fh, coef))
    return coef


def weighted_post_derivative(coef: torch.Tensor, weights: torch.Tensor, o_pre: torch.Tensor,
                             o_post: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_j w_{ij}\,\partial e_{i|j}/\partial o_i` (B, N_post) from the table ``coef``.

    With :math:`p'_n(x) = \sum_k c_{nk} x^k` (k = 0..3) the sum is
    :math:`\sum_k x_i^k\,(W c_{o_j k})_i`: four matrix-vector products per sample instead of a
    (post × pre) tensor.  ``coef`` (n_max, 5) from :func:`effect_table`, ``weights``
    (N_post, N_pre), ``o_pre`` (B, N_pre) clamped to the table's rows, ``o_post`` (B, N_post).
    """
    n_max = coef.shape[0]
    rows = coef[(o_pre.long().clamp(1, n_max) - 1)]  # (B, N_pre, 5): a4 a3 a2 a1 a0
    scale = torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=coef.dtype, device=coef.device)
    deriv = rows[..., :4] * scale  # coefficients of x^3, x^2, x, 1
    per_post = deriv.to(weights.dtype).transpose(1, 2) @ weights.T  # (B, 4, N_post)
    x = o_post.to(weights.dtype)
    return ((per_post[:, 0] * x + per_post[:, 1]) * x + per_post[:, 2]) * x + per_post[:, 3]
