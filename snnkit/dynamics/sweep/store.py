"""On-disk state of a sweep: every finished point at once, the dataset at the end.

Folder layout (``snnkit sweep CONFIG --out DIR``)::

    DIR/sweep.toml       the resolved sweep (base model expanded): what was run
    DIR/manifest.json    its fingerprint; ``--resume`` refuses a different sweep
    DIR/points/b<k>.json one file per finished batch of points (a Dask task's
                         points; k is its first point's index): each point's
                         measures and timings, written atomically the moment
                         the batch's result arrives
    DIR/results.nc       the xarray Dataset (NetCDF4 via h5netcdf), written
                         atomically when every point is done; its boolean
                         variable ``completed`` marks the points it holds, after
                         which the point files are removed
    DIR/sweep.log        one line per event (start, resume, NaN measures, finish)

Killing the sweep at any moment (even ``kill -9``) loses at most the batches in
flight (about a second of work each); ``--resume`` recomputes only the points in
no file.  The dataset
is assembled from the point files in point order, so it is identical whether
or not the sweep was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from snnkit.dynamics.sweep.spec import SweepPoint, SweepSpec, sweep_from_mapping
from snnkit.errors import OutputError, SnnkitError
from snnkit.io import atomic_write, atomic_write_json, atomic_write_text, ensure_writable_dir

#: Units and descriptions of the measures stored in ``results.nc``.
MEASURE_INFO: dict[str, tuple[str, str]] = {
    "n_active": ("1", "fraction of neurons with >= 1 spike in the window (n_A)"),
    "mean_rate_hz": ("Hz", "mean firing rate over all neurons"),
    "mean_rate_active_hz": ("Hz", "mean firing rate over active neurons"),
    "cv_mean": ("1", "mean coefficient of variation of the ISIs (neurons with >= 3 spikes)"),
    "n_cv": ("1", "number of neurons with a CV"),
    "chi": ("1", "Golomb-Hansel synchrony of exponentially filtered spike trains"),
    "co_frequency_hz": ("Hz", "frequency of the collective oscillation (NaN: none)"),
    "co_coherence": ("1", "population / independent power at the spectral peak"),
    "co_prominence": ("1", "spectral peak / median population power in 2-500 Hz"),
    "mean_inhibitory_current": ("1", "measured mean inhibitory input (threshold units)"),
    "window_ms": ("ms", "measurement window"),
    "n_spikes": ("1", "spikes in the window"),
    "mu_max": ("1", "largest measured mean drive I_i - c_i"),
    "drive_top": ("1", "I_high minus the mean measured inhibition"),
    "frac_supra": ("1", "fraction of neurons with measured mean drive > 1"),
    "sigma_shot": ("1", "Poisson estimate of the input fluctuations g sqrt(nu tau_m / K)"),
    "isi_free_ratio": ("1", "median over neurons of min ISI / free period"),
    "frac_cv_above_1": ("1", "fraction of neurons with CV > 1"),
}


class SweepStore:
    """The folder of one sweep (see the module docstring)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.points_dir = self.dir / "points"
        self.results = self.dir / "results.nc"
        self.manifest = self.dir / "manifest.json"

    # -- opening ------------------------------------------------------------
    def check(self, spec: SweepSpec, resume: bool) -> None:
        """Refuse to mix sweeps: a foreign folder, or ``--resume`` of a different sweep.

        Touches nothing; call before any work.
        """
        if not self.dir.exists():
            return
        if not self.dir.is_dir():
            raise OutputError(f"--out: expected a folder, but {self.dir} is a file")
        if self.manifest.exists():
            try:
                found = json.loads(self.manifest.read_text())["fingerprint"]
            except (OSError, ValueError, KeyError):
                raise OutputError(f"{self.manifest}: unreadable sweep manifest") from None
            if not resume:
                raise OutputError(f"--out: {self.dir} already holds a sweep; pass --resume to "
                                  "continue it or choose another folder")
            if found != spec.fingerprint():
                raise OutputError(f"--resume: {self.dir} holds a different sweep (fingerprint "
                                  f"{found}, this config {spec.fingerprint()}); choose "
                                  "another --out")
        elif self.results.exists() or self.points_dir.exists():
            raise OutputError(f"--out: {self.dir} holds sweep results without a manifest")

    def open(self, spec: SweepSpec) -> None:
        """Create the folder and write the resolved sweep and its manifest."""
        ensure_writable_dir(self.dir)
        self.points_dir.mkdir(exist_ok=True)
        if not self.manifest.exists():
            atomic_write_text(self.dir / "sweep.toml", spec.to_toml())
            atomic_write_json(self.manifest, {"fingerprint": spec.fingerprint(),
                                              "n_points": spec.n_points,
                                              "dims": spec.dims, "shape": list(spec.shape)})

    def log(self, message: str) -> None:
        with open(self.dir / "sweep.log", "a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {message}\n")

    # -- points -------------------------------------------------------------
    def batch_path(self, first_index: int) -> Path:
        return self.points_dir / f"b{first_index:07d}.json"

    def records(self) -> dict[int, dict[str, Any]]:
        """Every stored point's record by index (unreadable batch files are discarded)."""
        found: dict[int, dict[str, Any]] = {}
        if not self.points_dir.is_dir():
            return found
        # b<k>.json: a batch (a list of records); p<k>.json: one record (sweeps stored
        # before batches existed, resumed as they are)
        for path in sorted([*self.points_dir.glob("b*.json"), *self.points_dir.glob("p*.json")]):
            try:
                data = json.loads(path.read_text())
                batch = {int(rec["index"]): rec for rec in
                         (data if isinstance(data, list) else [data])}
            except (OSError, ValueError, KeyError, TypeError):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            for rec in batch.values():
                rec["measures"] = {k: (math.nan if v is None else v)
                                   for k, v in rec["measures"].items()}
            found.update(batch)
        return found

    def done(self, spec: SweepSpec | None = None) -> set[int]:
        """Indices of the points already stored.

        With ``spec``, points marked ``completed`` in an existing ``results.nc``
        count too.
        """
        found = set(self.records())
        if spec is not None and self.results.exists():
            ds = open_results(self.results)
            if "completed" in ds:
                done_mask = ds["completed"].values.astype(bool)
                found |= {p.index for p in spec.points() if done_mask[p.position]}
        return found

    def save_points(self, points: list[SweepPoint], measures: list[dict[str, float]],
                    timings: list[dict[str, float]]) -> None:
        """Store a batch of finished points in one atomic file."""
        records = [{"index": p.index, "coords": p.coords, "measures": m, "timings": t}
                   for p, m, t in zip(points, measures, timings, strict=True)]
        atomic_write_json(self.batch_path(points[0].index), records)

    # -- dataset ------------------------------------------------------------
    def assemble(self, spec: SweepSpec) -> xr.Dataset:
        """The Dataset of all stored points (missing ones NaN, ``completed`` False)."""
        previous = open_results(self.results) if self.results.exists() else None
        keys: list[str] = [] if previous is None else [
            k for k in previous.data_vars if k != "completed"]
        records = self.records()
        for point in spec.points():
            rec = records.get(point.index)
            if rec is not None:
                keys += [k for k in rec["measures"] if k not in keys]
        arrays = {k: np.full(spec.shape, np.nan) for k in keys}
        completed = np.zeros(spec.shape, dtype=bool)
        if previous is not None and "completed" in previous:
            completed = previous["completed"].values.astype(bool).copy()
            for k in keys:
                if k in previous:
                    arrays[k] = previous[k].values.astype(float).copy()
        for point in spec.points():
            rec = records.get(point.index)
            if rec is not None:
                completed[point.position] = True
                for k in keys:
                    arrays[k][point.position] = rec["measures"].get(k, np.nan)
        ds = to_dataset(spec, arrays)
        ds["completed"] = (spec.dims, completed, {"long_name": "point simulated and stored"})
        return ds

    def write_results(self, ds: xr.Dataset) -> Path:
        """Write ``results.nc`` atomically."""
        data = ds.to_netcdf(engine="h5netcdf")  # bytes in memory, then one atomic replace
        return atomic_write(self.results, lambda fh: fh.write(bytes(data)))


