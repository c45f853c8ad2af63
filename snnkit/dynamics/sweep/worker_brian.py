"""The batch task of sweeps that run Brian2 engines (see :mod:`.worker`).

Brian2 is imported at module level, not lazily: Dask runs tasks in a worker
thread, and Brian2's import installs signal handlers, which Python allows only in
the main thread (where Dask unpickles this module).
"""

from __future__ import annotations

from typing import Any

from snnkit.dynamics.engines import brian_runtime, brian_standalone  # noqa: F401
from snnkit.dynamics.sweep.worker import run_points


def run_points_brian(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`snnkit.dynamics.sweep.worker.run_points` in a worker with Brian2 imported."""
    return run_points(configs)
