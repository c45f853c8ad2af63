"""The bit-accurate emulator vs Lava's CPU simulation on the same exported network and inputs.

Network: a trained snnkit model (``--model``, default ``models/trained/strsbp_fmnist.pt``)
exported to NetX for the Loihi profile (refractory period dropped, as Loihi's CUBA neuron has
none); inputs: the first test images, encoded as the model was trained.  Lava runs
``Loihi2SimCfg(select_tag='fixed_pt')`` one sample at a time (``--lava-samples``); the emulator
runs all ``--samples`` as one batch.  Reported: neuron updates per second (time steps × neurons
× samples / wall time) and whether the output spikes of the Lava samples are identical.

    python bench/bench_hardware.py [--model FILE] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "trained" / "strsbp_fmnist.pt"))
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--lava-samples", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    from snnkit.hardware.api import export_inputs, export_netx
    from snnkit.hardware.emulator import emulate
    from snnkit.hardware.events import read_events, to_dense
    from snnkit.hardware.lava_runner import run_lava
    from snnkit.hardware.netx import read_netx

    work = Path(tempfile.mkdtemp(prefix="snnkit-bench-hw-"))
    export_netx(args.model, work / "net.net", drop_refractory=True)
    export_inputs(work / "in.events", n=args.samples, model=args.model)
    net = read_netx(work / "net.net")
    x = to_dense(read_events(work / "in.events"))
    T = x.shape[0]
    neurons = sum(layer.n_out for layer in net.layers)

    emulate(net, x[:, :2])  # warm-up
    start = time.perf_counter()
    ours = emulate(net, x)[-1]
    t_emu = time.perf_counter() - start
    start = time.perf_counter()
    lava = run_lava(work / "net.net", x[:, :args.lava_samples], progress=False)
    t_lava = time.perf_counter() - start
    same = bool((ours[:, :args.lava_samples] == lava).all())
    rate_emu = T * neurons * x.shape[1] / t_emu
    rate_lava = T * neurons * args.lava_samples / t_lava
    speedup = rate_emu / rate_lava
    print(f"emulator: {x.shape[1]} samples in {t_emu:.2f} s, {rate_emu:.3e} neuron-steps/s")
    print(f"lava:     {args.lava_samples} samples in {t_lava:.2f} s, "
          f"{rate_lava:.3e} neuron-steps/s")
    print(f"speed-up {speedup:.0f}x; output spikes identical on the Lava samples: {same}")
    if args.no_write:
        return
    layers = "-".join(str(layer.n_out) for layer in net.layers)
    write_section("hardware", f"""
## Emulator vs Lava (bit-accurate CPU model), {net.n_in}-{layers}, T = {T}

Command: `python bench/bench_hardware.py {" ".join(sys.argv[1:])}` (snnkit {git_rev()};
{machine()}); model
`{Path(args.model).relative_to(ROOT) if Path(args.model).is_relative_to(ROOT) else args.model}`
exported for the Loihi profile; Fashion-MNIST test inputs.

| runner | samples | wall (s) | neuron-steps per s |
|---|---|---|---|
| Lava 0.10.0 `fixed_pt`, one sample per run | {args.lava_samples} | {t_lava:.2f} | \
{rate_lava:.3e} |
| snnkit emulator (torch, one batch) | {x.shape[1]} | {t_emu:.2f} | {rate_emu:.3e} |

The emulator is **{speedup:.0f}x** faster; output spikes on the {args.lava_samples} Lava samples
identical: **{same}**.
""")


if __name__ == "__main__":
    main()
