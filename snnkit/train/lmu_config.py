"""Validated configuration of an LMU training run on psMNIST (``method = "lmu"``).

One :class:`LmuConfig` per run (TOML under ``models/``, e.g. ``models/lmu_psmnist.toml``)::

    method = "lmu"
    [data]     dataset ("psmnist"), n_train, n_val, n_test (first n of each fixed split)
    [model]    kind ("lmu" | "parallel"), order, theta, hidden, hidden_to_memory,
               memory_to_memory, nonlinearity ("tanh" | "relu"), input_nonlinearity
               (parallel only), dropout (before the readout, training only), seed
    [spiking]  enabled, layers (["hidden"]), amplitude, initial ("zeros" | "uniform"),
               gradient ("activation" | "clipped_relu"), max_rate, schedule ("geometric" |
               "linear"), dt_start, dt_end, per ("epoch" | "step"), schedule_length, seed
    [train]    epochs, batch_size, lr, betas, eps, clip_grad_norm, seed, checkpoint_minutes,
               init (a model file whose weights the run starts from)

**Spiking criterion.**  The hidden units become :class:`snnkit.train.quantize.SigmaDeltaQuantizer`
of the base nonlinearity; their time step ``dt`` follows the schedule from ``dt_start`` (large:
many spikes per step, nearly the non-spiking LMU) to ``dt_end``.  A spiking run must *end*
spiking: at most one spike (of either sign) per neuron and step, i.e.
``dt_end · r_max <= 1`` with ``r_max`` the largest base rate |f(x)|: 1 for tanh, and the
nominal ``spiking.max_rate`` for ReLU (unbounded; rates above it may give more spikes, which
``bits_per_activity`` in ``metrics.csv`` reveals).  The schedule has ``schedule_length`` values
(epochs or optimiser steps; default: all of ``train.epochs`` or all steps), then stays at
``dt_end``; fixing it keeps the schedule unchanged when ``train.epochs`` grows on ``--resume``.

Every mistake is a one-line :class:`snnkit.errors.ConfigError` naming the dotted key; unknown
keys get a "did you mean" suggestion (:func:`snnkit.tomlconfig.config_error`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import Field, ValidationError

from snnkit.errors import ConfigError
from snnkit.tomlconfig import config_error, parse_override, read_toml, set_dotted
from snnkit.train.config import _Table, _without_none


class LmuDataConfig(_Table):
    dataset: Literal["psmnist"] = "psmnist"
    n_train: int | None = Field(None, ge=1, description="first n of the 50k training sequences")
    n_val: int | None = Field(None, ge=1, description="first n of the 10k validation sequences")
    n_test: int | None = Field(None, ge=1, description="first n of the 10k test sequences")


class LmuModelConfig(_Table):
    kind: Literal["lmu", "parallel"] = "lmu"
    order: int = Field(256, ge=1, description="memory order d")
    theta: float = Field(784.0, gt=0, description="memory window θ in steps")
    hidden: int = Field(212, ge=1)
    hidden_to_memory: bool = True
    memory_to_memory: bool = True
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    input_nonlinearity: Literal["relu", "tanh", "identity"] = Field(
        "relu", description="f_u of the parallel LMU (kind = 'parallel' only)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0,
                           description="dropout on the last hidden state before the readout "
                           "(training only)")
    seed: int = Field(0, description="initialisation seed")


class SpikingConfig(_Table):
    enabled: bool = False
    layers: list[Literal["hidden"]] = Field(default_factory=lambda: ["hidden"])
    amplitude: float = Field(1.0, gt=0, description="area of one spike")
    initial: Literal["zeros", "uniform"] = "zeros"
    gradient: Literal["activation", "clipped_relu"] = "activation"
    max_rate: float = Field(1.0, gt=0, description="nominal largest ReLU rate (spiking check)")
    schedule: Literal["geometric", "linear"] = "geometric"
    dt_start: float = Field(100.0, gt=0, description="first dt (large: nearly non-spiking)")
    dt_end: float = Field(1.0, gt=0, description="last dt (spiking: dt_end·r_max <= 1)")
    per: Literal["epoch", "step"] = "epoch"
    schedule_length: int | None = Field(None, ge=1, description="epochs or steps of the schedule")
    seed: int = Field(0, description="seed of the uniform initial state")


class LmuTrainConfig(_Table):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(100, ge=1)
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-7, gt=0, description="Adam ε (Keras' default, as the paper)")
    clip_grad_norm: float | None = Field(
        None, gt=0, description="rescale the gradient when its global L2 norm exceeds this "
        "(torch.nn.utils.clip_grad_norm_; None: off)")
    checkpoint_minutes: float = Field(10.0, gt=0)
    init: str | None = Field(None, description="start from this LMU model file's weights "
                             "(e.g. a trained non-spiking LMU for a spiking run)")
    seed: int = Field(0, description="seed of the epoch order")


class LmuConfig(_Table):
    method: Literal["lmu"] = "lmu"
    description: str = ""
    data: LmuDataConfig = LmuDataConfig()
    model: LmuModelConfig = LmuModelConfig()
    spiking: SpikingConfig = SpikingConfig()
    train: LmuTrainConfig = LmuTrainConfig()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str | None = None) -> LmuConfig:
        try:
            cfg = cls.model_validate(dict(values))
        except ValidationError as exc:
            raise config_error(exc, source, cls) from None
        m, s = cfg.model, cfg.spiking
        if m.kind == "parallel":
            for key in ("hidden_to_memory", "memory_to_memory"):
                if getattr(m, key):
                    raise ConfigError(f"model.{key}", "false for kind = 'parallel' (its memory "
                                      "input depends on x only)", True, source)
        if s.enabled:
            if not s.layers:
                raise ConfigError("spiking.layers", "at least one layer (['hidden'])",
                                  s.layers, source)
            if s.gradient == "clipped_relu" and m.nonlinearity != "relu":
                raise ConfigError("spiking.gradient", "'activation' for a tanh base "
                                  "(clipped_relu needs model.nonlinearity = 'relu')",
                                  s.gradient, source)
            r_max = cfg.max_rate()
            if s.dt_end * r_max > 1:
                raise ConfigError("spiking.dt_end", f"a spiking end, at most 1 spike per step: "
                                  f"dt_end * max rate ({r_max:g}) <= 1", s.dt_end, source)
        return cfg

    def max_rate(self) -> float:
        """The largest base rate |f(x)| assumed by the spiking criterion (module docstring)."""
        return 1.0 if self.model.nonlinearity == "tanh" else self.spiking.max_rate

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_toml(self) -> str:
        return tomli_w.dumps(_without_none(self.to_dict()))


def load_lmu_config(path: str | Path, overrides: Iterable[str] = ()) -> LmuConfig:
    """An LMU training config from TOML plus ``table.key=value`` overrides (``--set``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("--config", "an existing TOML file", str(path))
    values = read_toml(path)
    values.setdefault("method", "lmu")
    if values["method"] != "lmu":
        raise ConfigError("method", f"'lmu' (this is a {values['method']!r} config; use "
                          f"`snnkit train {values['method']}`)", None, str(path))
    LmuConfig.from_mapping(values, str(path))
    overrides = list(overrides)
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(values, key, value)
    return LmuConfig.from_mapping(values, "--set" if overrides else str(path))
