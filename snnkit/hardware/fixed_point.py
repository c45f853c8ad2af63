r"""Quantization of a network description to a target's fixed point (Loihi CUBA by default).

Per layer an integer scale :math:`K` maps the float state to integers, :math:`u_{int} = K u`,
:math:`v_{int} = K v`.  A spike adds ``weight << 6`` to the current, so

.. math::
    w_{int} = 2\,\mathrm{round}\!\left(\frac{K W}{2\cdot 64}\right) \in [-256, 254]\ \text{(even)},
    \qquad \mathrm{vThMant} = \mathrm{round}(K\theta/64),\qquad
    \mathrm{bias} = \mathrm{round}(K b/64),

and the decays become :math:`\mathrm{iDecay} = \mathrm{round}(4096\,\delta_u)`,
:math:`\mathrm{vDecay} = \mathrm{round}(4096\,\delta_v)`.  :math:`K` is chosen so that the
largest weight magnitude (or the ``clip_percentile`` of the magnitudes, feed-forward and recurrent
together) lands on the largest mantissa, then lowered if the threshold or bias would not fit or
if :math:`K\theta` would exceed 1/``headroom`` of the 24-bit state range (the current wraps
around beyond it; 4 leaves room for currents and potentials up to four thresholds).
The report gives per layer the scale, the fraction of clipped weights, the relative RMS error of
the effective weights :math:`64\,w_{int}/K` and the resources on the target's cores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from snnkit.errors import SnnkitError
from snnkit.hardware.description import NetworkDescription
from snnkit.hardware.profile import TargetProfile


@dataclass(frozen=True)
class IntLayer:
    """A quantized dense layer in the target's integers (NetX ``dense`` / ``dense_rec``)."""

    weight: np.ndarray                 # (out, in) int
    i_decay: int
    v_decay: int
    vth_mant: int
    weight_rec: np.ndarray | None = None
    bias: np.ndarray | None = None     # bias mantissa, applied as bias << 6
    delay: np.ndarray | None = None    # (out, in) extra steps
    scale: float = 1.0                 # K: integer state units per float unit
    name: str = ""

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])


@dataclass(frozen=True)
class IntNetwork:
    n_in: int
    layers: tuple[IntLayer, ...]
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out


def _even(x: np.ndarray) -> np.ndarray:
    return 2.0 * np.round(x / 2.0)


