"""snnkit's emulator equals Lava's bit-accurate CPU model spike for spike; NetX files round-trip.

Lava runs in CI (the README's test command installs it); these tests are not skipped there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_hardware_emulator import random_int_net

from snnkit.errors import SnnkitError
from snnkit.hardware.emulator import emulate
from snnkit.hardware.lava_runner import run_lava
from snnkit.hardware.netx import read_netx, write_netx
from snnkit.hardware.profile import load_profile

PROFILE = load_profile("loihi")


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("seed", "rec", "bias", "delays", "extremes"), [
    (0, False, False, False, False),
    (1, True, True, False, False),
    (2, False, True, True, False),
    (3, True, False, False, True),
    (4, False, False, True, True),
])
def test_emulator_equals_lava(tmp_path, seed, rec, bias, delays, extremes) -> None:
    net = random_int_net(seed, rec=rec, bias=bias, delays=delays, extremes=extremes)
    path = write_netx(net, tmp_path / "net.net", PROFILE, n_steps=40)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor((rng.random((40, 2, 12)) < 0.3).astype(np.int8))
    ours = emulate(read_netx(path), x)[-1]
    lava = run_lava(path, x, progress=False)
    assert ours.shape == lava.shape == (40, 2, 5)
    assert 0 < int(ours.sum()) < ours.numel()
    assert torch.equal(ours, lava)


def test_netx_round_trip_and_bad_files(tmp_path) -> None:
    net = random_int_net(7, rec=True, bias=True, delays=True)
    path = write_netx(net, tmp_path / "a.net", PROFILE)
    back = read_netx(path)
    for a, b in zip(net.layers, back.layers, strict=True):
        for key in ("weight", "weight_rec", "bias", "delay"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert (a.i_decay, a.v_decay, a.vth_mant) == (b.i_decay, b.v_decay, b.vth_mant)
    (tmp_path / "junk.net").write_bytes(b"not hdf5")
    with pytest.raises(SnnkitError, match=r"junk\.net"):
        read_netx(tmp_path / "junk.net")
    truncated = tmp_path / "cut.net"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(SnnkitError, match=r"cut\.net"):
        read_netx(truncated)
    bad = random_int_net(8, rec=False, bias=False, delays=False)
    bad.layers[0].weight[0, 0] = 300
    with pytest.raises(SnnkitError, match=r"layer 1\.weight: value 300 outside"):
        write_netx(bad, tmp_path / "bad.net", PROFILE)
    assert not (tmp_path / "bad.net").exists()


TINY = """
method = "st-rsbp"
[data]
dataset = "fashion-mnist"
T = 40
n_train = 32
n_test = 16
[network]
layers = "20-R12"
v_th = [3.0, 3.0, 2.0]
refractory = 0
[train]
epochs = 1
batch_size = 16
lr = 0.01
[strsbp]
effect_trials = 20
"""


def _cli(*args: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "snnkit.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy())


@pytest.mark.timeout(600)
def test_export_run_verify_a_trained_network(tmp_path, monkeypatch) -> None:
    """A network trained by snnkit, exported, run on the emulator and on Lava: identical."""
    from pathlib import Path

    from snnkit.train.config import load_train_config
    from snnkit.train.trainer import train

    monkeypatch.setenv("SNNKIT_DATA", str(Path(__file__).resolve().parents[2] / "shared" /
                                          "data"))
    monkeypatch.setenv("SNNKIT_CACHE_DIR", str(tmp_path / "cache"))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    train(load_train_config(cfg), tmp_path / "run", progress=False)
    model = tmp_path / "run" / "model.pt"
    net, inputs = tmp_path / "out" / "tiny.net", tmp_path / "in.events"
    (tmp_path / "out").mkdir()
    res = _cli("export", str(model), "--out", str(net))
    assert res.returncode == 0, res.stderr
    assert "vThMant" in res.stdout and (tmp_path / "out" / "tiny.net.report.json").exists()
    res = _cli("export-inputs", "--model", str(model), "--n", "4", "--out", str(inputs))
    assert res.returncode == 0, res.stderr
    res = _cli("hardware", "run", str(net), "--inputs", str(inputs), "--out",
               str(tmp_path / "emu"), "-q")
    assert res.returncode == 0 and '"accuracy"' in res.stdout, res.stderr
    res = _cli("hardware", "verify", str(net), "--inputs", str(inputs), "-q")
    assert res.returncode == 0, res.stderr
    assert " 0 mismatches" in res.stdout
    # inputs of the wrong width are refused in one line
    from snnkit.hardware import events as E

    E.write_events(E.from_dense(np.zeros((5, 1, 7), np.int8)), tmp_path / "narrow.events")
    res = _cli("hardware", "run", str(net), "--inputs", str(tmp_path / "narrow.events"))
    assert res.returncode == 2 and "7 input neurons" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_unsupported_layer_and_non_integer_values(tmp_path) -> None:
    import h5py

    path = write_netx(random_int_net(9, rec=False, bias=False, delays=False),
                      tmp_path / "a.net", PROFILE)
    with h5py.File(path, "r+") as f:
        del f["layer/2/type"]
        f["layer/2"].create_dataset("type", (1,), "S10", [b"pool"])
    with pytest.raises(SnnkitError, match=r"'pool' is not supported.*dense_rec"):
        read_netx(path)
    path = write_netx(random_int_net(9, rec=False, bias=False, delays=False),
                      tmp_path / "b.net", PROFILE)
    with h5py.File(path, "r+") as f:
        f["layer/1/weight"][0, 0] = 1.5
    with pytest.raises(SnnkitError, match=r"layer 1\.weight: expected integer"):
        read_netx(path)


def test_missing_lava_gives_the_install_line() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['lava'] = None\n"
            "from snnkit.hardware.lava_compat import import_netx\n"
            "try:\n    import_netx()\nexcept Exception as e:\n    print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.startswith("SnnkitError") and "--no-deps --ignore-requires-python" in out
