"""LMU training runs end to end: outputs, evaluate, resume, the dt schedule, config errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from snnkit.cli import app
from snnkit.errors import SnnkitError
from snnkit.train import lmu_trainer
from snnkit.train.lmu_config import LmuConfig, load_lmu_config
from snnkit.train.lmu_trainer import load_lmu_model, train_lmu
from snnkit.train.model import load_model
from snnkit.train.quantize import interpolation_schedule

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
runner = CliRunner()

PARALLEL = """
method = "lmu"
[data]
n_train = 60
n_val = 30
n_test = 40
[model]
kind = "parallel"
order = 8
hidden = 8
hidden_to_memory = false
memory_to_memory = false
nonlinearity = "tanh"
input_nonlinearity = "identity"
[train]
epochs = 2
batch_size = 20
lr = 0.01
"""

# The sequential LMU (hidden recurrence, e_h and e_m) with a spiking hidden layer and a
# per-step schedule whose length does not depend on train.epochs.
SEQUENTIAL = """
method = "lmu"
[data]
n_train = 40
n_val = 20
n_test = 20
[model]
kind = "lmu"
order = 4
hidden = 6
[spiking]
enabled = true
per = "step"
dt_start = 20.0
dt_end = 1.0
schedule_length = 3
[train]
epochs = 2
batch_size = 20
lr = 0.01
"""


@pytest.fixture(autouse=True)
def _data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SNNKIT_DATA", str(DATA))
    monkeypatch.setenv("SNNKIT_CACHE_DIR", str(tmp_path / "cache"))


def _config(tmp_path: Path, text: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _metrics(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = load_lmu_model(a)[0].state_dict(), load_lmu_model(b)[0].state_dict()
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def _same_rows(a: list[dict], b: list[dict]) -> None:
    """Equal metrics except the timings."""
    timing = {"seconds", "elapsed"}
    assert [{k: v for k, v in r.items() if k not in timing} for r in a] == [
        {k: v for k, v in r.items() if k not in timing} for r in b]


def test_outputs_and_evaluate_reproduce_logged_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "lmu", "-c", str(_config(tmp_path, PARALLEL)),
                                 "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    for name in ("metrics.csv", "checkpoint.pt", "model.pt", "best_val.pt", "curves.png",
                 "config.toml"):
        assert (out / name).stat().st_size > 0, name
    rows = _metrics(out)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_accuracy",
                             "test_accuracy", "lr", "seconds", "elapsed"]
    res = runner.invoke(app, ["evaluate", str(out / "model.pt"), "--dataset", "psmnist",
                              "--n", "40", "-q"])
    assert res.exit_code == 0, res.output
    line = json.loads(res.output.strip().splitlines()[-1])
    assert line["n"] == 40 and line["method"] == "lmu"
    assert line["accuracy"] == pytest.approx(float(rows[-1]["test_accuracy"]), abs=1e-9)
    val = runner.invoke(app, ["evaluate", str(out / "best_val.pt"), "--split", "validation",
                              "--n", "30", "-q"])
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert json.loads(val.output.strip().splitlines()[-1])["accuracy"] == pytest.approx(
        float(best["val_accuracy"]), abs=1e-9)
    with pytest.raises(SnnkitError, match="LMU model"):
        load_model(out / "model.pt")  # the ST-RSBP reader refuses it with one line


def test_resume_equals_straight_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = LmuConfig.from_mapping(load_lmu_config(_config(tmp_path, SEQUENTIAL)).to_dict())
    straight = tmp_path / "straight"
    rows = train_lmu(cfg, straight, progress=False)
    # 1 epoch, then --resume with 2 epochs
    split = tmp_path / "split"
    one = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})})
    train_lmu(one, split, progress=False)
    _same_rows(rows, train_lmu(cfg, split, resume=True, progress=False))
    _same_weights(straight / "model.pt", split / "model.pt")
    # killed in the middle of epoch 2 (after a timed checkpoint at batch 1), then resumed
    mid = tmp_path / "mid"
    real = lmu_trainer.save_checkpoint

    def save_then_die(out, net, opt, c, state):
        real(out, net, opt, c, state)
        if state.epoch == 1 and state.position == 1:
            raise KeyboardInterrupt

    fast = cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"checkpoint_minutes": 1e-9})})
    monkeypatch.setattr(lmu_trainer, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_lmu(fast, mid, progress=False)
    monkeypatch.setattr(lmu_trainer, "save_checkpoint", real)
    resumed = train_lmu(fast, mid, resume=True, progress=False)
    _same_weights(straight / "model.pt", mid / "model.pt")
    _same_rows(rows, resumed)


def test_dropout_run_is_reproducible_and_resumes_exactly(tmp_path: Path) -> None:
    """Dropout masks come from the seeded global generator, saved in the checkpoint."""
    cfg = load_lmu_config(_config(tmp_path, PARALLEL.replace(
        'input_nonlinearity = "identity"', 'input_nonlinearity = "identity"\ndropout = 0.5')))
    assert cfg.model.dropout == 0.5
    rows = train_lmu(cfg, tmp_path / "a", progress=False)
    _same_rows(rows, train_lmu(cfg, tmp_path / "b", progress=False))
    _same_weights(tmp_path / "a" / "model.pt", tmp_path / "b" / "model.pt")
    one = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})})
    train_lmu(one, tmp_path / "c", progress=False)
    _same_rows(rows, train_lmu(cfg, tmp_path / "c", resume=True, progress=False))
    _same_weights(tmp_path / "a" / "model.pt", tmp_path / "c" / "model.pt")


def test_clip_grad_norm_bounds_the_step_gradient(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """train.clip_grad_norm: every gradient Adam sees has global norm <= the limit."""
    seen: list[float] = []
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        seen.append(float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads]))))
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    cfg = load_lmu_config(_config(tmp_path, PARALLEL))
    train_lmu(cfg, tmp_path / "free", progress=False)
    free = list(seen)
    limit = 0.5 * min(free)
    seen.clear()
    clipped = cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"clip_grad_norm": limit})})
    train_lmu(clipped, tmp_path / "clipped", progress=False)
    assert len(seen) == len(free) and max(free) > limit
    assert max(seen) <= limit * (1 + 1e-5)


def test_spiking_run_logs_dt_schedule_and_bits(tmp_path: Path) -> None:
    text = PARALLEL.replace("epochs = 2", "epochs = 3") + """