def quantize(desc: NetworkDescription, profile: TargetProfile, *, clip_percentile: float = 100.0,
             drop_refractory: bool = False, prune: float = 0.0, headroom: float = 4.0,
             calibration: torch.Tensor | None = None, scales: Sequence[float] | None = None
             ) -> tuple[IntNetwork, list[dict[str, float]]]:
    r"""The integer network and a per-layer report (see module docstring).

    ``calibration``: input spikes (T, B, n_in); the float model is run on them and each layer's
    scale is kept below :math:`2^{23}/(1.25\,\max|u|)` so that the current never wraps there.
    ``scales``: use these per-layer :math:`K` instead of choosing them (quantization-aware
    fine-tuning keeps the starting model's scales while the weights move).
    """
    peaks: list[float] = []
    if scales is not None and len(scales) != len(desc.layers):
        raise SnnkitError(f"scales: expected {len(desc.layers)} values, got {len(scales)}")
    if calibration is not None and scales is None:
        from snnkit.hardware.emulator import simulate_float

        simulate_float(desc, calibration, peaks)
    if not 0 < clip_percentile <= 100:
        raise SnnkitError(f"clip_percentile: expected a value in (0, 100], got {clip_percentile}")
    if not 0 <= prune < 1:
        raise SnnkitError(f"prune: expected a fraction in [0, 1), got {prune}")
    layers, report = [], []
    for k, layer in enumerate(desc.layers):
        n = layer.neuron
        if n.refractory and not profile.refractory and not drop_refractory:
            raise SnnkitError(
                f"layer {k}: a refractory period of {n.refractory} steps cannot be expressed on "
                f"{profile.name} (its CUBA neuron has none); drop it (--drop-refractory) or "
                "fine-tune with network.refractory = 0")
        w = np.asarray(layer.weight, dtype=np.float64)
        w_rec = None if layer.weight_rec is None else np.asarray(layer.weight_rec, np.float64)
        if prune > 0:
            w = _prune(w, prune)
        mags = np.abs(np.concatenate([w.ravel(), [] if w_rec is None else w_rec.ravel()]))
        ref = np.percentile(mags[mags > 0], clip_percentile) if np.any(mags > 0) else 1.0
        top = min(profile.weight_max, -profile.weight_min)
        scale = 2.0**profile.weight_shift * top / ref
        scale = min(scale, 2.0**profile.weight_shift * profile.vth_max / n.threshold,
                    2.0 ** (profile.state_bits - 1) / (headroom * n.threshold))
        if peaks and peaks[k] > 0:
            scale = min(scale, 2.0 ** (profile.state_bits - 1) / (1.25 * peaks[k]))
        if layer.bias is not None and np.any(layer.bias != 0):
            bmax = np.abs(layer.bias).max()
            scale = min(scale, 2.0**profile.weight_shift * profile.bias_max / bmax)
        if scales is not None:
            scale = float(scales[k])
        unit = 2.0**profile.weight_shift / scale  # float weight of one integer step

        def q(x: np.ndarray, unit: float = unit) -> tuple[np.ndarray, float]:
            raw = x / unit
            raw = _even(raw) if profile.even_weights else np.round(raw)
            clipped = float(np.mean((raw < profile.weight_min) | (raw > profile.weight_max)))
            return np.clip(raw, profile.weight_min, profile.weight_max).astype(np.int32), clipped

        wq, clip = q(w)
        wq_rec, clip_rec = (None, 0.0) if w_rec is None else q(w_rec)
        delay = None if layer.delay is None else np.asarray(layer.delay, dtype=np.int32)
        if delay is not None and delay.max() > profile.max_delay:
            raise SnnkitError(f"layer {k}.delay: expected at most {profile.max_delay} steps, got "
                              f"{int(delay.max())}")
        bias = None if layer.bias is None else np.round(np.asarray(layer.bias) / unit).astype(
            np.int32)
        il = IntLayer(weight=wq, weight_rec=wq_rec, bias=bias, delay=delay,
                      i_decay=round(profile.decay_max * n.current_decay),
                      v_decay=round(profile.decay_max * n.voltage_decay),
                      vth_mant=round(n.threshold / unit), scale=scale,
                      name=layer.name or str(k))
        layers.append(il)
        report.append(_layer_report(k, layer.weight, layer.weight_rec, il, unit, clip, clip_rec,
                                    n.threshold, profile))
    return IntNetwork(desc.n_in, tuple(layers), dict(desc.meta, target=profile.name)), report


def _prune(w: np.ndarray, fraction: float) -> np.ndarray:
    """Zero the ``fraction`` of weights with the smallest magnitudes."""
    cut = np.quantile(np.abs(w), fraction)
    return np.where(np.abs(w) <= cut, 0.0, w)


def _rel_rms(exact: np.ndarray, approx: np.ndarray) -> float:
    norm = float(np.sqrt(np.mean(exact**2)))
    return float(np.sqrt(np.mean((approx - exact) ** 2))) / norm if norm > 0 else 0.0


def _layer_report(k: int, w: np.ndarray, w_rec: np.ndarray | None, il: IntLayer, unit: float,
                  clip: float, clip_rec: float, threshold: float,
                  profile: TargetProfile) -> dict[str, float]:
    err = _rel_rms(np.asarray(w, np.float64), il.weight * unit)
    synapses = int(np.count_nonzero(il.weight))
    if il.weight_rec is not None:
        synapses += int(np.count_nonzero(il.weight_rec))
    fan_in = il.n_in + (il.n_out if il.weight_rec is not None else 0)
    cores = max(math.ceil(il.n_out / profile.neurons_per_core),
                math.ceil(synapses / profile.synapses_per_core),
                math.ceil(fan_in / profile.fan_in_per_core))
    return {"layer": k, "neurons": il.n_out, "synapses": synapses, "cores": cores,
            "scale": il.scale, "weight_clip_fraction": clip,
            "rec_clip_fraction": clip_rec, "weight_rel_rms_error": err,
            "rec_rel_rms_error": (_rel_rms(np.asarray(w_rec, np.float64), il.weight_rec * unit)
                                  if w_rec is not None else 0.0),
            "threshold_rel_error": abs(il.vth_mant * unit - threshold) / threshold,
            "i_decay": il.i_decay, "v_decay": il.v_decay, "vth_mant": il.vth_mant}
