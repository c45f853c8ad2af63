"""Dynamics of heterogeneous inhibitory LIF networks with delayed pulses (Brian2).

Model description (:mod:`.config`, :mod:`.network`) -> engines (:mod:`.engines`:
Brian2 numpy/cython/cpp_standalone, exact event-driven, compiled event-driven) -> analysis
(:mod:`.measures`, :mod:`.meanfield`, pure functions) -> storage (:mod:`.result`).
"""

from snnkit.dynamics.config import ModelConfig, available_models, load_config
from snnkit.dynamics.network import NetworkInstance, instantiate
from snnkit.dynamics.result import SimulationResult, load_result
from snnkit.dynamics.simulate import simulate
from snnkit.dynamics.spikes import SpikeTrains

__all__ = [
    "ModelConfig",
    "NetworkInstance",
    "SimulationResult",
    "SpikeTrains",
    "available_models",
    "instantiate",
    "load_config",
    "load_result",
    "simulate",
]
