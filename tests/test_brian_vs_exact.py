"""Brian2 (clock-driven) against the exact event-driven reference (:mod:`snnkit.dynamics.exact`).

The Brian2 model uses sub-step spike times, a precise reset and decay-weighted
pulse arrivals (see :mod:`snnkit.dynamics.brian_model`), so its spike times
equal the exact ones up to rounding as long as no pulse arrives inside the
same step as a threshold crossing it should have prevented.  Such coincidences
have a probability proportional to dt: the time until the first discrepancy
grows as dt is halved.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.engines import run_instance
from snnkit.dynamics.network import instantiate


def both(cfg: ModelConfig):
    brian = run_instance(instantiate(cfg), progress=False).spikes
    exact = run_instance(instantiate(cfg.replace(engine="exact")), progress=False).spikes
    return brian, exact


def divergence_time(cfg: ModelConfig) -> float:
    """Time of the first spike that differs (index or time > 1e-6 ms); the run end if none."""
    b, e = both(cfg)
    n = min(b.n_spikes, e.n_spikes)
    bad = np.flatnonzero((b.i[:n] != e.i[:n]) | (np.abs(b.t[:n] - e.t[:n]) > 1e-6))
    if bad.size:
        return float(min(b.t[bad[0]], e.t[bad[0]]))
    if b.n_spikes != e.n_spikes:
        return float(max(b.t[n - 1], e.t[n - 1])) if n else 0.0
    return cfg.transient + cfg.duration


CASES = {
    "sparse-delay": dict(N=12, K=3, coupling="sparse", g=1.0, delay=1.0, I_low=1.1),
    "global-delay": dict(N=10, coupling="global", g=3.0, delay=0.8),
    "global-no-delay": dict(N=10, coupling="global", g=1.0, delay=0.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_spike_times_within_one_dt(case):
    dt = 0.01
    cfg = ModelConfig(transient=0.0, duration=150.0, dt=dt, I_spacing="random", seed=3,
                      engine="numpy", **CASES[case])
    b, e = both(cfg)
    assert b.n_spikes == e.n_spikes > 25
    assert np.array_equal(b.i, e.i)
    err = np.abs(b.t - e.t)
    assert np.max(err) <= dt
    assert np.median(err) < 1e-6  # sub-step times: far better than the grid


def brute_force_alpha(inst, h: float = 1e-3) -> list[np.ndarray]:
    """Independent alpha-pulse reference: tiny fixed step h (ms), per-step matrix exponential.

    State per neuron (u = v - I, E, P) in units of tau_m; threshold crossings
    located by linear interpolation inside the step, reset to 0 there and
    evolved freely to the step end; pulses added (P += a^2/K) at the first step
    boundary after their arrival time.  Errors are O(h), far below Brian2's dt.
    """
    from scipy.linalg import expm

    cfg = inst.config
    a, tau, K = cfg.alpha * cfg.tau_m, cfg.tau_m, cfg.in_degree
    A = np.array([[-1.0, -cfg.g, 0.0], [0.0, -a, 1.0], [0.0, 0.0, -a]])
    step = expm(A * h / tau)
    I = inst.I
    x = np.stack([inst.v0 - I, np.zeros(cfg.N), np.zeros(cfg.N)])
    arrivals: list[tuple[float, np.ndarray]] = []
    spikes: list[list[float]] = [[] for _ in range(cfg.N)]
    t = 0.0
    for _ in range(round(cfg.duration / h)):
        v_before = x[0] + I
        x = step @ x
        t += h
        v = x[0] + I
        for j in np.flatnonzero(v > 1.0):
            frac = (v[j] - 1.0) / (v[j] - v_before[j])  # part of the step after the crossing
            ts = t - frac * h
            spikes[j].append(ts)
            x[0, j] = I[j] * (1 - np.exp(-frac * h / tau)) - I[j]
            targets = inst.post[inst.pre == j] if inst.pre is not None else np.arange(cfg.N)
            arrivals.append((ts + cfg.delay, targets))
        due = [k for k, (ta, _) in enumerate(arrivals) if ta <= t]
        for k in reversed(due):
            np.add.at(x[2], arrivals.pop(k)[1], a * a / K)
    return [np.array(s) for s in spikes]


@pytest.mark.parametrize("coupling", ["sparse", "global"])
def test_alpha_pulses_match_brute_force_reference(coupling):
    cfg = ModelConfig(N=4, K=2, coupling=coupling, g=0.8, delay=1.0, pulse="alpha", alpha=0.5,
                      transient=0.0, duration=150.0, dt=0.01, I_spacing="random", seed=1,
                      engine="numpy")
    inst = instantiate(cfg)
    brian = run_instance(inst, progress=False).spikes.trains()
    ref = brute_force_alpha(inst)
    assert sum(r.size for r in ref) > 15
    for b, r in zip(brian, ref, strict=True):
        assert b.size == r.size
        assert np.max(np.abs(b - r), initial=0.0) < cfg.dt / 2


@pytest.mark.parametrize("kind", ["sparse", "global"])
def test_divergence_time_grows_as_dt_halves(kind):
    params = (dict(N=20, K=4, coupling="sparse", g=3.0, delay=0.5) if kind == "sparse"
              else dict(N=20, coupling="global", g=3.0, delay=0.5))
    means = []
    for dt in (0.1, 0.05, 0.025):
        times = [divergence_time(ModelConfig(transient=0.0, duration=300.0, dt=dt,
                                             I_spacing="random", seed=s, engine="numpy",
                                             **params))
                 for s in range(8)]
        means.append(np.mean(times))
    assert means[0] <= means[1] <= means[2], means
    assert means[2] > 1.2 * means[0], means
