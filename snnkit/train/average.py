"""Weight averaging of a run's epoch snapshots (Polyak averaging; SWA, Izmailov et al. 2018).

Given the model files :math:`\\theta_1, \\dots, \\theta_K` of one training run (``epochs/
model_<e>.pt``, written when ``train.keep_epochs = true``), the averaged network has

.. math::  \\bar\\theta = \\frac{1}{K} \\sum_{k=1}^{K} \\theta_k

for every trained weight; connectivity masks and other buffers must agree and are copied.
Snapshots taken while a constant, fairly large step size makes the weights wander around a
minimum average to a point nearer its centre: on the Fashion-MNIST ST-RSBP run the average of
four large-step epochs tested as well as a step-size decay did (``docs/results/strsbp.md``).
The networks have no batch statistics, so nothing has to be recomputed after averaging.

The running mean is :class:`torch.optim.swa_utils.AveragedModel` (its default ``avg_fn``), fed
one snapshot at a time, so only two networks are in memory whatever ``K`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel

from snnkit.errors import SnnkitError
from snnkit.train.checkpoint import data_fixing_the_run
from snnkit.train.config import TrainConfig
from snnkit.train.model import load_model, save_model
from snnkit.train.network import SpikingNet


def _same_run(first: Path, path: Path, cfg_a: TrainConfig, cfg_b: TrainConfig,
              net_a: SpikingNet, net_b: SpikingNet) -> None:
    """Refuse ``path`` unless it is a snapshot of ``first``'s run (the network config fixes the
    architecture; the masks are compared as stored)."""
    if cfg_a.network != cfg_b.network:
        raise SnnkitError(f"{path}: another network than {first}; average snapshots of one run")
    if data_fixing_the_run(cfg_a.data) != data_fixing_the_run(cfg_b.data):
        raise SnnkitError(f"{path}: trained on other data settings than {first}")
    for (name, a), b in zip(net_a.named_buffers(), net_b.buffers(), strict=True):
        if not torch.equal(a, b):
            raise SnnkitError(f"{path}: buffer {name} differs from {first}'s; average snapshots "
                              "of one run")


def average_models(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Write the equal-weight average of the model files ``paths`` to ``out``.

    The files (ST-RSBP or BPTT models) must come from one run: same network, connectivity
    masks and data settings (``data.encoding`` may differ, as a resumed run may switch it).
    The output's config is the last file's; its info records the epochs averaged and has no
    accuracies (evaluate it with :func:`snnkit.train.evaluate.evaluate`).
    """
    files = [Path(p) for p in paths]
    if len(files) < 2:
        raise SnnkitError(f"average: expected at least two model files, got {len(files)}")
    net, cfg, info = load_model(files[0])
    avg = AveragedModel(net)
    avg.update_parameters(net)  # the first update copies: the running mean starts here
    epochs = [info.get("epoch")]
    for path in files[1:]:
        other, cfg_b, info_b = load_model(path)
        _same_run(files[0], path, cfg, cfg_b, net, other)
        avg.update_parameters(other)
        cfg, epochs = cfg_b, [*epochs, info_b.get("epoch")]
    return save_model(out, avg.module, cfg, {
        "averaged_epochs": epochs, "averaged_files": [str(p) for p in files],
        "epoch": epochs[-1], "dataset": cfg.data.dataset})
