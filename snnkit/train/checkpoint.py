"""Run state, checkpoints and metrics of a training run (written atomically, never with NaN).

``checkpoint.pt`` holds the weights, the optimiser's state, the :class:`RunState` (epoch, batch
position, running sums, boost weights, metrics so far) and the RNG states; it is refused on
``--resume`` when it belongs to another architecture, data setting or method.

Shared by the ST-RSBP/BPTT trainer and the LMU trainer (:mod:`snnkit.train.lmu_trainer`): the
network only needs ``architecture()`` (a dict) and the config ``to_dict()``, ``from_mapping``,
``data`` and ``method``; the config class is taken from the config passed in.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write, atomic_write_text, ensure_writable_dir
from snnkit.train.config import TrainConfig
from snnkit.train.model import read_torch_file
from snnkit.train.parallel import world

SUMS = ("loss", "wrong", "spikes", "n")
METRIC_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_accuracy", "test_accuracy",
                 "spikes_per_sample", "lr", "seconds", "elapsed"]


@dataclass
class RunState:
    epoch: int = 0
    position: int = 0                       # batches done in this epoch
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SUMS, 0.0))
    wrong: np.ndarray | None = None         # this epoch's training votes (boost)
    sample_weight: np.ndarray | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0
    epoch_seconds: float = 0.0


def prepare_run_dir(out: str | Path, resume: bool, writer: bool = True) -> Path:
    """The run folder, created if needed (by the ``writer`` process); refuses to start a new
    run over an old one, or to resume without a checkpoint."""
    out = Path(out)
    if writer:
        out, _ = ensure_writable_dir(out)
        if not resume and (out / "checkpoint.pt").exists():
            raise SnnkitError(f"--out: {out} already holds a training run; add --resume to "
                              "continue it or choose another folder")
    if resume and not (out / "checkpoint.pt").exists():
        raise SnnkitError(f"--resume: no checkpoint.pt in {out}")
    return out


def finite_or_fail(net: nn.Module, where: str, out: Path) -> None:
    for name, p in net.named_parameters():
        for kind, t in (("weights", p), ("gradient", p.grad)):
            if t is not None and not bool(torch.isfinite(t).all()):
                raise SnnkitError(
                    f"non-finite {kind} in layer {name} at {where}; training stopped, "
                    f"last good checkpoint: {out / 'checkpoint.pt'}")


def save_checkpoint(out: Path, net: nn.Module, opt: torch.optim.Optimizer,
                    cfg: TrainConfig | Any, state: RunState) -> None:
    if world()[0] != 0:
        return
    finite_or_fail(net, f"epoch {state.epoch + 1}, batch {state.position}", out)
    payload = {"format": "snnkit-checkpoint/1", "config": cfg.to_dict(),
               "architecture": net.architecture(), "state_dict": net.state_dict(),
               "optimizer": opt.state_dict(), "state": state.__dict__,
               "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write(out / "checkpoint.pt", lambda fh: fh.write(buf.getvalue()))


def load_checkpoint(out: Path, net: nn.Module, opt: torch.optim.Optimizer,
                    cfg: TrainConfig | Any) -> RunState:
    path = out / "checkpoint.pt"
    data = read_torch_file(path, "checkpoint")
    if data.get("architecture") != net.architecture():
        raise SnnkitError(f"{path}: checkpoint of another architecture "
                          f"({_describe(data.get('architecture'))}, "
                          f"config has {_describe(net.architecture())}); use another --out")
    saved = type(cfg).from_mapping(data["config"], str(path))
    if data_fixing_the_run(saved.data) != data_fixing_the_run(cfg.data) \
            or saved.method != cfg.method:
        raise SnnkitError(f"{path}: checkpoint made with other data settings or method; use the "
                          "same [data] (only data.encoding may change) or another --out")
    position = data["state"].get("position", 0)
    if position and saved.train.batch_size != cfg.train.batch_size:
        raise SnnkitError(f"{path}: checkpoint stopped mid-epoch ({position} batches of "
                          f"train.batch_size = {saved.train.batch_size}); resume with that batch "
                          "size (it may change at an epoch's end)")
    net.load_state_dict(data["state_dict"])
    opt.load_state_dict(data["optimizer"])
    torch.set_rng_state(data["rng"]["torch"])
    random.setstate(data["rng"]["python"])
    return RunState(**data["state"])


def data_fixing_the_run(data: Any) -> dict[str, Any]:
    """The data settings a resumed run must keep: all but ``encoding``.

    ``encoding`` only says whether the *training* trains are redrawn each epoch; validation and
    test trains are always the fixed ones (:mod:`snnkit.train.encoding`), so switching from
    ``"fixed"`` to ``"fresh"`` mid-run (new trains as augmentation once a network starts to
    memorise the fixed ones) keeps every number the run has written comparable.
    """
    return {k: v for k, v in data.model_dump().items() if k != "encoding"}


def _describe(arch: Any) -> Any:
    """The short form of an architecture in messages: ST-RSBP's layer string, else the dict."""
    if isinstance(arch, dict) and "layers" in arch:
        return arch["layers"]
    if isinstance(arch, dict):
        return {k: v for k, v in arch.items() if not isinstance(v, dict | list)}
    return arch


def write_metrics(out: Path, rows: list[dict[str, Any]],
                  fields: list[str] = METRIC_FIELDS) -> None:
    """``metrics.csv`` with the columns ``fields`` (missing values empty), atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in fields})
    atomic_write_text(out / "metrics.csv", buf.getvalue())
