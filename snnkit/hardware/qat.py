r"""Quantization-aware fine-tuning: ST-RSBP with the target's integer dynamics in the forward pass.

A model trained in float (with ST-RSBP's refractory period) loses accuracy on a CUBA target for
two reasons: the weights are rounded to 8-bit mantissas, and the neuron has no refractory
period.  Fine-tuning removes both mismatches from the training signal:

* the network is rebuilt with ``network.refractory = 0`` and started from the trained weights
  (``train.init``);
* every batch, the current float weights :math:`W` are quantized with the per-layer scales
  :math:`K` chosen once for the starting model (:func:`snnkit.hardware.fixed_point.quantize`,
  calibrated as ``snnkit export`` calibrates), and the bit-accurate emulator
  (:func:`snnkit.hardware.emulator.emulate`) produces every layer's spike trains;
* ST-RSBP's backward pass uses those integer-dynamics spike trains and S-PSPs as if the float
  network had produced them, and updates the float weights (straight-through estimator:
  :math:`\partial W_{int}/\partial W` is taken as the identity, rounding and clipping are ignored
  in the backward pass).

Validation and test accuracies in ``metrics.csv`` are measured with the same integer forward
pass, i.e. they are emulator (= Lava) accuracies at these scales.  The output folder is an
ordinary training run (``snnkit train`` contract), so ``best_val.pt`` exports with
``snnkit export`` and resumes with ``--resume``; the scales are kept in ``DIR/qat.json``.
``snnkit export`` recalibrates, so the exported scales can differ slightly from the fine-tuning
ones; the accuracy after export is measured on the export (docs/results/hardware.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from snnkit.errors import SnnkitError
from snnkit.hardware.description import from_spiking_net, from_strsbp
from snnkit.hardware.emulator import emulate
from snnkit.hardware.fixed_point import quantize
from snnkit.hardware.nir_graph import without_refractory
from snnkit.hardware.profile import TargetProfile, load_profile
from snnkit.io import atomic_write_json, ensure_writable_dir

DEFAULTS = {"train.epochs": 2, "train.lr": 5e-4, "train.lr_schedule": "constant",
            "train.boost": False}


def integer_forward(profile: TargetProfile, scales: Sequence[float]):
    """A ``forward_fn(net, spikes)`` for :func:`snnkit.train.trainer.train`: every layer's spike
    trains (float, on the input's device) from the emulator at fixed ``scales``."""

    def forward(net, spikes: torch.Tensor) -> list[torch.Tensor]:
        qnet, _ = quantize(from_spiking_net(net), profile, scales=scales)
        return [s.to(spikes.dtype) for s in emulate(qnet, spikes)]

    return forward


def starting_scales(model: str | Path, profile: TargetProfile, calibration: int = 64
                    ) -> list[float]:
    """The per-layer scales ``snnkit export`` chooses for ``model`` (refractory dropped)."""
    from snnkit.hardware.api import encode_images

    x = encode_images(model, None, "train", calibration)[0] if calibration else None
    desc = without_refractory(from_strsbp(model))
    qnet, _ = quantize(desc, profile, calibration=x)
    return [layer.scale for layer in qnet.layers]


def finetune(model: str | Path, out: str | Path, *, target: str = "loihi",
             overrides: Iterable[str] = (), resume: bool = False, progress: bool = True,
             data_dir: str | Path | None = None, calibration: int = 64
             ) -> list[dict[str, Any]]:
    """Fine-tune ``model`` through the integer dynamics of ``target``; returns metrics rows.

    The run's config is the model's own with ``network.refractory = 0``, ``train.init =
    model`` and :data:`DEFAULTS` (2 epochs at a constant 5e-4, no boost), then ``overrides``
    (``TABLE.KEY=VALUE``).
    """
    from snnkit.hardware.api import from_strsbp_config
    from snnkit.tomlconfig import parse_override, set_dotted
    from snnkit.train.config import TrainConfig
    from snnkit.train.trainer import train

    base = from_strsbp_config(model)
    if base.method != "st-rsbp":
        raise SnnkitError(f"{model}: fine-tuning runs ST-RSBP; this model was trained with "
                          f"{base.method}")
    values = base.to_dict()
    settings = {**DEFAULTS, "network.refractory": 0, "train.init": str(model)}
    for key, value in settings.items():
        set_dotted(values, key, value)
    for item in overrides:
        set_dotted(values, *parse_override(item))
    cfg = TrainConfig.from_mapping(values, "fine-tuning config")
    profile = load_profile(target)
    out, _ = ensure_writable_dir(Path(out))
    record = out / "qat.json"
    if resume and record.exists():
        try:
            scales = json.loads(record.read_text())["scales"]
        except (ValueError, KeyError, TypeError):
            raise SnnkitError(f"{record}: unreadable fine-tuning record (no 'scales'); "
                              "start again without --resume or in another --out") from None
    else:
        scales = starting_scales(model, profile, calibration)
        atomic_write_json(record, {"model": str(model), "target": profile.name,
                                   "scales": scales})
    return train(cfg, out, resume=resume, progress=progress, data_dir=data_dir,
                 forward_fn=integer_forward(profile, scales))
