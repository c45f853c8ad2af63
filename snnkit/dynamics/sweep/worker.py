"""The tasks a Dask worker runs: a batch of sweep points, one after the other.

A task is a plain function of the points' configs (dicts, so they pickle cheaply
and mean the same on a remote worker).  Points are sent in batches of about a
second of work (:func:`snnkit.dynamics.sweep.runner.batches`), because a Dask
task costs a few milliseconds of scheduling and messaging, as much as a whole
point of a small event-engine sweep.

This module imports neither Brian2 nor xarray: a worker of an ``event`` or
``exact`` sweep starts without them.  Sweeps that run Brian2 engines submit
:func:`snnkit.dynamics.sweep.worker_brian.run_points_brian` instead, whose
module imports Brian2 when Dask unpickles the task in the worker's main thread.
The expensive state of those engines, the compiled standalone project of a
network structure, lives in the worker process
(:mod:`snnkit.dynamics.engines.brian_standalone`) and serves every later point of
the same structure on that worker.
"""

from __future__ import annotations

import os
import time
from typing import Any

from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.simulate import simulate


def run_point(config: dict[str, Any]) -> dict[str, Any]:
    """Simulate one point; return its measures, timings and where it ran."""
    start = time.perf_counter()
    result = simulate(ModelConfig.from_mapping(config), progress=False)
    timings = {**result.timings, "total_s": time.perf_counter() - start}
    return {"measures": result.measures, "timings": timings, "engine": result.engine,
            "pid": os.getpid()}


def run_points(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Simulate a batch of points in order; one result per config (see :func:`run_point`).

    A point that raises does not cost the batch: its entry is ``{"error": message}``
    and the other points still run, so the client can store them and name the one
    that failed.
    """
    results = []
    for config in configs:
        try:
            results.append(run_point(config))
        except Exception as exc:  # reported per point by the client
            results.append({"error": f"{type(exc).__name__}: {exc}"})
    return results
