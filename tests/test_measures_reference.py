"""The sparse measures equal the frozen pre-optimisation implementation.

``tests/reference_measures.py`` is ``snnkit.dynamics.measures`` as it was before
the rewrite (dense per-neuron Welch spectra and filtered trains).  Every public
measure is compared on stored runs (``tests/data/measures_runs.npz``: the
default, global-delay and bursting models and a slice of the N = 10,000 sparse
network, event engine) and on synthetic trains built to hit the edge cases: silent
neurons, a single spike, an empty window, spikes on the window's edges and
outside it, coincident spikes, windows shorter than a bin, odd Welch segments,
neurons active enough to take the dense route, and N above 2**16.

Values agree to float rounding: ``rtol = 1e-10`` (``p_indep`` also ``atol`` of
1e-11 of its largest value: at f = 0 and f = fs/L it is a difference of
nearly equal sums); counts, rates, CVs and p_pop exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import reference_measures as ref

from snnkit.dynamics import measures as new
from snnkit.dynamics.spikes import SpikeTrains

RUNS = Path(__file__).parent / "data" / "measures_runs.npz"
RTOL = 1e-10


def stored(name: str) -> tuple[SpikeTrains, dict]:
    """Spikes of a stored run and the keyword arguments of ``compute_measures``.

    Written once by running each model's config (``transient``/``duration`` as in
    models/*.toml, bursting 2 s) with ``engine = "event"``; ``n10k`` is neurons
    9500-9999 (renumbered 0-499) of the N = 10,000 network of
    ``bench/bench_measures.py``, 1000-1500 ms.
    """
    with np.load(RUNS) as z:
        N, t0, t1 = z[f"{name}_window"]
        sp = SpikeTrains(z[f"{name}_i"], z[f"{name}_t"], int(N), float(t0), float(t1))
        g, K, tau_m = z[f"{name}_coupling"]
        kw = {"g": float(g), "K": int(K), "tau_m": float(tau_m), "I": z[f"{name}_I"]}
        if f"{name}_pre" in z:
            kw |= {"pre": z[f"{name}_pre"].astype(np.int64),
                   "post": z[f"{name}_post"].astype(np.int64)}
    return sp, kw


def poisson(n: int, rate_hz: float, T_ms: float, seed: int, N: int | None = None,
            t0: float = 0.0) -> SpikeTrains:
    rng = np.random.default_rng(seed)
    k = rng.poisson(rate_hz * T_ms / 1000.0, size=n)
    i = np.repeat(np.arange(n), k)
    return SpikeTrains(i, t0 + rng.uniform(0.0, T_ms, size=i.size), N or n, t0, t0 + T_ms)


def synthetic() -> dict[str, SpikeTrains]:
    rng = np.random.default_rng(11)
    out = {
        "poisson": poisson(300, 20.0, 2000.0, seed=1),
        "poisson_silent": poisson(50, 30.0, 1000.0, seed=2, N=700, t0=123.4),
        "empty": SpikeTrains([], [], 10, 0.0, 500.0),
        "single_spike": SpikeTrains([3], [250.0], 10, 0.0, 500.0),
        "edges": SpikeTrains([0, 1, 0, 2, 1, 0, 2, 1], [100.0, 100.0, 100.25, 350.0,
                             599.9999, 599.99999, 600.0, 650.0], 4, 100.0, 600.0),
        "outside_only": SpikeTrains([0, 1], [10.0, 700.0], 3, 100.0, 600.0),
        "coincident": SpikeTrains([0, 0, 0, 0, 1, 1], [5.0, 5.0, 5.0, 9.0, 5.0, 5.0],
                                  2, 0.0, 50.0),
        "short_window": SpikeTrains([0, 1, 0], [0.01, 0.05, 0.2], 2, 0.0, 0.3),
        "two_bins": SpikeTrains([0, 1, 0], [0.01, 0.05, 0.9], 2, 0.0, 1.0),
        "many_neurons": poisson(200, 15.0, 500.0, seed=3, N=70_000),
        "long_sparse": poisson(150, 0.2, 10_000.0, seed=4),  # few spikes per segment
    }
    # synchronous volleys every 25 ms with jitter: a collective oscillation at 40 Hz
    times = np.arange(5.0, 2000.0, 25.0)
    i = np.tile(np.arange(60), times.size)
    t = np.repeat(times, 60) + rng.uniform(0.0, 0.5, size=i.size)
    out["synchronous"] = SpikeTrains(i, t, 80, 0.0, 2000.0)
    # tonic neurons at 30-900 Hz next to Poisson ones: the dense route for the fastest
    tonic = [np.arange(rng.uniform(0, p), 2000.0, p) for p in (1.1, 1.7, 5.0, 33.0)]
    pois = poisson(40, 10.0, 2000.0, seed=5)
    i = np.concatenate([np.full(x.size, n) for n, x in enumerate(tonic)] + [pois.i + 4])
    out["tonic_and_poisson"] = SpikeTrains(i, np.concatenate([*tonic, pois.t]), 44, 0.0, 2000.0)
    # bursts: triplets 2 ms apart at random times
    onsets = rng.uniform(0.0, 1990.0, size=(30, 15))
    t = (onsets[..., None] + np.array([0.0, 2.0, 4.0])).ravel()
    out["bursts"] = SpikeTrains(np.repeat(np.arange(30), 45), t, 30, 0.0, 2000.0)
    return out


SYNTHETIC = synthetic()
STORED = ("default", "global_delay", "bursting", "n10k")
CASES = [pytest.param(SYNTHETIC[k], {}, id=k) for k in SYNTHETIC] + [
    pytest.param(*stored(k), id=f"run-{k}") for k in STORED]


def same(a, b, rtol: float = RTOL) -> bool:
    """Equal to ``rtol`` (NaN equals NaN, infinities exactly)."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b)) or a == b


@pytest.mark.parametrize(("spikes", "kw"), CASES)
def test_compute_measures_equal_reference(spikes, kw):
    kw = {"g": 5.0, "K": 20, "tau_m": 10.0} | kw
    for extra in ({}, {"chi_tau": 5.0, "co_threshold": 2.0}):
        got = new.compute_measures(spikes, **kw, **extra)
        want = ref.compute_measures(spikes, **kw, **extra)
        assert list(got) == list(want)
        bad = {k: (got[k], want[k]) for k in want if not same(got[k], want[k])}
        assert not bad


@pytest.mark.parametrize(("spikes", "kw"), CASES)
def test_single_measures_equal_reference(spikes, kw):
    np.testing.assert_array_equal(new.firing_rates(spikes), ref.firing_rates(spikes))
    for m in (1, 3):
        assert same(new.active_fraction(spikes, m), ref.active_fraction(spikes, m))
    for m in (2, 3):
        np.testing.assert_array_equal(new.cv_isi(spikes, m), ref.cv_isi(spikes, m))
    for tau, bin_ms in ((2.0, None), (5.0, None), (2.0, 1.0), (1.0, 0.3)):
        assert same(new.golomb_chi(spikes, tau, bin_ms), ref.golomb_chi(spikes, tau, bin_ms))
    for key in ("pre", "post"):
        kw.setdefault(key, None)
    for f in ("inhibitory_current", "input_fluctuation"):
        np.testing.assert_array_equal(
            getattr(new, f)(spikes, 5.0, 20, 10.0, kw["pre"], kw["post"]),
            getattr(ref, f)(spikes, 5.0, 20, 10.0, kw["pre"], kw["post"]))


@pytest.mark.parametrize(("spikes", "kw"), CASES)
@pytest.mark.parametrize(("bin_ms", "segment_ms"),
                         [(0.5, None), (0.5, 100.5), (1.0, 64.0), (0.3, 77.7)])
def test_spectra_equal_reference(spikes, kw, bin_ms, segment_ms):
    f, p_pop, p_indep = new.population_spectrum(spikes, bin_ms, segment_ms)
    f_r, p_pop_r, p_indep_r = ref.population_spectrum(spikes, bin_ms, segment_ms)
    np.testing.assert_array_equal(f, f_r)
    np.testing.assert_array_equal(p_pop, p_pop_r)
    np.testing.assert_allclose(p_indep, p_indep_r, rtol=RTOL,
                               atol=1e-11 * float(np.max(np.abs(p_indep_r), initial=0.0)))
    peak = new.spectral_peak(spikes, 2.0, 500.0, bin_ms, segment_ms)
    peak_r = ref.spectral_peak(spikes, 2.0, 500.0, bin_ms, segment_ms)
    for a, b in zip((peak.frequency, peak.coherence, peak.prominence),
                    (peak_r.frequency, peak_r.coherence, peak_r.prominence), strict=True):
        assert same(a, b)
    for threshold in (2.0, 5.0):
        got = new.co_frequency(spikes, threshold, bin_ms=bin_ms, segment_ms=segment_ms)
        want = ref.co_frequency(spikes, threshold, bin_ms=bin_ms, segment_ms=segment_ms)
        assert same(got[0], want[0]) and same(got[1], want[1])


@pytest.mark.parametrize("name", STORED)
def test_drive_measures_equal_reference(name):
    spikes, kw = stored(name)
    current = ref.inhibitory_current(spikes, kw["g"], kw["K"], kw["tau_m"], kw.get("pre"),
                                     kw.get("post"))
    got = new.drive_measures(spikes, kw["I"], current, kw["g"], kw["K"], kw["tau_m"])
    want = ref.drive_measures(spikes, kw["I"], current, kw["g"], kw["K"], kw["tau_m"])
    assert got == pytest.approx(want, rel=RTOL, nan_ok=True)


def test_the_comparison_can_fail():
    """A different spike train gives different values: the checks above are not vacuous."""
    sp = SYNTHETIC["poisson"]
    moved = SpikeTrains(sp.i, sp.t + 0.3 * (sp.i % 2), sp.N, sp.t_start - 1.0, sp.t_stop + 1.0)
    assert not same(new.golomb_chi(moved), ref.golomb_chi(sp))
    assert not np.allclose(new.population_spectrum(moved)[2], ref.population_spectrum(sp)[2],
                           rtol=RTOL)


def test_stored_runs_cover_the_regimes():
    """The stored runs are what they claim: asynchronous, oscillating, bursting."""
    m = {k: new.compute_measures(sp, **kw) for k in STORED for sp, kw in [stored(k)]}
    assert m["global_delay"]["co_frequency_hz"] > 0  # a collective oscillation
    assert math.isnan(m["default"]["co_frequency_hz"]) and m["default"]["chi"] < 0.1
    assert m["bursting"]["frac_cv_above_1"] > 0.3  # many bursting neurons (CV > 1)
    assert min(m[k]["n_spikes"] for k in STORED) > 4000
