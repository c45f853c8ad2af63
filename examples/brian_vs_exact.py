"""Check the Brian2 engine against the exact event-driven simulator, spike for spike.

    python examples/brian_vs_exact.py
"""

import numpy as np

import snnkit

config = snnkit.ModelConfig(N=20, K=4, g=2.0, delay=1.0, I_spacing="random", seed=1,
                            transient=0.0, duration=200.0, dt=0.01)
brian = snnkit.simulate(config, engine="numpy", progress=False).spikes
exact = snnkit.simulate(config, engine="exact", progress=False).spikes

print(f"spikes: Brian2 {brian.n_spikes}, exact {exact.n_spikes}")
n = min(brian.n_spikes, exact.n_spikes)
same = (brian.i[:n] == exact.i[:n]) & (np.abs(brian.t[:n] - exact.t[:n]) < 1e-6)
first_diff = np.flatnonzero(~same)
until = exact.t[first_diff[0]] if first_diff.size else config.duration
print(f"identical spike sequence (to 1e-6 ms) until t = {until:.2f} ms")
print(f"largest spike-time difference before that: "
      f"{np.max(np.abs(brian.t[:n] - exact.t[:n])[same], initial=0.0):.2e} ms")
