"""Running sweeps: Dask (local and by address), resume after kill -9, run_args equivalence."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from snnkit import simulate
from snnkit.dynamics.sweep import SweepStore, run_sweep, sweep_from_mapping
from snnkit.errors import SnnkitError

pytestmark = [pytest.mark.standalone, pytest.mark.slow]

SWEEP = {
    "sweep": {"model": "default", "seeds": 2, "description": "test sweep",
              "engine": "cpp_standalone"},  # auto would pick the event engine
    "set": {"N": 60, "K": 6, "duration": 300.0, "transient": 100.0},
    "grid": {"g": [1.0, 4.0, 16.0], "delay": [0.5, 2.0]},
}


def write_sweep(path: Path, data=SWEEP) -> Path:
    import tomli_w

    path.write_text(tomli_w.dumps(data))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted local run of the test sweep (2 workers)."""
    out = tmp_path_factory.mktemp("sweep") / "ref"
    ds = run_sweep(sweep_from_mapping(SWEEP), out, workers=2, progress=False)
    return out, ds


def test_dataset_layout(reference):
    out, ds = reference
    assert dict(ds.sizes) == {"g": 3, "delay": 2, "seed": 2}
    assert list(ds["g"].values) == [1.0, 4.0, 16.0]
    assert bool(ds["completed"].all())
    assert ds["n_active"].attrs["units"] == "1" and ds["mean_rate_hz"].attrs["units"] == "Hz"
    assert "[grid]" in ds.attrs["sweep_toml"] and "N = 60" in ds.attrs["model_toml"]
    on_disk = xr.open_dataset(out / "results.nc", engine="h5netcdf").load()
    xr.testing.assert_identical(on_disk.drop_attrs(), ds.drop_attrs())
    assert not (out / "points").exists()  # folded into results.nc
    assert "finished: 12 points" in (out / "sweep.log").read_text()


