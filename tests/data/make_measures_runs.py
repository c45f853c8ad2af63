"""Write tests/data/measures_runs.npz: spikes of a few real runs for test_measures_reference.py.

Each model's config (models/*.toml; bursting shortened to 2 s) is run with
``engine = "event"``; ``n10k`` is neurons 9500-9999 (renumbered 0-499), 1000-1500 ms,
of the N = 10,000 network of ``bench/bench_measures.py``.  The test compares two
implementations on these spikes, so regenerating them (other spikes) keeps it valid.

    python tests/data/make_measures_runs.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import snnkit
from snnkit.dynamics.engines import run_instance
from snnkit.dynamics.network import instantiate

OUT = Path(__file__).with_name("measures_runs.npz")
N10K = dict(N=10_000, K=100, coupling="sparse", g=5.0, delay=1.5, dt=0.1, duration=2000.0,
            transient=200.0, seed=1, engine="event")


def main() -> None:
    out = {}
    for name, over in [("default", {}), ("global_delay", {}), ("bursting", {"duration": 2000.0})]:
        cfg = snnkit.load_config(name, {"engine": "event", **over})
        inst = instantiate(cfg)
        sp = run_instance(inst, progress=False).spikes
        out |= {f"{name}_i": sp.i.astype(np.int16), f"{name}_t": sp.t,
                f"{name}_window": np.array([sp.N, sp.t_start, sp.t_stop]), f"{name}_I": inst.I,
                f"{name}_coupling": np.array([cfg.g, cfg.in_degree, cfg.tau_m])}
        if inst.pre is not None:
            out |= {f"{name}_pre": inst.pre.astype(np.int16),
                    f"{name}_post": inst.post.astype(np.int16)}
    inst = instantiate(snnkit.ModelConfig(**N10K))
    sp = run_instance(inst, progress=False).spikes
    keep = (sp.i >= 9500) & (sp.t >= 1000.0) & (sp.t < 1500.0)
    out |= {"n10k_i": (sp.i[keep] - 9500).astype(np.int16), "n10k_t": sp.t[keep],
            "n10k_window": np.array([500, 1000.0, 1500.0]), "n10k_I": inst.I[9500:],
            "n10k_coupling": np.array([5.0, 100, 10.0])}
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
