"""The result of one simulation and its output folder.

Output folder contract (``snnkit simulate --out DIR`` and :meth:`SimulationResult.save`):

===============  ================================================================
``config.toml``  the resolved model config; ``snnkit simulate DIR/config.toml``
                 repeats the run
``spikes.npz``   ``i`` (neuron index), ``t`` (ms, simulation clock), ``N``,
                 ``duration_ms`` (window length), ``t_start_ms`` (window start),
                 ``I`` (excitabilities)
``measures.json`` the measures of :func:`snnkit.dynamics.measures.compute_measures`
                 (undefined values are ``null``); written **last**, it marks the
                 folder as complete
``raster.png``   raster (neurons ordered by excitability), population rate, and
                 rate versus excitability with the free-LIF prediction
``run.json``     engine, timings and package versions
===============  ================================================================

Every file is written atomically; an existing ``measures.json`` is removed
before anything else is replaced, so an interrupted save never leaves a folder
that looks complete.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnkit.dynamics.config import ModelConfig, read_toml
from snnkit.dynamics.spikes import SpikeTrains
from snnkit.errors import OutputError
from snnkit.io import atomic_write, atomic_write_json, atomic_write_text, ensure_writable_dir

OUTPUT_FILES = ("config.toml", "spikes.npz", "raster.png", "run.json", "measures.json")


@dataclass
class SimulationResult:
    """Spikes of the measurement window, the network they came from, and their measures."""

    config: ModelConfig
    spikes: SpikeTrains
    I: np.ndarray
    measures: dict[str, float]
    engine: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    pre: np.ndarray | None = None
    post: np.ndarray | None = None

    @property
    def rates_hz(self) -> np.ndarray:
        """Firing rate of every neuron in the window (Hz)."""
        return self.spikes.counts() / (self.spikes.duration * 1e-3)

    def raster(self, **kwargs):
        """The raster figure (see :func:`snnkit.dynamics.plots.raster_figure`)."""
        from snnkit.dynamics.plots import raster_figure

        return raster_figure(self, **kwargs)

    def save(self, out_dir: str | Path, figure: bool = True) -> Path:
        """Write the output folder (see module docstring); returns its path."""
        return save_result(self, out_dir, figure=figure)


def save_result(result: SimulationResult, out_dir: str | Path, figure: bool = True) -> Path:
    out, _ = ensure_writable_dir(out_dir)
    marker = out / "measures.json"
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    atomic_write_text(out / "config.toml", result.config.to_toml())
    sp = result.spikes

    def write_npz(fh: io.BufferedWriter) -> None:
        np.savez_compressed(fh, i=sp.i.astype(np.int32), t=sp.t, N=np.int64(sp.N),
                            duration_ms=np.float64(sp.duration),
                            t_start_ms=np.float64(sp.t_start), I=result.I)

    atomic_write(out / "spikes.npz", write_npz)
    if figure:
        import matplotlib.pyplot as plt

        fig = result.raster()
        atomic_write(out / "raster.png", lambda fh: fig.savefig(fh, format="png", dpi=110))
        plt.close(fig)
    atomic_write_json(out / "run.json", {"engine": result.engine, "timings_s": result.timings,
                                         "versions": _versions()})
    atomic_write_json(marker, result.measures)
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for pkg in ("snnkit", "brian2", "numpy", "scipy"):
        with contextlib.suppress(PackageNotFoundError):
            found[pkg] = version(pkg)
    return found


def load_result(out_dir: str | Path) -> SimulationResult:
    """Read an output folder written by :func:`save_result` back into memory."""
    out = Path(out_dir)
    if not (out / "measures.json").is_file():
        raise OutputError(f"{out}: not a complete snnkit run folder (no measures.json)")
    config = ModelConfig.from_mapping(read_toml(out / "config.toml"), str(out / "config.toml"))
    path = out / "spikes.npz"
    try:
        with np.load(path) as z:
            t_start = float(z["t_start_ms"])
            spikes = SpikeTrains(z["i"], z["t"], int(z["N"]), t_start,
                                 t_start + float(z["duration_ms"]))
            I = z["I"].copy()
        path = out / "measures.json"
        measures = {k: (np.nan if v is None else v)
                    for k, v in json.loads(path.read_text()).items()}
        run = {}
        path = out / "run.json"
        if path.is_file():
            run = json.loads(path.read_text())
    except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError,
            zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OutputError(f"{path}: unreadable ({reason}); rerun the simulation to rewrite "
                          "the folder") from None
    pre = post = None
    if config.coupling == "sparse":
        from snnkit.dynamics.network import instantiate

        inst = instantiate(config)
        pre, post = inst.pre, inst.post
    return SimulationResult(config, spikes, I, measures, run.get("engine", ""),
                            run.get("timings_s", {}), pre, post)


def is_complete(out_dir: str | Path) -> bool:
    """True when ``out_dir`` holds a finished run (its ``measures.json`` exists)."""
    return os.path.isfile(os.path.join(out_dir, "measures.json"))
