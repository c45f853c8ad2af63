"""The task a Dask worker runs for one sweep point.

It is a plain function of the point's config (a dict, so it pickles cheaply and
means the same on a remote worker); the expensive state, the compiled
standalone project of the point's structure, lives in the worker process
(:mod:`snnkit.dynamics.engines.brian_standalone`) and is reused by every later
point of the same structure that lands on this worker.
"""

from __future__ import annotations

import os
import time
from typing import Any

# Imported here, not lazily: Dask runs tasks in a worker thread, and Brian2's import
# installs signal handlers, which Python allows only in the main thread (where Dask
# unpickles this module).
from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.engines import brian_runtime, brian_standalone  # noqa: F401
from snnkit.dynamics.simulate import simulate


def run_point(config: dict[str, Any]) -> dict[str, Any]:
    """Simulate one point; return its measures, timings and where it ran."""
    start = time.perf_counter()
    result = simulate(ModelConfig.from_mapping(config), progress=False)
    timings = {**result.timings, "total_s": time.perf_counter() - start}
    return {"measures": result.measures, "timings": timings, "engine": result.engine,
            "pid": os.getpid()}
