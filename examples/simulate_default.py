"""Simulate the default model, print its measures and write the output folder.

    python examples/simulate_default.py [OUT_DIR]
"""

import os
import sys

import snnkit

SMALL = os.environ.get("SNNKIT_EXAMPLE_SMALL") == "1"  # the test suite runs a short version

config = snnkit.load_config("default")  # models/default.toml
if SMALL:
    config = config.replace(duration=300.0, transient=100.0)

result = snnkit.simulate(config)
for key, value in result.measures.items():
    print(f"{key:>24}: {value:.4g}")
out = result.save(sys.argv[1] if len(sys.argv) > 1 else "runs/example-default")
print(f"raster, spikes and measures in {out}/")
