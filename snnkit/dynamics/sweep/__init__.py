"""Parameter sweeps over the delayed inhibitory network: description, Dask runner, storage.

::

    import snnkit
    ds = snnkit.run_sweep("models/sweeps/fig2_delay_onset.toml", "runs/fig2", workers=2)
    ds["chi"].mean("seed").plot()            # an xarray Dataset: dims = grid keys + seed
"""

from snnkit._lazy import lazy_attributes

_EXPORTS = {
    **dict.fromkeys(["connect", "run_sweep"], "snnkit.dynamics.sweep.runner"),
    **dict.fromkeys(["SweepPoint", "SweepSpec", "load_sweep", "sweep_from_mapping"],
                    "snnkit.dynamics.sweep.spec"),
    **dict.fromkeys(["SweepStore", "open_results", "spec_of"], "snnkit.dynamics.sweep.store"),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "SweepPoint",
    "SweepSpec",
    "SweepStore",
    "connect",
    "load_sweep",
    "open_results",
    "run_sweep",
    "spec_of",
    "sweep_from_mapping",
]
