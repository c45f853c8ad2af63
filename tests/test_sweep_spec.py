"""Sweep description: grids, seeds, validation before any work."""

from __future__ import annotations

import math

import pytest

from snnkit.dynamics.sweep.spec import SweepPoint, load_sweep, sweep_from_mapping
from snnkit.errors import ConfigError

BASE = {"sweep": {"model": "default", "seeds": 2}, "set": {"N": 60, "K": 6}}


def spec(grid, **extra):
    return sweep_from_mapping({**BASE, "grid": grid, **extra}, "s.toml")


def test_lists_ranges_and_order():
    s = spec({"g": {"start": 1, "stop": 100, "num": 3, "scale": "log"},
              "delay": {"start": 0.5, "stop": 1.5, "step": 0.5}, "I_spacing": ["even", "random"]})
    assert s.grid["g"] == [1.0, 10.0, 100.0]
    assert s.grid["delay"] == [0.5, 1.0, 1.5]
    assert s.dims == ["g", "delay", "I_spacing", "seed"]
    assert s.shape == (3, 3, 2, 2) and s.n_points == 36
    points = list(s.points())
    assert [p.index for p in points] == list(range(36))
    assert points[1].coords == {"g": 1.0, "delay": 0.5, "I_spacing": "even", "seed": 1}
    assert points[1].config.seed == 1 and points[-1].config.g == 100.0
    assert points[0].config.N == 60  # [set] applied


def test_seed_list_and_fingerprint():
    a = spec({"g": [1.0, 2.0]})
    b = sweep_from_mapping({**BASE, "sweep": {"model": "default", "seeds": [0, 1]},
                            "grid": {"g": [1.0, 2.0]}}, "other.toml")
    assert a.seeds == b.seeds == [0, 1]
    assert a.fingerprint() == b.fingerprint()
    assert spec({"g": [1.0, 3.0]}).fingerprint() != a.fingerprint()


@pytest.mark.parametrize(
    ("grid", "field", "words"),
    [
        ({}, "grid", "at least one"),
        ({"gg": [1.0]}, "grid.gg", "a model key"),
        ({"seed": [1, 2]}, "grid.seed", "seeds"),
        ({"g": []}, "grid.g", "at least one value"),
        ({"g": {"start": 1, "stop": 2}}, "grid.g", "exactly one of 'num' or 'step'"),
        ({"g": {"start": 0, "stop": 2, "num": 3, "scale": "log"}}, "grid.g", "> 0"),
        ({"delay": [0.5, 0.15]}, "delay", "multiple of dt"),
        ({"K": [5, 60]}, "K", "K < N"),
    ],
)
def test_bad_grids_fail_before_running(grid, field, words):
    with pytest.raises(ConfigError) as info:
        spec(grid)
    assert info.value.field == field
    assert words in str(info.value)
    if field in ("delay", "K"):
        assert "grid point" in str(info.value)  # names the offending point


def test_bad_seeds():
    with pytest.raises(ConfigError, match=r"sweep\.seeds"):
        sweep_from_mapping({**BASE, "sweep": {"seeds": 0}, "grid": {"g": [1.0]}})


def test_shipped_sweeps_are_valid():
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "models" / "sweeps"
    files = sorted(folder.glob("*.toml"))
    assert len(files) >= 7
    for path in files:
        s = load_sweep(path)
        assert s.description and len(s.seeds) >= 3 and s.plots, path.name


def test_batches_cover_every_point_in_order_and_balance_workers():
    from snnkit.dynamics.sweep.runner import BATCHES_PER_WORKER, batches

    spec = sweep_from_mapping({
        "sweep": {"model": "default", "engine": "event"},
        "set": {"N": 100, "K": 10, "duration": 500.0, "transient": 100.0},
        "grid": {"g": {"start": 0.5, "stop": 50.0, "num": 10, "scale": "log"},
                 "delay": [0.5, 1.0, 2.0]},
    })
    points = list(spec.points())
    for workers in (1, 2, 7):
        cut = batches(points, workers)
        assert all(cut) and [p.index for b in cut for p in b] == [p.index for p in points]
        assert max(map(len, cut)) <= math.ceil(len(points) / (BATCHES_PER_WORKER * workers))
    assert [len(b) for b in batches(points, 1, seconds=0.0)] == [1] * len(points)
    slow = SweepPoint(0, (0,), {}, spec.base.replace(N=20000, duration=20000.0))
    assert [len(b) for b in batches([slow] * 3, 1)] == [1, 1, 1]  # each > BATCH_SECONDS


def test_a_failing_point_does_not_cost_its_batch():
    from snnkit.dynamics.sweep.worker import run_points

    good = {"N": 40, "K": 4, "duration": 50.0, "transient": 0.0, "engine": "event"}
    results = run_points([good, {**good, "N": -1}, good])
    assert [("error" in r) for r in results] == [False, True, False]
    assert "N" in results[1]["error"] and results[0]["measures"] == results[2]["measures"]
