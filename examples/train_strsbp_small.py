"""ST-RSBP in a few lines: train 784-400-R400-10 on 1,000 Fashion-MNIST images, then evaluate.

Loads the paper's configuration (models/strsbp_fmnist.toml), shrinks it (1,000 training images,
T = 200, 3 epochs) and trains it with the library functions behind `snnkit train st-rsbp` and
`snnkit evaluate`.  About a minute on 2 CPU cores.  Needs the data set (`SNNKIT_DATA` or
`snnkit data download fashion-mnist`).

    python examples/train_strsbp_small.py [OUT_DIR]
"""

import sys
from pathlib import Path

from snnkit.train.config import load_train_config
from snnkit.train.evaluate import evaluate
from snnkit.train.trainer import train

ROOT = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/strsbp_small")

cfg = load_train_config(ROOT / "models" / "strsbp_fmnist.toml", [
    "data.n_train=1000", "data.n_test=500", "data.holdout=0", "data.T=200",
    "train.epochs=3", "train.batch_size=16", "train.lr=0.004",
])
rows = train(cfg, out, progress=False)
for row in rows:
    print(f"epoch {row['epoch']}: train loss {row['train_loss']:.1f}, "
          f"train accuracy {row['train_accuracy']:.3f}, test accuracy {row['test_accuracy']:.3f}")

result = evaluate(out / "model.pt", n=500, progress=False)
print(f"evaluate: accuracy {result['accuracy']:.3f} on {result['n']} test images "
      f"(chance 0.100), {result['spikes_per_sample']:.0f} spikes per image")
