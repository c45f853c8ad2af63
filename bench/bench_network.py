"""One large sparse network, 2 s of model time: Brian2 runtime vs snnkit's cpp_standalone vs NEST.

Network: N = 10,000 LIF neurons, fixed in-degree K = 100, delta pulses, g = 5,
t_d = 1.5 ms, dt = 0.1 ms, I ~ U[1, 1.5] evenly spaced (models/default.toml
otherwise).  Every engine simulates the same realisation (same I_i, v0 and
synapse arrays).  Reported: simulated seconds per wall-clock second and synaptic
events (spikes x K) per second, from the engine's wall time (building, running
and reading the spikes back; snnkit's measures are timed apart).

* ``brian2 runtime (numpy)``: Brian2's runtime device, numpy code generation.
* ``snnkit cpp_standalone, cold``: first run of the structure in an empty build
  cache (code generation + compilation + run).
* ``snnkit cpp_standalone, warm``: the same structure again: the cached binary
  is reused and parameters go through ``run_args`` (wall time of ``simulate``
  including reading the spikes back, and the binary's own run time).
* ``NEST iaf_psc_delta_ps`` / ``iaf_psc_delta`` (if ``nest-simulator`` is
  installed: ``pip install 'snnkit[bench]'``): the same network, one thread;
  NEST requires t_ref >= one step, so t_ref = dt there (0 elsewhere).

    python bench/bench_network.py [--cython] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

import snnkit
from snnkit.dynamics.network import instantiate

CONFIG = dict(N=10_000, K=100, coupling="sparse", g=5.0, delay=1.5, dt=0.1, duration=2000.0,
              transient=0.0, seed=1)


def run_snnkit(engine: str) -> dict:
    cfg = snnkit.ModelConfig(**CONFIG, engine=engine)
    res = snnkit.simulate(cfg, progress=False)
    # engine wall time: building + running + reading the spikes back (not the measures)
    wall = res.timings.get("build_s", 0.0) + res.timings["run_s"]
    return {"wall": wall, "spikes": res.spikes.n_spikes, "timings": res.timings}


def run_nest(model: str, inst) -> dict | None:
    try:
        import nest
    except ImportError:
        return None
    cfg = inst.config
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.resolution = cfg.dt
    nest.local_num_threads = 1
    scale, c_m = 10.0, 250.0  # v = 1 <-> 10 mV; I_e [pA] = V [mV] C_m [pF] / tau_m [ms]
    start = time.perf_counter()
    pop = nest.Create(model, cfg.N, params={
        "tau_m": cfg.tau_m, "C_m": c_m, "E_L": 0.0, "V_reset": 0.0, "V_th": scale,
        "t_ref": cfg.dt})
    pop.set(V_m=list(inst.v0 * scale), I_e=list(inst.I * scale * c_m / cfg.tau_m))
    ids = np.asarray(pop.tolist())
    n_syn = inst.pre.size
    nest.Connect(ids[inst.pre], ids[inst.post], "one_to_one",
                 syn_spec={"weight": np.full(n_syn, -cfg.g / cfg.K * scale),
                           "delay": np.full(n_syn, cfg.delay)})
    recorder = nest.Create("spike_recorder")
    nest.Connect(pop, recorder)
    built = time.perf_counter()
    nest.Simulate(cfg.duration)
    done = time.perf_counter()
    return {"wall": done - start, "run": done - built, "spikes": int(recorder.n_events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cython", action="store_true", help="also time Brian2's cython target")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    os.environ["SNNKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="snnkit-bench-")  # cold start
    model_s = CONFIG["duration"] / 1000.0
    rows = []

    def add(name: str, wall: float, spikes: int, note: str = "") -> None:
        rows.append((name, wall, model_s / wall, spikes * CONFIG["K"] / wall, spikes, note))
        print(f"{name:<40} {wall:8.2f} s  {model_s / wall:7.3f} sim-s/s  "
              f"{spikes * CONFIG['K'] / wall:10.3e} events/s  ({spikes} spikes) {note}")

    r = run_snnkit("numpy")
    add("Brian2 runtime (numpy)", r["wall"], r["spikes"])
    if args.cython:
        run_snnkit("cython")  # compile once
        r = run_snnkit("cython")
        add("Brian2 runtime (cython, warm cache)", r["wall"], r["spikes"])
    cold = run_snnkit("cpp_standalone")
    add("snnkit cpp_standalone, cold (compile+run)", cold["wall"], cold["spikes"],
        f"compile+codegen {cold['timings']['build_s']:.1f} s")
    warm = run_snnkit("cpp_standalone")
    add("snnkit cpp_standalone, warm (cached binary)", warm["wall"], warm["spikes"])
    add("  binary alone", warm["timings"]["binary_s"], warm["spikes"])
    inst = instantiate(snnkit.ModelConfig(**CONFIG))
    for model in ("iaf_psc_delta_ps", "iaf_psc_delta"):
        r = run_nest(model, inst)
        if r is None:
            print("NEST not installed: pip install 'snnkit[bench]' to add the peer")
            break
        add(f"NEST 3 {model} (1 thread)", r["wall"], r["spikes"],
            f"simulate alone {r['run']:.2f} s")
    speedup = rows[0][1] / warm["wall"]
    print(f"warm standalone is {speedup:.1f}x faster than Brian2 runtime (numpy)")
    if args.no_write:
        return
    table = "\n".join(
        f"| {name} | {wall:.2f} | {sps:.3f} | {eps:.2e} | {spikes:,} | {note} |"
        for name, wall, sps, eps, spikes, note in rows)
    write_section("network", f"""
## One large sparse network (N = 10,000, K = 100, 2 s of model time)

Command: `python bench/bench_network.py` (snnkit {git_rev()}; {machine()}).
Network and engines are described in the script's docstring; all engines run the
same realisation (g = 5, t_d = 1.5 ms, dt = 0.1 ms).

| engine | wall (s) | simulated s per wall s | synaptic events per s | spikes | note |
|---|---|---|---|---|---|
{table}

Warm `cpp_standalone` (binary reused through `run_args`) is **{speedup:.1f}x** faster than
Brian2's runtime mode on this network.
""")


if __name__ == "__main__":
    main()
