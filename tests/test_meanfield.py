"""Mean-field theory (snnkit.dynamics.meanfield), each result against an independent reference.

* single neuron and WTA: the numbers of the reference note (§4.1, §4.2), derived there
  from the model on a 20,001-point grid;
* Siegert rate and CV: the first two moments of the first-passage time from a
  finite-difference solution of the backward equations
  (σ²/2) T₁'' + (μ - v) T₁' = -1,  (σ²/2) T₂'' + (μ - v) T₂' = -2 T₁,
  T(v_th) = 0, T'(v_low) = 0 far below, with Richardson extrapolation (no integral
  formula involved), plus analytic limits;
* sparse closure: its own self-consistency, the uncoupled and K → ∞ (WTA) limits, and
  the note's §4.3 numbers.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.linalg import solve_banded

from snnkit.dynamics.meanfield import (
    SparseSolution,
    WTASolution,
    g_c_naive,
    lif_rate,
    siegert_cv,
    siegert_rate,
    sparse_meanfield,
    wta_curve,
    wta_solution,
    wta_solution_discrete,
)


def close_to_printed(value: float, printed: str) -> bool:
    """``value`` rounds to ``printed`` (half a unit of its last digit, tiny slack)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(value - float(printed)) <= 0.5001 * 10.0**-decimals


# --------------------------------------------------------------------------- single neuron


def test_lif_rate_note_values():
    # note §4.1: 1/ln 3, 1/ln 5, 1/ln 21
    assert lif_rate(1.5) == pytest.approx(1 / np.log(3), rel=1e-14)
    assert close_to_printed(lif_rate(1.5), "0.910")
    assert close_to_printed(lif_rate(1.25), "0.621")
    assert close_to_printed(lif_rate(1.05), "0.328")
    assert isinstance(lif_rate(1.5), float)


