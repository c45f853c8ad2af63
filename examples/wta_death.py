"""Death by winner-takes-all: active fraction vs coupling, global network vs mean field.

Simulates the global-coupling model (models/global_wta.toml) over a range of g
and plots n_A(g) with the exact WTA mean-field curve (reference note §4.2).

    python examples/wta_death.py [FIGURE.png]
"""

import os
import sys

import matplotlib.pyplot as plt
import numpy as np

import snnkit
from snnkit.dynamics.meanfield import wta_curve

SMALL = os.environ.get("SNNKIT_EXAMPLE_SMALL") == "1"
g_values = [0.5, 2.0, 8.0] if SMALL else [0.25, 0.5, 1, 2, 4, 8, 16, 32]
base = snnkit.load_config("global_wta")
if SMALL:
    base = base.replace(N=200, duration=300.0, transient=100.0)

n_active = []
for g in g_values:
    result = snnkit.simulate(base, g=float(g), progress=False)
    n_active.append(result.measures["n_active"])
    print(f"g = {g:6.2f}   n_A = {n_active[-1]:.3f}")

g_line = np.geomspace(0.1, 50, 200)
theory = wta_curve(g_line, base.I_low, base.I_high)
fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
ax.semilogx(g_line, theory["n_active"], "C3", label="WTA mean field (N = inf)")
ax.semilogx(g_values, n_active, "ko", label=f"simulation, N = {base.N}")
ax.set_xlabel("coupling g")
ax.set_ylabel("active fraction $n_A$")
ax.legend()
fig.savefig(sys.argv[1] if len(sys.argv) > 1 else "wta_death.png", dpi=120)
