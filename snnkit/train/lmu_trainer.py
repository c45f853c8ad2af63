"""Training the (hybrid-spiking) LMU on psMNIST: ``snnkit train lmu --config C --out DIR``.

The paper's protocol (Voelker, Kajić, Eliasmith 2019; "A Spike in Performance" 2020): the
fixed NRU split of psMNIST (50k/10k/10k, :func:`snnkit.train.data.load_dataset`), pixels
scaled to [0, 1] and fed one per step (T = 784, time-major (T, B, 1)), cross-entropy on the
last step's logits, Adam, the checkpoint chosen on validation accuracy (``best_val.pt``).

``train.init`` starts from a model file's weights (a spiking run fine-tuned from the trained
non-spiking LMU: ``models/lmu_psmnist_spiking.toml``).  Spiking runs (``[spiking] enabled``)
replace the hidden nonlinearity f by a sigma-delta quantizer of f
(:class:`snnkit.train.quantize.SigmaDeltaQuantizer`) whose ``dt`` follows ``spiking.schedule``
from ``dt_start`` (nearly non-spiking) to ``dt_end`` (≤ 1 spike per step), per epoch or per
optimiser step.  ``best_val.pt`` is then chosen among the epochs that ended at ``dt_end`` only
(a non-spiking epoch is not a spiking model); no such epoch, no file.

Output folder (same contract as :mod:`snnkit.train.trainer`):

* ``metrics.csv``: epoch, train_loss (cross-entropy), train_accuracy, val_accuracy,
  test_accuracy, lr, seconds, elapsed and, for spiking runs, ``dt`` (the value at the end of the
  epoch, used for its evaluation) and ``bits_per_activity`` (hidden layer, on the test pass:
  mean over neurons of log2 of the number of count levels used,
  :func:`snnkit.train.quantize.bits_per_activity`);
* ``checkpoint.pt`` (weights, Adam state, epoch, batch position, running sums, metrics, RNG
  states; atomically after every epoch and every ``train.checkpoint_minutes``; never with
  non-finite values), ``model.pt`` (last epoch), ``best_val.pt``, ``curves.png``,
  ``config.toml``.

Model files use the format of :mod:`snnkit.train.model` (config with ``method = "lmu"``, and
``info["dt"]``, the quantizer step the model was evaluated with); :func:`load_lmu_model` reads
them.  Determinism: the epoch's order is a permutation seeded by ``(train.seed, epoch)`` and dt
is a function of the epoch or step, so a resumed run is bit-identical to a straight one.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write_text
from snnkit.progress import progress_bar
from snnkit.train.checkpoint import (
    SUMS,
    RunState,
    finite_or_fail,
    load_checkpoint,
    prepare_run_dir,
    save_checkpoint,
    write_metrics,
)
from snnkit.train.data import load_dataset
from snnkit.train.lmu import LMU, ParallelLMU
from snnkit.train.lmu_config import LmuConfig
from snnkit.train.model import _load_state, read_torch_file, save_model
from snnkit.train.quantize import (
    SigmaDeltaQuantizer,
    interpolation_schedule,
    set_quantizer_dt,
    significant_bit_sums,
)
from snnkit.train.trainer import Split, resolve_device

N_CLASSES = 10
EVAL_BATCH = 100
METRIC_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_accuracy", "test_accuracy",
                 "lr", "seconds", "elapsed"]
SPIKING_FIELDS = ["dt", "bits_per_activity"]
_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "identity": nn.Identity()}


class LMUNet(nn.Module):
    """An LMU (``kind = "lmu"``) or parallel LMU and a dense 10-way readout of the last h.

    ``forward`` returns (logits (B, 10), h (T, B, hidden)).  With spiking, ``self.quantizer``
    is the hidden nonlinearity.
    """

    def __init__(self, cfg: LmuConfig):
        super().__init__()
        m, s = cfg.model, cfg.spiking
        self.cfg = cfg
        f = _ACTIVATIONS[m.nonlinearity]
        self.quantizer: SigmaDeltaQuantizer | None = None
        if s.enabled and "hidden" in s.layers:
            self.quantizer = SigmaDeltaQuantizer(f, dt=s.dt_start, amplitude=s.amplitude,
                                                 initial=s.initial, seed=s.seed,
                                                 gradient=s.gradient)
        hidden_f = self.quantizer if self.quantizer is not None else f
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(m.seed)
            if m.kind == "lmu":
                self.core: nn.Module = LMU(1, m.hidden, m.order, m.theta, 1, hidden_f,
                                           m.hidden_to_memory, m.memory_to_memory)
            else:
                self.core = ParallelLMU(1, m.hidden, m.order, m.theta, 1,
                                        _ACTIVATIONS[m.input_nonlinearity], hidden_f)
            self.readout = nn.Linear(m.hidden, N_CLASSES)
        self.dropout = nn.Dropout(m.dropout)

    def forward(self, x: torch.Tensor, sequence: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, h).  ``sequence = False``: h may hold the last step only (the parallel
        LMU then skips every other step, :meth:`ParallelLMU.forward_last`)."""
        if not sequence and isinstance(self.core, ParallelLMU):
            h_last = self.core.forward_last(x)
            return self.readout(self.dropout(h_last)), h_last[None]
        h, _ = self.core(x)
        return self.readout(self.dropout(h[-1])), h

    def architecture(self) -> dict[str, Any]:
        m = self.cfg.model
        return {"kind": m.kind, "order": m.order, "theta": m.theta, "hidden": m.hidden,
                "parameters": {k: list(v.shape) for k, v in self.named_parameters()}}

    def hidden_fan_out(self) -> torch.Tensor | None:
        """Per hidden unit, the non-zero weights its output multiplies at every step (its
        columns of W_h and e_h; the readout, used once per sequence, is left out); None when
        there are none (the parallel LMU)."""
        cell = getattr(self.core, "cell", None)
        if cell is None:
            return None
        fan = (cell.W_h != 0).sum(0)
        if cell.e_h is not None:
            fan = fan + (cell.e_h != 0).sum(0)
        return fan.double() if bool(fan.any()) else None

    def counts(self, h: torch.Tensor) -> torch.Tensor:
        """Integer spike counts (float64) of the quantized hidden outputs h."""
        q = self.quantizer
        return torch.round(h.detach().double() * (q.dt / q.amplitude))


