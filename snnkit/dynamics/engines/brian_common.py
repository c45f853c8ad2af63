"""Brian2 process-wide settings and device switching shared by the Brian2 engines.

Brian2 keeps one active device and global preferences per process; these
helpers switch between runtime and standalone mode and make sure no object of
a previous network survives (a surviving object would shift Brian2's automatic
code-object names and force a recompile of an otherwise identical model).
"""

from __future__ import annotations

import gc
import logging

import numpy as np

from snnkit.dynamics.engines._brian2 import RuntimeDevice, b2
from snnkit.dynamics.spikes import SpikeTrains


def quiet_brian() -> None:
    """No debug log files in /tmp, no INFO chatter; warnings stay visible."""
    b2.prefs.logging.file_log = False
    b2.prefs.logging.delete_log_on_exit = True
    b2.BrianLogger.log_level_warn()
    logging.getLogger("brian2").setLevel(logging.WARNING)


def activate_runtime(target: str) -> None:
    """Runtime mode with code-generation ``target`` ('numpy' or 'cython')."""
    quiet_brian()
    if not isinstance(b2.get_device(), RuntimeDevice):
        b2.set_device("runtime")
    b2.prefs.codegen.target = target
    gc.collect()


def activate_standalone() -> None:
    """A fresh cpp_standalone device (build_on_run=False), nothing left from before."""
    quiet_brian()
    b2.set_device("cpp_standalone", build_on_run=False)
    b2.get_device().reinit()
    b2.get_device().activate(build_on_run=False)
    gc.collect()


def window_spikes(monitor: b2.SpikeMonitor, N: int, dt: float, t_start: float, t_stop: float
                  ) -> SpikeTrains:
    """The monitor's spikes as a SpikeTrains (ms), with precise sub-step times.

    Brian2 labels a spike with the start t of the step in which v crossed
    threshold; the crossing happened ``lag`` before the step's end, at
    t + dt - lag (see :mod:`snnkit.dynamics.brian_model`).
    """
    i = np.array(monitor.i[:], dtype=np.int64)
    t = np.array(monitor.t[:] / b2.ms, dtype=np.float64) + dt
    t -= np.array(monitor.lag[:] / b2.ms, dtype=np.float64)
    keep = (t >= t_start) & (t < t_stop)  # a crossing at the window's first step may precede it
    return SpikeTrains(i[keep], t[keep], N, t_start, t_stop)
