"""Single LIF neuron against its exact rate.

Free neuron: period T(I) = tau_m ln[I/(I-1)], rate 1/T (reference note §4.1).
The Brian2 model detects crossings on the grid but resets precisely (sub-step
crossing time), so the period is exact for every dt; with a refractory period
the reset is on the grid and the period T + t_ref is met within a tolerance
proportional to dt.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnkit import simulate


def isis(dt: float, t_ref: float = 0.0, engine: str = "numpy"):
    # global coupling with g = 0: independent neurons with chosen excitabilities
    res = simulate(dict(N=4, coupling="global", g=0.0, delay=0.0, I_low=1.05, I_high=2.0,
                        dt=dt, t_ref=t_ref, transient=0.0, duration=600.0, engine=engine),
                   progress=False)
    return [np.diff(tr) for tr in res.spikes.trains()], res.I


def period(I: np.ndarray, tau_m: float = 10.0) -> np.ndarray:
    return tau_m * np.log(I / (I - 1))


@pytest.mark.parametrize("dt", [0.2, 0.1, 0.05, 0.025])
def test_rate_is_exact_for_every_dt(dt):
    intervals, I = isis(dt)
    assert np.allclose(I, np.linspace(1.05, 2.0, 4))
    T = period(I)
    rates = np.array([1000.0 / d.mean() for d in intervals])
    # reference note §4.1: on-grid reset would be low by ~nu*dt/2; the precise reset is exact
    assert np.allclose(rates, 1000.0 / T, rtol=1e-9, atol=0)
    assert all(np.ptp(d) < 1e-9 for d in intervals)


@pytest.mark.parametrize("engine", ["cpp_standalone", "exact", "event"])
def test_other_engines_give_the_same_rate(engine):
    intervals, I = isis(0.1, engine=engine)
    assert np.allclose([d.mean() for d in intervals], period(I), rtol=1e-9)


def test_refractory_period_within_a_tolerance_shrinking_with_dt():
    errors = []
    for dt in (0.2, 0.1, 0.05, 0.025):
        intervals, I = isis(dt, t_ref=2.0)
        expected = period(I) + 2.0
        err = np.max(np.abs(np.array([d.mean() for d in intervals]) - expected))
        assert err <= dt + 1e-9
        errors.append(err)
    assert errors[-1] < errors[0] / 2
