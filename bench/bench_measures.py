"""Engine versus ``compute_measures`` on one large sparse network (issue 13, item 3).

Network: N = 10,000, K = 100, g = 5, t_d = 1.5 ms, dt = 0.1 ms, 0.2 s transient +
2 s window (models/default.toml otherwise), seed 1; the target is measures in at
most 20 % of the engine's time.  The engine runs once to fill the build cache
(``cpp_standalone``: compilation; ``event``: the numba kernel), then warm.
Reported, CPU seconds (``time.process_time``, best of ``--repeat``; the binary's
own CPU from ``getrusage(RUSAGE_CHILDREN)``) and wall seconds:

* the engine: Python side plus the standalone binary, and the binary alone
  (its CPU, and ``binary_s`` as wall);
* ``compute_measures`` as ``snnkit.simulate`` calls it, and its parts (rates and
  CVs, chi, population spectrum and CO peak, inhibitory currents, drive measures);
* with ``--reference``, the pre-optimisation implementation kept in
  ``tests/reference_measures.py``, and whether both give the same values.

    python bench/bench_measures.py [--engine cpp_standalone|event] [--repeat 5]
                                   [--reference] [--no-write]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

import snnkit
from snnkit.dynamics import measures
from snnkit.dynamics.engines import run_instance
from snnkit.dynamics.network import instantiate
from snnkit.dynamics.simulate import measure

CONFIG = dict(N=10_000, K=100, coupling="sparse", g=5.0, delay=1.5, dt=0.1, duration=2000.0,
              transient=200.0, seed=1)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """``(cpu_s, wall_s, result)``: the smallest CPU and wall time of ``repeat`` calls."""
    cpu = wall = math.inf
    result = None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        result = fn()
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
    return cpu, wall, result


def run_engine(inst) -> tuple[dict, object]:
    """Engine timings: ``cpu`` (Python + child processes), ``child_cpu``, ``wall``, its own."""
    c, k, w = time.process_time(), children_cpu(), time.perf_counter()
    run = run_instance(inst, progress=False)
    child = children_cpu() - k
    return {"cpu": time.process_time() - c + child, "child_cpu": child,
            "wall": time.perf_counter() - w, **run.timings}, run.spikes


def parts(inst, spikes) -> dict[str, Callable[[], object]]:
    cfg = inst.config
    current = measures.inhibitory_current(spikes, cfg.g, cfg.in_degree, cfg.tau_m, inst.pre,
                                          inst.post)
    return {
        "rates, active fraction, CV": lambda: (measures.firing_rates(spikes),
                                               measures.cv_isi(spikes)),
        "chi (golomb_chi)": lambda: measures.golomb_chi(spikes, cfg.chi_tau),
        "spectra + CO peak (spectral_peak)": lambda: measures.spectral_peak(spikes),
        "inhibitory_current": lambda: measures.inhibitory_current(
            spikes, cfg.g, cfg.in_degree, cfg.tau_m, inst.pre, inst.post),
        "drive_measures": lambda: measures.drive_measures(
            spikes, inst.I, current, cfg.g, cfg.in_degree, cfg.tau_m),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="cpp_standalone", choices=("cpp_standalone", "event"))
    parser.add_argument("--repeat", type=int, default=5, help="timed calls, the best is kept")
    parser.add_argument("--reference", action="store_true",
                        help="also time the pre-optimisation implementation (tests/)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    inst = instantiate(snnkit.ModelConfig(**CONFIG, engine=args.engine))
    run_engine(inst)  # fill the cache (compilation), then time warm runs
    engine = min((run_engine(inst)[0] for _ in range(max(1, min(args.repeat, 3)))),
                 key=lambda e: e["cpu"])
    _, spikes = run_engine(inst)
    measure(inst, spikes)  # first call outside the timing (imports, caches)
    cpu, wall, values = best_of(lambda: measure(inst, spikes), args.repeat)
    rows = [("engine (warm), Python + binary", engine["cpu"], engine["wall"])]
    standalone = "binary_s" in engine
    if standalone:
        rows.append(("  binary alone", engine["child_cpu"], engine["binary_s"]))
    rows.append(("compute_measures", cpu, wall))
    for name, fn in parts(inst, spikes).items():
        rows.append((f"  {name}", *best_of(fn, args.repeat)[:2]))
    same = None
    if args.reference:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
        import reference_measures as ref

        cfg = inst.config
        ref_cpu, ref_wall, ref_values = best_of(lambda: ref.compute_measures(
            spikes, g=cfg.g, K=cfg.in_degree, tau_m=cfg.tau_m, pre=inst.pre, post=inst.post,
            chi_tau=cfg.chi_tau, co_threshold=cfg.co_threshold, I=inst.I), max(1, args.repeat // 2))
        rows.append(("reference compute_measures (before)", ref_cpu, ref_wall))
        same = all(math.isclose(values[k], ref_values[k], rel_tol=1e-10)
                   or (math.isnan(values[k]) and math.isnan(ref_values[k])) for k in ref_values)
    # the yardstick: the binary's time (cpp_standalone), else the engine's
    engine_s = engine["child_cpu"] if standalone else engine["cpu"]
    what = "binary's CPU" if standalone else "engine's CPU"
    for name, c, w in rows:
        print(f"{name:<40} cpu {c:8.3f} s   wall {w:8.3f} s")
    print(f"{spikes.n_spikes} spikes; compute_measures CPU = {100 * cpu / engine_s:.0f} % of the "
          f"{what} time (target <= 20 %)")
    if same is not None:
        print(f"values equal to the reference (rel 1e-10): {same}")
    if args.no_write:
        return
    table = "\n".join(f"| {name.strip()} | {c:.3f} | {w:.3f} |" for name, c, w in rows)
    write_section("measures", f"""
## Measures of one large run (N = 10,000, K = 100, 0.2 s + 2 s)

Command: `python bench/bench_measures.py --engine {args.engine}` (snnkit {git_rev()};
{machine()}).  Best of {args.repeat}; CPU seconds from `time.process_time` (the
standalone binary's from `getrusage`); {spikes.n_spikes:,} spikes in the window.

| step | CPU (s) | wall (s) |
|---|---|---|
{table}

`compute_measures` takes **{100 * cpu / engine_s:.0f} %** of the {what} time
(target: at most 20 %).
""")


if __name__ == "__main__":
    main()