[spiking]
enabled = true
schedule = "geometric"
dt_start = 8.0
dt_end = 1.0
"""
    out = tmp_path / "spiking"
    rows = train_lmu(load_lmu_config(_config(tmp_path, text)), out, progress=False)
    assert [r["dt"] for r in rows] == pytest.approx(interpolation_schedule("geometric", 8.0,
                                                                           1.0, 3))
    logged = _metrics(out)
    assert list(logged[0])[-2:] == ["dt", "bits_per_activity"]
    bits = [float(r["bits_per_activity"]) for r in logged]
    # tanh rates in (-1, 1): at dt = 1 counts are -1, 0 or 1 (at most log2(3) bits)
    assert 0 < bits[-1] <= torch.log2(torch.tensor(3.0)).item() + 1e-9
    assert bits[0] > bits[-1]  # dt = 8: up to 8 spikes per step
    res = lmu_trainer.evaluate_lmu(out / "model.pt", n=40, progress=False)
    assert res["dt"] == 1.0 and res["bits_per_activity"] == bits[-1]
    assert res["significant_bits_per_weight"] == 1.0  # counts -1, 0, 1 only
    assert res["accuracy"] == pytest.approx(rows[-1]["test_accuracy"], abs=1e-9)
    assert load_lmu_model(out / "best_val.pt")[2]["dt"] == 1.0  # chosen among spiking epochs


def test_init_starts_a_spiking_run_from_a_trained_model(tmp_path: Path) -> None:
    """train.init loads a non-spiking model's weights into the spiking network (same state
    dict); a non-LMU model is a one-line error naming train.init."""
    rate = SEQUENTIAL.replace("enabled = true", "enabled = false").replace("epochs = 2",
                                                                           "epochs = 1")
    train_lmu(load_lmu_config(_config(tmp_path, rate, "rate.toml")), tmp_path / "rate",
              progress=False)
    start = tmp_path / "rate" / "model.pt"
    cfg = load_lmu_config(_config(tmp_path, SEQUENTIAL), [f"train.init={start}",
                                                          "train.epochs=1", "train.lr=1e-30"])
    train_lmu(cfg, tmp_path / "spiking", progress=False)
    want = load_lmu_model(start)[0].state_dict()
    got = load_lmu_model(tmp_path / "spiking" / "model.pt")[0].state_dict()
    assert got.keys() == want.keys()
    for name in want:  # an Adam step of lr 1e-30 moves nothing visible
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-20)
    fresh = lmu_trainer.build_lmu_network(cfg).state_dict()
    assert not torch.equal(fresh["readout.weight"], want["readout.weight"])
    bad = load_lmu_config(_config(tmp_path, SEQUENTIAL),
                          [f"train.init={ROOT / 'models' / 'trained' / 'strsbp_fmnist.pt'}"])
    with pytest.raises(SnnkitError, match=r"^train\.init: .*not an LMU model") as err:
        train_lmu(bad, tmp_path / "bad", progress=False)
    assert "\n" not in str(err.value)


def test_significant_bits_over_batches_equal_one_pass() -> None:
    """evaluate_lmu_split's significant bits per weight, summed over mini-batches, equal
    quantize.significant_bits of all counts at once, weighted by the hidden fan-out."""
    import tomllib

    import numpy as np

    from snnkit.train.quantize import set_quantizer_dt, significant_bits
    from snnkit.train.trainer import Split

    net = lmu_trainer.build_lmu_network(LmuConfig.from_mapping(tomllib.loads(SEQUENTIAL)))
    with torch.no_grad():
        net.core.cell.W_h.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
        net.core.cell.W_h[:, 0] = 0.0  # unit 0 multiplies e_h only: fan-out differs per unit
    set_quantizer_dt(net.eval(), 8.0)
    gen = np.random.default_rng(0)
    images = gen.integers(0, 256, (9, 784), dtype=np.uint8)
    split = Split(images, gen.integers(0, 10, 9), np.arange(9), "test")
    got = lmu_trainer.evaluate_lmu_split(net, split, torch.device("cpu"), batch_size=4,
                                         progress=False)
    with torch.no_grad():  # the same mini-batches (a batch's size can move a count by rounding)
        counts = torch.cat([net.counts(net(lmu_trainer.sequences(
            images, np.arange(9)[b:b + 4], torch.device("cpu")))[1]) for b in (0, 4, 8)], 1)
    fan = net.hidden_fan_out()
    assert fan is not None and len(set(fan.tolist())) > 1
    want = significant_bits(counts, fan)
    assert want > 1.0  # counts of 3, 5, 6 ... occur at dt = 8
    assert got["significant_bits_per_weight"] == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize(("override", "field"), [
    ("model.theta=0", "model.theta"),
    ("model.order=0", "model.order"),
    ("model.ordr=4", "did you mean 'order'"),
    ("spiking.dt_end=2.0", "spiking.dt_end"),
    ("model.nonlinearity=sigmoid", "model.nonlinearity"),
    ("model.dropout=1.0", "model.dropout"),
    ("train.clip_grad_norm=0", "train.clip_grad_norm"),
])
def test_bad_config_is_one_line_exit_2(tmp_path: Path, override: str, field: str) -> None:
    text = PARALLEL + "[spiking]\nenabled = true\n"
    result = runner.invoke(app, ["train", "lmu", "-c", str(_config(tmp_path, text)), "--out",
                                 str(tmp_path / "bad"), "--set", override, "-q"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], lines
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()


def test_dropout_acts_in_training_only() -> None:
    """model.dropout zeroes the last hidden state's units in training; evaluation is exact."""
    import tomllib

    x = torch.rand(30, 4, 1, generator=torch.Generator().manual_seed(0))
    for p in (0.0, 0.5):
        values = tomllib.loads(PARALLEL)
        values["model"]["dropout"] = p
        net = lmu_trainer.build_lmu_network(LmuConfig.from_mapping(values))
        want = net.eval()(x, sequence=False)[0]
        torch.testing.assert_close(net(x, sequence=False)[0], want, rtol=0, atol=0)
        torch.manual_seed(1)
        trained = net.train()(x, sequence=False)[0]
        assert torch.equal(trained, want) == (p == 0.0)


