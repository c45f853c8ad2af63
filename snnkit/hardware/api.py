"""Library functions behind ``snnkit export``, ``snnkit export-inputs`` and ``snnkit hardware``.

* :func:`export_netx`: trained model → description → fixed point (calibrated on training
  inputs) → NetX ``.net`` plus ``<file>.report.json`` (per layer scale, clipping, error,
  resources).
* :func:`export_nir`: trained model → float description → NIR graph (no quantization;
  mapping in :mod:`snnkit.hardware.nir_graph`).
* :func:`export_inputs`: encoded test images as a canonical event file, encoded exactly as
  ``snnkit evaluate`` encodes them (same T, rate and per-image seeds), labels included.
* :func:`run_network`: a ``.net`` on the emulator or on Lava; output events and, with labels,
  accuracy (prediction: most output spikes, ties to the lowest index).
* :func:`verify`: emulator and Lava on the same inputs; the number of compared output spike
  entries and of mismatches.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnkit.errors import SnnkitError
from snnkit.hardware.description import NetworkDescription, from_strsbp
from snnkit.hardware.emulator import emulate
from snnkit.hardware.events import (
    Events,
    concat,
    from_dense,
    read_events,
    to_dense,
    write_events,
)
from snnkit.hardware.fixed_point import IntNetwork, quantize
from snnkit.hardware.netx import read_netx, write_netx
from snnkit.hardware.profile import load_profile
from snnkit.io import atomic_write_json, ensure_writable_dir
from snnkit.progress import progress_bar

BACKENDS = ("emulator", "lava")
CHUNK = 500  # samples encoded or emulated at a time (memory)


def encode_images(model: str | Path | None, dataset: str | None, split: str, n: int,
                  T: int | None = None, start: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Images ``start .. n − 1`` of a split, encoded as the model's training encoded them."""
    from snnkit.train.config import TrainConfig
    from snnkit.train.data import load_dataset
    from snnkit.train.encoding import encode_batch

    cfg = TrainConfig() if model is None else from_strsbp_config(model)
    name = dataset or cfg.data.dataset
    steps = T or cfg.data.T
    data = load_dataset(name, "test" if split == "test" else "train")
    if not 1 <= n <= len(data.labels):
        raise SnnkitError(f"--n: expected 1..{len(data.labels)}, got {n}")
    idx = np.arange(start, n)
    x = encode_batch(data.images, idx, steps, cfg.data.p_max, cfg.data.seed, split)
    return x, data.labels[idx]


def from_strsbp_config(model: str | Path):
    """The training config stored in a model file."""
    from snnkit.train.config import TrainConfig
    from snnkit.train.model import read_torch_file

    return TrainConfig.from_mapping(read_torch_file(model)["config"], str(model))


def export_inputs(out: str | Path, dataset: str | None = "fashion-mnist", n: int = 100,
                  model: str | Path | None = None, T: int | None = None) -> Events:
    """Encoded test images as an event file (see module docstring), encoded ``CHUNK`` images
    at a time (the dense trains of 10,000 images would take 12 GB)."""
    parts = []
    for start in range(0, max(n, 1), CHUNK):
        x, labels = encode_images(model, dataset, "test", min(n, start + CHUNK), T, start)
        parts.append(from_dense(x.to(torch.int8), labels=labels))
    ev = concat(parts)
    write_events(ev, out)
    return ev


def export_netx(model: str | Path, out: str | Path, target: str = "loihi", *,
                clip_percentile: float = 100.0, drop_refractory: bool = False,
                prune: float = 0.0, calibration: int = 64) -> list[dict[str, Any]]:
    """Quantize a trained model for ``target`` and write it as NetX; returns the report."""
    profile = load_profile(target)
    desc = from_strsbp(model)
    x = encode_images(model, None, "train", calibration)[0] if calibration else None
    qnet, report = quantize(desc, profile, clip_percentile=clip_percentile,
                            drop_refractory=drop_refractory, prune=prune, calibration=x)
    path = write_netx(qnet, out, profile, n_steps=int(desc.meta.get("T", 0) or 0))
    atomic_write_json(Path(f"{path}.report.json"), {"target": profile.name, "layers": report,
                                                    "model": str(model)})
    return report


