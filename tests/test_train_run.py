"""Training runs end to end: outputs, evaluate, resume after a real kill, data parallel, errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.optim.optimizer import register_optimizer_step_pre_hook

from snnkit.errors import SnnkitError
from snnkit.train import trainer
from snnkit.train.config import load_train_config
from snnkit.train.model import load_model
from snnkit.train.trainer import train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

TINY = """
method = "st-rsbp"
[data]
dataset = "fashion-mnist"
T = 60
n_train = 48
n_test = 32
[network]
layers = "24-R16"
v_th = [4.0, 4.0, 3.0]
[train]
epochs = 2
batch_size = 8
lr = 0.01
checkpoint_minutes = 10.0
[strsbp]
effect_trials = 20
"""


@pytest.fixture(autouse=True)
def _data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SNNKIT_DATA", str(DATA))
    monkeypatch.setenv("SNNKIT_CACHE_DIR", str(tmp_path / "cache"))


def _config(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def _cli(*args: str, env_extra: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "snnkit.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, **kw)


def test_outputs_and_evaluate_reproduce_logged_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    rows = train(load_train_config(_config(tmp_path), ["train.keep_epochs=true"]), out,
                 progress=False)
    assert [r["epoch"] for r in rows] == [1, 2]
    for name in ("metrics.csv", "checkpoint.pt", "model.pt", "best.pt", "curves.png",
                 "config.toml", "epochs/model_1.pt", "epochs/model_2.pt"):
        assert (out / name).stat().st_size > 0, name
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "train_accuracy", "test_accuracy", "spikes_per_sample",
            "seconds"} <= set(header)
    res = _cli("evaluate", str(out / "model.pt"), "--dataset", "fashion-mnist", "--n", "32",
               "-q")
    assert res.returncode == 0, res.stderr
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["n"] == 32
    assert line["accuracy"] == pytest.approx(rows[-1]["test_accuracy"], abs=1e-9)
    last, snapshot = (torch.load(out / p, weights_only=False)["state_dict"]
                      for p in ("model.pt", "epochs/model_2.pt"))
    assert all(torch.equal(last[k], snapshot[k]) for k in last)


def test_time_budget_stops_mid_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    step = trainer.strsbp_step

    def counted(*args, **kw):
        calls.append(1)
        return step(*args, **kw)

    monkeypatch.setattr(trainer, "strsbp_step", counted)
    cfg = load_train_config(_config(tmp_path), ["train.max_minutes=1e-9", "train.compile=true"])
    rows = train(cfg, tmp_path / "run", progress=False)
    assert len(calls) == 1  # one batch of the 6 in an epoch, then the budget is spent
    assert [r["epoch"] for r in rows] == [1]
    assert (tmp_path / "run" / "model.pt").exists()


def test_gradient_clipping_bounds_every_step(tmp_path: Path) -> None:
    """``train.clip_grad_norm``: the global gradient norm Adam sees is at most the bound."""
    norms: list[float] = []

    def record(opt: torch.optim.Optimizer, *_: object) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    handle = register_optimizer_step_pre_hook(record)
    try:
        cfg = load_train_config(_config(tmp_path), ["train.clip_grad_norm=0.001",
                                                    "train.epochs=1"])
        train(cfg, tmp_path / "run", progress=False)
    finally:
        handle.remove()
    assert len(norms) == 6 and max(norms) <= 0.001 * (1 + 1e-4)
    assert min(norms) > 0.0009  # the raw gradients are far larger: every step was clipped


def test_resume_after_kill_gives_the_same_weights(tmp_path: Path) -> None:
    cfg_path = _config(tmp_path, TINY.replace("checkpoint_minutes = 10.0",
                                              "checkpoint_minutes = 0.0001"))
    ref = tmp_path / "ref"
    train(load_train_config(cfg_path), ref, progress=False)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "snnkit.cli", "train", "st-rsbp", "-c",
                             str(cfg_path), "--out", str(out), "-q"], cwd=ROOT,
                            env=os.environ.copy(), start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "checkpoint.pt").exists()
    res = _cli("train", "st-rsbp", "-c", str(cfg_path), "--out", str(out), "--resume", "-q")
    assert res.returncode == 0, res.stderr
    a, _, _ = load_model(ref / "model.pt")
    b, _, _ = load_model(out / "model.pt")
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(wa, wb), name


def _worker(rank: int, world: int, cfg_path: str, out: str, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        train(load_train_config(cfg_path), out, progress=False)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process(tmp_path: Path) -> None:
    one_step = TINY.replace("n_train = 48", "n_train = 8").replace("epochs = 2", "epochs = 1")
    cfg_path = _config(tmp_path, one_step)
    single = tmp_path / "single"
    train(load_train_config(cfg_path), single, progress=False)
    double = tmp_path / "double"
    with socket.socket() as s:  # a free port for the gloo rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, str(cfg_path), str(double), port), nprocs=2, join=True)
    a, _, _ = load_model(single / "model.pt")
    b, _, _ = load_model(double / "model.pt")
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(wa, wb, rtol=1e-5, atol=1e-6, msg=name)
    init = trainer.build_network(load_train_config(cfg_path).network)
    assert not torch.equal(a.weights[0], init.weights[0])  # the step did change the weights


@pytest.mark.parametrize(("args", "needle"), [
    (["--set", "network.layers=400-Q400"], "network.layers"),
    (["--set", "network.layer=400"], "did you mean 'layers'"),
    (["--set", "network.v_th=[20.0, 0.0, 15.0]"], "network.v_th"),
    (["--set", "data.dataset=cifar"], "data.dataset"),
    (["--device", "cuda"], "--device"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    res = _cli("train", "st-rsbp", "-c", str(_config(tmp_path)), "--out",
               str(tmp_path / "o"), "-q", *args,
               env_extra={"CUDA_VISIBLE_DEVICES": ""})  # no CUDA even on a GPU machine
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_resume_with_another_architecture_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(load_train_config(_config(tmp_path)), out, progress=False)
    before = (out / "checkpoint.pt").read_bytes()
    res = _cli("train", "st-rsbp", "-c", str(_config(tmp_path)), "--out", str(out),
               "--resume", "-q", "--set", "network.layers=24-R20")
    assert res.returncode == 2 and "another architecture" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert (out / "checkpoint.pt").read_bytes() == before


def test_resume_may_switch_to_fresh_trains_but_not_other_data(tmp_path: Path) -> None:
    """Switching the training trains to ``fresh`` mid-run is allowed (validation and test
    trains stay the fixed ones); any other data setting is refused, checkpoint untouched."""
    out = tmp_path / "run"
    cfg = load_train_config(_config(tmp_path))
    train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})}), out,
          progress=False)
    good = (out / "checkpoint.pt").read_bytes()
    other_t = cfg.model_copy(update={"data": cfg.data.model_copy(update={"T": 50})})
    with pytest.raises(SnnkitError, match=r"only data\.encoding may change") as err:
        train(other_t, out, resume=True, progress=False)
    assert "\n" not in str(err.value)
    assert (out / "checkpoint.pt").read_bytes() == good
    fresh = cfg.model_copy(update={"data": cfg.data.model_copy(update={"encoding": "fresh"})})
    train(fresh, out, resume=True, progress=False)
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    assert (out / "checkpoint.pt").read_bytes() != good


def test_batch_size_may_change_only_between_epochs(tmp_path: Path) -> None:
    """The checkpoint counts the epoch's finished batches, so a run stopped mid-epoch must
    resume with its batch size; at an epoch's end the batch size may change."""
    out = tmp_path / "run"
    cfg = load_train_config(_config(tmp_path))
    one = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})})
    train(one, out, progress=False)
    other_batch = cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"epochs": 2, "batch_size": cfg.train.batch_size * 2})})
    data = torch.load(out / "checkpoint.pt", weights_only=False)
    data["state"]["position"] = 1                       # as if killed after one batch
    mid = tmp_path / "mid"
    mid.mkdir()
    torch.save(data, mid / "checkpoint.pt")
    with pytest.raises(SnnkitError,
                       match=r"mid-epoch \(1 batches of train\.batch_size = 8\)") as err:
        train(other_batch, mid, resume=True, progress=False)
    assert "\n" not in str(err.value)
    train(other_batch, out, resume=True, progress=False)
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]


