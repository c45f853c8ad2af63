"""Every script in examples/ runs (on small settings) and does what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "SNNKIT_EXAMPLE_SMALL": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_every_example_is_tested():
    tested = {"simulate_default.py", "wta_death.py", "brian_vs_exact.py", "analyse_run.py",
              "train_strsbp_small.py", "train_lmu_small.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.slow
def test_simulate_then_analyse(tmp_path):
    out = run_example("simulate_default.py", str(tmp_path / "run"), cwd=tmp_path)
    assert "n_active" in out
    assert (tmp_path / "run" / "measures.json").exists()
    out = run_example("analyse_run.py", str(tmp_path / "run"), cwd=tmp_path)
    assert "active fraction" in out and "nan" not in out.split("\n")[1]


def test_wta_death(tmp_path):
    out = run_example("wta_death.py", str(tmp_path / "wta.png"), cwd=tmp_path)
    n_active = [float(line.split("=")[-1]) for line in out.splitlines() if "n_A" in line]
    assert len(n_active) == 3 and n_active[0] > n_active[1] > n_active[2]  # death with g
    assert (tmp_path / "wta.png").stat().st_size > 10_000


def test_brian_vs_exact(tmp_path):
    out = run_example("brian_vs_exact.py", cwd=tmp_path)
    assert "identical spike sequence" in out


@pytest.mark.slow
def test_train_strsbp_small(tmp_path):
    """Training on 1,000 FMNIST images lowers the loss and clearly beats chance."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    os.environ.setdefault("SNNKIT_DATA", str(data))
    out = run_example("train_strsbp_small.py", str(tmp_path / "run"), cwd=tmp_path)
    losses = [float(line.split("train loss ")[1].split(",")[0])
              for line in out.splitlines() if line.startswith("epoch")]
    assert len(losses) == 3 and losses[2] < 0.8 * losses[0]
    accuracy = float(out.split("evaluate: accuracy ")[1].split()[0])
    assert accuracy > 0.5  # chance is 0.1
    assert (tmp_path / "run" / "curves.png").stat().st_size > 10_000


def test_train_lmu_small(tmp_path):
    """A tiny parallel LMU on 600 psMNIST sequences lowers the loss and beats chance."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    os.environ.setdefault("SNNKIT_DATA", str(data))
    out = run_example("train_lmu_small.py", str(tmp_path / "run"), cwd=tmp_path)
    losses = [float(line.split("train loss ")[1].split(",")[0])
              for line in out.splitlines() if line.startswith("epoch")]
    assert len(losses) == 8 and losses[-1] < 0.8 * losses[0]
    accuracy = float(out.split("evaluate: accuracy ")[1].split()[0])
    assert accuracy > 0.3  # chance is 0.1; about 0.5 measured
    assert (tmp_path / "run" / "curves.png").stat().st_size > 10_000
