"""Quantization-aware fine-tuning: ST-RSBP through the emulator's integer dynamics.

The run's logged test accuracy must be the accuracy of the quantized network (at the recorded
scales) in the bit-accurate emulator, i.e. what Lava would score; the fine-tuned model has no
refractory period and exports without ``--drop-refractory``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from snnkit.errors import SnnkitError
from snnkit.hardware.description import from_spiking_net
from snnkit.hardware.emulator import emulate
from snnkit.hardware.fixed_point import quantize
from snnkit.hardware.profile import load_profile
from snnkit.hardware.qat import finetune
from snnkit.train.data import load_dataset
from snnkit.train.encoding import encode_batch
from snnkit.train.model import load_model

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "trained" / "strsbp_fmnist.pt"
SMALL = ["data.T=120", "data.n_train=32", "data.holdout=0", "data.n_test=40",
         "train.batch_size=16", "train.epochs=1", "strsbp.effect_trials=30",
         "train.lr=0.002"]


@pytest.fixture(autouse=True)
def _data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SNNKIT_DATA", str(ROOT.parent / "shared" / "data"))
    monkeypatch.setenv("SNNKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.timeout(300)
def test_finetune_logs_the_emulator_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "qat"
    rows = finetune(MODEL, out, overrides=SMALL, progress=False, calibration=8)
    scales = json.loads((out / "qat.json").read_text())["scales"]
    assert len(scales) == 3 and all(s > 0 for s in scales)
    net, cfg, _ = load_model(out / "model.pt")
    start, _, _ = load_model(MODEL)
    assert cfg.network.refractory == 0 and cfg.train.init == str(MODEL)
    assert not torch.equal(net.weights[0], start.weights[0])  # it trained
    # the logged test accuracy is the integer network's, at the recorded scales
    qnet, _ = quantize(from_spiking_net(net), load_profile("loihi"), scales=scales)
    test = load_dataset("fashion-mnist", "test")
    idx = np.arange(40)
    x = encode_batch(test.images, idx, cfg.data.T, cfg.data.p_max, cfg.data.seed, "test")
    pred = emulate(qnet, x)[-1].sum(0).argmax(1).numpy()
    assert rows[-1]["test_accuracy"] == pytest.approx(float(np.mean(pred == test.labels[idx])))
    assert rows[-1]["test_accuracy"] > 0.5  # the trained model survives quantization


def test_finetune_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(SnnkitError, match="scales: expected 3"):
        quantize(from_spiking_net(load_model(MODEL)[0]), load_profile("loihi"), scales=[1.0])
    with pytest.raises(SnnkitError, match="nope"):
        finetune(MODEL, tmp_path / "x", overrides=["train.nope=1"], progress=False)


def test_finetune_cli_bad_model_is_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from snnkit.cli import app

    res = CliRunner().invoke(app, ["hardware", "finetune", str(tmp_path / "none.pt"),
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "none.pt: expected an existing model file" in res.output
    assert "Traceback" not in res.output
