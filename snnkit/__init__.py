"""snnkit: spiking neural networks from dynamics studies to trained networks to hardware.

Library first::

    import snnkit
    result = snnkit.simulate("default", g=8.0)       # a shipped model, one key changed
    result.measures["n_active"]; result.save("runs/g8")
    ds = snnkit.run_sweep("models/sweeps/fig4_sparse_minimum.toml", "runs/fig4", workers=2)

Sub-packages: :mod:`snnkit.dynamics` (Brian2 networks, measures, mean field),
:mod:`snnkit.train` (ST-RSBP, BPTT, LMU), :mod:`snnkit.hardware` (fixed point, NetX, NIR,
emulator, Lava).

With the ``nengo`` extra installed, TensorFlow is importable and Norse imports it (through
tensorboard) whenever :mod:`snnkit.train` is used; its C++ start-up log lines are silenced here
unless ``TF_CPP_MIN_LOG_LEVEL`` is already set.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from snnkit._lazy import lazy_attributes

_EXPORTS = {
    **dict.fromkeys(["ModelConfig", "SimulationResult", "SpikeTrains", "available_models",
                     "load_config", "load_result"], "snnkit.dynamics"),
    "simulate": "snnkit.dynamics.simulate",
    **dict.fromkeys(["load_sweep", "open_results", "run_sweep"], "snnkit.dynamics.sweep"),
    **dict.fromkeys(["ConfigError", "SnnkitError"], "snnkit.errors"),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ModelConfig",
    "SimulationResult",
    "SnnkitError",
    "SpikeTrains",
    "__version__",
    "available_models",
    "load_config",
    "load_result",
    "load_sweep",
    "open_results",
    "run_sweep",
    "simulate",
]
