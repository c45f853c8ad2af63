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
``event``          the same event-driven, dt-free algorithm compiled with numba
                   (:mod:`snnkit.dynamics.engines.event`); delta pulses and
                   ``t_ref = 0`` only; spikes equal ``exact``'s to float rounding.
``auto``           ``event`` where it runs the model (delta pulses, ``t_ref = 0``)
                   and its estimated time is below the Brian2 choice's;
                   otherwise ``numpy`` when the run is short, ``cpp_standalone``
                   when it is long.
=================  ===========================================================

Every engine takes a :class:`~snnkit.dynamics.network.NetworkInstance` and
returns an :class:`EngineRun`: the spikes of the measurement window plus timings.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.network import NetworkInstance
from snnkit.dynamics.spikes import SpikeTrains

ENGINES = ("numpy", "cython", "cpp_standalone", "exact", "event")

#: numpy-target cost model used by ``auto`` (measured on 2 cores: ~55 us per step
#: plus ~6.5 ns per neuron and step); above AUTO_NUMPY_SECONDS the compiled
#: standalone binary wins even when it has to be built first (~10 s).
_NUMPY_STEP_S = 55e-6
_NUMPY_NEURON_STEP_S = 6.5e-9
AUTO_NUMPY_SECONDS = 10.0
#: event-engine cost model (see estimated_event_seconds), measured (CPU time) on the
#: 2-core machine while a training run shared it: per spike, ~11 ns per target of a
#: global arrival (relaxation + log, tree rebuilt), ~85 ns per sparse target (scattered
#: memory, plus its path in the crossing tree).  Start-up is left out on both sides
#: (~0.5 s to load the cached kernel, ~0.6 s of Brian2 set-up).
_EVENT_GLOBAL_TARGET_S = 11e-9
_EVENT_SPARSE_TARGET_S = 85e-9
_EVENT_SPARSE_MARGIN = 3.0
#: cpp_standalone's run time as a fraction of numpy's, for long runs.
_STANDALONE_FRACTION = 0.1
#: For sweep batching only: per-point cost outside the engine (instantiation,
#: measures), and the Python exact engine's slowdown against the compiled one.
_POINT_OVERHEAD_S = 0.01
_EXACT_SLOWDOWN = 20.0


@dataclass
class EngineRun:
    """What an engine returns: window spikes, the engine used and timings (s)."""

    spikes: SpikeTrains
    engine: str
    timings: dict[str, float] = field(default_factory=dict)


def estimated_numpy_seconds(config: ModelConfig) -> float:
    steps = (config.transient + config.duration) / config.dt
    return steps * (_NUMPY_STEP_S + config.N * _NUMPY_NEURON_STEP_S)


@functools.lru_cache(maxsize=4096)
def _rates(g: float, I_low: float, I_high: float) -> tuple[float, float]:
    """Mean free rate and WTA mean-field rate (1/tau_m), cached: a sweep estimates every
    point (``auto``, batching) and its points share a few (g, I) combinations."""
    from snnkit.dynamics.meanfield import lif_rate, wta_solution

    free = float(np.mean(lif_rate(np.linspace(I_low, I_high, 65))))
    nu = wta_solution(g, I_low, I_high).nu_bar if I_high > 1.0 else 0.0
    return free, float(nu)


def estimated_event_seconds(config: ModelConfig) -> float:
    """Estimated run time of the ``event`` engine (for ``auto``).

    Spikes: the WTA mean field's population rate (exact for global coupling as
    N -> infinity; for sparse coupling times ``_EVENT_SPARSE_MARGIN``, since
    fluctuations wake sub-threshold neurons), capped by the free rates.  Each
    spike costs, at its arrival, one relaxation, one logarithm and one update of
    the crossing tree per target (N with global coupling).
    """
    n = config.N
    free, nu = _rates(config.g, config.I_low, config.I_high)
    if config.coupling == "global":
        fan_out, per_target = n, _EVENT_GLOBAL_TARGET_S
    else:
        fan_out, per_target = config.K, _EVENT_SPARSE_TARGET_S
        nu *= _EVENT_SPARSE_MARGIN
    rate = min(nu, free) / config.tau_m  # 1/ms per neuron
    spikes = n * rate * (config.transient + config.duration)
    return float(spikes * fan_out * per_target)


def estimated_seconds(config: ModelConfig) -> float:
    """Rough run time of one point with the engine ``auto`` resolves to (for sweep batching).

    Measures and set-up add ``_POINT_OVERHEAD_S``; the Python ``exact`` engine is
    taken as ``_EXACT_SLOWDOWN`` times the compiled one.
    """
    engine = choose_engine(config)
    if engine in ("event", "exact"):
        run = estimated_event_seconds(config) * (_EXACT_SLOWDOWN if engine == "exact" else 1.0)
    elif engine == "cpp_standalone":
        run = _STANDALONE_FRACTION * estimated_numpy_seconds(config)
    else:
        run = estimated_numpy_seconds(config)
    return run + _POINT_OVERHEAD_S


def choose_engine(config: ModelConfig) -> str:
    """The engine ``auto`` stands for (a function of the config only)."""
    if config.engine != "auto":
        return config.engine
    numpy_s = estimated_numpy_seconds(config)
    brian = "numpy" if numpy_s <= AUTO_NUMPY_SECONDS else "cpp_standalone"
    if config.pulse == "delta" and config.t_ref == 0:
        brian_s = numpy_s if brian == "numpy" else _STANDALONE_FRACTION * numpy_s
        if estimated_event_seconds(config) <= brian_s:
            return "event"
    return brian


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
    if engine == "event":
        from snnkit.dynamics.engines.event import simulate_event

        cfg = inst.config
        spikes = simulate_event(
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