def export_nir(model: str | Path, out: str | Path, drop_refractory: bool = False,
               dt: float = 1e-3) -> NetworkDescription:
    """Write a trained model's float description as a NIR graph; returns what was written.

    No quantization: weights, decays and thresholds are the model's (see
    :func:`snnkit.hardware.nir_graph.to_nir`).  A refractory period is refused unless
    ``drop_refractory`` (NIR's CubaLIF has none); then ``meta["dropped_refractory"]`` lists the
    dropped steps per layer.
    """
    from snnkit.hardware.nir_graph import without_refractory, write_nir

    desc = from_strsbp(model)
    write_nir(desc, out, dt, drop_refractory=drop_refractory)
    dropped = [layer.neuron.refractory for layer in desc.layers]
    if not any(dropped):
        return desc
    written = without_refractory(desc)
    return replace(written, meta={**written.meta, "dropped_refractory": dropped})


def _inputs_for(net_path: str | Path, inputs: str | Path, n: int | None):
    net = read_netx(net_path)
    ev = read_events(inputs)
    if ev.n_neurons != net.n_in:
        raise SnnkitError(f"{inputs}: {ev.n_neurons} input neurons, but the first layer of "
                          f"{net_path} has {net.n_in}")
    return net, ev, ev.n_samples if n is None else min(n, ev.n_samples)


def emulate_events(net: IntNetwork, ev: Events, n: int, progress: bool = False
                   ) -> torch.Tensor:
    """Output spikes (T, n, n_out) int8 of the first ``n`` samples, ``CHUNK`` at a time."""
    outs = []
    with progress_bar(n, "emulator", "sample", enabled=progress) as bar:
        for start in range(0, n, CHUNK):
            outs.append(emulate(net, to_dense(ev, start, min(n, start + CHUNK)))[-1])
            bar.update(outs[-1].shape[1])
    return torch.cat(outs, dim=1)


def run_network(net_path: str | Path, inputs: str | Path, backend: str = "emulator",
                out: str | Path | None = None, n: int | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Run a ``.net`` on ``backend``; write ``out/output.events`` and ``out/summary.json``."""
    if backend not in BACKENDS:
        raise SnnkitError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    net, ev, n = _inputs_for(net_path, inputs, n)
    if out is not None:
        out, _ = ensure_writable_dir(out)
    start = time.monotonic()
    if backend == "emulator":
        spikes = emulate_events(net, ev, n, progress)
    else:
        from snnkit.hardware.lava_runner import run_lava

        spikes = run_lava(net_path, to_dense(ev, 0, n), progress=progress)
    seconds = time.monotonic() - start
    counts = spikes.sum(0).to(torch.int64)
    summary: dict[str, Any] = {"backend": backend, "n": n, "steps": ev.n_steps,
                               "output_spikes": int(counts.sum()),
                               "seconds": round(seconds, 3)}
    if ev.labels is not None:
        labels = torch.as_tensor(ev.labels[:n])
        summary["accuracy"] = float((counts.argmax(1) == labels).double().mean())
    if out is not None:
        write_events(from_dense(spikes, dt=ev.dt), Path(out) / "output.events")
        atomic_write_json(Path(out) / "summary.json", summary)
    return summary


def verify(net_path: str | Path, inputs: str | Path, n: int | None = None,
           progress: bool = True) -> dict[str, Any]:
    """Emulator vs Lava on the same inputs: compared output entries and mismatches."""
    net, ev, n = _inputs_for(net_path, inputs, n)
    ours = emulate_events(net, ev, n)
    from snnkit.hardware.lava_runner import run_lava

    lava = run_lava(net_path, to_dense(ev, 0, n), progress=progress)
    mismatches = int((ours != lava).sum())
    return {"samples": n, "compared": int(ours.numel()),
            "output_spikes": int(lava.sum()), "mismatches": mismatches,
            "identical": mismatches == 0}


def report_table(report: list[dict[str, Any]]) -> str:
    """The per-layer quantization report as a plain-text table."""
    head = (f"{'layer':>5} {'neurons':>7} {'synapses':>9} {'cores':>5} {'scale':>10} "
            f"{'clip %':>7} {'w err %':>8} {'rec err %':>9} {'vThMant':>8}")
    rows = [head]
    for r in report:
        rows.append(f"{r['layer']:>5} {r['neurons']:>7} {r['synapses']:>9} {r['cores']:>5} "
                    f"{r['scale']:>10.1f} {100 * r['weight_clip_fraction']:>7.3f} "
                    f"{100 * r['weight_rel_rms_error']:>8.3f} "
                    f"{100 * r['rec_rel_rms_error']:>9.3f} {r['vth_mant']:>8}")
    return "\n".join(rows)
