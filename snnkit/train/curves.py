"""Learning curves of a training run (``curves.png``): loss and accuracies per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnkit.io import atomic_write


def plot_curves(rows: list[dict[str, Any]], path: str | Path, title: str = "",
                loss_label: str = "train loss (count cost)") -> Path:
    """Train loss (left) and train/validation/test accuracy (right) against the epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], "o-", ms=3)
    ax_loss.set(xlabel="epoch", ylabel=loss_label, yscale="log")
    for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation"),
                       ("test_accuracy", "test")):
        values = [r.get(key) for r in rows]
        if any(v not in (None, "") for v in values):
            ax_acc.plot(epochs, [100 * float(v) if v not in (None, "") else float("nan")
                                 for v in values], "o-", ms=3, label=label)
    best = max(rows, key=lambda r: r["test_accuracy"])
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)",
               title=f"best test {100 * best['test_accuracy']:.2f}% (epoch {best['epoch']})")
    ax_acc.legend(loc="lower right")
    ax_acc.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    path = Path(path)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return path
