"""ST-RSBP vs Norse BPTT: training speed and memory against T, and one projected FMNIST epoch.

Network 784-400-R400-10 (models/strsbp_fmnist.toml), real Fashion-MNIST images, the paper's
Bernoulli encoding, mini-batches of 32, Adam.  For each method and T in {50, 100, 200, 400} a
fresh process (so that peak memory is its own) loads the data, builds the network (optionally
with trained weights, ``--weights``: a trained network spikes more than a fresh one, which is what
ST-RSBP's sparse S-PSPs pay for), runs one warm-up step and then ``--steps`` timed training steps
(encoding included, as in the trainer; ST-RSBP's forward compiled when the config's
``train.compile`` is on, as the trainer does).  Reported: training samples per second and peak
resident memory above the process's level before the first step (``ru_maxrss``).

Each cell runs twice.  Speed and the RSS peak come from a worker with glibc's default malloc
settings.  A second worker (one timed step) has glibc's mmap threshold fixed at 1 MiB
(``MALLOC_MMAP_THRESHOLD_``): every buffer above it is mapped on allocation and unmapped when
freed, so its peak is that of the live tensors.  With the default *dynamic* threshold, freed
buffers of up to 32 MB stay in the heap and later ones of other sizes are placed beside them,
so the default RSS peak also counts fragmentation; it varies by tens of MB between identical
runs.  The fixed threshold is no setting to train with: mapping every large buffer anew costs
page faults at each step (measured: ST-RSBP 52 against 89 samples/s, BPTT 4.5 against 15 at
T = 400).

The epoch projection runs one epoch of the trainer itself (``snnkit.train.trainer.train``,
encoding, boost and all) at T = 400 on ``--epoch-samples`` training images and scales to 60,000,
against the 934 s per epoch of the official CUDA code on a Titan Xp (batch 1; its
Fashion-MNIST log).

    python bench/bench_strsbp.py [--weights runs/strsbp_fmnist/model.pt] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "models" / "strsbp_fmnist.toml"
OFFICIAL_EPOCH_S = 934.0  # Result/FashionMNIST_R400_400.txt, Titan Xp, batch 1


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(method: str, T: int, batch: int, steps: int, weights: str | None) -> dict:
    import numpy as np
    import torch

    from snnkit.train.bptt import bptt_step
    from snnkit.train.config import load_train_config
    from snnkit.train.data import load_dataset
    from snnkit.train.effect import effect_table
    from snnkit.train.encoding import encode_batch
    from snnkit.train.lif import COMPILED_BLOCK
    from snnkit.train.model import build_network, load_model
    from snnkit.train.network import compiled_forward
    from snnkit.train.strsbp import StrsbpOptions, strsbp_step

    cfg = load_train_config(CONFIG, [f"data.T={T}"])
    data = load_dataset("fashion-mnist", "train")
    net = load_model(weights)[0].train() if weights else build_network(cfg.network)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
    table = torch.as_tensor(effect_table(net.params[0], T), dtype=torch.float32)
    opts = StrsbpOptions()
    # as the trainer: ST-RSBP's forward compiled when the config says so (compiled here, before
    # the memory baseline and the clock)
    fwd = compiled_forward if method == "st-rsbp" and cfg.train.compile else None
    if fwd is not None:  # one compiled block of steps per layer
        fwd(net, torch.zeros(COMPILED_BLOCK, batch, net.n_in))
    base = _rss_mb()

    def step(i: int) -> None:
        idx = np.arange(i * batch, (i + 1) * batch)
        x = encode_batch(data.images, idx, T, cfg.data.p_max, 0, "train")
        y = torch.as_tensor(data.labels[idx])
        w = torch.ones(batch)
        if method == "st-rsbp":
            strsbp_step(net, x, y, w, table, opts, fwd)
        else:
            bptt_step(net, x, y, w, cfg.bptt, opts)
        opt.step()

    step(0)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        step(i)
    wall = time.perf_counter() - start
    return {"samples_per_s": steps * batch / wall, "peak_mb": _rss_mb() - base,
            "base_mb": base}


def epoch_worker(samples: int, weights: str | None) -> dict:
    """One epoch of the real trainer (``snnkit.train.trainer.train``: encoding, boost,
    checkpoint logic) on the first ``samples`` training images; its logged training seconds."""
    import tempfile

    from snnkit.train.config import load_train_config
    from snnkit.train.trainer import train

    overrides = [f"data.n_train={samples}", "data.holdout=0", "data.n_test=100",
                 "train.epochs=1"] + ([f"train.init={weights}"] if weights else [])
    cfg = load_train_config(CONFIG, overrides)
    with tempfile.TemporaryDirectory() as out:
        row = train(cfg, out, progress=False)[-1]
    return {"samples_per_s": samples / row["seconds"], "seconds": row["seconds"]}


#: glibc's mmap threshold of the memory workers (see the module docstring).
MMAP_THRESHOLD = 1 << 20


def run_worker(*args: str, live_memory: bool = False) -> dict:
    env = dict(os.environ)
    if live_memory:
        env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
    proc = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True,
                          text=True, check=False, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--weights", help="start from a trained model file (both methods)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per (method, T)")
    parser.add_argument("--epoch-samples", type=int, default=3200)
    parser.add_argument("--T", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    if args.worker:
        method, T, batch, steps, weights = args.worker
        weights = None if weights == "-" else weights
        if method == "epoch":
            print(json.dumps(epoch_worker(int(steps) * int(batch), weights)))
            return
        print(json.dumps(worker(method, int(T), int(batch), int(steps), weights)))
        return
    weights = args.weights or "-"
    rows = []
    for T in args.T:
        res, live = {}, {}
        for m in ("st-rsbp", "bptt"):
            res[m] = run_worker(m, str(T), str(args.batch), str(args.steps), weights)
            live[m] = run_worker(m, str(T), str(args.batch), "1", weights, live_memory=True)
        ratio = res["st-rsbp"]["samples_per_s"] / res["bptt"]["samples_per_s"]
        rows.append((T, res, live, ratio))
        print(f"T={T:4d}  ST-RSBP {res['st-rsbp']['samples_per_s']:7.1f}/s "
              f"{live['st-rsbp']['peak_mb']:5.0f} MB live {res['st-rsbp']['peak_mb']:5.0f} MB RSS"
              f"   BPTT {res['bptt']['samples_per_s']:7.1f}/s {live['bptt']['peak_mb']:5.0f} MB "
              f"live {res['bptt']['peak_mb']:5.0f} MB RSS   speed-up {ratio:.1f}x")
    epoch_steps = max(1, args.epoch_samples // args.batch)
    epoch = run_worker("epoch", "400", str(args.batch), str(epoch_steps), weights)
    projected = 60000 / epoch["samples_per_s"]
    print(f"one FMNIST epoch (T=400): {epoch['samples_per_s']:.1f} samples/s -> "
          f"{projected:.0f} s projected (official CUDA, Titan Xp: {OFFICIAL_EPOCH_S:.0f} s)")
    if args.no_write:
        return
    table = "\n".join(
        f"| {T} | {r['st-rsbp']['samples_per_s']:.1f} | {lv['st-rsbp']['peak_mb']:.0f} | "
        f"{r['st-rsbp']['peak_mb']:.0f} | {r['bptt']['samples_per_s']:.1f} | "
        f"{lv['bptt']['peak_mb']:.0f} | {r['bptt']['peak_mb']:.0f} | {ratio:.1f}x |"
        for T, r, lv, ratio in rows)
    start = "trained weights from `" + args.weights + "`" if args.weights else "fresh weights"
    write_section("strsbp", f"""