def to_dataset(spec: SweepSpec, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    coords = {dim: np.asarray(values) for dim, values in spec.grid.items()}
    coords["seed"] = np.asarray(spec.seeds, dtype=np.int64)
    data_vars = {}
    for key, values in arrays.items():
        unit, long_name = MEASURE_INFO.get(key, ("1", key))
        data_vars[key] = (spec.dims, values, {"units": unit, "long_name": long_name})
    ds = xr.Dataset(data_vars, coords=coords)
    for dim in spec.grid:
        ds[dim].attrs["long_name"] = f"model key {dim}"
        unit = _KEY_UNITS.get(dim)
        if unit:
            ds[dim].attrs["units"] = unit
    ds.attrs.update({
        "title": spec.description or "snnkit sweep",
        "sweep_toml": spec.to_toml(),
        "fingerprint": spec.fingerprint(),
        "model_toml": spec.base.to_toml(),
        "Conventions": "CF-1.8",
        "source": "snnkit",
    })
    return ds


_KEY_UNITS = {"delay": "ms", "tau_m": "ms", "t_ref": "ms", "dt": "ms", "duration": "ms",
              "transient": "ms", "alpha": "1/ms"}


def open_results(path: str | Path) -> xr.Dataset:
    """Load a sweep's ``results.nc`` (or the folder holding it) into memory."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.nc"
    if not path.is_file():
        raise OutputError(f"{path}: no such results file")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: not a readable NetCDF file ({exc})") from None


def spec_of(ds: xr.Dataset) -> SweepSpec:
    """The sweep a results dataset came from (from its ``sweep_toml`` attribute)."""
    import tomllib

    if "sweep_toml" not in ds.attrs:
        raise SnnkitError("results: not an snnkit sweep dataset (no sweep_toml attribute)")
    return sweep_from_mapping(tomllib.loads(ds.attrs["sweep_toml"]), "results.nc")


def remove_points(store: SweepStore) -> None:
    """Drop the batch (and older per-point) files once ``results.nc`` holds them all."""
    for path in [*store.points_dir.glob("b*.json"), *store.points_dir.glob("p*.json")]:
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        os.rmdir(store.points_dir)
