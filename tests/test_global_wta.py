"""Global coupling, asynchronous regime: winner-takes-all (reference note §4.2).

Parameter-free checks on a simulation (N = 1000, I evenly spaced on [1, 1.5], no delay):

1. the active neurons are exactly the most excitable block;
2. the cut sits at 1 + the *measured* mean inhibition c = (g/N) tau_m (total rate),
   up to the finite-N shot noise of the inhibition, sigma = g sqrt(nu_bar tau_m / N)
   (neurons within ~sigma below threshold fire occasionally);
3. the rates of the active neurons equal the first-passage rate at the measured drive
   mu_i = I_i - c and the shot-noise sigma (Siegert; 1/(tau_m ln[mu/(mu-1)]) as sigma -> 0);
4. n_A matches the WTA mean field (g=1 -> 0.526, g=5 -> 0.231, g=10 -> 0.147) within 0.03.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnkit import simulate
from snnkit.dynamics.meanfield import siegert_rate, wta_solution


@pytest.fixture(scope="module", params=[1.0, 5.0, 10.0], ids=lambda g: f"g={g:g}")
def run(request):
    return simulate("global_wta", g=request.param, N=1000, engine="numpy", progress=False)


def test_active_set_is_the_top_block(run):
    active = run.spikes.counts() > 0
    first = int(np.argmax(active))
    assert first > 0
    assert active[first:].all() and not active[:first].any()


def test_cut_at_one_plus_measured_inhibition(run):
    active = run.spikes.counts() > 0
    first = int(np.argmax(active))
    cut = 0.5 * (run.I[first - 1] + run.I[first])
    c = run.measures["mean_inhibitory_current"]
    nu_tau = c / run.config.g  # mean rate in units of 1/tau_m
    sigma = run.config.g * np.sqrt(nu_tau / run.config.N)
    assert 1 + c - sigma <= cut <= 1 + c + 0.01


def test_rates_follow_the_measured_drive(run):
    c = run.measures["mean_inhibitory_current"]
    mu = run.I - c
    sigma = run.config.g * np.sqrt(c / run.config.g / run.config.N)
    firing = run.spikes.counts() >= 10
    assert firing.sum() > 100
    predicted = siegert_rate(mu[firing], sigma) / (run.config.tau_m * 1e-3)
    rel = np.abs(run.rates_hz[firing] - predicted) / predicted
    assert np.median(rel) < 0.04
    supra = mu[firing] > 1 + sigma
    assert np.all(rel[supra] < 0.06)


def test_active_fraction_matches_wta_mean_field(run):
    expected = wta_solution(run.config.g, 1.0, 1.5).n_active
    assert abs(run.measures["n_active"] - expected) < 0.03
    assert run.measures["chi"] < 0.15  # asynchronous: chi ~ N^-1/2
