"""A trained LMU run again in nengo and nengo-dl: predictions against torch's on test sequences.

    SNNKIT_DATA=../shared/data python docs/results/lmu/nengo_check.py \
        models/trained/lmu_psmnist.pt --n 200

Prints one JSON line: for torch, ``nengo.Simulator`` and ``nengo_dl.Simulator`` the accuracy on
the first ``n`` psMNIST test sequences, and the fraction of sequences whose predicted class equals
torch's (the issue's criterion: at least 99 %), with the largest logit difference; for a
spiking model also the fraction of hidden spike counts (every step, unit and sequence) equal to
torch's and the number of sequences whose counts all are.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from snnkit.train.lmu_trainer import load_lmu_model, load_lmu_splits, sequences
from snnkit.train.nengo_export import run_nengo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--n", type=int, default=200, help="test sequences")
    parser.add_argument("--batch", type=int, default=50, help="nengo-dl minibatch size")
    args = parser.parse_args()
    net, cfg, _ = load_lmu_model(args.model)
    test = load_lmu_splits(cfg, None)["test"]
    idx = test.indices[:args.n]
    x = sequences(test.images, idx, torch.device("cpu"))
    labels = test.labels[idx]
    with torch.no_grad():
        ref_t, h = net.double()(x.double())
    ref = ref_t.numpy()
    ref_counts = net.counts(h).numpy() if net.quantizer is not None else None
    out: dict[str, object] = {"model": args.model, "n": len(idx),
                              "torch_accuracy": float((ref.argmax(1) == labels).mean())}
    for backend in ("nengo", "nengo-dl"):
        start = time.perf_counter()
        key = backend.replace("-", "_")
        res = run_nengo(net, x, backend=key, batch=args.batch, spikes=ref_counts is not None)
        logits = res["logits"]
        if ref_counts is not None:  # spike for spike: counts (T, n, hidden) equal to torch's
            same = res["counts"] == ref_counts
            out[f"{key}_counts_equal"] = float(same.mean())
            out[f"{key}_sequences_spike_identical"] = int(same.all(axis=(0, 2)).sum())
        out[f"{key}_accuracy"] = float((logits.argmax(1) == labels).mean())
        out[f"{key}_agrees_with_torch"] = float((logits.argmax(1) == ref.argmax(1)).mean())
        out[f"{key}_max_logit_diff"] = float(np.abs(logits - ref).max())
        out[f"{key}_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
