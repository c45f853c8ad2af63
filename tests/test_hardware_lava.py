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
