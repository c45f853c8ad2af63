"""Canonical spike-event files and lossless converters (Lava arrays, NIR EventData, tonic).

**The file** (a snnkit convention; hardware.md §7 found no standard "Loihi event format"): HDF5
with one row per event, sorted by (sample, step, neuron)::

    sample  uint32      which input sequence
    t       uint32      time step, 0-based
    idx     uint32      flat neuron index (C order of ``shape``)
    labels  int64       optional, one per sample
    attrs   dt (seconds per step), n_steps, n_samples, n_neurons, shape, layout ("N" or "CHW")

Converters, all exact: :func:`from_dense` / :func:`to_dense` (snnkit's (T, B, N) tensors),
:func:`to_lava` (Lava ``RingBuffer`` data, (N, T) per sample, time last), :func:`to_nir` /
:func:`from_nir` (``nir.EventData``; the event of step k is stored at time (k + ½)·dt so that
NIR's own ``floor(time/dt)`` gives k back), :func:`to_tonic` / :func:`from_tonic` (structured
``x, y, p, t`` arrays, t in integer µs = k·dt; for layout "N" x is the neuron and y = p = 0).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write, open_hdf5


@dataclass(frozen=True)
class Events:
    """Events of several samples, sorted by (sample, t, idx)."""

    sample: np.ndarray
    t: np.ndarray
    idx: np.ndarray
    n_steps: int
    n_samples: int
    shape: tuple[int, ...]
    dt: float = 1e-3
    layout: str = "N"
    labels: np.ndarray | None = None

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return len(self.t)


def from_dense(spikes: torch.Tensor | np.ndarray, dt: float = 1e-3,
               shape: tuple[int, ...] | None = None, layout: str = "N",
               labels: np.ndarray | None = None) -> Events:
    """Events of binary spikes (T, B, N)."""
    x = np.asarray(spikes)
    if x.ndim != 3:
        raise SnnkitError(f"spikes: expected (T, B, N), got shape {x.shape}")
    if np.any((x != 0) & (x != 1)):
        raise SnnkitError("spikes: expected binary (0/1) spikes")
    T, B, N = x.shape
    sample, t, idx = np.nonzero(np.transpose(x, (1, 0, 2)))  # C order: sample, t, idx
    return Events(sample.astype(np.uint32), t.astype(np.uint32), idx.astype(np.uint32), T, B,
                  shape or (N,), dt, layout, None if labels is None else np.asarray(labels))


def to_dense(ev: Events, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Binary spikes (T, B, N) int8 of samples ``start:stop`` (default all)."""
    stop = ev.n_samples if stop is None else min(stop, ev.n_samples)
    lo, hi = np.searchsorted(ev.sample, [start, stop])  # events are sorted by sample
    out = np.zeros((ev.n_steps, max(stop - start, 0), ev.n_neurons), dtype=np.int8)
    out[ev.t[lo:hi], ev.sample[lo:hi] - start, ev.idx[lo:hi]] = 1
    return torch.as_tensor(out)


def concat(parts: list[Events]) -> Events:
    """The samples of several event sets (same steps, shape, dt, layout), in order."""
    first = parts[0]
    for p in parts[1:]:
        if (p.n_steps, p.shape, p.dt, p.layout) != (first.n_steps, first.shape, first.dt,
                                                    first.layout):
            raise SnnkitError("events: cannot concatenate sets with different steps, shape, dt "
                              "or layout")
    offsets = np.cumsum([0] + [p.n_samples for p in parts[:-1]])
    labels = (None if any(p.labels is None for p in parts)
              else np.concatenate([p.labels for p in parts]))
    return Events(np.concatenate([p.sample + np.uint32(o) for p, o in zip(parts, offsets,
                                                                           strict=True)]),
                  np.concatenate([p.t for p in parts]), np.concatenate([p.idx for p in parts]),
                  first.n_steps, int(sum(p.n_samples for p in parts)), first.shape, first.dt,
                  first.layout, labels)


def to_lava(ev: Events, sample: int) -> np.ndarray:
    """Lava ``RingBuffer`` data of one sample: (N, T) int32, time on the last axis."""
    keep = ev.sample == sample
    out = np.zeros((ev.n_neurons, ev.n_steps), dtype=np.int32)
    out[ev.idx[keep], ev.t[keep]] = 1
    return out