def test_nan_stops_and_keeps_the_good_checkpoint(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    cfg = load_train_config(_config(tmp_path))
    train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})}), out,
          progress=False)
    good = (out / "checkpoint.pt").read_bytes()
    real_step = trainer.strsbp_step

    def poisoned(net, *args, **kwargs):
        res = real_step(net, *args, **kwargs)
        net.weights[1].grad[0, 0] = float("nan")
        return res

    monkeypatch.setattr(trainer, "strsbp_step", poisoned)
    with pytest.raises(SnnkitError, match=r"weights\.1.*last good checkpoint") as err:
        train(cfg, out, resume=True, progress=False)
    assert "\n" not in str(err.value)
    assert (out / "checkpoint.pt").read_bytes() == good


def test_unknown_dataset_for_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = load_train_config(_config(tmp_path))
    train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})}), out,
          progress=False)
    res = _cli("evaluate", str(out / "model.pt"), "--dataset", "fashon-mnist", "-q")
    assert res.returncode == 2 and "fashion-mnist" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["strsbp_fmnist", "strsbp_fmnist_60k", "strsbp_mnist",
                                  "bptt_fmnist"])
def test_paper_configs_load(name: str) -> None:
    cfg = load_train_config(ROOT / "models" / f"{name}.toml")
    assert cfg.network.layers == "400-R400" and cfg.data.T == 400
    assert cfg.method == ("bptt" if name.startswith("bptt") else "st-rsbp")
    assert cfg.train.init is None or (ROOT / cfg.train.init).is_file()