def test_config_rules_and_shipped_configs() -> None:
    for name in ("lmu_psmnist", "lmu_psmnist_spiking", "lmu_parallel_psmnist"):
        cfg = load_lmu_config(ROOT / "models" / f"{name}.toml")
        assert cfg.method == "lmu"
    with pytest.raises(SnnkitError, match=r"model\.hidden_to_memory"):
        LmuConfig.from_mapping({"model": {"kind": "parallel"}})
    with pytest.raises(SnnkitError, match=r"spiking\.gradient"):
        LmuConfig.from_mapping({"spiking": {"enabled": True, "gradient": "clipped_relu"}})
    with pytest.raises(SnnkitError, match="'st-rsbp' config"):
        load_lmu_config(ROOT / "models" / "strsbp_fmnist.toml")
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "lmu" not in result.output


def test_non_finite_stops_with_one_line_and_keeps_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "nan"
    real = lmu_trainer.sequences

    def poisoned(images, idx, device):  # NaN inputs once epoch 1 has been checkpointed
        x = real(images, idx, device)
        return x * float("nan") if (out / "checkpoint.pt").exists() else x

    monkeypatch.setattr(lmu_trainer, "sequences", poisoned)
    with pytest.raises(SnnkitError, match=r"non-finite gradient .* epoch 2, batch 1") as err:
        train_lmu(load_lmu_config(_config(tmp_path, PARALLEL)), out, progress=False)
    assert "\n" not in str(err.value)
    good = torch.load(out / "checkpoint.pt", weights_only=False)
    assert good["state"]["epoch"] == 1
    assert all(bool(torch.isfinite(v).all()) for v in good["state_dict"].values())
