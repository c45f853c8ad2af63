r"""A small, validated description of a deployable spiking network (float, discrete time).

Every writer (NetX, NIR) and runner (emulator, Lava) reads this description or its quantized
form (:mod:`snnkit.hardware.fixed_point`).  The neuron is Loihi's current-based LIF (CUBA), per
time step:

.. math::
    u &\leftarrow u\,(1 - \delta_u) + \textstyle\sum_j W_{ij} s_j[t-1]
        + \sum_l W^r_{il} s_l[t-1]\\
    v &\leftarrow v\,(1 - \delta_v) + u + b \\
    s &= [v > \theta], \quad v \leftarrow 0 \text{ on a spike}

with every synaptic layer adding one step of latency (Lava's Dense buffer) plus an optional
per-synapse ``delay``.  ``refractory`` > 0 is kept in the description (ST-RSBP neurons have 2
steps) but Loihi's CUBA neuron has no refractory period: the quantizer refuses it unless asked
to drop it.

**From ST-RSBP** (:func:`from_strsbp`): the paper's neuron
:math:`\epsilon \leftarrow \epsilon(1 - 1/\tau_s) + W s[t-1]`,
:math:`v \leftarrow v(1 - 1/\tau_m) + \epsilon/\tau_s` is this one with
:math:`u = \epsilon/\tau_s`, i.e. weights :math:`W/\tau_s`, :math:`\delta_u = 1/\tau_s`,
:math:`\delta_v = 1/\tau_m`, :math:`\theta = V_{th}`; the same one-step delay per layer; lateral
(recurrent) weights and the output inhibition as ``weight_rec``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnkit.errors import SnnkitError


@dataclass(frozen=True)
class CubaNeuron:
    """Per-step CUBA parameters of one layer (decays are fractions lost per step)."""

    current_decay: float
    voltage_decay: float
    threshold: float
    refractory: int = 0

    def __post_init__(self) -> None:
        for name in ("current_decay", "voltage_decay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SnnkitError(f"neuron.{name}: expected a fraction in [0, 1], got {value}")
        if not self.threshold > 0:
            raise SnnkitError(f"neuron.threshold: expected > 0, got {self.threshold}")
        if self.refractory < 0:
            raise SnnkitError(f"neuron.refractory: expected >= 0, got {self.refractory}")


@dataclass(frozen=True)
class DenseLayer:
    """A dense layer: ``weight`` (out, in), optional ``weight_rec`` (out, out), bias, delays."""

    weight: np.ndarray
    neuron: CubaNeuron
    weight_rec: np.ndarray | None = None
    bias: np.ndarray | None = None
    delay: np.ndarray | None = None  # extra steps per synapse (out, in), integers >= 0
    name: str = ""

    def __post_init__(self) -> None:
        w = np.asarray(self.weight)
        where = f"layer {self.name or '?'}"
        if w.ndim != 2:
            raise SnnkitError(f"{where}.weight: expected a 2-D (out, in) array, got {w.shape}")
        if self.weight_rec is not None and np.shape(self.weight_rec) != (w.shape[0],) * 2:
            raise SnnkitError(f"{where}.weight_rec: expected shape {(w.shape[0],) * 2}, got "
                              f"{np.shape(self.weight_rec)}")
        if self.bias is not None and np.shape(self.bias) != (w.shape[0],):
            raise SnnkitError(f"{where}.bias: expected shape ({w.shape[0]},)")
        if self.delay is not None:
            d = np.asarray(self.delay)
            if d.shape != w.shape or d.min() < 0 or not np.issubdtype(d.dtype, np.integer):
                raise SnnkitError(f"{where}.delay: expected non-negative integers of shape "
                                  f"{w.shape}")

    @property
    def n_out(self) -> int:
        return int(np.shape(self.weight)[0])

    @property
    def n_in(self) -> int:
        return int(np.shape(self.weight)[1])


@dataclass(frozen=True)
class NetworkDescription:
    """Input size and layers, input to output; ``meta`` records where it came from."""

    n_in: int
    layers: tuple[DenseLayer, ...]
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.layers:
            raise SnnkitError("network: expected at least one layer")
        n = self.n_in
        for k, layer in enumerate(self.layers):
            if layer.n_in != n:
                raise SnnkitError(f"layer {k}.weight: expected {n} inputs, got {layer.n_in}")
            n = layer.n_out

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out


def from_spiking_net(net, meta: dict[str, object] | None = None) -> NetworkDescription:
    """The description of an in-memory :class:`snnkit.train.network.SpikingNet`."""
    layers = []
    for k, w in enumerate(net.weights):
        p = net.params[k]
        lateral = net.lateral(k)
        neuron = CubaNeuron(1.0 / p.tau_s, 1.0 / p.tau_m, p.v_th, p.refractory)
        layers.append(DenseLayer(
            weight=w.detach().cpu().double().numpy() / p.tau_s,
            weight_rec=(None if lateral is None
                        else lateral.detach().cpu().double().numpy() / p.tau_s),
            neuron=neuron, name=str(k)))
    return NetworkDescription(net.n_in, tuple(layers), dict(meta or {}))


def _scalar(x: object, where: str) -> float:
    t = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64).ravel()
    if t.size == 0 or not np.all(t == t[0]):
        raise SnnkitError(f"{where}: expected one value for the whole layer, got {t.size}")
    return float(t[0])


def _norse_neuron(cell: object, where: str) -> tuple[CubaNeuron, float]:
    """The CUBA neuron of a Norse LIF cell and its gain ``a = dt * tau_mem_inv``."""
    p, dt = cell.p, float(cell.dt)  # type: ignore[attr-defined]
    for name in ("v_leak", "v_reset"):
        if _scalar(getattr(p, name), f"{where}.p.{name}") != 0.0:
            raise SnnkitError(f"{where}.p.{name}: expected 0 (Loihi leaks and resets to 0), got "
                              f"{_scalar(getattr(p, name), where)}")
    a = dt * _scalar(p.tau_mem_inv, f"{where}.p.tau_mem_inv")
    b = dt * _scalar(p.tau_syn_inv, f"{where}.p.tau_syn_inv")
    return CubaNeuron(b, a, _scalar(p.v_th, f"{where}.p.v_th")), a


def from_norse(module: Iterable[object], meta: dict[str, object] | None = None
               ) -> NetworkDescription:
    r"""The description of a Norse network: an ``nn.Sequential``/``SequentialState`` of
    ``torch.nn.Linear`` (no bias) + ``LIFCell`` pairs and ``LIFRecurrentCell`` layers.

    Norse's step (``lif_feed_forward_step``/``lif_step``, norse 1.1) is
    :math:`i' = i + W x[t] (+ W_r z[t-1])`, :math:`v \leftarrow v + a(-v + i')`,
    :math:`i \leftarrow i'(1 - b)` with :math:`a = dt\,\tau_{mem}^{-1}`,
    :math:`b = dt\,\tau_{syn}^{-1}`, spike if :math:`v > v_{th}`, reset to 0.  With
    :math:`u = a\,i'` this is the CUBA neuron with weights :math:`aW` (and :math:`aW_r`),
    :math:`\delta_u = b`, :math:`\delta_v = a`, :math:`\theta = v_{th}`; ``v_leak`` and
    ``v_reset`` must be 0.  Timing: Norse's feed-forward input acts in the same step, the
    description's one step later, so layer :math:`k` here spikes :math:`k` steps after Norse's.
    """
    from norse.torch import LIFCell, LIFRecurrentCell
    from torch import nn

    layers: list[DenseLayer] = []
    pending: np.ndarray | None = None
    for k, m in enumerate(module):
        where = f"module {k} ({type(m).__name__})"
        if isinstance(m, nn.Linear):
            if pending is not None:
                raise SnnkitError(f"{where}: two Linear layers in a row; expected Linear + LIFCell")
            if m.bias is not None and bool(m.bias.detach().abs().sum() > 0):
                raise SnnkitError(f"{where}: a Linear bias is a constant synaptic current, which "
                                  "CUBA cannot express; use bias=False")
            pending = m.weight.detach().cpu().double().numpy()
        elif isinstance(m, LIFCell):
            if pending is None:
                raise SnnkitError(f"{where}: a LIFCell needs a Linear before it")
            neuron, a = _norse_neuron(m, where)
            layers.append(DenseLayer(a * pending, neuron, name=str(len(layers))))
            pending = None
        elif isinstance(m, LIFRecurrentCell):
            if pending is not None:
                raise SnnkitError(f"{where}: a LIFRecurrentCell has its own input weights; "
                                  "remove the Linear before it")
            neuron, a = _norse_neuron(m, where)
            w = m.input_weights.detach().cpu().double().numpy()
            w_rec = m.recurrent_weights.detach().cpu().double().numpy()
            layers.append(DenseLayer(a * w, neuron, weight_rec=a * w_rec, name=str(len(layers))))
        else:
            raise SnnkitError(f"{where}: not supported (expected torch.nn.Linear, LIFCell, "
                              "LIFRecurrentCell)")
    if pending is not None:
        raise SnnkitError("the network ends with a Linear layer; expected a LIF cell last")
    if not layers:
        raise SnnkitError("no LIF layers found")
    return NetworkDescription(layers[0].n_in, tuple(layers), dict(meta or {}, source="norse"))


def from_strsbp(model: str | Path) -> NetworkDescription:
    """The description of a trained ST-RSBP / BPTT model file (``snnkit train`` output)."""
    from snnkit.train.model import load_model

    net, cfg, info = load_model(model)
    meta = {"source": str(model), "method": cfg.method, "layers": cfg.network.layers,
            "dataset": cfg.data.dataset, "T": cfg.data.T, "p_max": cfg.data.p_max,
            "data_seed": cfg.data.seed, "trained_epoch": info.get("epoch")}
    return from_spiking_net(net, meta)
