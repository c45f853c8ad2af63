"""lava-dl NetX HDF5 (``.net``) files, written and read with h5py (no lava-dl needed).

Layout (lava-dl ``netx/hdf5.py``, hardware.md §1)::

    /layer/0                 type 'input', shape [n_in]          (no neuron: only fixes the shape)
    /layer/k                 type 'dense' or 'dense_rec', shape [n_out],
                             weight (out, in), [weight_rec (out, out)], [bias (out,)],
                             [delay (out, in)], neuron/{type 'CUBA', iDecay, vDecay, vThMant,
                             refDelay 1, gradedSpike False}
    /simulation/Ts, tSample  documentation only

Values are integers stored as float32 (NetX casts with ``astype(int)``, which truncates, so they
must already be integers); delays as a full (out, in) matrix (a 1-D delay is ambiguous when
in == out).  Files are written to a temporary sibling and renamed, so a failed export never
leaves a partial file under the final name.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np

from snnkit.errors import SnnkitError
from snnkit.hardware.fixed_point import IntLayer, IntNetwork
from snnkit.hardware.profile import TargetProfile
from snnkit.io import atomic_write, open_hdf5

SUPPORTED = ("input", "dense", "dense_rec")


def validate(net: IntNetwork, profile: TargetProfile) -> None:
    """Every integer within the target's range; a one-line error naming layer, field, value."""
    for k, layer in enumerate(net.layers, start=1):
        checks = [("weight", layer.weight, profile.weight_min, profile.weight_max),
                  ("iDecay", layer.i_decay, 0, profile.decay_max),
                  ("vDecay", layer.v_decay, 0, profile.decay_max),
                  ("vThMant", layer.vth_mant, 0, profile.vth_max)]
        if layer.weight_rec is not None:
            checks.append(("weight_rec", layer.weight_rec, profile.weight_min, profile.weight_max))
        if layer.bias is not None:
            checks.append(("bias", layer.bias, profile.bias_min, profile.bias_max))
        if layer.delay is not None:
            checks.append(("delay", layer.delay, 0, profile.max_delay))
        for name, value, lo, hi in checks:
            arr = np.asarray(value)
            if not np.all(arr == np.round(arr)):
                raise SnnkitError(f"layer {k}.{name}: expected integers, got {arr.ravel()[0]!r}")
            bad = arr[(arr < lo) | (arr > hi)]
            if bad.size:
                raise SnnkitError(f"layer {k}.{name}: value {bad.ravel()[0]} outside "
                                  f"[{lo}, {hi}] of target {profile.name}")
        if profile.even_weights and np.any(np.asarray(layer.weight) % 2):
            raise SnnkitError(f"layer {k}.weight: expected even mantissas on {profile.name}")


def _text(group: h5py.Group, key: str, value: str) -> None:
    group.create_dataset(key, (1,), "S10", [value.encode("ascii")])


def write_netx(net: IntNetwork, path: str | Path, profile: TargetProfile,
               n_steps: int | None = None) -> Path:
    """Write ``net`` as a NetX ``.net`` file (atomically) after :func:`validate`."""
    validate(net, profile)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        first = f.create_group("layer/0")
        _text(first, "type", "input")
        first.create_dataset("shape", data=np.array([net.n_in]))
        for k, layer in enumerate(net.layers, start=1):
            g = f.create_group(f"layer/{k}")
            _text(g, "type", "dense" if layer.weight_rec is None else "dense_rec")
            g.create_dataset("shape", data=np.array([layer.n_out]))
            g.create_dataset("weight", data=np.asarray(layer.weight, np.float32))
            if layer.weight_rec is not None:
                g.create_dataset("weight_rec", data=np.asarray(layer.weight_rec, np.float32))
            if layer.bias is not None:
                g.create_dataset("bias", data=np.asarray(layer.bias, np.float32))
            if layer.delay is not None:
                g.create_dataset("delay", data=np.asarray(layer.delay, np.float32))
            neuron = g.create_group("neuron")
            _text(neuron, "type", "CUBA")
            for key, value in (("iDecay", layer.i_decay), ("vDecay", layer.v_decay),
                               ("vThMant", layer.vth_mant), ("refDelay", 1)):
                neuron.create_dataset(key, data=int(value))
            neuron.create_dataset("gradedSpike", data=False)
        f.create_dataset("simulation/Ts", data=1)
        f.create_dataset("simulation/tSample", data=int(n_steps or 0))
        for key, value in net.meta.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                f.attrs[f"snnkit_{key}"] = value
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def _read(g: h5py.Group, key: str, where: str) -> np.ndarray:
    if key not in g:
        raise SnnkitError(f"{where}: missing '{key}'")
    return np.asarray(g[key][()])


