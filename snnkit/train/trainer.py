"""The training loop shared by ST-RSBP and BPTT: data, Adam, boost, checkpoints, metrics.

Output folder contract (``snnkit train st-rsbp|bptt --config C --out DIR``):

* ``metrics.csv``: one row per epoch (train loss and accuracy, validation and test accuracy,
  spikes per sample, learning rate, seconds), rewritten atomically after every epoch;
* ``checkpoint.pt``: everything needed to continue (weights, Adam state, boost weights, the
  epoch's position and running sums, RNG states, metrics), written atomically after every epoch
  and every ``train.checkpoint_minutes``; never written when anything is not finite;
* ``model.pt`` (last epoch), ``best.pt`` (best test accuracy: the paper's protocol) and, with a
  validation hold-out, ``best_val.pt`` (epoch chosen on validation, then tested once);
* ``curves.png`` and ``config.toml``;
* with ``train.keep_epochs``, ``epochs/model_<epoch>.pt``: every epoch's network, for weight
  averaging (``snnkit average``, :mod:`snnkit.train.average`).

``train.init`` starts from a trained model's weights (fine-tuning, e.g. with another neuron
setting such as ``network.refractory = 0``); the architecture must be the same.

Determinism: the epoch's order is a permutation seeded by ``(train.seed, epoch)``, every image's
spike train a function of its index (:mod:`snnkit.train.encoding`), so a run resumed after a kill
continues exactly where the checkpoint left it.  Data parallel with ``torchrun``: each process
takes a contiguous slice of every batch, gradients are averaged with ``all_reduce`` (gloo on CPU,
nccl on CUDA), and only rank 0 writes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write_text
from snnkit.progress import progress_bar
from snnkit.train.bptt import bptt_step
from snnkit.train.checkpoint import (
    SUMS,
    RunState,
    finite_or_fail,
    load_checkpoint,
    prepare_run_dir,
    save_checkpoint,
    write_metrics,
)
from snnkit.train.config import TrainConfig
from snnkit.train.data import load_dataset
from snnkit.train.effect import effect_table
from snnkit.train.encoding import encode_batch
from snnkit.train.lif import COMPILED_BLOCK
from snnkit.train.model import build_network, load_weights, save_model
from snnkit.train.network import SpikingNet, compiled_forward, forward
from snnkit.train.parallel import my_slice, sync_gradients, world
from snnkit.train.strsbp import ForwardFn, StrsbpOptions, strsbp_step


@dataclass
class Split:
    """Images of one split, indexed into ``images`` (train and validation share the array)."""

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    name: str


def resolve_device(device: str) -> torch.device:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SnnkitError("--device: CUDA requested but no CUDA device is available "
                          "(torch.cuda.is_available() is False); use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise SnnkitError(f"--device: expected cpu or cuda, got {device!r}")
    return torch.device(device)


def load_splits(cfg: TrainConfig, data_dir: str | Path | None) -> dict[str, Split]:
    d = cfg.data
    train = load_dataset(d.dataset, "train", data_dir=data_dir)
    test = load_dataset(d.dataset, "test", data_dir=data_dir)
    n_fit = len(train.labels) - d.holdout
    fit_idx = np.arange(n_fit if d.n_train is None else min(d.n_train, n_fit))
    splits = {"train": Split(train.images, train.labels, fit_idx, "train")}
    if d.holdout:
        splits["validation"] = Split(train.images, train.labels,
                                     np.arange(n_fit, len(train.labels)), "validation")
    n_test = len(test.labels) if d.n_test is None else min(d.n_test, len(test.labels))
    splits["test"] = Split(test.images, test.labels, np.arange(n_test), "test")
    return splits


@torch.no_grad()
def evaluate_split(net: SpikingNet, split: Split, cfg: TrainConfig, device: torch.device,
                   batch_size: int = 100, progress: bool = True,
                   forward_fn: ForwardFn | None = None) -> dict[str, float]:
    """Accuracy and spikes per sample of ``net`` on a split (prediction: most output spikes,
    ties to the lowest index); ``forward_fn`` replaces the float forward pass."""
    correct = spikes = 0.0
    mine = my_slice(split.indices)
    with progress_bar(len(mine), f"eval {split.name}", "sample", enabled=progress) as bar:
        for start in range(0, len(mine), batch_size):
            idx = mine[start:start + batch_size]
            x = encode_batch(split.images, idx, cfg.data.T, cfg.data.p_max, cfg.data.seed,
                             split.name, device=device)
            trains = (forward_fn or forward)(net, x)
            pred = trains[-1].sum(0).argmax(1).cpu().numpy()
            correct += float((pred == split.labels[idx]).sum())
            spikes += float(sum(t.sum() for t in trains))
            bar.update(len(idx))
    totals = torch.tensor([correct, spikes], dtype=torch.float64)
    if world()[1] > 1:
        dist.all_reduce(totals)
    n = len(split.indices)
    return {"accuracy": float(totals[0]) / n, "n": n, "spikes_per_sample": float(totals[1]) / n}


def _lr(cfg: TrainConfig, epoch: int) -> float:
    t = cfg.train
    return t.lr / math.sqrt(epoch + 1) if t.lr_schedule == "inv_sqrt" else t.lr


def _boost(state: RunState, labels: np.ndarray) -> None:
    """Official boost rule: wrong samples' weights × exp(err_class/20)."""
    w, wrong = state.sample_weight, state.wrong.astype(bool)
    for c in np.unique(labels):
        cls = labels == c
        err = w[cls & wrong].sum() / max(w[cls].sum(), 1e-12)
        w[cls & wrong] *= math.exp(err / 20.0)


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False, device: str = "cpu",
          progress: bool = True, data_dir: str | Path | None = None,
          forward_fn: ForwardFn | None = None) -> list[dict[str, Any]]:
    """Train a network as ``cfg`` says; write the output folder (module docstring).

    ``forward_fn(net, spikes)`` replaces the float forward pass in training (ST-RSBP only) and
    evaluation, for fine-tuning through other dynamics (see
    :func:`snnkit.train.strsbp.strsbp_step`).  Returns the metrics rows.  Raises
    :class:`SnnkitError` for user errors (bad data folder, a checkpoint of another run on
    ``--resume``, CUDA missing, non-finite values).
    """
    dev = resolve_device(device)
    rank = world()[0]
    out = prepare_run_dir(out, resume, writer=rank == 0)
    splits = load_splits(cfg, data_dir)
    train_split = splits["train"]
    torch.manual_seed(cfg.train.seed)
    if forward_fn is not None and cfg.method != "st-rsbp":
        raise SnnkitError(f"method: a replaced forward pass needs st-rsbp, got {cfg.method}")
    eval_fn = forward_fn  # the forward pass of evaluation
    if cfg.train.compile and forward_fn is None:
        eval_fn = compiled_forward
        forward_fn = compiled_forward if cfg.method == "st-rsbp" else None
    net = build_network(cfg.network)
    if cfg.train.init and not resume:
        load_weights(net, cfg.train.init)
    net = net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=_lr(cfg, 0), betas=cfg.train.betas,
                           eps=cfg.train.eps)
    state = load_checkpoint(out, net, opt, cfg) if resume else RunState()
    n_train = len(train_split.indices)
    if state.sample_weight is None:
        state.sample_weight = np.ones(n_train)
    if rank == 0:
        atomic_write_text(out / "config.toml", cfg.to_toml())
    s = cfg.strsbp
    opts = StrsbpOptions(s.target_true, s.target_false, s.margin, s.effect_ratio,
                         s.ratio_fallback, s.self_consistency, s.lateral_factor, s.dead_target,
                         reg_lambda=s.reg_lambda, reg_beta=s.reg_beta, reg_limit=s.reg_limit)
    table = None
    if cfg.method == "st-rsbp":
        p0 = net.params[0]
        table = torch.as_tensor(effect_table(p0, cfg.data.T, trials=s.effect_trials),
                                dtype=torch.float32, device=dev)
    B = cfg.train.batch_size
    n_batches = math.ceil(n_train / B)
    if eval_fn is compiled_forward:  # compile now (a block per layer), not on the epoch's clock
        compiled_forward(net, torch.zeros(COMPILED_BLOCK, B, net.n_in, device=dev))
    last_save = time.monotonic()
    for epoch in range(state.epoch, cfg.train.epochs):
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, epoch)
        order = np.random.default_rng([cfg.train.seed, epoch]).permutation(n_train)
        if state.wrong is None:
            state.wrong = np.zeros(n_train, dtype=np.int8)
        t_epoch = time.monotonic()
        with progress_bar(n_train, f"epoch {epoch + 1}/{cfg.train.epochs}", "sample",
                          enabled=progress and rank == 0, initial=min(state.position * B,
                                                                       n_train)) as bar:
            for b in range(state.position, n_batches):
                pos = order[b * B:(b + 1) * B]
                mine = my_slice(pos)
                idx = train_split.indices[mine]
                x = encode_batch(train_split.images, idx, cfg.data.T, cfg.data.p_max,
                                 cfg.data.seed, "train",
                                 None if cfg.data.encoding == "fixed" else epoch, device=dev)
                y = torch.as_tensor(train_split.labels[idx], device=dev)
                w = torch.as_tensor(state.sample_weight[mine], dtype=torch.float32, device=dev)
                if cfg.method == "st-rsbp":
                    res = strsbp_step(net, x, y, w, table, opts, forward_fn)
                else:
                    res = bptt_step(net, x, y, w, cfg.bptt, opts)
                sync_gradients(net, len(mine), len(pos))
                finite_or_fail(net, f"epoch {epoch + 1}, batch {b + 1}", out)
                if cfg.train.clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.train.clip_grad_norm)
                opt.step()
                wrong = (res.counts.argmax(1) != y).cpu().numpy()
                state.wrong[mine] = wrong
                _accumulate(state.sums, res.loss, wrong, res.spikes)
                state.position = b + 1
                bar.update(len(pos))
                n = max(state.sums["n"], 1)
                bar.set_postfix(loss=f"{state.sums['loss'] / n:.1f}",
                                acc=f"{1 - state.sums['wrong'] / n:.3f}", refresh=False)
                if budget_spent(state, t_epoch, cfg.train.max_minutes):
                    break
                if time.monotonic() - last_save > 60 * cfg.train.checkpoint_minutes:
                    state.epoch_seconds += time.monotonic() - t_epoch
                    t_epoch = time.monotonic()
                    save_checkpoint(out, net, opt, cfg, state)
                    last_save = time.monotonic()
        state.epoch_seconds += time.monotonic() - t_epoch
        _finish_epoch(state, net, opt, cfg, splits, dev, out, progress, epoch, eval_fn)
        last_save = time.monotonic()
        if budget_spent(state, time.monotonic(), cfg.train.max_minutes):
            break
    return state.metrics


