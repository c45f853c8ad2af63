"""Load a run folder written by `snnkit simulate` and analyse its spikes.

    snnkit simulate sparse_k20_delay --out runs/k20
    python examples/analyse_run.py runs/k20
"""

import sys

import numpy as np

import snnkit
from snnkit.dynamics import measures

run = snnkit.load_result(sys.argv[1] if len(sys.argv) > 1 else "runs/default")
spikes = run.spikes
cv = measures.cv_isi(spikes)
current = measures.inhibitory_current(spikes, run.config.g, run.config.in_degree,
                                      run.config.tau_m, run.pre, run.post)
mu = run.I - current  # each neuron's measured mean drive

print(f"{run.config.description}")
print(f"active fraction {measures.active_fraction(spikes):.3f}, "
      f"chi {measures.golomb_chi(spikes):.3f}")
print(f"neurons with mean drive above threshold: {np.mean(mu > 1):.3f}")
print(f"CV of supra-threshold neurons {np.nanmean(cv[mu > 1]):.2f}, "
      f"of sub-threshold firing neurons {np.nanmean(cv[mu <= 1]):.2f}")