def build_lmu_network(cfg: LmuConfig) -> LMUNet:
    """The network ``cfg`` describes, freshly initialised (seeded by ``model.seed``)."""
    return LMUNet(cfg)


def load_lmu_model(path: str | Path) -> tuple[LMUNet, LmuConfig, dict[str, Any]]:
    """Network (weights loaded, eval mode, quantizer at the stored dt), config, info."""
    data = _read_lmu_file(path)
    cfg = LmuConfig.from_mapping(data["config"], str(path))
    net = build_lmu_network(cfg)
    _load_state(net, data, path)
    info = dict(data.get("info", {}))
    if net.quantizer is not None and info.get("dt") is not None:
        set_quantizer_dt(net, float(info["dt"]))
    return net.eval(), cfg, info


def load_lmu_weights(net: LMUNet, path: str | Path) -> None:
    """Load an LMU model file's weights into ``net`` (``train.init``: fine-tuning, e.g. a
    spiking run from a trained non-spiking LMU of the same sizes; the quantizer has no
    weights, so the two share one state dict)."""
    _load_state(net, _read_lmu_file(path, "train.init: "), path)


def _read_lmu_file(path: str | Path, field: str = "") -> dict[str, Any]:
    data = read_torch_file(path)
    if data["config"].get("method") != "lmu":
        raise SnnkitError(f"{field}{path}: not an LMU model "
                          f"(method {data['config'].get('method')!r})")
    return data


