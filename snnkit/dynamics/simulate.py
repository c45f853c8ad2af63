"""``simulate(config) -> SimulationResult``: description -> engine -> analysis.

::

    import snnkit
    result = snnkit.simulate("sparse_k20", g=8.0, delay=2.0)
    print(result.measures["n_active"], result.measures["chi"])
    result.save("runs/k20-g8")

The three rooms stay apart: :func:`snnkit.dynamics.network.instantiate` turns the
validated :class:`ModelConfig` into arrays, an engine
(:mod:`snnkit.dynamics.engines`) turns them into spikes, and
:func:`snnkit.dynamics.measures.compute_measures` (pure functions of spikes)
turns those into numbers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snnkit.dynamics.config import ModelConfig, load_config
from snnkit.dynamics.engines import run_instance
from snnkit.dynamics.measures import compute_measures
from snnkit.dynamics.network import NetworkInstance, instantiate
from snnkit.dynamics.result import SimulationResult


def as_config(config: ModelConfig | str | Path | Mapping[str, Any] | None = None,
              **overrides: Any) -> ModelConfig:
    """A :class:`ModelConfig` from a config, a TOML path/model name, or a mapping."""
    if config is None or isinstance(config, str | Path):
        return load_config(config, overrides)
    if isinstance(config, Mapping):
        config = ModelConfig.from_mapping(config)
    return config.replace(**overrides) if overrides else config


def measure(inst: NetworkInstance, spikes) -> dict[str, float]:
    """All measures of a run's window spikes (see :mod:`snnkit.dynamics.measures`)."""
    cfg = inst.config
    return compute_measures(spikes, g=cfg.g, K=cfg.in_degree, tau_m=cfg.tau_m,
                            pre=inst.pre, post=inst.post, chi_tau=cfg.chi_tau,
                            co_threshold=cfg.co_threshold, I=inst.I)


def simulate(config: ModelConfig | str | Path | Mapping[str, Any] | None = None, *,
             progress: bool = True, **overrides: Any) -> SimulationResult:
    """Simulate one network and measure its window.

    ``config`` is a :class:`ModelConfig`, a TOML file, the name of a shipped
    model (``snnkit models`` lists them) or a mapping of config keys; keyword
    arguments override single keys (``simulate("default", g=2.0)``).  A
    progress bar appears for runs longer than ~2 s unless ``progress=False``.
    """
    cfg = as_config(config, **overrides)
    inst = instantiate(cfg)
    run = run_instance(inst, progress=progress)
    start = time.perf_counter()
    measures = measure(inst, run.spikes)
    timings = {**run.timings, "measures_s": time.perf_counter() - start}
    return SimulationResult(cfg, run.spikes, inst.I, measures, run.engine, timings,
                            inst.pre, inst.post)
