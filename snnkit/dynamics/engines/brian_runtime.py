"""Brian2 runtime-mode engine (numpy or Cython code generation).

Builds the network of :mod:`snnkit.dynamics.brian_model` on Brian2's runtime
device and runs it in this process, reporting progress through Brian2's
``report`` callback.
"""

from __future__ import annotations

import time

from snnkit.dynamics import brian_model
from snnkit.dynamics.engines import EngineRun
from snnkit.dynamics.engines._brian2 import b2
from snnkit.dynamics.engines.brian_common import activate_runtime, window_spikes
from snnkit.dynamics.network import NetworkInstance
from snnkit.progress import advance_to, progress_bar


def run_runtime(inst: NetworkInstance, target: str = "numpy", progress: bool = True) -> EngineRun:
    """Simulate ``inst`` with Brian2's runtime device and code-generation ``target``."""
    cfg = inst.config
    total_ms = cfg.transient + cfg.duration
    start = time.perf_counter()
    activate_runtime(target)
    with progress_bar(total_ms, f"simulate ({target})", unit="ms", enabled=progress) as bar:

        def report(elapsed, completed, t_start, duration):  # Brian2 report protocol
            advance_to(bar, round(min(total_ms, float((t_start + completed * duration) / b2.ms))))

        bn = brian_model.create_and_run(inst, report=report, report_period=0.5)
        advance_to(bar, total_ms)
    spikes = window_spikes(bn.spikes, cfg.N, cfg.dt, cfg.transient, total_ms)
    del bn
    return EngineRun(spikes, target, {"run_s": time.perf_counter() - start})
