"""The exact event-driven engine against independent references.

* uncoupled neurons: closed-form periodic spike times;
* one synapse 0 -> 1: neuron 1's spikes chained by hand from the closed-form
  solution (relaxation, pulse, time to threshold);
* the tie rule (crossings before arrivals at the same time);
* a tiny sparse network against a very fine clock-driven integration;
* global coupling equals explicit all-to-all synapses (self included);
* input validation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnkit.dynamics.exact import simulate_exact

TAU = 10.0  # ms


def relax(v: float, I: float, t: float) -> float:
    """v after a time t of free relaxation towards I."""
    return I + (v - I) * math.exp(-t / TAU)


def to_threshold(v: float, I: float) -> float:
    """Time for a neuron at v to reach 1 freely (inf if I <= 1)."""
    return TAU * math.log((I - v) / (I - 1.0)) if I > 1.0 else math.inf


# -- 1. uncoupled neurons ------------------------------------------------------------------

@pytest.mark.parametrize("coupling", ["global", "no_synapses"])
def test_uncoupled_neurons_fire_periodically(coupling):
    I = np.array([1.05, 1.25, 1.5, 2.0, 3.7, 1.0, 0.8])
    v0 = np.array([0.0, 0.3, 0.9, -0.5, 0.99, 0.5, 0.2])
    t_stop = 500.0
    if coupling == "global":  # g = 0: pulses are irrelevant
        kw = dict(g=0.0, K=I.size)
    else:  # g > 0 but no synapse at all
        kw = dict(g=5.0, K=2, pre=np.array([], dtype=int), post=np.array([], dtype=int))
    sp = simulate_exact(I, v0, delay=1.0, tau_m=TAU, t_stop=t_stop, **kw)
    trains = sp.trains()
    for j in range(I.size):
        if I[j] <= 1.0:
            assert trains[j].size == 0
            continue
        first = TAU * np.log((I[j] - v0[j]) / (I[j] - 1.0))
        period = TAU * np.log(I[j] / (I[j] - 1.0))
        expected = first + period * np.arange(int((t_stop - first) // period) + 1)
        expected = expected[expected < t_stop]
        assert trains[j].size == expected.size
        np.testing.assert_allclose(trains[j], expected, rtol=0, atol=1e-9)


def test_recording_window_is_a_subset_of_the_full_run():
    rng = np.random.default_rng(3)
    I, v0 = rng.uniform(1.0, 1.6, 20), rng.random(20)
    kw = dict(g=2.0, K=20, delay=1.3, tau_m=TAU)
    full = simulate_exact(I, v0, t_stop=300.0, **kw)
    part = simulate_exact(I, v0, t_stop=250.0, t_record=100.0, **kw)
    assert (part.t_start, part.t_stop, part.N) == (100.0, 250.0, 20)
    assert np.all((part.t >= 100.0) & (part.t < 250.0))
    sel = full.select(100.0, 250.0)
    np.testing.assert_array_equal(part.i, sel.i)
    np.testing.assert_array_equal(part.t, sel.t)


# -- 2. one synapse, chained by hand -------------------------------------------------------

def test_single_synapse_matches_hand_computation():
    I0, I1 = 1.5, 2.0
    v00, v01 = 0.9, 0.9
    g, K, d = 0.3, 1, 2.5
    t_stop = 150.0
    sp = simulate_exact(np.array([I0, I1]), np.array([v00, v01]), g=g, K=K, delay=d,
                        tau_m=TAU, t_stop=t_stop, pre=np.array([0]), post=np.array([1]))
    tr0, tr1 = sp.trains()

    # neuron 0 is free: first crossing, then its period
    s0 = to_threshold(v00, I0) + to_threshold(0.0, I0) * np.arange(30)
    s0 = s0[s0 < t_stop]
    np.testing.assert_allclose(tr0, s0, rtol=0, atol=1e-9)

    # neuron 1, from one pulse arrival to the next: free crossings (reset to 0) while the
    # threshold comes before the next arrival, then relax to the arrival and take -g/K
    expected1 = []
    t, v = 0.0, v01
    for a in [*(s0 + d), math.inf]:
        while t + to_threshold(v, I1) <= min(a, t_stop):
            t += to_threshold(v, I1)
            if t < t_stop:
                expected1.append(t)
            v = 0.0
        if a >= t_stop:
            break
        v = relax(v, I1, a - t) - g / K
        t = a
    # sanity of the scenario: pulses both delay neuron 1 and let it fire in between
    assert len(expected1) > len(s0)
    assert tr1.size == len(expected1)
    np.testing.assert_allclose(tr1, expected1, rtol=0, atol=1e-9)

    # spelled out for the first pulse: neuron 1 fires freely at t_a, again at t_a + T1 > the
    # first arrival, so it is at relax(0, I1, arrival - t_a) - g when the pulse arrives
    t_a = to_threshold(v01, I1)
    arrival = s0[0] + d
    assert t_a < arrival < t_a + to_threshold(0.0, I1)
    v_after = relax(0.0, I1, arrival - t_a) - g / K
    assert tr1[0] == pytest.approx(t_a, abs=1e-12)
    assert tr1[1] == pytest.approx(arrival + to_threshold(v_after, I1), abs=1e-9)


def test_multiple_synapses_between_a_pair_add_up():
    I, v0 = np.array([1.5, 1.2]), np.array([0.9, 0.1])
    kw = dict(K=2, delay=1.0, tau_m=TAU, t_stop=200.0)
    double = simulate_exact(I, v0, g=0.7, pre=np.array([0, 0]), post=np.array([1, 1]), **kw)
    single = simulate_exact(I, v0, g=1.4, pre=np.array([0]), post=np.array([1]), **kw)
    np.testing.assert_array_equal(double.i, single.i)
    np.testing.assert_allclose(double.t, single.t, rtol=0, atol=1e-12)


# -- 3. tie rule ---------------------------------------------------------------------------

def test_tie_rule_simultaneous_spikes_then_pulses():
    # two identical neurons, global coupling, no delay: both cross at the same float time,
    # both reset, then both receive the 2 pulses -> next spike from v = -2 g/K
    I, v, g, K = 1.3, 0.4, 0.9, 2
    sp = simulate_exact(np.array([I, I]), np.array([v, v]), g=g, K=K, delay=0.0, tau_m=TAU,
                        t_stop=100.0)
    t1 = TAU * math.log((I - v) / (I - 1.0))
    isi = TAU * math.log((I + 2 * g / K) / (I - 1.0))
    tr0, tr1 = sp.trains()
    np.testing.assert_array_equal(tr0, tr1)
    expected = t1 + isi * np.arange(tr0.size)
    assert tr0.size == int((100.0 - t1) // isi) + 1
    np.testing.assert_allclose(tr0, expected, rtol=0, atol=1e-9)
    assert tr0[1] == pytest.approx(t1 + isi, abs=1e-12)


def test_tie_rule_own_pulse_with_zero_delay():
    # a single neuron in global coupling hears itself: reset, then v = -g/K at once
    I, g = 1.2, 0.5
    sp = simulate_exact(np.array([I]), np.array([0.0]), g=g, K=1, delay=0.0, tau_m=TAU,
                        t_stop=200.0)
    first = TAU * math.log(I / (I - 1.0))
    isi = TAU * math.log((I + g) / (I - 1.0))
    expected = first + isi * np.arange(sp.n_spikes)
    assert sp.n_spikes == int((200.0 - first) // isi) + 1
    np.testing.assert_allclose(sp.t, expected, rtol=0, atol=1e-9)


# -- 4. brute force: very fine clock-driven integration ------------------------------------

def clock_driven(I, v0, pre, post, g, K, delay, t_stop, dt):
    """Fixed-step reference: exact decay per step, linearly interpolated threshold
    crossing (reset there, then relax to the end of the step), pulses applied at the end of
    the step nearest to spike time + delay (after that step's crossings)."""
    N = len(I)
    targets = [[] for _ in range(N)]
    for a, b in zip(pre.tolist(), post.tolist(), strict=True):
        targets[a].append(b)
    I, v = [float(x) for x in I], [float(x) for x in v0]
    decay = math.exp(-dt / TAU)
    w = g / K
    pending: dict[int, list[int]] = {}
    spikes: list[tuple[float, int]] = []
    for n in range(1, round(t_stop / dt) + 1):
        t_end = n * dt
        for j in range(N):
            vj = I[j] + (v[j] - I[j]) * decay
            if vj >= 1.0:
                ts = t_end - dt + dt * (1.0 - v[j]) / (vj - v[j])
                spikes.append((ts, j))
                vj = I[j] * (1.0 - math.exp(-(t_end - ts) / TAU))
                pending.setdefault(round((ts + delay) / dt), []).extend(targets[j])
            v[j] = vj
        for j in pending.pop(n, ()):
            v[j] -= w
    spikes.sort()
    return np.array([s[1] for s in spikes]), np.array([s[0] for s in spikes])


def test_sparse_network_matches_fine_clock_driven_integration():
    rng = np.random.default_rng(7)
    N, K = 5, 2
    I = rng.uniform(1.1, 2.0, N)
    v0 = rng.random(N)
    pre = np.concatenate([rng.choice(np.delete(np.arange(N), j), K, replace=False)
                          for j in range(N)])
    post = np.repeat(np.arange(N), K)
    g, delay, t_stop = 0.8, 0.7, 100.0
    sp = simulate_exact(I, v0, g=g, K=K, delay=delay, tau_m=TAU, t_stop=t_stop,
                        pre=pre, post=post)
    ref_i, ref_t = clock_driven(I, v0, pre, post, g, K, delay, t_stop, dt=1e-4)
    assert sp.n_spikes > 25
    np.testing.assert_array_equal(sp.counts(), np.bincount(ref_i, minlength=N))
    for mine, ref in zip(sp.trains(), [ref_t[ref_i == j] for j in range(N)], strict=True):
        np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-3)


