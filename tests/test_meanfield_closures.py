"""Sparse mean-field closures (snnkit.dynamics.meanfield.shot / closures / compare).

Each building block against an independent reference:

* the shot-noise rate against an exact event-driven Monte Carlo of one neuron hit by
  Poisson pulses (between pulses v relaxes exactly, so there is no time step);
* the shot-noise ISI mean and CV (backward equations) against the same kind of Monte
  Carlo, against ``shot_noise_rate`` and in the no-pulse limit (period ln[I/(I-1)], CV 0);
* the periodic Fano factor against the variance of the filtered periodic train computed
  by quadrature;
* P(>= 1 spike in T) against the integral nu * int_T^inf S(t) dt of scipy's gamma
  survival function, and the gamma/FPT approximation against an Euler Monte Carlo of the
  OU escape;
* the closures: their self-consistency, the g = 0 limit (n_A = fraction of
  supra-threshold neurons) and agreement of candidate A with ``sparse_meanfield``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from snnkit.dynamics.meanfield import (
    CANDIDATES,
    lif_rate,
    p_active_window,
    periodic_fano,
    shot_noise_rate,
    siegert_cv,
    siegert_rate,
    solve_closure,
    sparse_meanfield,
)
from snnkit.dynamics.meanfield.compare import compare_closures, log_minimum
from snnkit.dynamics.meanfield.shot_fpt import shot_noise_isi

RESULTS = Path(__file__).resolve().parents[1] / "docs/results/dynamics/fig4_sparse_minimum"


def mc_shot_rate(I: float, a: float, R: float, T: float, n: int, seed: int = 0) -> float:
    """Event-driven rate of dv = (I - v)dt - a dN_R, n independent copies for time T."""
    rng = np.random.default_rng(seed)
    T0 = np.log(I / (I - 1.0))                 # free period after a reset
    v = np.zeros(n)
    t = np.zeros(n)
    spikes = np.zeros(n)
    while np.any(t < T):
        gap = np.minimum(rng.exponential(1.0 / R, n), np.maximum(T - t, 0.0))
        t_star = np.log((I - v) / (I - 1.0))   # time to threshold from v (v < 1 < I)
        fires = t_star < gap
        rest = gap - t_star                    # time left after the first spike
        extra = np.where(fires, np.floor(rest / T0), 0.0)
        spikes += fires + extra
        since_reset = np.where(fires, rest - extra * T0, 0.0)
        v_end = np.where(fires, I * (1.0 - np.exp(-since_reset)),
                         I + (v - I) * np.exp(-gap))
        v = v_end - a
        t += gap
    return float(spikes.sum() / (n * T))


@pytest.mark.parametrize("I, a, R", [(1.2, 0.05, 5.0), (1.1, 0.3, 3.0), (1.3, 2.0, 1.0)])
def test_shot_rate_against_event_driven_monte_carlo(I, a, R):
    nu = shot_noise_rate(I, a, R)
    mc = mc_shot_rate(I, a, R, T=1000.0, n=1000)
    # Monte Carlo: > 3000 spikes in each case, statistical error below ~2 %
    assert nu == pytest.approx(mc, rel=0.05)


def test_shot_rate_limits_and_grid_convergence():
    I = np.array([0.7, 1.0, 1.05, 1.3, 1.5])
    free = shot_noise_rate(I, 0.5, 0.0)
    np.testing.assert_allclose(free, lif_rate(I), rtol=1e-14)
    r = shot_noise_rate(I, 0.5, 2.0)
    assert r[0] == 0.0 and r[1] == 0.0 and np.all(r[2:] > 0)
    assert np.all(r[2:] < lif_rate(I[2:]))          # inhibition only slows firing
    # small pulses at a fixed mean current aR: the free rate at drive I - aR
    assert shot_noise_rate(1.3, 0.002, 50.0) == pytest.approx(lif_rate(1.2), rel=0.02)
    # second-order convergence in the grid step
    coarse, fine = (shot_noise_rate(1.2, 0.5, 3.0, m_min=m, h_max=1.0) for m in (8, 64))
    assert coarse == pytest.approx(fine, rel=1e-2)
    assert isinstance(shot_noise_rate(1.2, 0.5, 3.0), float)
    with pytest.raises(ValueError):
        shot_noise_rate(1.2, -0.1, 1.0)


def mc_shot_isi(I: float, a: float, R: float, n: int, seed: int = 0) -> np.ndarray:
    """n independent ISIs of dv = (I - v)dt - a dN_R from the reset (event-driven, exact)."""
    rng = np.random.default_rng(seed)
    v, t, isi = np.zeros(n), np.zeros(n), np.full(n, np.nan)
    todo = np.arange(n)
    while todo.size:
        gap = rng.exponential(1.0 / R, todo.size)
        t_star = np.log((I - v[todo]) / (I - 1.0))
        fires = t_star < gap
        isi[todo[fires]] = t[todo[fires]] + t_star[fires]
        todo, gap = todo[~fires], gap[~fires]
        v[todo] = I + (v[todo] - I) * np.exp(-gap) - a
        t[todo] += gap
    return isi


@pytest.mark.parametrize("I, a, R", [(1.2, 0.05, 5.0), (1.1, 0.3, 3.0), (1.3, 2.0, 1.0),
                                     (1.5, 15.0, 0.9)])
def test_shot_isi_against_event_driven_monte_carlo(I, a, R):
    rate, cv = shot_noise_isi(I, a, R)
    isi = mc_shot_isi(I, a, R, n=20000)
    # 2e4 ISIs: standard errors about 0.7 % (mean) and 1 % (CV) for CV ~ 1
    assert 1.0 / rate == pytest.approx(isi.mean(), rel=0.03)
    assert cv == pytest.approx(isi.std() / isi.mean(), rel=0.04)
    # the forward (density) solver: same rate within its O(h^2) error (0.8 % at I = 1.1,
    # where the near-threshold layer is thin; the refined FPT grid converges to 0.00319)
    assert rate == pytest.approx(shot_noise_rate(I, a, R), rel=0.01)


def test_shot_isi_limits():
    I = np.array([0.9, 1.0, 1.05, 1.3])
    rate, cv = shot_noise_isi(I, 0.2, 1e-7)           # no pulses: the free, periodic neuron
    np.testing.assert_allclose(rate[2:], lif_rate(I[2:]), rtol=1e-5)
    assert np.all(cv[2:] < 1e-3) and np.all(np.isnan(cv[:2])) and np.all(rate[:2] == 0)
    rate0, cv0 = shot_noise_isi(I, 0.2, 0.0)
    np.testing.assert_allclose(rate0[2:], lif_rate(I[2:]), rtol=1e-14)
    assert np.all(cv0[2:] == 0.0)
    # weak, frequent pulses: CV small and growing with the pulse size at fixed aR
    c1, c2 = (float(shot_noise_isi(1.3, a, 0.05 / a)[1]) for a in (0.005, 0.02))
    assert 0 < c1 < c2 < 0.2
    # rare escapes far below the free drive: Poisson-like output, CV -> 1
    assert float(shot_noise_isi(1.1, 0.3, 3.0)[1]) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("nu", [0.05, 0.3, 1.0, 3.0])
def test_periodic_fano_against_quadrature(nu):
    P = 1.0 / nu  # filtered periodic train: x(s) = e^{-s}/(1 - e^{-P}) on one period
    m1 = integrate.quad(lambda s: np.exp(-s), 0, P)[0] / (1 - np.exp(-P)) / P
    m2 = integrate.quad(lambda s: np.exp(-2 * s), 0, P)[0] / (1 - np.exp(-P)) ** 2 / P
    assert periodic_fano(nu) == pytest.approx((m2 - m1 * m1) / (nu / 2.0), rel=1e-8)
    assert periodic_fano(0.0) == 1.0


@pytest.mark.parametrize("cv", [0.3, 1.0, 1.8])
def test_p_active_window_against_gamma_survival(cv):
    nu, T = 0.02, 60.0
    k = 1 / cv**2
    dist = stats.gamma(k, scale=1 / (k * nu))
    none = nu * integrate.quad(dist.sf, T, np.inf, limit=200)[0]
    assert p_active_window(nu, T, cv) == pytest.approx(1 - none, abs=1e-7)
    assert p_active_window(nu, T, 1.0) == pytest.approx(1 - np.exp(-nu * T), abs=1e-12)
    assert p_active_window(nu, T) == pytest.approx(1 - np.exp(-nu * T))
    assert p_active_window(nu, 30.0, 1e-4) == pytest.approx(nu * 30.0, abs=1e-3)  # periodic


def test_fpt_window_against_ou_monte_carlo():
    """Gamma-FPT P(>= 1 spike in T) vs an Euler simulation of the OU neuron."""
    mu, sigma, T, dt, n = 0.8, 0.25, 10.0, 2e-3, 3000
    rng = np.random.default_rng(1)
    v = np.zeros(n)
    for _ in range(int(20.0 / dt)):           # burn-in with resets: stationary state
        v += (mu - v) * dt + sigma * np.sqrt(dt) * rng.standard_normal(n)
        v[v >= 1.0] = 0.0
    hit = np.zeros(n, dtype=bool)
    for _ in range(int(T / dt)):
        v += (mu - v) * dt + sigma * np.sqrt(dt) * rng.standard_normal(n)
        hit |= v >= 1.0
        v[v >= 1.0] = 0.0
    nu, cv = siegert_rate(mu, sigma), siegert_cv(mu, sigma)
    # gamma FPT: 0.966 against 0.948 +- 0.004 (the Euler steps miss a few crossings);
    # the Poisson window, 1 - exp(-nu T) = 0.878, is much further off (CV = 0.64 here)
    assert p_active_window(nu, T, cv) == pytest.approx(hit.mean(), abs=0.03)
    assert abs(p_active_window(nu, T) - hit.mean()) > 0.05


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_closures_uncoupled_limit(name):
    # g = 0: the free population; n_A = fraction of supra-threshold neurons (I > 1)
    sol = solve_closure(0.0, 20, I_low=0.8, I_high=1.5, n_grid=20, **CANDIDATES[name])
    assert sol.n_active == pytest.approx(np.mean(sol.I > 1.0), abs=1e-9)
    assert sol.nu_bar == pytest.approx(np.mean(lif_rate(sol.I)), rel=1e-5)


def test_closures_self_consistency_and_note_closure():
    g, K = 2.0, 20
    d = solve_closure(g, K, noise="shot", n_grid=16)
    assert d.nu_noise == d.nu_bar
    np.testing.assert_allclose(d.rates, shot_noise_rate(d.I, g / K, K * d.nu_bar))
    assert d.nu_bar == pytest.approx(np.mean(d.rates), rel=1e-5)
    # candidate A is the note's closure (sparse_meanfield) on the same grid
    a = solve_closure(g, K, n_grid=401, **CANDIDATES["A Poisson diffusion (note §4.3)"])
    ref = sparse_meanfield(g, K, T_window=200.0)
    assert a.nu_bar == pytest.approx(ref.nu_bar, rel=1e-5)
    assert a.n_active == pytest.approx(ref.n_active_window, abs=1e-5)
    # renewal inputs: regular (supra-threshold) presynaptic trains carry less noise
    c = solve_closure(0.5, K, noise="diffusion", inputs="renewal", n_grid=16)
    assert 0 < c.nu_noise < 0.5 * c.nu_bar


def test_shot_cv_closure_joint_fixed_point():
    g, K = 5.5, 20
    s = solve_closure(g, K, n_grid=8, **CANDIDATES["G F + joint fixed point"])
    assert s.nu_bar == pytest.approx(np.mean(s.rates), rel=1e-5)
    assert 0 < s.nu_noise < s.nu_bar                 # regular inputs: less than Poisson noise
    r, cv = shot_noise_isi(s.I - g * (s.nu_bar - s.nu_noise), g / K, K * s.nu_noise)
    np.testing.assert_allclose(s.rates, r, rtol=0.02)  # forward vs backward solver
    np.testing.assert_allclose(s.cv[r > 0], cv[r > 0])
    cv2 = np.minimum(cv * cv, 1.0)[r > 0]             # nu_F = <r F(r, CV)> (last CV iterate)
    nu_f = np.sum(r[r > 0] * (cv2 + (1 - cv2) * periodic_fano(r[r > 0]))) / r.size
    assert s.nu_noise == pytest.approx(nu_f, rel=0.03)


def test_log_minimum_and_compare_structure():
    g = np.geomspace(0.1, 100, 9)
    y = (np.log(g) - np.log(3.0)) ** 2
    assert log_minimum(g, y) == pytest.approx(3.0, rel=1e-9)
    res = compare_closures(RESULTS / "results.nc", n_grid=16,
                           candidates={"A": CANDIDATES["A Poisson diffusion (note §4.3)"]})
    a = res["candidates"]["A"]
    assert res["measured"]["K"] == [20, 40, 80] and len(a["n_active"][0]) == 15
    assert not a["met"] and min(a["max_dev"]) > 0.2   # the note's closure misses badly