def test_run_args_points_equal_separate_fresh_runs(reference):
    # each point came from one reused binary (g and delay through run_args);
    # a fresh numpy-target build of the same config gives the same measures
    _, ds = reference
    spec = sweep_from_mapping(SWEEP)
    for point in spec.points():
        if point.index % 3:  # a third of the points keeps the test short
            continue
        fresh = simulate(point.config.replace(engine="numpy"), progress=False).measures
        for key in ("n_active", "mean_rate_hz", "cv_mean", "chi", "mean_inhibitory_current"):
            stored = float(ds[key].isel(dict(zip(spec.dims, point.position, strict=True))))
            assert stored == pytest.approx(fresh[key], nan_ok=True), (point.coords, key)
    # and the parameters matter
    assert np.ptp(ds["n_active"].values) > 0.05


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_external_cluster_by_address(reference, tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(2)
        for _ in range(2):
            procs.append(subprocess.Popen(
                [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard",
                 "--no-nanny"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        ds = run_sweep(sweep_from_mapping(SWEEP), tmp_path / "remote", scheduler=address,
                       progress=False)
    finally:
        for p in reversed(procs):  # workers first, then the scheduler
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    xr.testing.assert_identical(ds.drop_attrs(), reference[1].drop_attrs())
    assert address in (tmp_path / "remote" / "sweep.log").read_text()


def test_kill_9_then_resume_gives_identical_results(reference, tmp_path):
    config = write_sweep(tmp_path / "sweep.toml")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "snnkit.cli", "sweep", str(config), "--out", str(out),
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        n_done = len(SweepStore(out).done())
        if n_done >= 3:
            break
        assert proc.poll() is None, "sweep finished before it could be killed"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep, its scheduler and its workers
    proc.wait()
    stored = len(SweepStore(out).done())
    assert 3 <= stored < 12
    assert not (out / "results.nc").exists()
    resumed = subprocess.run([*cmd[:-1], "--resume", "--quiet"], capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    log = (out / "sweep.log").read_text()
    assert f"resume: {12 - stored} of 12 points" in log
    ds = xr.open_dataset(out / "results.nc", engine="h5netcdf").load()
    xr.testing.assert_identical(ds.drop_attrs(), reference[1].drop_attrs())


def test_resume_refuses_a_different_sweep(reference, tmp_path):
    out, _ = reference
    other = {**SWEEP, "grid": {"g": [1.0, 2.0]}}
    with pytest.raises(SnnkitError, match="different sweep"):
        run_sweep(sweep_from_mapping(other), out, resume=True, workers=1, progress=False)
    with pytest.raises(SnnkitError, match="already holds a sweep"):
        run_sweep(sweep_from_mapping(SWEEP), out, workers=1, progress=False)


def test_resume_of_a_finished_sweep_runs_nothing(reference):
    out, ds = reference
    again = run_sweep(sweep_from_mapping(SWEEP), out, resume=True, workers=1, progress=False)
    xr.testing.assert_identical(again.drop_attrs(), ds.drop_attrs())
    assert "resume: 0 of 12 points" in (out / "sweep.log").read_text()


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path):
    out = tmp_path / "nothing"
    start = time.time()
    with pytest.raises(SnnkitError, match=r"--scheduler: no Dask scheduler answers"):
        run_sweep(sweep_from_mapping(SWEEP), out, scheduler=f"tcp://127.0.0.1:{_free_port()}",
                  timeout=3, progress=False)
    assert time.time() - start < 30
    assert not out.exists()


def test_nan_measures_are_stored_and_reported(tmp_path):
    # a 20 ms window is shorter than two free periods (11 ms at I = 1.5): no neuron has a CV
    data = {**SWEEP, "sweep": {"model": "default", "seeds": 1},
            "grid": {"g": [1.0, 1000.0]}, "set": {**SWEEP["set"], "duration": 20.0}}
    ds = run_sweep(sweep_from_mapping(data), tmp_path / "nan", workers=1, progress=False)
    assert np.isnan(ds["cv_mean"]).all()
    log = (tmp_path / "nan" / "sweep.log").read_text()
    assert "NaN in" in log and "cv_mean" in log
    assert "cv_mean in" in ds.attrs["nan_summary"]


def test_cli_sweep_and_plot(reference, tmp_path):
    from typer.testing import CliRunner

    from snnkit.cli import app

    out, _ = reference
    runner = CliRunner()
    result = runner.invoke(app, ["plot", str(out / "results.nc"), "--out", str(tmp_path / "f")])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "f").glob("*.png"))) == 4  # default heat maps
    result = runner.invoke(app, ["plot", str(out), "--kind", "lines", "--measure", "n_active",
                                 "--hue", "delay", "--out", str(tmp_path / "l"), "--format", "svg"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "l" / "summary.md").read_text().count("|") > 20
    figs = tmp_path / "figs.toml"
    figs.write_text('[[plot]]\nname = "drive"\nkind = "lines"\nmeasure = "drive_top"\n'
                    'x = "g"\nhue = "delay"\nhline = 1.0\nylim = [0.0, 1.6]\n')
    result = runner.invoke(app, ["plot", str(out), "--figures", str(figs), "--out",
                                 str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "d").glob("*.png")] == ["drive.png"]
    bad = runner.invoke(app, ["plot", str(out), "--measure", "nope"])
    assert bad.exit_code == 2 and "measure: expected one of" in bad.output
    empty = write_sweep(tmp_path / "empty.toml", {**SWEEP, "grid": {}})
    result = runner.invoke(app, ["sweep", str(empty), "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert "grid: expected at least one" in result.output
    assert not (tmp_path / "e").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_points"] == 12


EVENT_SWEEP = {
    "sweep": {"model": "default", "seeds": 1, "engine": "event"},
    "set": {"N": 80, "K": 8, "duration": 300.0, "transient": 100.0},
    "grid": {"g": [0.5, 2.0, 8.0, 32.0], "delay": [0.0, 1.0, 3.0]},
}


def test_event_sweep_batches_equal_single_runs_and_workers_skip_brian2(tmp_path):
    from distributed import Client, LocalCluster

    from snnkit.dynamics.sweep import connect

    spec = sweep_from_mapping(EVENT_SWEEP)
    client, cluster = connect(None, 2)
    try:
        address = cluster.scheduler_address
        ds = run_sweep(spec, tmp_path / "event", scheduler=address, progress=False)
        with Client(address, set_as_default=False) as probe:
            loaded = probe.run(lambda: "brian2" in sys.modules)
    finally:
        client.close()
        cluster.close()
    assert isinstance(cluster, LocalCluster) and loaded and not any(loaded.values())
    for p in spec.points():
        single = simulate(p.config, progress=False).measures
        for key in ("n_active", "mean_rate_hz", "chi", "cv_mean"):
            np.testing.assert_equal(float(ds[key].values[p.position]), single[key])
