"""The compiled event-driven engine (``engine = "event"``) against the Python ``exact`` engine.

* identical spike trains (same neurons in the same order, times equal to float
  rounding) on small networks: global and sparse coupling, with and without
  delay, several seeds, through the config/engine path and through the function
  with sub-threshold neurons, negative v0, multapses, ties and g = 0;
* recording window, validation and the max_events guard as in ``exact``;
* what the engine does not run (alpha pulses, t_ref > 0) is refused by the config
  in one line that names the key and the engines that can, and the CLI writes
  nothing;
* ``auto`` and sweeps pick it for delta-pulse models.

Refractoriness is not tested against ``exact`` because neither engine supports it.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from snnkit.cli import app
from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.engines import choose_engine, run_instance
from snnkit.dynamics.engines.event import simulate_event
from snnkit.dynamics.exact import simulate_exact
from snnkit.dynamics.network import instantiate
from snnkit.errors import ConfigError

TAU = 10.0
#: NumPy's vectorised exp/log (exact) and libm's scalar ones (event) may differ by one
#: ulp, so times agree to rounding, not always bit for bit (ms).
ATOL = 1e-11


def assert_identical(a, b):
    assert (a.N, a.t_start, a.t_stop) == (b.N, b.t_start, b.t_stop)
    assert a.n_spikes == b.n_spikes
    np.testing.assert_array_equal(a.i, b.i)
    np.testing.assert_allclose(a.t, b.t, rtol=0, atol=ATOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("delay", [0.0, 1.0, 2.5])
@pytest.mark.parametrize("coupling", ["global", "sparse"])
def test_identical_to_exact_engine(coupling, delay, seed):
    cfg = ModelConfig(N=60, K=6, coupling=coupling, g=3.0, delay=delay, I_spacing="random",
                      seed=seed, transient=100.0, duration=400.0)
    inst = instantiate(cfg)
    ex = run_instance(instantiate(cfg.replace(engine="exact")), progress=False)
    ev = run_instance(instantiate(cfg.replace(engine="event")), progress=False)
    assert ev.engine == "event"
    np.testing.assert_array_equal(instantiate(cfg.replace(engine="event")).I, inst.I)
    assert ex.spikes.n_spikes > 200
    assert_identical(ex.spikes, ev.spikes)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("delay", [0.0, 0.7])
@pytest.mark.parametrize("coupling", ["global", "sparse"])
def test_identical_with_subthreshold_negative_v0_and_multapses(coupling, delay, seed):
    rng = np.random.default_rng(seed)
    N, K = 40, 5
    I = rng.uniform(0.9, 1.6, N)  # some neurons never fire on their own
    v0 = rng.uniform(-0.5, 0.99, N)
    kw = dict(g=4.0, K=N if coupling == "global" else K, delay=delay, tau_m=TAU,
              t_stop=400.0, t_record=50.0)
    if coupling == "sparse":  # random pre: repeated synapses (multapses) and autapses
        kw.update(pre=rng.integers(0, N, N * K), post=np.repeat(np.arange(N), K))
    ex, ev = simulate_exact(I, v0, **kw), simulate_event(I, v0, **kw)
    assert ex.n_spikes > 100
    assert_identical(ex, ev)


@pytest.mark.parametrize("delay", [0.0, 1.0])
def test_ties_processed_like_exact(delay):
    # pairs of identical neurons cross at the same float time: crossings first, then arrivals
    I = np.repeat([1.3, 1.45, 1.2], 2)
    v0 = np.repeat([0.2, 0.5, 0.0], 2)
    for kw in (dict(K=6), dict(K=2, pre=np.array([0, 1, 2, 3, 4, 5]),
                               post=np.array([1, 0, 3, 2, 5, 4]))):
        args = dict(g=0.8, delay=delay, tau_m=TAU, t_stop=300.0, **kw)
        ex, ev = simulate_exact(I, v0, **args), simulate_event(I, v0, **args)
        assert np.any(np.diff(ex.t) == 0)  # the case really has simultaneous spikes
        assert_identical(ex, ev)


def test_uncoupled_periods_and_g_zero():
    I = np.array([1.05, 1.25, 1.5, 2.0, 1.0, 0.8])
    v0 = np.array([0.0, 0.3, 0.9, -0.5, 0.5, 0.2])
    sp = simulate_event(I, v0, g=0.0, K=6, delay=1.0, tau_m=TAU, t_stop=500.0)
    for j, train in enumerate(sp.trains()):
        if I[j] <= 1.0:
            assert train.size == 0
            continue
        first = TAU * np.log((I[j] - v0[j]) / (I[j] - 1.0))
        period = TAU * np.log(I[j] / (I[j] - 1.0))
        expected = first + period * np.arange(train.size)
        assert expected[-1] < 500.0 <= expected[-1] + period
        np.testing.assert_allclose(train, expected, rtol=0, atol=1e-9)


def test_recording_window_is_a_subset_of_the_full_run():
    rng = np.random.default_rng(3)
    I, v0 = rng.uniform(1.0, 1.6, 20), rng.random(20)
    kw = dict(g=2.0, K=20, delay=1.3, tau_m=TAU)
    full = simulate_event(I, v0, t_stop=300.0, **kw)
    part = simulate_event(I, v0, t_stop=250.0, t_record=100.0, **kw)
    sel = full.select(100.0, 250.0)
    np.testing.assert_array_equal(part.i, sel.i)
    np.testing.assert_array_equal(part.t, sel.t)


GOOD = dict(I=np.array([1.2, 1.4]), v0=np.array([0.1, 0.2]), g=1.0, K=2, delay=1.0,
            tau_m=TAU, t_stop=10.0)


@pytest.mark.parametrize(("change", "match"), [
    (dict(v0=np.array([0.1, 1.0])), "v0 must be < 1"),
    (dict(g=-0.1), "g must be >= 0"),
    (dict(delay=-1.0), "delay must be >= 0"),
    (dict(t_record=10.0), "t_stop .* must be > t_record"),
    (dict(pre=np.array([0])), "pre and post must be given together"),
    (dict(pre=np.array([0, 2]), post=np.array([1, 0])), r"pre indices must lie in \[0, 2\)"),
    (dict(max_events=0), "max_events"),
])
def test_invalid_inputs_raise_value_error(change, match):
    with pytest.raises(ValueError, match=match):
        simulate_event(**{**GOOD, **change})


def test_max_events_guard():
    with pytest.raises(RuntimeError, match="max_events"):
        simulate_event(**{**GOOD, "t_stop": 1000.0, "max_events": 10})


# -- what it does not run ------------------------------------------------------------------

@pytest.mark.parametrize("change", [dict(pulse="alpha"), dict(t_ref=1.0)])
def test_config_refuses_what_event_cannot_run(change):
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_mapping({"engine": "event", **change})
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("engine: expected 'event' only with")
    assert "numpy, cython, cpp_standalone" in msg


def test_cli_alpha_pulses_with_event_one_line_nothing_written(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", "alpha_pulses", "--set", "engine=event",
                                      "--quiet", "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "engine:" in lines[0] and "pulse = 'delta'" in lines[0]
    assert "cpp_standalone" in lines[0]
    assert not out.exists()


# -- auto and sweeps -----------------------------------------------------------------------

def test_auto_picks_event_for_delta_pulses_and_simulate_uses_it():
    from snnkit import simulate

    cfg = ModelConfig(N=60, K=6, transient=100.0, duration=300.0)
    assert choose_engine(cfg) == "event"
    assert choose_engine(cfg.replace(pulse="alpha")) == "numpy"
    result = simulate(cfg, progress=False)
    assert result.engine == "event"
    ref = simulate(cfg.replace(engine="exact"), progress=False)
    assert_identical(ref.spikes, result.spikes)
    assert result.measures["n_active"] == pytest.approx(ref.measures["n_active"])


def test_sweep_auto_resolves_to_event_only_when_every_point_can():
    from snnkit.dynamics.sweep import sweep_from_mapping
    from snnkit.dynamics.sweep.runner import sweep_engine

    base = {"sweep": {"model": "default", "seeds": 1},
            "set": {"N": 60, "K": 6, "duration": 300.0, "transient": 100.0}}
    delta = sweep_from_mapping({**base, "grid": {"g": [1.0, 4.0]}})
    assert sweep_engine(delta).base.engine == "event"
    mixed = sweep_from_mapping({**base, "grid": {"t_ref": [0.0, 1.0]}})
    assert sweep_engine(mixed).base.engine == "cpp_standalone"
    pinned = sweep_from_mapping({**base, "sweep": {**base["sweep"], "engine": "event"},
                                 "grid": {"g": [1.0]}})
    assert sweep_engine(pinned).base.engine == "event"
