"""Lava on Python 3.11: a NetX HDF5 net written with h5py runs bit-exactly on Lava's CPU model.

Needs lava-nc 0.10.0 + lava-dl 0.6.0 (docs/install.md); snnkit.hardware.lava_compat makes
them importable.  The reference is an independent NumPy integer model of Lava's
``PyLifModelBitAcc`` + ``PyDenseModelBitAcc`` (hardware.md §2).
"""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from snnkit.hardware.lava_compat import import_netx

T = 60
# (n_out, iDecay, vDecay, vThMant, with bias) per dense layer
LAYERS = [(12, 1024, 256, 300, True), (5, 4096, 128, 200, False)]
N_IN = 16


def make_layers(rng):
    layers, n_in = [], N_IN
    for n, idecay, vdecay, vth, with_bias in LAYERS:
        w = 2 * rng.integers(-128, 128, size=(n, n_in))  # even ints in [-256, 254]
        bias = rng.integers(-40, 80, size=n) if with_bias else None
        layers.append((w, bias, idecay, vdecay, vth))
        n_in = n
    return layers


def write_net(path, layers):
    """hardware.md §1/§9: layer 0 'input' (shape only), then 'dense' + CUBA neuron groups."""

    def text(group, key, value):
        group.create_dataset(key, (1,), "S10", [value.encode("ascii")])

    with h5py.File(path, "w") as f:
        layer0 = f.create_group("layer/0")
        text(layer0, "type", "input")
        layer0.create_dataset("shape", data=np.array([N_IN]))
        for i, (w, bias, idecay, vdecay, vth) in enumerate(layers, start=1):
            g = f.create_group(f"layer/{i}")
            text(g, "type", "dense")
            g.create_dataset("shape", data=np.array([w.shape[0]]))
            g.create_dataset("weight", data=w.astype(np.float32))
            if bias is not None:
                g.create_dataset("bias", data=bias.astype(np.float32))
            neuron = g.create_group("neuron")
            text(neuron, "type", "CUBA")
            for key, value in [
                ("iDecay", idecay),
                ("vDecay", vdecay),
                ("vThMant", vth),
                ("refDelay", 1),
            ]:
                neuron.create_dataset(key, data=value)
            neuron.create_dataset("gradedSpike", data=False)
        f.create_dataset("simulation/Ts", data=1)
        f.create_dataset("simulation/tSample", data=T)


def rs0(x, shift=12):
    """Sign-magnitude right shift (rounds toward zero)."""
    return np.sign(x) * (np.abs(x) >> shift)


def reference(layers, spikes):
    """NumPy integer model of Loihi CUBA-LIF on Lava's CPU (hardware.md §2).

    Returns the output spikes (n_out, T) and each layer's final (u, v).
    """
    x = spikes.astype(np.int64)  # (n_in, T)
    states = []
    for w, bias, idecay, vdecay, vth in layers:
        n = w.shape[0]
        b_eff = (np.zeros(n, np.int64) if bias is None else bias.astype(np.int64)) << 6
        u = np.zeros(n, np.int64)
        v = np.zeros(n, np.int64)
        buffered = np.zeros(n, np.int64)  # Dense sends the previous step's sum
        out = np.zeros((n, x.shape[1]), np.int64)
        for t in range(x.shape[1]):
            a_in, buffered = buffered, w.astype(np.int64) @ x[:, t]
            u = rs0(u * (4096 - idecay)) + (a_in << 6)
            u = (u + 2**23) % 2**24 - 2**23  # current wraps at 24 bits
            v = rs0(v * (4096 - vdecay)) + u + b_eff
            v = np.clip(v, -(2**23 - 1), 2**23 - 1)  # voltage saturates
            s = v > (vth << 6)
            v[s] = 0
            out[:, t] = s
        states.append((u, v))
        x = out
    return x, states


def run_lava(path, spikes):
    netx = import_netx()  # first: a missing Lava gives snnkit's one-line install hint
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    net = netx.hdf5.Network(net_config=str(path))
    src = Source(data=spikes)
    snk = Sink(shape=net.out.shape, buffer=spikes.shape[1])
    src.s_out.connect(net.inp)
    net.out.connect(snk.a_in)
    try:
        net.run(
            condition=RunSteps(num_steps=spikes.shape[1]),
            run_cfg=Loihi2SimCfg(select_tag="fixed_pt"),
        )
        states = [(b.neuron.u.get(), b.neuron.v.get()) for b in net.layers]
        return np.asarray(snk.data.get()).astype(np.int64), states
    finally:
        net.stop()


CHECK_IMPORTS = """
import sys
import snnkit.hardware.lava_compat as compat
from lava.magma.compiler.var_model import CoreEncoder  # plain import: the hook fixes it
from lava.proc.lif.process import LIF
assert CoreEncoder().x is not CoreEncoder().x  # default_factory, not one shared default
assert LIF(shape=(3,)).s_out.shape == (3,)
assert compat.import_lava() is sys.modules["lava"]
netx = compat.import_netx()
assert hasattr(netx.hdf5, "Network")
left = [getattr(sys.modules.get(m), "__doc__", None) for m in ("cv2", "torchvision")]
assert compat.STUB_DOC not in left  # the stand-ins are gone again after the import
print("ok")
"""


def test_lava_imports_in_a_fresh_process():
    done = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"  # the Prophesee warning is swallowed


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", [0, 1])
def test_netx_dense_cuba_matches_integer_model(tmp_path, seed):
    rng = np.random.default_rng(seed)
    layers = make_layers(rng)
    spikes = (rng.random((N_IN, T)) < 0.3).astype(np.int32)
    path = tmp_path / "net.net"
    write_net(path, layers)

    got, got_states = run_lava(path, spikes)
    expected, states = reference(layers, spikes)

    assert got.shape == expected.shape == (LAYERS[-1][0], T)
    assert 0 < expected.sum() < expected.size  # the comparison is not trivial
    np.testing.assert_array_equal(got, expected)
    for (u, v), (lava_u, lava_v) in zip(states, got_states, strict=True):  # final states
        np.testing.assert_array_equal(lava_u, u)
        np.testing.assert_array_equal(lava_v, v)
