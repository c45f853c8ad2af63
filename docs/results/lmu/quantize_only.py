"""A trained non-spiking LMU run with its hidden units quantized, without any spiking training.

    SNNKIT_DATA=../shared/data python docs/results/lmu/quantize_only.py \
        models/trained/lmu_psmnist.pt --dt 1 --n 10000

The model's weights go unchanged into the hybrid-spiking network of the same sizes (its tanh
units replaced by sigma-delta quantizers at ``--dt``; initial state zeros) and the network is
evaluated on the first ``n`` psMNIST test sequences.  Prints one JSON line (accuracy, bits per
activity, significant bits per weight): the baseline that spiking fine-tuning
(``models/lmu_psmnist_spiking.toml``) improves on.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from snnkit.train.data import load_dataset
from snnkit.train.lmu_config import LmuConfig
from snnkit.train.lmu_trainer import build_lmu_network, evaluate_lmu_split, load_lmu_weights
from snnkit.train.quantize import set_quantizer_dt
from snnkit.train.trainer import Split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--dt", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=10000, help="test sequences")
    args = parser.parse_args()
    rate = torch.load(args.model, map_location="cpu", weights_only=False)["config"]
    cfg = LmuConfig.from_mapping({**rate, "spiking": {"enabled": True, "dt_end": 1.0}})
    net = build_lmu_network(cfg)
    load_lmu_weights(net, args.model)
    set_quantizer_dt(net.eval(), args.dt)
    ds = load_dataset("psmnist", "test")
    split = Split(ds.images, ds.labels, np.arange(len(ds.labels))[:args.n], "test")
    result = evaluate_lmu_split(net, split, torch.device("cpu"), progress=False)
    print(json.dumps({"model": args.model, **result}))


if __name__ == "__main__":
    main()
