"""Network realisation: excitabilities and fixed in-degree connectivity."""

from __future__ import annotations

import numpy as np
import pytest

from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.network import fixed_indegree, instantiate


@pytest.mark.parametrize(("N", "K"), [(3, 2), (50, 7), (400, 20), (200, 150), (2000, 100)])
def test_fixed_indegree_exact_in_degree_no_autapses_no_multapses(N, K):
    pre, post = fixed_indegree(N, K, np.random.default_rng(1))
    assert np.all(np.bincount(post, minlength=N) == K)
    assert not np.any(pre == post)
    pairs = pre * N + post
    assert np.unique(pairs).size == pairs.size


def test_sources_are_uniform():
    N, K = 100, 10
    pre, _ = fixed_indegree(N, K, np.random.default_rng(2))
    out_degree = np.bincount(pre, minlength=N)
    # binomial-like out-degrees with mean K
    assert out_degree.mean() == K
    assert 1.5 < out_degree.std() < 5


def test_even_and_random_excitabilities():
    even = instantiate(ModelConfig(N=5, K=2, I_spacing="even"))
    assert np.allclose(even.I, [1.0, 1.125, 1.25, 1.375, 1.5])
    rnd = instantiate(ModelConfig(N=1000, K=2, I_spacing="random", seed=4))
    assert np.all(np.diff(rnd.I) >= 0)  # sorted: index = excitability rank
    assert rnd.I.min() >= 1.0 and rnd.I.max() <= 1.5
    assert abs(rnd.I.mean() - 1.25) < 0.02


def test_realisations_depend_on_seed_only():
    a = instantiate(ModelConfig(seed=1))
    b = instantiate(ModelConfig(seed=1, g=9.0, I_spacing="random"))
    c = instantiate(ModelConfig(seed=2))
    assert np.array_equal(a.pre, b.pre) and np.array_equal(a.v0, b.v0)
    assert not np.array_equal(a.pre, c.pre)
    assert np.all((a.v0 >= 0) & (a.v0 < 1))


def test_global_coupling_has_no_synapse_arrays():
    inst = instantiate(ModelConfig(coupling="global", N=10000))
    assert inst.pre is None and inst.n_synapses == 0
    assert inst.config.in_degree == 10000
