"""Learning-rate A/B test of the Fashion-MNIST ST-RSBP run from one of its checkpoints.

Each learning rate continues the checkpoint (weights and Adam state) for the same ``STEPS``
mini-batches of ``BATCH`` training images (a fixed permutation), then the network is evaluated on
the first 2,000 validation images.  Used for docs/results/strsbp.md, starting from the end of
epoch 11 (the checkpoint committed in 3fbe444)::

    mkdir -p /tmp/ep11
    git show 3fbe444:docs/results/strsbp/run/checkpoint.pt > /tmp/ep11/checkpoint.pt
    SNNKIT_DATA=../shared/data python docs/results/strsbp/lr_ab.py /tmp/ep11 150 32 \
        0 0.0017 0.0008 0.006 0.015

and from the end of epoch 15 (the checkpoint committed with the epoch-15 table)::

    SNNKIT_DATA=../shared/data python docs/results/strsbp/lr_ab.py /tmp/ep15 200 32 \
        0 0.00077 0.00039 0.0002

The forward passes run compiled (:func:`snnkit.train.network.compiled_forward`, same spikes).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from snnkit.train.checkpoint import load_checkpoint
from snnkit.train.config import load_train_config
from snnkit.train.effect import effect_table
from snnkit.train.encoding import encode_batch
from snnkit.train.model import build_network
from snnkit.train.network import compiled_forward
from snnkit.train.strsbp import StrsbpOptions, strsbp_step
from snnkit.train.trainer import Split, evaluate_split, load_splits

CONFIG = Path(__file__).resolve().parents[3] / "models" / "strsbp_fmnist.toml"


def main(checkpoint_dir: str, steps: int, batch: int, rates: list[float]) -> None:
    cfg = load_train_config(CONFIG)
    splits = load_splits(cfg, None)
    train, val = splits["train"], splits["validation"]
    val_2k = Split(val.images, val.labels, val.indices[:2000], "validation")
    s = cfg.strsbp
    opts = StrsbpOptions(s.target_true, s.target_false, s.margin, s.effect_ratio,
                         s.ratio_fallback, s.self_consistency, s.lateral_factor, s.dead_target,
                         reg_lambda=s.reg_lambda, reg_beta=s.reg_beta, reg_limit=s.reg_limit)
    order = np.random.default_rng(123).permutation(len(train.indices))
    for lr in rates:
        net = build_network(cfg.network)
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=cfg.train.betas, eps=cfg.train.eps)
        load_checkpoint(Path(checkpoint_dir), net, opt, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        table = torch.as_tensor(effect_table(net.params[0], cfg.data.T, trials=s.effect_trials),
                                dtype=torch.float32)
        start, losses = time.time(), []
        for b in range(steps if lr > 0 else 0):
            idx = train.indices[order[b * batch:(b + 1) * batch]]
            x = encode_batch(train.images, idx, cfg.data.T, cfg.data.p_max, cfg.data.seed,
                             "train")
            res = strsbp_step(net, x, torch.as_tensor(train.labels[idx]), torch.ones(len(idx)),
                              table, opts, compiled_forward)
            opt.step()
            losses.append(float(res.loss.mean()))
        acc = evaluate_split(net.eval(), val_2k, cfg, torch.device("cpu"), progress=False,
                             forward_fn=compiled_forward)
        half = len(losses) // 2
        first = np.mean(losses[:half]) if losses else float("nan")
        second = np.mean(losses[half:]) if losses else float("nan")
        print(f"lr={lr:g}: train loss {first:.1f} (first half) -> {second:.1f} (second half), "
              f"validation (2,000) {acc['accuracy']:.4f}, {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [float(a) for a in sys.argv[4:]])
