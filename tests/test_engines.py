"""Engines agree with each other, and the compiled binary takes its parameters at run time.

* numpy (runtime) and cpp_standalone produce identical spikes for the same network;
* one standalone build reused through run_args (g, delay, I, v0, connectivity)
  gives the same spikes as separate fresh builds, including when the *delay*
  changes (the trap of reference note §7.3), and those spikes differ between
  parameter values (so the test would notice a parameter being ignored);
* the delay reaching the binary is checked against the exact event-driven engine.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.engines import brian_standalone, choose_engine, run_instance
from snnkit.dynamics.network import instantiate

pytestmark = pytest.mark.standalone


def spikes_of(cfg: ModelConfig):
    return run_instance(instantiate(cfg), progress=False).spikes


def same(a, b) -> bool:
    return a.n_spikes == b.n_spikes and np.array_equal(a.i, b.i) and np.allclose(a.t, b.t)


@pytest.mark.parametrize("coupling", ["sparse", "global"])
@pytest.mark.parametrize("pulse", ["delta", "alpha"])
def test_numpy_and_standalone_identical(coupling, pulse):
    base = ModelConfig(N=60, K=6, coupling=coupling, pulse=pulse, g=3.0, delay=1.0,
                       transient=100.0, duration=300.0, alpha=0.5)
    a = spikes_of(base.replace(engine="numpy"))
    b = spikes_of(base.replace(engine="cpp_standalone"))
    assert a.n_spikes > 100
    assert same(a, b)


def test_run_args_reuse_equals_fresh_builds_including_delay():
    base = ModelConfig(N=50, K=5, g=2.0, delay=1.0, transient=50.0, duration=300.0,
                       engine="cpp_standalone")
    variants = [dict(g=2.0, delay=1.0), dict(g=4.0, delay=1.0), dict(g=4.0, delay=3.0),
                dict(g=4.0, delay=0.0), dict(g=4.0, delay=3.0, I_spacing="random", seed=5),
                dict(g=1.0, delay=0.5, tau_m=20.0)]
    keys = set()
    reused = []
    for v in variants:
        cfg = base.replace(**v)
        keys.add(brian_standalone.structure_key(cfg))
        reused.append(spikes_of(cfg))
    assert len(keys) == 1  # one structure: every run went through the same binary
    for v, sp in zip(variants, reused, strict=True):
        fresh = spikes_of(base.replace(engine="numpy", **v))
        assert same(sp, fresh), v
    # the parameters matter: no two variants give the same spikes
    for a in range(len(reused)):
        for b in range(a + 1, len(reused)):
            assert not same(reused[a], reused[b])


def test_delay_through_run_args_matches_exact_engine():
    # two neurons inhibiting each other (K=1); the spike times reveal the arrival times
    found = []
    for delay in (0.5, 2.0, 4.0):
        cfg = ModelConfig(N=2, K=1, g=0.4, delay=delay, I_low=1.3, I_high=1.5, transient=0.0,
                          duration=200.0, dt=0.01, engine="cpp_standalone")
        sa = spikes_of(cfg)
        ex = spikes_of(cfg.replace(engine="exact"))
        assert np.bincount(ex.i).min() > 5  # both neurons keep firing and interacting
        assert sa.n_spikes == ex.n_spikes
        assert np.max(np.abs(sa.t - ex.t)) < 1e-6
        found.append(ex.t)
    # the delay matters: the three exact runs differ
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert found[a].size != found[b].size or not np.allclose(found[a], found[b])


def test_structure_key_changes_only_with_structure():
    base = ModelConfig()
    same_keys = [base.replace(g=9.0), base.replace(delay=3.0), base.replace(seed=3),
                 base.replace(tau_m=20.0), base.replace(alpha=2.0), base.replace(I_high=2.0)]
    assert {brian_standalone.structure_key(c) for c in same_keys} == {
        brian_standalone.structure_key(base)}
    for other in (base.replace(N=401), base.replace(K=21), base.replace(dt=0.05),
                  base.replace(coupling="global"), base.replace(pulse="alpha"),
                  base.replace(duration=1000.0), base.replace(t_ref=1.0)):
        assert brian_standalone.structure_key(other) != brian_standalone.structure_key(base)


def test_auto_engine():
    assert choose_engine(ModelConfig()) == "event"  # delta pulses, no t_ref
    assert choose_engine(ModelConfig(pulse="alpha")) == "numpy"
    assert choose_engine(ModelConfig(t_ref=1.0)) == "numpy"
    assert choose_engine(ModelConfig(pulse="alpha", N=10000, K=100,
                                     duration=20000.0)) == "cpp_standalone"
    # large networks: Brian2's vectorised steps beat the event loop's O(N) work per spike
    assert choose_engine(ModelConfig(N=10000, K=100, duration=20000.0)) == "cpp_standalone"
    assert choose_engine(ModelConfig(N=3000, coupling="global", duration=1000.0)) == "numpy"
    assert choose_engine(ModelConfig(engine="event")) == "event"
    assert choose_engine(ModelConfig(engine="exact")) == "exact"
