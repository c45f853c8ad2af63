"""Phase-diagram benchmark: 400 points (20 g x 20 t_d), N = 400, K = 20, 2 s after a 1 s transient.

(a) Brian2 runtime mode (numpy target), one point at a time in a plain loop, as a
    script without snnkit's sweep engine would do it: build the network, run it,
    measure, next point.
(b) snnkit's sweep on a local Dask cluster of 2 workers (cpp_standalone: one
    compile per worker structure, every point through ``run_args``), cold: empty
    build cache, cluster start-up included.
(c) the same sweep again with a warm build cache.

Every variant computes the same measures for every point; (a) and (b) must agree
(the script checks it on the points both ran).  Numbers go to docs/benchmarks.md.

    python bench/bench_sweep.py [--baseline-points N] [--no-write]

``--baseline-points`` times (a) on an evenly spread subset and extrapolates to
400 points (default: all 400, about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

from snnkit import simulate
from snnkit.dynamics.sweep import run_sweep, sweep_from_mapping

SWEEP = {
    "sweep": {"model": "default", "seeds": 1, "description": "benchmark: 20 g x 20 t_d"},
    "set": {"N": 400, "K": 20, "duration": 2000.0, "transient": 1000.0},
    "grid": {"g": {"start": 0.5, "stop": 50.0, "num": 20, "scale": "log"},
             "delay": {"start": 0.2, "stop": 4.0, "num": 20}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-points", type=int, default=400)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    spec = sweep_from_mapping(SWEEP, "bench")
    points = list(spec.points())
    work = tempfile.mkdtemp(prefix="snnkit-bench-sweep-")
    os.environ["SNNKIT_CACHE_DIR"] = os.path.join(work, "cache")

    # (b) cold, then (c) warm
    start = time.perf_counter()
    ds = run_sweep(spec, os.path.join(work, "cold"), workers=2, progress=False)
    cold = time.perf_counter() - start
    print(f"(b) snnkit sweep, 2 workers, cold cache: {cold:.1f} s")
    start = time.perf_counter()
    run_sweep(spec, os.path.join(work, "warm"), workers=2, progress=False)
    warm = time.perf_counter() - start
    print(f"(c) snnkit sweep, 2 workers, warm cache: {warm:.1f} s")

    # (a) Brian2 runtime, one point at a time
    step = max(1, len(points) // args.baseline_points)
    subset = points[::step][: args.baseline_points]
    start = time.perf_counter()
    mismatch = 0
    for p in subset:
        m = simulate(p.config.replace(engine="numpy"), progress=False).measures
        stored = float(ds["n_active"].values[p.position])
        mismatch += not np.isclose(stored, m["n_active"])
    baseline_run = time.perf_counter() - start
    baseline = baseline_run * len(points) / len(subset)
    label = "measured" if len(subset) == len(points) else f"{len(subset)} points, extrapolated"
    print(f"(a) Brian2 runtime one point at a time: {baseline:.1f} s ({label}); "
          f"{mismatch} of {len(subset)} points disagree")
    shutil.rmtree(work, ignore_errors=True)
    if mismatch:
        raise SystemExit("the sweep and the baseline disagree")
    if args.no_write:
        return
    variants = [
        (f"(a) Brian2 runtime (numpy), one point at a time ({label})", baseline),
        ("(b) `snnkit sweep`, 2 Dask workers, cold build cache (cluster start and compile "
         "included)", cold),
        ("(c) `snnkit sweep`, 2 Dask workers, warm build cache", warm),
    ]
    rows = "\n".join(f"| {name} | {wall:.1f} | {400 / wall:.2f} | {baseline / wall:.1f}x |"
                     for name, wall in variants)
    write_section("sweep", f"""
## Phase diagram: 400 points (20 g x 20 t_d), N = 400, K = 20, 2 s after a 1 s transient

Command: `python bench/bench_sweep.py` (snnkit {git_rev()}; {machine()}).

| variant | wall (s) | points per s | speed-up vs (a) |
|---|---|---|---|
{rows}

All variants compute the same measures per point (simulation plus `compute_measures`);
the script checks that (a) and (b) give the same active fraction at every point it ran in
both. Goal of the issue: at least 5x faster than (a) and under 5 minutes on 2 cores.
""")


if __name__ == "__main__":
    main()
