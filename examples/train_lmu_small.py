"""The LMU on psMNIST in a few lines: a tiny parallel LMU, trained on 600 sequences, evaluated.

Loads the parallel LMU's configuration (models/lmu_parallel_psmnist.toml), shrinks it (d = 16,
16 tanh hidden units, linear memory input, 600 training, 200 validation and 200 test sequences of
784 pixels, 8 epochs) and trains it with the library functions behind `snnkit train lmu` and
`snnkit evaluate`.  About 10 s on one CPU thread; reaches about 50% (chance 10%).
Needs MNIST (`SNNKIT_DATA` or `snnkit data download mnist`).

    python examples/train_lmu_small.py [OUT_DIR]
"""

import sys
from pathlib import Path

from snnkit.train.evaluate import evaluate
from snnkit.train.lmu_config import load_lmu_config
from snnkit.train.lmu_trainer import train_lmu

ROOT = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lmu_small")

cfg = load_lmu_config(ROOT / "models" / "lmu_parallel_psmnist.toml", [
    "data.n_train=600", "data.n_val=200", "data.n_test=200",
    "model.order=16", "model.hidden=16", "model.nonlinearity=tanh",
    "model.input_nonlinearity=identity", "train.epochs=8", "train.batch_size=20", "train.lr=0.02",
])
rows = train_lmu(cfg, out, progress=False)
for row in rows:
    print(f"epoch {row['epoch']}: train loss {row['train_loss']:.3f}, "
          f"train accuracy {row['train_accuracy']:.3f}, "
          f"validation accuracy {row['val_accuracy']:.3f}, "
          f"test accuracy {row['test_accuracy']:.3f}")

result = evaluate(out / "best_val.pt", n=200, progress=False)
print(f"evaluate: accuracy {result['accuracy']:.3f} on {result['n']} test sequences "
      "(chance 0.100)")
