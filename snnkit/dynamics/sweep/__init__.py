"""Parameter sweeps over the delayed inhibitory network: description, Dask runner, storage.

::

    import snnkit
    ds = snnkit.run_sweep("models/sweeps/fig2_delay_onset.toml", "runs/fig2", workers=2)
    ds["chi"].mean("seed").plot()            # an xarray Dataset: dims = grid keys + seed
"""

from snnkit.dynamics.sweep.runner import connect, run_sweep
from snnkit.dynamics.sweep.spec import SweepPoint, SweepSpec, load_sweep, sweep_from_mapping
from snnkit.dynamics.sweep.store import SweepStore, open_results, spec_of

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