def budget_spent(state: RunState, t_epoch: float, max_minutes: float | None) -> bool:
    """Whether the run's training time (evaluation excluded) has reached ``max_minutes``
    (the wall-time budget of ``train.max_minutes``; the epoch in progress then ends early)."""
    if max_minutes is None:
        return False
    return state.elapsed + state.epoch_seconds + time.monotonic() - t_epoch >= 60 * max_minutes


def _accumulate(sums: dict[str, float], loss: torch.Tensor, wrong: np.ndarray,
                spikes: torch.Tensor) -> None:
    vals = torch.tensor([float(loss.sum()), float(wrong.sum()), float(spikes.sum()), len(wrong)],
                        dtype=torch.float64)
    if world()[1] > 1:
        dist.all_reduce(vals)
    for key, v in zip(SUMS, vals.tolist(), strict=True):
        sums[key] += v


def _finish_epoch(state: RunState, net: SpikingNet, opt: torch.optim.Optimizer,
                  cfg: TrainConfig, splits: dict[str, Split], dev: torch.device, out: Path,
                  progress: bool, epoch: int, forward_fn: ForwardFn | None = None) -> None:
    rank, size = world()
    if size > 1:
        votes = torch.as_tensor(state.wrong, dtype=torch.int32)
        dist.all_reduce(votes)
        state.wrong = votes.numpy().astype(np.int8)
    if cfg.train.boost:
        _boost(state, splits["train"].labels[splits["train"].indices])
    sums = state.sums
    n = max(sums["n"], 1.0)
    row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": round(sums["loss"] / n, 4),
                           "train_accuracy": round(1 - sums["wrong"] / n, 5),
                           "spikes_per_sample": round(sums["spikes"] / n, 1),
                           "lr": _lr(cfg, epoch)}
    net.eval()
    if "validation" in splits:
        row["val_accuracy"] = round(evaluate_split(
            net, splits["validation"], cfg, dev, progress=progress, forward_fn=forward_fn
        )["accuracy"], 5)
    row["test_accuracy"] = round(evaluate_split(
        net, splits["test"], cfg, dev, progress=progress, forward_fn=forward_fn)["accuracy"], 5)
    net.train()
    state.elapsed += state.epoch_seconds
    row["seconds"] = round(state.epoch_seconds, 1)
    row["elapsed"] = round(state.elapsed, 1)
    previous = state.metrics
    state.metrics = [*previous, row]
    state.epoch, state.position = epoch + 1, 0
    state.sums = dict.fromkeys(SUMS, 0.0)
    state.wrong, state.epoch_seconds = None, 0.0
    if rank != 0:
        return
    info = {k: row[k] for k in ("epoch", "test_accuracy", "val_accuracy") if k in row}
    info["dataset"] = cfg.data.dataset
    save_model(out / "model.pt", net, cfg, info)
    if cfg.train.keep_epochs:
        (out / "epochs").mkdir(exist_ok=True)
        save_model(out / "epochs" / f"model_{epoch + 1}.pt", net, cfg, info)
    if row["test_accuracy"] >= max(r["test_accuracy"] for r in state.metrics):
        save_model(out / "best.pt", net, cfg, info)
    if "val_accuracy" in row and row["val_accuracy"] >= max(r["val_accuracy"]
                                                            for r in state.metrics):
        save_model(out / "best_val.pt", net, cfg, info)
    write_metrics(out, state.metrics)
    save_checkpoint(out, net, opt, cfg, state)
    from snnkit.train.curves import plot_curves

    plot_curves(state.metrics, out / "curves.png", title=f"{cfg.method} {cfg.network.layers} "
                f"on {cfg.data.dataset}")


