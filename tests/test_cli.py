"""The command line: output-folder contract and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from snnkit.cli import app

SMALL = ["--set", "duration=300", "--set", "transient=100", "--set", "N=100", "--set", "K=10",
         "--quiet"]
runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate", "models"):
        assert command in result.output


def test_models_lists_shipped_models():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "default" in result.output and "global_wta" in result.output


def test_simulate_writes_the_output_folder(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", *SMALL, "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    measures = json.loads((out / "measures.json").read_text())
    for key in ("n_active", "mean_rate_hz", "mean_rate_active_hz", "cv_mean", "chi",
                "co_frequency_hz", "mean_inhibitory_current", "window_ms"):
        assert key in measures
    assert measures["window_ms"] == 300.0
    with np.load(out / "spikes.npz") as z:
        assert {"i", "t", "N", "duration_ms"} <= set(z.files)
        assert int(z["N"]) == 100 and float(z["duration_ms"]) == 300.0
        assert z["i"].size == z["t"].size > 0
        n_active = np.unique(z["i"]).size / 100
    assert measures["n_active"] == pytest.approx(n_active)
    assert (out / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["seed"] == 4 and config["N"] == 100


def test_resolved_config_repeats_the_run(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert runner.invoke(app, ["simulate", *SMALL, "--out", str(first)]).exit_code == 0
    again = runner.invoke(app, ["simulate", str(first / "config.toml"), "--quiet",
                                "--out", str(second)])
    assert again.exit_code == 0, again.output
    with np.load(first / "spikes.npz") as a, np.load(second / "spikes.npz") as b:
        assert np.array_equal(a["i"], b["i"]) and np.array_equal(a["t"], b["t"])


BAD = {
    "unknown key": (["--set", "dely=1.0"], "dely"),
    "wrong type": (["--set", "N=many"], "N"),
    "N < 1": (["--set", "N=0"], "N"),
    "K >= N": (["--set", "K=400"], "K"),
    "negative delay": (["--set", "delay=-1"], "delay"),
    "delay off the grid": (["--set", "delay=0.15"], "delay"),
    "I_low > I_high": (["--set", "I_low=2.0"], "I_low"),
    "dt <= 0": (["--set", "dt=0"], "dt"),
    "bad engine": (["--set", "engine=gpu"], "engine"),
    "missing file": (["no/such/model.toml"], "config"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2_no_folder(case, tmp_path):
    args, field = BAD[case]
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"{field}:" in lines[0] and "expected" in lines[0]
    assert not out.exists()


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(blocker / "run")])
    assert result.exit_code == 2
    assert result.output.startswith("error: --out: cannot write")
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = runner.invoke(app, ["simulate", *SMALL, "--out", str(locked / "run")])
        assert result.exit_code == 2


def test_real_process_prints_no_traceback(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "snnkit.cli", "simulate", "--set", "K=400",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: --set: K: expected K < N (= 400) for sparse coupling without autapses, got 400"]
    assert not out.exists()


def test_interrupted_save_never_looks_complete(tmp_path, monkeypatch):
    from snnkit import simulate
    from snnkit.dynamics import result as result_module

    res = simulate(dict(N=50, K=5, duration=200.0, transient=0.0), progress=False)
    out = res.save(tmp_path / "run")
    assert (out / "measures.json").exists()

    def broken_raster(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(result_module.SimulationResult, "raster", broken_raster)
    with pytest.raises(OSError):
        res.save(out)
    assert not (out / "measures.json").exists()  # the old marker went first
    assert not list(Path(out).glob(".*.tmp"))  # no temp files left behind


@pytest.mark.parametrize("damaged", ["spikes.npz", "measures.json"])
def test_load_result_round_trip_and_corrupt_files(tmp_path, damaged):
    from snnkit import load_result, simulate
    from snnkit.errors import OutputError

    res = simulate(dict(N=50, K=5, duration=200.0, transient=0.0), progress=False)
    out = res.save(tmp_path / "run", figure=False)
    back = load_result(out)
    np.testing.assert_array_equal(back.spikes.i, res.spikes.i)
    assert back.measures["n_active"] == res.measures["n_active"]
    (out / damaged).write_bytes(os.urandom(100))
    with pytest.raises(OutputError, match=damaged.replace(".", r"\.") + ": unreadable"):
        load_result(out)


def test_load_result_reports_an_empty_spike_file(tmp_path):
    from snnkit import load_result, simulate
    from snnkit.errors import OutputError

    out = simulate(dict(N=30, K=3, duration=100.0, transient=0.0), progress=False).save(
        tmp_path / "run", figure=False)
    (out / "spikes.npz").write_bytes(b"")
    with pytest.raises(OutputError, match=r"spikes\.npz: unreadable"):
        load_result(out)
