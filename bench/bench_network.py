"""One large sparse network, 0.2 s + 2 s of model time: snnkit's engines vs Brian2 vs NEST.

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
* ``snnkit.simulate end to end, warm cpp_standalone``: the whole call (network
  realisation, run_args, binary, reading the spikes back, measures): the issue's
  goal is at most 2x the plain Brian2 binary's wall time.
* ``snnkit event``: the compiled event-driven engine (dt-free, exact spike
  times; kernel loaded by a warm-up call first).
* ``plain Brian2 cpp_standalone binary``: a minimal Brian2 script of the same
  realisation (``dv/dt = (I - v)/tau_m``, exact; ``v > 1`` -> ``v = 0``;
  ``v_post -= g/K`` with Python constants; one scalar delay; a SpikeMonitor
  without variables, active in the window only), synapses in the instance's
  order (sorted by target).  Its binary's wall time and CPU time (the
  ``device.run`` child's user + sys, best of three) are the yardstick of the
  issue: snnkit's binary adds sub-step spike times (``lag``), exactly
  weighted pulses and run-time parameters (docs/model.md, "Cost of the
  cpp_standalone binary").
* ``NEST iaf_psc_delta_ps`` / ``iaf_psc_delta`` (if ``nest-simulator`` is
  installed: ``pip install 'snnkit[bench]'``): the same network, one thread;
  NEST requires t_ref >= one step, so t_ref = dt there (0 elsewhere).

    python bench/bench_network.py [--cython] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

import snnkit
from snnkit.dynamics.network import instantiate

CONFIG = dict(N=10_000, K=100, coupling="sparse", g=5.0, delay=1.5, dt=0.1, duration=2000.0,
              transient=200.0, seed=1)


def run_snnkit(engine: str) -> dict:
    cfg = snnkit.ModelConfig(**CONFIG, engine=engine)
    cpu0 = _child_cpu()
    start = time.perf_counter()
    res = snnkit.simulate(cfg, progress=False)
    total = time.perf_counter() - start
    res.timings["binary_cpu_s"] = _child_cpu() - cpu0  # the binary (and make, when cold)
    # engine wall time: building + running + reading the spikes back (not the measures)
    wall = res.timings.get("build_s", 0.0) + res.timings["run_s"]
    return {"wall": wall, "total": total, "spikes": res.spikes.n_spikes, "timings": res.timings}


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_plain_brian2(inst, repeats: int = 3) -> dict:
    """A plain Brian2 ``cpp_standalone`` script of ``inst``: the yardstick for snnkit's binary.

    Grid-constrained LIF (reset to 0 at the end of the crossing step), pulses
    ``v_post -= g/K`` with g, K, tau_m as Python constants (compiled in), one
    scalar delay, no ``run_args``.  Built once in a temporary folder, then run
    ``repeats`` times; returns the best binary wall time and CPU time (user +
    sys of the child process, robust to other load on the machine).
    """
    from snnkit.dynamics.engines._brian2 import b2
    from snnkit.dynamics.engines.brian_common import activate_standalone

    cfg = inst.config
    activate_standalone()
    device = b2.get_device()
    b2.defaultclock.dt = cfg.dt * b2.ms
    namespace = {"tau_m": cfg.tau_m * b2.ms, "w": cfg.g / cfg.K}
    G = b2.NeuronGroup(cfg.N, "dv/dt = (I - v)/tau_m : 1\nI : 1 (constant)", threshold="v > 1",
                       reset="v = 0", method="exact", name="neurons", namespace=namespace)
    G.I = inst.I
    G.v = inst.v0
    S = b2.Synapses(G, G, on_pre="v_post -= w", delay=cfg.delay * b2.ms, name="synapses",
                    namespace=namespace)
    S.connect(i=inst.pre, j=inst.post)
    M = b2.SpikeMonitor(G, variables=[], name="spikes")
    net = b2.Network(G, S, M)
    if cfg.transient > 0:
        M.active = False
        net.run(cfg.transient * b2.ms)
        M.active = True
    net.run(cfg.duration * b2.ms)
    project = tempfile.mkdtemp(prefix="plain-brian2-")
    device.build(directory=project, compile=True, run=False)
    walls, cpus = [], []
    for _ in range(repeats):
        cpu0 = _child_cpu()
        device.run(directory=project, with_output=False)
        cpus.append(_child_cpu() - cpu0)
        walls.append(device.timers["run_binary"])
    spikes = int(M.num_spikes)
    activate_standalone()  # leave a clean device for whatever runs next
    shutil.rmtree(project, ignore_errors=True)
    return {"wall": min(walls), "cpu": min(cpus), "spikes": spikes}


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
    nest.Simulate(cfg.transient + cfg.duration)
    done = time.perf_counter()
    times = np.asarray(recorder.get("events")["times"])
    return {"wall": done - start, "run": done - built,
            "spikes": int(np.count_nonzero(times >= cfg.transient))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cython", action="store_true", help="also time Brian2's cython target")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    os.environ["SNNKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="snnkit-bench-")  # cold start
    model_s = (CONFIG["transient"] + CONFIG["duration"]) / 1000.0
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
    add("  binary alone", warm["timings"]["binary_s"], warm["spikes"],
        f"CPU {warm['timings']['binary_cpu_s']:.2f} s")
    inst = instantiate(snnkit.ModelConfig(**CONFIG))
    plain = run_plain_brian2(inst)
    add("plain Brian2 cpp_standalone binary", plain["wall"], plain["spikes"],
        f"CPU {plain['cpu']:.2f} s; snnkit binary / plain: "
        f"{warm['timings']['binary_cpu_s'] / plain['cpu']:.2f}x (CPU)")
    ratio = warm["total"] / plain["wall"]
    add("snnkit.simulate end to end, warm cpp_standalone", warm["total"], warm["spikes"],
        f"measures {warm['timings']['measures_s']:.2f} s; {ratio:.2f}x the plain binary "
        "(goal: at most 2x)")
    run_snnkit("event")  # load the compiled kernel
    event = run_snnkit("event")
    add("snnkit event (compiled event-driven, dt-free)", event["wall"], event["spikes"],
        f"end to end {event['total']:.2f} s")
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
## One large sparse network (N = 10,000, K = 100, 0.2 s + 2 s of model time)

Command: `python bench/bench_network.py` (snnkit {git_rev()}; {machine()}).
Network and engines are described in the script's docstring; all engines run the
same realisation (g = 5, t_d = 1.5 ms, dt = 0.1 ms). Spikes are those of the 2 s window;
"simulated s per wall s" counts the whole 2.2 s.

| engine | wall (s) | simulated s per wall s | synaptic events per s | spikes | note |
|---|---|---|---|---|---|
{table}

Warm `cpp_standalone` (binary reused through `run_args`) is **{speedup:.1f}x** faster than
Brian2's runtime mode on this network.
""")


if __name__ == "__main__":
    main()
