"""Weight averaging of epoch snapshots (snnkit average) against the plain arithmetic mean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from snnkit.errors import SnnkitError
from snnkit.train.average import average_models
from snnkit.train.config import TrainConfig
from snnkit.train.model import build_network, read_torch_file, save_model

ROOT = Path(__file__).resolve().parents[1]


def _cfg(layers: str = "24-R16", encoding: str = "fixed", T: int = 60) -> TrainConfig:
    """A tiny ST-RSBP config (only the network is ever built; no data are read)."""
    return TrainConfig.from_mapping({
        "method": "st-rsbp",
        "data": {"dataset": "fashion-mnist", "T": T, "n_train": 48, "encoding": encoding},
        "network": {"layers": layers, "v_th": [4.0, 4.0, 3.0]}})


def _snapshot(tmp_path: Path, epoch: int, cfg: TrainConfig, shift: float) -> Path:
    """A model file whose weights are the initial ones plus a per-epoch random shift."""
    net = build_network(cfg.network)
    gen = torch.Generator().manual_seed(epoch)
    with torch.no_grad():
        for w in net.parameters():
            w.add_(shift * torch.randn(w.shape, generator=gen))
    return save_model(tmp_path / f"model_{epoch}.pt", net, cfg, {"epoch": epoch})


def test_average_is_the_arithmetic_mean(tmp_path: Path) -> None:
    cfg = _cfg()
    fresh = _cfg(encoding="fresh")  # a run may switch encoding; still one run
    paths = [_snapshot(tmp_path, 1, cfg, 0.3), _snapshot(tmp_path, 2, cfg, 0.5),
             _snapshot(tmp_path, 3, fresh, 0.7)]
    out = average_models(paths, tmp_path / "avg.pt")
    data = read_torch_file(out)
    states = [read_torch_file(p)["state_dict"] for p in paths]
    params = dict(build_network(cfg.network).named_parameters())
    assert params  # the check below covers every trained weight
    for name, value in data["state_dict"].items():
        expected = sum(s[name].double() for s in states) / 3
        if name in params:
            assert not torch.equal(states[0][name], states[1][name])
        torch.testing.assert_close(value.double(), expected, rtol=0, atol=1e-6)
    assert data["info"]["averaged_epochs"] == [1, 2, 3]
    assert data["config"]["data"]["encoding"] == "fresh"  # the last file's config


def test_cli_average_and_its_one_line_error(tmp_path: Path) -> None:
    cfg = _cfg()
    paths = [str(_snapshot(tmp_path, e, cfg, 0.1)) for e in (1, 2)]
    run = [sys.executable, "-m", "snnkit.cli"]
    res = subprocess.run([*run, "average", *paths, "--out", str(tmp_path / "avg.pt")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "averaged 2 models" in res.stdout
    res = subprocess.run([*run, "average", paths[0], "--out", str(tmp_path / "one.pt")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2
    assert res.stderr.strip() == "error: average: expected at least two model files, got 1"
    assert not (tmp_path / "one.pt").exists()


def test_snapshots_of_different_runs_are_refused(tmp_path: Path) -> None:
    cfg = _cfg()
    a = _snapshot(tmp_path, 1, cfg, 0.1)
    (tmp_path / "b").mkdir()
    other = _snapshot(tmp_path / "b", 2, _cfg(layers="24-R20"), 0.1)
    with pytest.raises(SnnkitError, match="another network"):
        average_models([a, other], tmp_path / "avg.pt")
    other = _snapshot(tmp_path / "b", 3, _cfg(T=80), 0.1)
    with pytest.raises(SnnkitError, match="other data settings"):
        average_models([a, other], tmp_path / "avg.pt")
    data = read_torch_file(a)
    data["state_dict"]["mask_1"] = 1 - data["state_dict"]["mask_1"]
    torch.save(data, tmp_path / "masked.pt")
    with pytest.raises(SnnkitError, match="buffer mask_1 differs"):
        average_models([a, tmp_path / "masked.pt"], tmp_path / "avg.pt")
    with pytest.raises(SnnkitError, match="expected an existing model file"):
        average_models([a, tmp_path / "missing.pt"], tmp_path / "avg.pt")
    assert not (tmp_path / "avg.pt").exists()