# -- 5. global coupling = explicit all-to-all ----------------------------------------------

@pytest.mark.parametrize("delay", [0.0, 1.5])
def test_global_coupling_equals_all_to_all_synapses(delay):
    rng = np.random.default_rng(11)
    N = 8
    I = rng.uniform(1.0, 1.5, N)
    v0 = rng.random(N)
    kw = dict(g=1.5, K=N, delay=delay, tau_m=TAU, t_stop=400.0)
    glob = simulate_exact(I, v0, **kw)
    pre, post = np.repeat(np.arange(N), N), np.tile(np.arange(N), N)  # self included
    expl = simulate_exact(I, v0, pre=pre, post=post, **kw)
    assert glob.n_spikes > 50
    np.testing.assert_array_equal(glob.i, expl.i)
    np.testing.assert_array_equal(glob.t, expl.t)


# -- 6. validation -------------------------------------------------------------------------

GOOD = dict(I=np.array([1.2, 1.4]), v0=np.array([0.1, 0.2]), g=1.0, K=2, delay=1.0,
            tau_m=TAU, t_stop=10.0)


@pytest.mark.parametrize(("change", "match"), [
    (dict(I=np.array([[1.2, 1.4]])), "1-D"),
    (dict(I=np.array([])), "non-empty"),
    (dict(v0=np.array([0.1, 0.2, 0.3])), "shape of I"),
    (dict(v0=np.array([0.1, 1.0])), "v0 must be < 1"),
    (dict(I=np.array([1.2, np.nan])), "I must be finite"),
    (dict(g=-0.1), "g must be >= 0"),
    (dict(K=0.5), "K must be >= 1"),
    (dict(delay=-1.0), "delay must be >= 0"),
    (dict(tau_m=0.0), "tau_m must be > 0"),
    (dict(t_stop=0.0), "t_stop"),
    (dict(t_record=10.0), "t_stop .* must be > t_record"),
    (dict(t_record=-1.0), "t_record must be >= 0"),
    (dict(pre=np.array([0])), "pre and post must be given together"),
    (dict(post=np.array([0])), "pre and post must be given together"),
    (dict(pre=np.array([0, 1]), post=np.array([1])), "same length"),
    (dict(pre=np.array([0, 2]), post=np.array([1, 0])), r"pre indices must lie in \[0, 2\)"),
    (dict(pre=np.array([0]), post=np.array([-1])), "post indices"),
    (dict(pre=np.array([0.0]), post=np.array([1.0])), "integer"),
    (dict(max_events=0), "max_events"),
    (dict(g="1"), "g must be a real number"),
])
def test_invalid_inputs_raise_value_error(change, match):
    with pytest.raises(ValueError, match=match):
        simulate_exact(**{**GOOD, **change})


def test_max_events_guard():
    with pytest.raises(RuntimeError, match="max_events"):
        simulate_exact(**{**GOOD, "t_stop": 1000.0, "max_events": 10})