def test_lif_rate_vectorised_silent_and_refractory():
    mu = np.array([[-1.0, 0.0, 1.0], [1.0 + 1e-12, 2.0, 1e9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = lif_rate(mu)
    assert r.shape == mu.shape
    assert np.all(r[0] == 0.0)
    assert r[1, 0] == pytest.approx(1 / np.log(1e12), rel=1e-3)
    assert r[1, 1] == pytest.approx(1 / np.log(2.0))
    assert r[1, 2] == pytest.approx(1e9 - 0.5, rel=1e-9)  # 1/ln(μ/(μ-1)) ≈ μ - 1/2
    assert lif_rate(2.0, tau_ref=0.3) == pytest.approx(1 / (0.3 + np.log(2.0)))


# --------------------------------------------------------------------------- WTA, global

# note §4.2: g, nu_bar, I*, n_A for I ~ U[1, 1.5]
WTA_TABLE = [
    (0.0, "0.605", "1", "1"),
    (0.5, "0.333", "1.166", "0.667"),
    (1.0, "0.237", "1.237", "0.526"),
    (2.0, "0.154", "1.307", "0.386"),
    (5.0, "0.077", "1.384", "0.231"),
    (10.0, "0.043", "1.426", "0.147"),
    (20.0, "0.023", "1.455", "0.090"),
    (50.0, "0.0096", "1.478", "0.045"),
]


@pytest.mark.parametrize("g, nu, i_star, n_a", WTA_TABLE)
def test_wta_table(g, nu, i_star, n_a):
    sol = wta_solution(g, 1.0, 1.5)
    assert isinstance(sol, WTASolution)
    assert close_to_printed(sol.nu_bar, nu)
    assert close_to_printed(sol.I_star, i_star)
    assert close_to_printed(sol.n_active, n_a)
    # the solution is self-consistent by construction: I* = 1 + g nu
    assert sol.I_star == pytest.approx(1 + g * sol.nu_bar, abs=1e-15)


# note §4.2, fixed lower edge: I ~ U[1, 1 + D]; rows g, columns D
WIDTH_LOW_FIXED = {1.0: {0.1: "0.303", 0.2: "0.402", 0.5: "0.526", 1.0: "0.601"},
                   5.0: {0.1: "0.099", 0.2: "0.149", 0.5: "0.231", 1.0: "0.297"}}
# note §4.2, fixed mean: I ~ U[1.25 - D/2, 1.25 + D/2]
WIDTH_MEAN_FIXED = {0.5: {0.1: "1.000", 0.2: "0.890", 0.3: "0.778", 0.5: "0.667"},
                    1.0: {0.1: "0.764", 0.2: "0.643", 0.3: "0.585", 0.5: "0.526"},
                    2.0: {0.1: "0.486", 0.2: "0.433", 0.3: "0.409", 0.5: "0.386"}}


def test_wta_width_tables():
    for g, row in WIDTH_LOW_FIXED.items():
        for D, n_a in row.items():
            assert close_to_printed(wta_solution(g, 1.0, 1.0 + D).n_active, n_a), (g, D)
    for g, row in WIDTH_MEAN_FIXED.items():
        for D, n_a in row.items():
            sol = wta_solution(g, 1.25 - D / 2, 1.25 + D / 2)
            assert close_to_printed(sol.n_active, n_a), (g, D)
    # the two parametrisations disagree on the sign of the width effect (A3)
    assert wta_solution(1.0, 1.0, 1.1).n_active < wta_solution(1.0, 1.0, 2.0).n_active
    assert wta_solution(1.0, 1.2, 1.3).n_active > wta_solution(1.0, 1.0, 1.5).n_active


def test_wta_large_g_asymptote_and_monotonicity():
    # n_A ~ (I_h - 1) ln(g)/g at large g (leading order; the next correction is
    # O(ln ln g / ln g), about 8% at g = 200)
    g = 200.0
    n_a = wta_solution(g).n_active
    assert n_a == pytest.approx(0.5 * np.log(g) / g, rel=0.25)
    assert wta_solution(1e4).n_active == pytest.approx(0.5 * np.log(1e4) / 1e4, rel=0.25)
    # B1: n_A falls monotonically with g, never reaching 0
    curve = wta_curve(np.array([0.0, 0.5, 1, 2, 5, 10, 50, 200, 1e3]))
    assert np.all(np.diff(curve["n_active"]) < 0) and curve["n_active"][-1] > 0
    assert set(curve) == {"g", "nu_bar", "I_star", "n_active"}
    assert curve["nu_bar"][3] == wta_solution(2.0).nu_bar


def test_wta_edge_cases():
    silent = wta_solution(3.0, 0.5, 1.0)
    assert silent.nu_bar == 0.0 and silent.n_active == 0.0
    free = wta_solution(0.0, 1.2, 1.4)
    assert free.n_active == 1.0
    mu = np.linspace(1.2, 1.4, 200_001)
    assert free.nu_bar == pytest.approx(np.mean(lif_rate(mu)), rel=1e-6)
    # identical neurons: nu = lif_rate(I - g nu)
    same = wta_solution(2.0, 1.3, 1.3)
    assert same.nu_bar == pytest.approx(lif_rate(1.3 - 2.0 * same.nu_bar), rel=1e-10)
    with pytest.raises(ValueError):
        wta_solution(-1.0)


@pytest.mark.parametrize("g", [0.5, 1.0, 5.0, 20.0])
def test_wta_discrete_converges_to_continuous(g):
    I = np.linspace(1.0, 1.5, 20_001)
    disc, cont = wta_solution_discrete(g, I), wta_solution(g)
    assert abs(disc.nu_bar - cont.nu_bar) < 1e-3
    assert abs(disc.n_active - cont.n_active) < 1e-3
    assert abs(disc.I_star - cont.I_star) < 1e-3
    # exact self-consistency of the discrete solution
    assert disc.nu_bar == pytest.approx(np.mean(lif_rate(I - g * disc.nu_bar)), rel=1e-12)
    assert disc.n_active == np.mean(disc.I_star < I)


# --------------------------------------------------------------------------- Siegert


def fd_moments(mu: float, sigma: float, m: int) -> tuple[float, float]:
    """T₁(v_r), T₂(v_r) by central finite differences, step (v_th - v_r)/m (v_r=0, v_th=1)."""
    h = 1.0 / m
    v_low = min(0.0, mu) - 8 * sigma - 1.0
    k = int(np.ceil(-v_low / h))
    v = h * np.arange(-k, m)  # the nodes below v_th = 1, where T = 0
    diff = 0.5 * sigma**2 / h**2
    drift = (mu - v) / (2 * h)
    ab = np.zeros((3, v.size))  # banded form: super-, main and sub-diagonal
    ab[1] = -2 * diff
    ab[0, 1:] = (diff + drift)[:-1]
    ab[2, :-1] = (diff - drift)[1:]
    ab[0, 1] = 2 * diff  # T'(v_low) = 0 through a mirror node
    t1 = solve_banded((1, 1), ab, -np.ones(v.size))
    t2 = solve_banded((1, 1), ab, -2 * t1)
    return t1[k], t2[k]  # node k is v_r = 0


def fd_reference(mu: float, sigma: float, m: int = 2000) -> tuple[float, float]:
    """Richardson-extrapolated (h, h/2) first-passage moments from v_r = 0."""
    a1, a2 = fd_moments(mu, sigma, m)
    b1, b2 = fd_moments(mu, sigma, 2 * m)
    return (4 * b1 - a1) / 3, (4 * b2 - a2) / 3


# (mu, sigma): mean-driven (mu > 1) and fluctuation-driven (mu < 1)
FD_POINTS = [(1.5, 0.1), (1.2, 0.3), (1.1, 0.02), (1.0, 0.05), (0.9, 0.3), (0.8, 0.1),
             (0.5, 0.5), (0.5, 0.2), (0.5, 3.0)]


@pytest.mark.parametrize("mu, sigma", FD_POINTS)
def test_siegert_rate_and_cv_vs_backward_equation(mu, sigma):
    t1, t2 = fd_reference(mu, sigma)
    assert siegert_rate(mu, sigma) == pytest.approx(1 / t1, rel=1e-6)  # brief: < 1e-3
    cv_fd = np.sqrt(t2 / t1**2 - 1)
    assert siegert_cv(mu, sigma) == pytest.approx(cv_fd, rel=1e-5)  # brief: < 1e-2


def test_siegert_rate_deterministic_limit():
    for mu in (1.01, 1.2, 1.5, 3.0):
        assert siegert_rate(mu, 0.0) == lif_rate(mu)
        errs = [abs(siegert_rate(mu, s) / lif_rate(mu) - 1) for s in (1e-2, 1e-4, 1e-6)]
        assert errs[0] > errs[1] > errs[2] or errs[2] < 1e-12
        assert siegert_rate(mu, 1e-8) == pytest.approx(lif_rate(mu), rel=1e-9)
    # below threshold the rate vanishes (no overflow, no warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert siegert_rate(0.9, 1e-3) == 0.0
        assert siegert_rate(-50.0, 0.5) == 0.0
        assert siegert_rate(0.9, 0.0) == 0.0
    # refractoriness adds to the mean ISI
    r = siegert_rate(0.7, 0.3)
    assert siegert_rate(0.7, 0.3, tau_ref=0.2) == pytest.approx(1 / (0.2 + 1 / r), rel=1e-14)


def test_siegert_rate_vectorised_and_fast():
    rng = np.random.default_rng(0)
    mu = rng.uniform(-1.0, 2.0, 10_000)
    sigma = rng.uniform(0.0, 1.0, 10_000)
    sigma[:100] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t0 = time.perf_counter()
        r = siegert_rate(mu, sigma)
        elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    assert r.shape == mu.shape and np.all(np.isfinite(r)) and np.all(r >= 0)
    assert np.array_equal(r[:100], lif_rate(mu[:100]))
    for i in (100, 5000, 9999):
        assert r[i] == siegert_rate(mu[i], sigma[i])
    # broadcasting
    assert siegert_rate(np.array([0.5, 1.5]), 0.2).shape == (2,)


def test_siegert_cv_limits():
    # sigma -> 0, mean-driven: linear-noise asymptote CV² ≈ (σν)²/2 [1/(μ-1)² - 1/μ²]
    mu = 1.5
    for s in (1e-4, 1e-6):
        asym = s * lif_rate(mu) * np.sqrt(0.5 * (1 / (mu - 1) ** 2 - 1 / mu**2))
        assert siegert_cv(mu, s) == pytest.approx(asym, rel=1e-5)
    assert siegert_cv(mu, 0.0) == 0.0
    assert np.isnan(siegert_cv(0.8, 0.0))
    # deep fluctuation-driven regime: Poisson-like firing
    assert siegert_cv(0.0, 0.2) == pytest.approx(1.0, abs=1e-3)
    assert siegert_cv(-2.0, 0.5) == pytest.approx(1.0, abs=1e-3)
    assert siegert_cv(0.5, 1e-3) == pytest.approx(1.0, abs=1e-3)  # b = 500, no overflow
    # tau_ref shortens the CV by the ratio of the mean ISIs
    c0, c1 = siegert_cv(0.7, 0.3), siegert_cv(0.7, 0.3, tau_ref=0.5)
    assert c1 == pytest.approx(c0 * siegert_rate(0.7, 0.3, 0.5) / siegert_rate(0.7, 0.3))
    assert siegert_cv(np.array([1.2, 0.8]), np.array([0.3, 0.3])).shape == (2,)


# --------------------------------------------------------------------------- sparse closure


@pytest.mark.parametrize("g", [0.5, 2.0, 10.0])
def test_sparse_self_consistency(g):
    K = 20
    sol = sparse_meanfield(g, K)
    assert isinstance(sol, SparseSolution)
    assert sol.sigma == pytest.approx(g * np.sqrt(sol.nu_bar / K), rel=1e-14)
    np.testing.assert_allclose(sol.mu, sol.I - g * sol.nu_bar)
    rates = siegert_rate(sol.I - g * sol.nu_bar, g * np.sqrt(sol.nu_bar / K))
    assert abs(sol.nu_bar - np.mean(rates)) < 1e-8
    np.testing.assert_allclose(sol.rates, rates, rtol=1e-12)
    assert sol.I.size == 401 and sol.I.min() > 1.0 and sol.I.max() < 1.5
    assert sol.n_supra == np.mean(sol.mu > 1.0)
    assert sol.n_active_window == pytest.approx(np.mean(1 - np.exp(-sol.rates * 200.0)))
    assert np.all((sol.cv > 0) & np.isfinite(sol.cv))


def test_sparse_limits():
    # g = 0: the uncoupled population (no noise, CV 0, all supra-threshold)
    free = sparse_meanfield(0.0, 20)
    assert free.sigma == 0.0 and np.all(free.cv == 0.0) and free.n_supra == 1.0
    assert free.nu_bar == pytest.approx(np.mean(lif_rate(free.I)), rel=1e-14)
    assert free.nu_bar == pytest.approx(wta_solution(0.0).nu_bar, abs=1e-4)
    # K -> infinity: no noise left, the WTA solution
    for g in (1.0, 5.0):
        assert sparse_meanfield(g, 1e10).nu_bar == pytest.approx(wta_solution(g).nu_bar,
                                                                 abs=2e-4)


def test_g_c_naive():
    # note §4.3: about 2.7 for K = 20 and 4.6 for K = 80
    gc20, gc80 = g_c_naive(20), g_c_naive(80)
    assert gc20 == pytest.approx(2.7, rel=0.1)
    assert gc80 == pytest.approx(4.6, rel=0.1)
    for K, gc in ((20, gc20), (80, gc80)):
        sol = sparse_meanfield(gc, K)
        assert 1.5 - gc * sol.nu_bar == pytest.approx(1.0, abs=1e-8)


def test_sparse_note_illustrations():
    # note §4.3 (K = 20): supra-threshold share 63% at g = 0.5, 0% by g = 3; 99% of the
    # neurons fire at least once in 1000 tau_m at g = 0.5.  K = 80: P(>= 1 spike in 1000)
    # has a shallow minimum of about 0.80 near g = 1.
    assert sparse_meanfield(0.5, 20).n_supra == pytest.approx(0.63, abs=0.02)
    assert sparse_meanfield(3.0, 20).n_supra == 0.0
    assert sparse_meanfield(0.5, 20, T_window=1000).n_active_window > 0.98
    win = [sparse_meanfield(g, 80, T_window=1000).n_active_window for g in (0.5, 1.0, 2.0)]
    assert win[1] < win[0] and win[1] < win[2]
    assert win[1] == pytest.approx(0.80, abs=0.02)
