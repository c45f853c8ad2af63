"""Evaluate a trained model file on a data set (``snnkit evaluate``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from snnkit.errors import SnnkitError
from snnkit.train.data import load_dataset
from snnkit.train.model import load_model, read_torch_file
from snnkit.train.trainer import Split, evaluate_split, resolve_device

SPLITS = ("test", "validation", "train")


def evaluate(model: str | Path, dataset: str | None = None, split: str = "test",
             n: int | None = None, data_dir: str | Path | None = None, device: str = "cpu",
             batch_size: int = 100, progress: bool = True) -> dict[str, Any]:
    """Accuracy of a model file on ``dataset`` (default: the one it was trained on).

    The inputs are encoded as in training (same T, p_max and per-image seeds), so a model's
    test accuracy here equals the one its training run logged.  ``split="validation"`` is the
    hold-out of the model's config (``data.holdout`` last training images).  LMU models
    (config ``method = "lmu"``) go to :func:`snnkit.train.lmu_trainer.evaluate_lmu` (psmnist's
    fixed splits; ``bits_per_activity`` and ``dt`` for spiking models).
    """
    if split not in SPLITS:
        raise SnnkitError(f"--split: expected one of {', '.join(SPLITS)}, got {split!r}")
    if n is not None and n < 1:
        raise SnnkitError(f"--n: expected a positive number of samples, got {n}")
    if read_torch_file(model)["config"].get("method") == "lmu":
        from snnkit.train.lmu_trainer import evaluate_lmu

        return evaluate_lmu(model, dataset, split, n, data_dir, device, batch_size, progress)
    dev = resolve_device(device)
    net, cfg, info = load_model(model)
    name = dataset or cfg.data.dataset
    start = time.monotonic()
    if split == "test":
        data = load_dataset(name, "test", data_dir=data_dir)
        idx = np.arange(len(data.labels))
    else:
        data = load_dataset(name, "train", data_dir=data_dir)
        n_fit = len(data.labels) - cfg.data.holdout
        if split == "validation" and cfg.data.holdout == 0:
            raise SnnkitError(f"--split validation: {model} was trained without a hold-out "
                              "(data.holdout = 0)")
        idx = np.arange(n_fit, len(data.labels)) if split == "validation" else np.arange(n_fit)
    if n is not None:
        idx = idx[:n]
    result = evaluate_split(net.to(dev), Split(data.images, data.labels, idx, split), cfg, dev,
                            batch_size=batch_size, progress=progress)
    return {"model": str(model), "dataset": name, "split": split, **result,
            "seconds": round(time.monotonic() - start, 2),
            "trained_epoch": info.get("epoch"), "method": cfg.method}
