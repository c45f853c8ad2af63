"""Interchangeable simulation engines for one network realisation.

=================  ===========================================================
``numpy``          Brian2 runtime mode, numpy code generation: no compilation,
                   the default for small runs and for unit tests.
``cython``         Brian2 runtime mode, Cython: ~50 s first compile per model,
                   cached in ``~/.cython`` afterwards.
``cpp_standalone`` Brian2 C++ standalone: compiled once per network *structure*
                   (N, K, coupling, pulse shape, refractoriness on/off, dt, run
                   lengths, Brian2 version, compiler settings) and cached on
                   disk; every other parameter (g, delay, I_i, v0, tau_m, alpha,
                   the t_ref value, connectivity) reaches the binary at run
                   time, so repeated runs cost only the simulation itself.
``exact``          event-driven, dt-free reference (:mod:`snnkit.dynamics.exact`),
                   delta pulses only; slow, for validation.
``auto``           ``numpy`` when the run is short, ``cpp_standalone`` otherwise.
=================  ===========================================================

Every engine takes a :class:`~snnkit.dynamics.network.NetworkInstance` and
returns an :class:`EngineRun`: the spikes of the measurement window plus timings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.network import NetworkInstance
from snnkit.dynamics.spikes import SpikeTrains

ENGINES = ("numpy", "cython", "cpp_standalone", "exact")

#: numpy-target cost model used by ``auto`` (measured on 2 cores: ~55 us per step
#: plus ~6.5 ns per neuron and step); above AUTO_NUMPY_SECONDS the compiled
#: standalone binary wins even when it has to be built first (~10 s).
_NUMPY_STEP_S = 55e-6
_NUMPY_NEURON_STEP_S = 6.5e-9
AUTO_NUMPY_SECONDS = 10.0


@dataclass
class EngineRun:
    """What an engine returns: window spikes, the engine used and timings (s)."""

    spikes: SpikeTrains
    engine: str
    timings: dict[str, float] = field(default_factory=dict)


def estimated_numpy_seconds(config: ModelConfig) -> float:
    steps = (config.transient + config.duration) / config.dt
    return steps * (_NUMPY_STEP_S + config.N * _NUMPY_NEURON_STEP_S)


def choose_engine(config: ModelConfig) -> str:
    """The engine ``auto`` stands for (a function of the config only)."""
    if config.engine != "auto":
        return config.engine
    return "numpy" if estimated_numpy_seconds(config) <= AUTO_NUMPY_SECONDS else "cpp_standalone"


def run_instance(inst: NetworkInstance, progress: bool = True) -> EngineRun:
    """Simulate ``inst`` with the engine its config names (``auto`` resolved)."""
    engine = choose_engine(inst.config)
    start = time.perf_counter()
    if engine == "exact":
        from snnkit.dynamics.exact import simulate_exact

        cfg = inst.config
        spikes = simulate_exact(
            inst.I, inst.v0, g=cfg.g, K=cfg.in_degree, delay=cfg.delay, tau_m=cfg.tau_m,
            t_stop=cfg.transient + cfg.duration, pre=inst.pre, post=inst.post,
            t_record=cfg.transient,
        )
        return EngineRun(spikes, engine, {"run_s": time.perf_counter() - start})
    if engine == "cpp_standalone":
        from snnkit.dynamics.engines.brian_standalone import run_standalone

        return run_standalone(inst, progress=progress)
    from snnkit.dynamics.engines.brian_runtime import run_runtime

    return run_runtime(inst, target=engine, progress=progress)