## ST-RSBP vs Norse BPTT (784-400-R400-10, Fashion-MNIST, batch {args.batch})

Command: `python bench/bench_strsbp.py{' --weights ' + args.weights if args.weights else ''}`
(snnkit {git_rev()}; {machine()}); {start}; {args.steps} timed steps per cell, encoding
included; ST-RSBP's forward pass compiled as the config says (`train.compile`, compiled before
the clock starts).  Memory: peak resident set above the process's level before training;
"live" with glibc's mmap threshold fixed at 1 MiB (a second worker, one step: the peak of the
live tensors), "RSS" with glibc's defaults (the speed worker: also counts heap
fragmentation, varies by tens of MB between runs); see the script's docstring.

| T | ST-RSBP samples/s | live MB | RSS MB | BPTT samples/s | live MB | RSS MB | speed-up |
|---|---|---|---|---|---|---|---|
{table}

**One Fashion-MNIST epoch on 2 CPU cores** (60,000 samples, T = 400, projected from one epoch
of the trainer itself on the first {epoch_steps * args.batch} training images, its logged
training seconds): **{projected:.0f} s** at {epoch['samples_per_s']:.1f} samples/s, against
{OFFICIAL_EPOCH_S:.0f} s per epoch for the official CUDA code on a Titan Xp
(batch 1).
""")


if __name__ == "__main__":
    main()