def sequences(images: np.ndarray, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """psMNIST sequences (784, B, 1) in [0, 1] of images (n, 784) uint8."""
    x = torch.as_tensor(images[idx], dtype=torch.float32, device=device) / 255.0
    return x.T[..., None].contiguous()


def load_lmu_splits(cfg: LmuConfig, data_dir: str | Path | None) -> dict[str, Split]:
    d, splits = cfg.data, {}
    for name, limit in (("train", d.n_train), ("validation", d.n_val), ("test", d.n_test)):
        data = load_dataset(d.dataset, name, data_dir=data_dir)
        n = len(data.labels) if limit is None else min(limit, len(data.labels))
        splits[name] = Split(data.images, data.labels, np.arange(n), name)
    return splits


@torch.no_grad()
def evaluate_lmu_split(net: LMUNet, split: Split, device: torch.device,
                       batch_size: int = EVAL_BATCH, progress: bool = True) -> dict[str, Any]:
    """Accuracy (argmax of the last step's logits) and, when spiking, bits per activity and
    significant bits per weight-multiplying activity
    (:func:`snnkit.train.quantize.significant_bits` weighted by :meth:`LMUNet.hidden_fan_out`)."""
    correct = 0
    hi = lo = None
    sig = [0.0, 0.0]  # significant bits: Σ bits·fan-out, Σ fan-out
    fan_out = net.hidden_fan_out() if net.quantizer is not None else None
    idx_all = split.indices
    with progress_bar(len(idx_all), f"eval {split.name}", "sample", enabled=progress) as bar:
        for start in range(0, len(idx_all), batch_size):
            idx = idx_all[start:start + batch_size]
            logits, h = net(sequences(split.images, idx, device),
                            sequence=net.quantizer is not None)
            correct += int((logits.argmax(1).cpu().numpy() == split.labels[idx]).sum())
            if net.quantizer is not None:
                c = net.counts(h).reshape(-1, h.shape[-1])
                sig = [a + b for a, b in zip(sig, significant_bit_sums(c, fan_out), strict=True)]
                hi = c.amax(0) if hi is None else torch.maximum(hi, c.amax(0))
                lo = c.amin(0) if lo is None else torch.minimum(lo, c.amin(0))
            bar.update(len(idx))
    n = len(idx_all)
    result: dict[str, Any] = {"accuracy": correct / n, "n": n}
    if hi is not None:
        levels = hi.clamp(min=0) - lo.clamp(max=0) + 1
        result["bits_per_activity"] = round(float(torch.log2(levels).mean()), 4)
        result["significant_bits_per_weight"] = round(sig[0] / sig[1], 4) if sig[1] else None
        result["dt"] = net.quantizer.dt
    return result


class DtSchedule:
    """dt of the spiking quantizer per epoch or per optimiser step (None: not spiking)."""

    def __init__(self, cfg: LmuConfig, n_batches: int):
        s = cfg.spiking
        self.enabled, self.per = s.enabled, s.per
        self.n_batches = n_batches
        total = cfg.train.epochs * (n_batches if s.per == "step" else 1)
        self.values = interpolation_schedule(s.schedule, s.dt_start, s.dt_end,
                                             s.schedule_length or total) if s.enabled else []

    def at(self, epoch: int, batch: int) -> float | None:
        if not self.enabled:
            return None
        i = epoch * self.n_batches + batch if self.per == "step" else epoch
        return self.values[min(i, len(self.values) - 1)]

    def end_of_epoch(self, epoch: int) -> float | None:
        return self.at(epoch, self.n_batches - 1)


def train_lmu(cfg: LmuConfig, out: str | Path, resume: bool = False, progress: bool = True,
              data_dir: str | Path | None = None, device: str = "cpu") -> list[dict[str, Any]]:
    """Train the LMU ``cfg`` describes; write the output folder (module docstring).

    Returns the metrics rows.  Raises :class:`SnnkitError` for user errors (bad data folder, an
    output folder holding another run, a checkpoint of another run on ``resume``, non-finite
    values: the last good checkpoint is kept).
    """
    dev = resolve_device(device)
    out = prepare_run_dir(out, resume)
    splits = load_lmu_splits(cfg, data_dir)
    train_split = splits["train"]
    net = build_lmu_network(cfg).to(dev)
    t = cfg.train
    if t.init and not resume:
        load_lmu_weights(net, t.init)
    opt = torch.optim.Adam(net.parameters(), lr=t.lr, betas=t.betas, eps=t.eps)
    # the global generator draws dropout masks: seeded here, restored from the checkpoint
    torch.manual_seed(t.seed)
    state = load_checkpoint(out, net, opt, cfg) if resume else RunState()
    atomic_write_text(out / "config.toml", cfg.to_toml())
    n_train = len(train_split.indices)
    B = t.batch_size
    n_batches = math.ceil(n_train / B)
    schedule = DtSchedule(cfg, n_batches)
    last_save = time.monotonic()
    net.train()
    for epoch in range(state.epoch, t.epochs):
        order = np.random.default_rng([t.seed, epoch]).permutation(n_train)
        t_epoch = time.monotonic()
        with progress_bar(n_train, f"epoch {epoch + 1}/{t.epochs}", "sample",
                          enabled=progress, initial=min(state.position * B, n_train)) as bar:
            for b in range(state.position, n_batches):
                dt = schedule.at(epoch, b)
                if dt is not None:
                    set_quantizer_dt(net, dt)
                idx = train_split.indices[order[b * B:(b + 1) * B]]
                y = torch.as_tensor(train_split.labels[idx], device=dev)
                logits, _ = net(sequences(train_split.images, idx, dev), sequence=False)
                loss = F.cross_entropy(logits, y, reduction="sum")
                opt.zero_grad(set_to_none=True)
                (loss / len(idx)).backward()
                finite_or_fail(net, f"epoch {epoch + 1}, batch {b + 1}", out)
                if t.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(net.parameters(), t.clip_grad_norm)
                opt.step()
                sums = state.sums
                sums["loss"] += float(loss.detach())
                sums["wrong"] += float((logits.argmax(1) != y).sum())
                sums["n"] += len(idx)
                state.position = b + 1
                bar.update(len(idx))
                bar.set_postfix(loss=f"{sums['loss'] / sums['n']:.3f}",
                                acc=f"{1 - sums['wrong'] / sums['n']:.3f}", refresh=False)
                if time.monotonic() - last_save > 60 * t.checkpoint_minutes:
                    state.epoch_seconds += time.monotonic() - t_epoch
                    t_epoch = time.monotonic()
                    save_checkpoint(out, net, opt, cfg, state)
                    last_save = time.monotonic()
        state.epoch_seconds += time.monotonic() - t_epoch
        _finish_epoch(state, net, opt, cfg, splits, dev, out, progress, epoch,
                      schedule.end_of_epoch(epoch))
        last_save = time.monotonic()
    return state.metrics


def _finish_epoch(state: RunState, net: LMUNet, opt: torch.optim.Optimizer, cfg: LmuConfig,
                  splits: dict[str, Split], dev: torch.device, out: Path, progress: bool,
                  epoch: int, dt: float | None) -> None:
    sums = state.sums
    n = max(sums["n"], 1.0)
    row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": round(sums["loss"] / n, 5),
                           "train_accuracy": round(1 - sums["wrong"] / n, 5),
                           "lr": cfg.train.lr}
    if dt is not None:
        set_quantizer_dt(net, dt)
        row["dt"] = dt
    net.eval()
    row["val_accuracy"] = round(evaluate_lmu_split(net, splits["validation"], dev,
                                                   progress=progress)["accuracy"], 5)
    test = evaluate_lmu_split(net, splits["test"], dev, progress=progress)
    row["test_accuracy"] = round(test["accuracy"], 5)
    if "bits_per_activity" in test:
        row["bits_per_activity"] = test["bits_per_activity"]
    net.train()
    state.elapsed += state.epoch_seconds
    row["seconds"] = round(state.epoch_seconds, 1)
    row["elapsed"] = round(state.elapsed, 1)
    state.metrics = [*state.metrics, row]
    state.epoch, state.position = epoch + 1, 0
    state.sums = dict.fromkeys(SUMS, 0.0)
    state.epoch_seconds = 0.0
    info = {k: row.get(k) for k in ("epoch", "val_accuracy", "test_accuracy", "dt",
                                    "bits_per_activity")}
    info["dataset"] = cfg.data.dataset
    save_model(out / "model.pt", net, cfg, info)
    eligible = [r for r in state.metrics
                if not cfg.spiking.enabled or r.get("dt") == cfg.spiking.dt_end]
    if row in eligible and row["val_accuracy"] >= max(r["val_accuracy"] for r in eligible):
        save_model(out / "best_val.pt", net, cfg, info)
    fields = METRIC_FIELDS + (SPIKING_FIELDS if cfg.spiking.enabled else [])
    write_metrics(out, state.metrics, fields)
    save_checkpoint(out, net, opt, cfg, state)
    from snnkit.train.curves import plot_curves

    m = cfg.model
    kind = "hybrid-spiking " if cfg.spiking.enabled else ""
    plot_curves(state.metrics, out / "curves.png",
                title=f"{kind}{m.kind} LMU d={m.order} θ={m.theta:g} h={m.hidden} on psMNIST",
                loss_label="train loss (cross-entropy)")


def evaluate_lmu(path: str | Path, dataset: str | None = None, split: str = "test",
                 n: int | None = None, data_dir: str | Path | None = None, device: str = "cpu",
                 batch_size: int = EVAL_BATCH, progress: bool = True) -> dict[str, Any]:
    """Accuracy (and bits per activity when spiking) of an LMU model file on a psMNIST split."""
    dev = resolve_device(device)
    net, cfg, info = load_lmu_model(path)
    name = dataset or cfg.data.dataset
    if name != "psmnist":
        raise SnnkitError(f"--dataset: LMU models read psmnist sequences, got {name!r}")
    start = time.monotonic()
    ds = load_dataset(name, split, data_dir=data_dir)
    idx = np.arange(len(ds.labels))[:n]
    result = evaluate_lmu_split(net.to(dev), Split(ds.images, ds.labels, idx, split), dev,
                                batch_size=batch_size, progress=progress)
    return {"model": str(path), "dataset": name, "split": split, **result,
            "seconds": round(time.monotonic() - start, 2),
            "trained_epoch": info.get("epoch"), "method": "lmu"}
