"""Measures of spike trains (:mod:`snnkit.dynamics.measures`) against known answers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from snnkit.dynamics.measures import (
    active_fraction,
    co_frequency,
    compute_measures,
    cv_isi,
    firing_rates,
    golomb_chi,
    inhibitory_current,
    population_spectrum,
)
from snnkit.dynamics.spikes import SpikeTrains

KEYS = {
    "n_active", "mean_rate_hz", "mean_rate_active_hz", "cv_mean", "n_cv", "chi",
    "co_frequency_hz", "co_coherence", "co_prominence", "mean_inhibitory_current", "window_ms",
    "n_spikes",
}


def poisson(n: int, rate_hz: float, T_ms: float, seed: int, N: int | None = None,
            t0: float = 0.0) -> SpikeTrains:
    """Independent homogeneous Poisson trains of neurons 0..n-1 in ``[t0, t0 + T_ms)``."""
    rng = np.random.default_rng(seed)
    k = rng.poisson(rate_hz * T_ms / 1000.0, size=n)
    i = np.repeat(np.arange(n), k)
    t = t0 + rng.uniform(0.0, T_ms, size=i.size)
    return SpikeTrains(i, t, n if N is None else N, t0, t0 + T_ms)


def synchronous(n: int, T_ms: float, seed: int, N: int | None = None,
                period: float = 25.0, jitter: float = 0.09) -> SpikeTrains:
    """All ``n`` neurons fire at every ``k * period`` (+ uniform jitter < ``jitter`` ms)."""
    rng = np.random.default_rng(seed)
    times = np.arange(5.0, T_ms, period)
    i = np.tile(np.arange(n), times.size)
    t = np.repeat(times, n) + rng.uniform(0.0, jitter, size=i.size)
    return SpikeTrains(i, t, n if N is None else N, 0.0, T_ms)


# --------------------------------------------------------------------------- rates


def test_rates_counts_active_fraction_by_hand():
    # window [100, 600) ms = 0.5 s; counts 3, 1, 0, 5
    i = [0, 3, 0, 1, 3, 3, 0, 3, 3]
    t = [110.0, 120.0, 200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 599.0]
    sp = SpikeTrains(i, t, 4, 100.0, 600.0)
    np.testing.assert_array_equal(sp.counts(), [3, 1, 0, 5])
    np.testing.assert_allclose(firing_rates(sp), [6.0, 2.0, 0.0, 10.0])
    assert active_fraction(sp) == 0.75
    assert active_fraction(sp, min_spikes=3) == 0.5
    assert active_fraction(sp, min_spikes=6) == 0.0


def test_spikes_outside_window_are_ignored():
    sp = SpikeTrains([0, 1, 1, 0], [50.0, 150.0, 250.0, 300.0], 2, 100.0, 300.0)
    np.testing.assert_allclose(firing_rates(sp), [0.0, 10.0])
    assert active_fraction(sp) == 0.5


# --------------------------------------------------------------------------- CV


def test_cv_regular_trains_is_zero():
    rng = np.random.default_rng(1)
    N, T = 40, 2000.0
    periods = rng.uniform(10.0, 30.0, N)
    phases = rng.uniform(0.0, 1.0, N) * periods
    i = np.concatenate([np.full(int((T - ph) // p) + 1, n) for n, (p, ph)
                        in enumerate(zip(periods, phases, strict=True))])
    t = np.concatenate([ph + p * np.arange(int((T - ph) // p) + 1)
                        for p, ph in zip(periods, phases, strict=True)])
    keep = t < T
    sp = SpikeTrains(i[keep], t[keep], N, 0.0, T)
    cv = cv_isi(sp)
    assert np.all(np.isfinite(cv))
    np.testing.assert_allclose(cv, 0.0, atol=1e-12)


def test_cv_poisson_is_one():
    cv = cv_isi(poisson(50, 20.0, 20_000.0, seed=2))
    assert np.all(np.isfinite(cv))
    assert abs(np.mean(cv) - 1.0) < 0.05


def test_cv_alternating_isis_analytic():
    a, b = 3.0, 7.0
    isis = np.tile([a, b], 20)  # an even number of ISIs: mean (a+b)/2, std |a-b|/2
    t0 = np.concatenate([[1.0], 1.0 + np.cumsum(isis)])
    t1 = np.array([10.0, 20.0])  # neuron 1: only 2 spikes -> NaN
    sp = SpikeTrains(np.r_[np.zeros(t0.size, int), np.ones(2, int)], np.r_[t0, t1], 3, 0.0, 500.0)
    cv = cv_isi(sp)
    assert cv[0] == pytest.approx(abs(a - b) / (a + b), rel=1e-12)
    assert np.isnan(cv[1]) and np.isnan(cv[2])
    assert np.isfinite(cv_isi(sp, min_spikes=2)[1])


# --------------------------------------------------------------------------- chi


def test_chi_synchronous_population():
    assert golomb_chi(synchronous(50, 2000.0, seed=3)) > 0.95


def test_chi_asynchronous_scales_as_inverse_sqrt_n():
    chi100 = golomb_chi(poisson(100, 20.0, 10_000.0, seed=4))
    chi400 = golomb_chi(poisson(400, 20.0, 10_000.0, seed=5))
    assert 0.7 <= chi100 * math.sqrt(100) <= 1.4
    assert 0.7 <= chi400 * math.sqrt(400) <= 1.4
    assert chi100 / chi400 == pytest.approx(2.0, rel=0.25)


def test_chi_ignores_silent_neurons():
    chi_alone = golomb_chi(synchronous(30, 1000.0, seed=6))
    chi_diluted = golomb_chi(synchronous(30, 1000.0, seed=6, N=300))
    assert chi_diluted == pytest.approx(chi_alone, rel=1e-12)
    one = SpikeTrains(np.zeros(3, int), [10.0, 40.0, 70.0], 5, 0.0, 100.0)
    assert golomb_chi(one) == pytest.approx(1.0, rel=1e-9)
    assert math.isnan(golomb_chi(SpikeTrains([], [], 5, 0.0, 100.0)))


# --------------------------------------------------------------------------- spectra and CO


def test_poisson_spectrum_is_white_at_shot_noise_level():
    sp = poisson(50, 20.0, 10_000.0, seed=7)
    f, p_pop, p_indep = population_spectrum(sp, bin_ms=1.0)
    fs = 1000.0
    lam = sp.n_spikes / sp.duration  # population spikes per ms
    white = 2.0 * lam * 1.0 / fs  # one-sided density of binned Poisson counts
    inner = slice(1, -1)
    assert f[1] == pytest.approx(4.0)  # default segment 250 ms
    assert np.mean(p_pop[inner]) == pytest.approx(white, rel=0.05)
    assert np.mean(p_indep[inner]) == pytest.approx(white, rel=0.02)


def test_co_frequency_of_40hz_oscillation():
    rng = np.random.default_rng(8)
    N, T = 200, 5000.0
    cycles = np.arange(10.0, T - 10.0, 25.0)
    fire = rng.random((cycles.size, N)) < 0.5
    c, i = np.nonzero(fire)
    t = cycles[c] + rng.normal(0.0, 1.0, size=c.size)
    freq, coherence = co_frequency(SpikeTrains(i, t, N, 0.0, T))
    assert abs(freq - 40.0) <= 1.5
    assert coherence > 5.0


def test_co_frequency_independent_poisson_is_nan():
    freq, coherence = co_frequency(poisson(100, 20.0, 20_000.0, seed=9))
    assert math.isnan(freq)
    assert 0.3 <= coherence <= 3.0


# --------------------------------------------------------------------------- currents


def test_inhibitory_current_three_neuron_graph():
    # counts 4, 2, 0 in 1000 ms -> rates 0.004, 0.002, 0 per ms
    sp = SpikeTrains([0, 0, 1, 0, 1, 0], [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
                     3, 0.0, 1000.0)
    pre = np.array([0, 1, 2, 0])
    post = np.array([1, 2, 0, 2])  # 0->1, 1->2, 2->0, 0->2
    g, K, tau_m = 2.0, 2, 10.0  # g/K * tau_m = 10
    c = inhibitory_current(sp, g, K, tau_m, pre, post)
    np.testing.assert_allclose(c, [0.0, 10 * 0.004, 10 * (0.002 + 0.004)], rtol=1e-12)


def test_inhibitory_current_global():
    sp = poisson(20, 15.0, 1000.0, seed=10)
    g, tau_m = 4.0, 10.0
    total_rate = sp.n_spikes / sp.duration  # per ms
    c = inhibitory_current(sp, g, sp.N, tau_m)
    np.testing.assert_allclose(c, np.full(sp.N, g / sp.N * tau_m * total_rate), rtol=1e-12)


# --------------------------------------------------------------------------- everything


def test_compute_measures_keys_and_values():
    sp = poisson(60, 20.0, 2000.0, seed=11, N=80, t0=1000.0)
    m = compute_measures(sp, g=3.0, K=80, tau_m=10.0)
    assert set(m) == KEYS
    assert all(type(v) is float for v in m.values())
    assert m["n_active"] == pytest.approx(60 / 80)
    assert m["mean_rate_hz"] == pytest.approx(sp.n_spikes / 80 / 2.0)
    assert m["mean_rate_active_hz"] == pytest.approx(sp.n_spikes / 60 / 2.0)
    assert m["n_cv"] == 60.0 and 0.8 < m["cv_mean"] < 1.2
    assert m["window_ms"] == 2000.0 and m["n_spikes"] == sp.n_spikes
    assert m["mean_inhibitory_current"] == pytest.approx(3.0 / 80 * 10.0 * sp.n_spikes / 2000.0)
    assert 0.0 < m["chi"] < 0.5


def test_compute_measures_no_spikes():
    sp = SpikeTrains(np.array([], int), np.array([]), 10, 0.0, 1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compute_measures(sp, g=2.0, K=10, tau_m=10.0)
    assert set(m) == KEYS
    assert all(type(v) is float for v in m.values())
    assert m["n_active"] == 0.0 and m["mean_rate_hz"] == 0.0 and m["n_cv"] == 0.0
    assert m["mean_inhibitory_current"] == 0.0 and m["n_spikes"] == 0.0
    for key in ("mean_rate_active_hz", "cv_mean", "chi", "co_frequency_hz", "co_coherence",
                "co_prominence"):
        assert math.isnan(m[key]), key


def test_no_chance_collective_oscillation_in_short_windows():
    # 2 s windows (the default measurement window): independent neurons, Poisson or
    # periodic with random phases, never reach the default coherence threshold of 5
    from snnkit.dynamics.measures import co_frequency

    kappas = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        N, T = 200, 2000.0
        rates = rng.uniform(10, 90, N)
        trains = [np.arange(rng.uniform(0, 1000 / r), T, 1000 / r) for r in rates]
        i = np.concatenate([np.full(x.size, j) for j, x in enumerate(trains)])
        for t in (np.concatenate(trains), rng.uniform(0, T, i.size)):
            freq, kappa = co_frequency(SpikeTrains(i, t, N, 0.0, T))
            assert np.isnan(freq)
            kappas.append(kappa)
    assert np.median(kappas) < 2.5


def test_input_fluctuation_hand_graph_and_global():
    from snnkit.dynamics.measures import input_fluctuation

    # neuron 0: 10 spikes, neuron 1: 20 spikes, neuron 2: silent, in 1000 ms
    i = np.array([0] * 10 + [1] * 20)
    t = np.linspace(1.0, 990.0, i.size)
    sp = SpikeTrains(i, t, 3, 0.0, 1000.0)
    pre, post = np.array([0, 1, 1]), np.array([2, 2, 0])  # 0->2, 1->2, 1->0
    g, K, tau = 2.0, 2, 10.0
    sigma = input_fluctuation(sp, g, K, tau, pre, post)
    rate = np.array([0.01, 0.02, 0.0])  # 1/ms
    expected = g / K * np.sqrt(tau * np.array([rate[1], 0.0, rate[0] + rate[1]]))
    assert np.allclose(sigma, expected)
    glob = input_fluctuation(sp, g, 3, tau)
    assert np.allclose(glob, g / 3 * np.sqrt(tau * rate.sum()))


def test_co_needs_synchrony_above_the_independent_level():
    from snnkit.dynamics.measures import co_frequency

    rng = np.random.default_rng(8)
    N, T = 200, 5000.0
    cycles = np.arange(10.0, T - 10.0, 25.0)
    c, i = np.nonzero(rng.random((cycles.size, N)) < 0.5)
    sp = SpikeTrains(i, cycles[c] + rng.normal(0.0, 1.0, size=c.size), N, 0.0, T)
    freq, kappa = co_frequency(sp)
    assert abs(freq - 40.0) <= 1.5
    # the same spectrum with chi at the independent level (chi sqrt(n_a) = 1): no CO
    freq_gated, kappa_gated = co_frequency(sp, chi=1 / np.sqrt(N))
    assert np.isnan(freq_gated) and kappa_gated == kappa