def _type(g: h5py.Group, where: str) -> str:
    raw = _read(g, "type", where)
    value = raw.ravel()[0] if raw.shape else raw
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _int(x: np.ndarray, where: str) -> np.ndarray:
    if not np.all(x == np.round(x)):
        raise SnnkitError(f"{where}: expected integer values")
    return np.round(x).astype(np.int64)


def read_netx(path: str | Path) -> IntNetwork:
    """An :class:`IntNetwork` from a NetX file snnkit can run (dense / dense_rec, CUBA)."""
    path = Path(path)
    with open_hdf5(path, "NetX network") as f:
        if "layer" not in f:
            raise SnnkitError(f"{path}: no /layer group (not a NetX network)")
        keys = sorted(f["layer"].keys(), key=lambda k: int(k) if k.isdigit() else -1)
        layers, n_in = [], None
        for key in keys:
            g, where = f["layer"][key], f"{path}: layer {key}"
            kind = _type(g, where)
            if kind not in SUPPORTED:
                raise SnnkitError(f"{where}: type '{kind}' is not supported (snnkit runs "
                                  f"{', '.join(SUPPORTED)})")
            if kind == "input":
                n_in = int(np.prod(_read(g, "shape", where)))
                continue
            layers.append(_read_dense(g, where, key))
        if n_in is None:
            n_in = layers[0].n_in if layers else 0
        if not layers:
            raise SnnkitError(f"{path}: no dense layers")
        meta = {k[len("snnkit_"):]: (v.item() if hasattr(v, "item") else v)
                for k, v in f.attrs.items() if k.startswith("snnkit_")}
    return IntNetwork(n_in, tuple(layers), meta)


def _read_dense(g: h5py.Group, where: str, key: str) -> IntLayer:
    if "neuron" not in g:
        raise SnnkitError(f"{where}: no neuron group (snnkit needs CUBA neurons)")
    n = g["neuron"]
    kind = _type(n, f"{where}.neuron")
    if kind not in ("CUBA", "LOIHI"):
        raise SnnkitError(f"{where}.neuron: type '{kind}' is not supported (CUBA, LOIHI)")
    weight = _int(_read(g, "weight", where), f"{where}.weight")
    if weight.ndim != 2:
        raise SnnkitError(f"{where}.weight: expected a 2-D (out, in) array")
    rec = _int(_read(g, "weight_rec", where), f"{where}.weight_rec") if "weight_rec" in g \
        else None
    bias = _int(_read(g, "bias", where), f"{where}.bias") if "bias" in g else None
    delay = None
    if "delay" in g:
        delay = _int(_read(g, "delay", where), f"{where}.delay")
        if delay.shape != weight.shape:
            raise SnnkitError(f"{where}.delay: expected a full {weight.shape} matrix")
    scalars = {k: int(_int(_read(n, k, f"{where}.neuron"), f"{where}.neuron.{k}").ravel()[0])
               for k in ("iDecay", "vDecay", "vThMant")}
    return IntLayer(weight=weight, weight_rec=rec, bias=bias, delay=delay,
                    i_decay=scalars["iDecay"], v_decay=scalars["vDecay"],
                    vth_mant=scalars["vThMant"], name=key)