def to_nir(ev: Events):
    """``nir.EventData`` (idx and time padded with −1 and inf to the longest sample)."""
    import nir

    counts = np.bincount(ev.sample, minlength=ev.n_samples)
    width = int(counts.max()) if len(counts) else 0
    idx = np.full((ev.n_samples, width), -1, dtype=np.int64)
    time = np.full((ev.n_samples, width), np.inf)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(ev)) - starts[ev.sample]
    idx[ev.sample, pos] = ev.idx
    time[ev.sample, pos] = (ev.t + 0.5) * ev.dt
    t_max = ev.n_steps * ev.dt
    while int(t_max / ev.dt) < ev.n_steps:  # NIR grids with int(t_max/dt): nudge by ulps
        t_max = float(np.nextafter(t_max, np.inf))
    return nir.EventData(idx=idx, time=time, n_neurons=ev.n_neurons, t_max=t_max)


def from_nir(data, dt: float) -> Events:
    """Events from ``nir.EventData`` on a grid of ``dt``."""
    rows, cols = np.nonzero(data.idx >= 0)
    t = np.floor(data.time[rows, cols] / dt).astype(np.int64)
    order = np.lexsort((data.idx[rows, cols], t, rows))
    n_steps = round(float(data.t_max) / dt)
    return Events(rows[order].astype(np.uint32), t[order].astype(np.uint32),
                  data.idx[rows, cols][order].astype(np.uint32), n_steps, data.n_samples,
                  (int(data.n_neurons),), dt)


TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])


def to_tonic(ev: Events, sample: int) -> np.ndarray:
    """A tonic structured array of one sample (t in µs; CHW: x = w, y = h, p = c)."""
    keep = ev.sample == sample
    idx, t = ev.idx[keep].astype(np.int64), ev.t[keep].astype(np.int64)
    out = np.zeros(len(idx), dtype=TONIC_DTYPE)
    out["t"] = t * round(ev.dt * 1e6)
    if ev.layout == "CHW":
        c, h, w = np.unravel_index(idx, ev.shape)
        out["x"], out["y"], out["p"] = w, h, c.astype(bool)
    else:
        out["x"] = idx
    return out


def from_tonic(arrays: list[np.ndarray], n_steps: int, shape: tuple[int, ...], dt: float = 1e-3,
               layout: str = "N") -> Events:
    """Events from one tonic array per sample (inverse of :func:`to_tonic`)."""
    parts = []
    step_us = round(dt * 1e6)
    for b, arr in enumerate(arrays):
        t = arr["t"].astype(np.int64) // step_us
        if layout == "CHW":
            idx = np.ravel_multi_index((arr["p"].astype(np.int64), arr["y"], arr["x"]), shape)
        else:
            idx = arr["x"].astype(np.int64)
        parts.append(np.stack([np.full(len(t), b), t, idx], axis=1))
    rows = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    return Events(rows[:, 0].astype(np.uint32), rows[:, 1].astype(np.uint32),
                  rows[:, 2].astype(np.uint32), n_steps, len(arrays), shape, dt, layout)


def write_events(ev: Events, path: str | Path) -> Path:
    """Write the canonical event file atomically."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for key in ("sample", "t", "idx"):
            f.create_dataset(key, data=getattr(ev, key), compression="gzip")
        if ev.labels is not None:
            f.create_dataset("labels", data=np.asarray(ev.labels, np.int64))
        f.attrs.update({"format": "snnkit-events/1", "dt": ev.dt, "n_steps": ev.n_steps,
                        "n_samples": ev.n_samples, "n_neurons": ev.n_neurons,
                        "shape": np.asarray(ev.shape), "layout": ev.layout})
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def read_events(path: str | Path) -> Events:
    """Read a canonical event file; a bad or foreign file is a one-line error naming it."""
    path = Path(path)
    with open_hdf5(path, "event file") as f:
        if f.attrs.get("format") != "snnkit-events/1":
            raise SnnkitError(f"{path}: not a snnkit event file (format attribute missing)")
        try:
            ev = Events(np.asarray(f["sample"]), np.asarray(f["t"]), np.asarray(f["idx"]),
                        int(f.attrs["n_steps"]), int(f.attrs["n_samples"]),
                        tuple(int(s) for s in f.attrs["shape"]), float(f.attrs["dt"]),
                        str(f.attrs["layout"]),
                        np.asarray(f["labels"]) if "labels" in f else None)
        except KeyError as exc:
            raise SnnkitError(f"{path}: event file lacks {exc}") from None
    if len(ev) and (ev.idx.max() >= ev.n_neurons or ev.t.max() >= ev.n_steps
                    or ev.sample.max() >= ev.n_samples):
        raise SnnkitError(f"{path}: events outside the declared n_neurons/n_steps/n_samples")
    return ev
