"""Validated training configurations (TOML files under ``models/``).

One :class:`TrainConfig` per run, in tables::

    method = "st-rsbp"            # or "bptt"
    [data]     dataset, T, p_max, holdout, n_train, n_test, encoding, seed
    [network]  layers ("400-R400"), recurrent, v_th (one per layer, output last), tau_m, tau_s,
               refractory, inhibition, init_scale, seed
    [train]    epochs, batch_size, lr, lr_schedule, betas, eps, boost, checkpoint_minutes,
               compile, max_minutes, clip_grad_norm, keep_epochs, init, seed
    [strsbp]   the switches of :class:`snnkit.train.strsbp.StrsbpOptions`
    [bptt]     alpha, detach_reset, loss

Every mistake is a one-line :class:`snnkit.errors.ConfigError` naming the dotted key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from snnkit.errors import ConfigError
from snnkit.tomlconfig import config_error, parse_override, read_toml, set_dotted
from snnkit.train.network import parse_layers


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Table):
    dataset: Literal["fashion-mnist", "mnist"] = "fashion-mnist"
    T: int = Field(400, ge=1, description="time steps per sample")
    p_max: float = Field(1 / 5.5, gt=0, le=1, description="spike probability of a white pixel")
    holdout: int = Field(0, ge=0, lt=60000, description="training images held out for validation")
    n_train: int | None = Field(None, ge=1, description="use only the first n training images")
    n_test: int | None = Field(None, ge=1, description="use only the first n test images")
    encoding: Literal["fixed", "fresh"] = Field(
        "fixed", description="fixed: one train per image (official code); fresh: new each epoch")
    seed: int = 0


class NetworkConfig(_Table):
    layers: str = "400-R400"
    recurrent: Literal["grid", "dense"] = "grid"
    self_loops: bool = False
    recurrent_init: Literal["uniform", "dale"] = Field(
        "uniform", description="grid lateral weights: U(-a, a), or +-a by presynaptic type")
    v_th: list[float] = Field(default_factory=lambda: [20.0, 20.0, 15.0])
    tau_m: float = Field(64.0, gt=1)
    tau_s: float = Field(8.0, gt=1)
    refractory: int = Field(2, ge=0)
    inhibition: float = Field(1.0, ge=0)
    init_scale: float = Field(1.0, gt=0)
    seed: int = 5

    @field_validator("layers")
    @classmethod
    def _layers(cls, value: str) -> str:
        parse_layers(value)
        return value

    @field_validator("v_th")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value or any(not v > 0 for v in value):
            raise ConfigError("network.v_th", "thresholds > 0, one per layer (output last)",
                              value)
        return value


class TrainLoopConfig(_Table):
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["inv_sqrt", "constant"] = "inv_sqrt"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    boost: bool = True
    checkpoint_minutes: float = Field(10.0, gt=0)
    compile: bool = Field(False, description="run the forward passes without autograd (ST-RSBP "
                          "training, evaluation) with compiled LIF steps (torch.compile; same "
                          "spikes, faster; ~30 s to compile once)")
    max_minutes: float | None = Field(None, gt=0, description="stop after this much training "
                                      "time (evaluation excluded), mid-epoch if need be")
    clip_grad_norm: float | None = Field(
        None, gt=0, description="rescale each step's gradient when its global L2 norm exceeds "
        "this (torch.nn.utils.clip_grad_norm_, after the batch average; None: off)")
    keep_epochs: bool = Field(False, description="also write each epoch's model to "
                              "epochs/model_<epoch>.pt (for snnkit average)")
    init: str | None = Field(None, description="start from this model file's weights")
    seed: int = 0


class StrsbpConfig(_Table):
    target_true: float = 35.0
    target_false: float = 5.0
    margin: float = Field(5.0, ge=0)
    effect_ratio: bool = True
    ratio_fallback: float = 0.5
    self_consistency: bool = True
    lateral_factor: bool = True
    dead_target: bool = True
    reg_lambda: float = Field(10.0, ge=0)
    reg_beta: float = Field(0.04, ge=0)
    reg_limit: float = Field(8.0, gt=0)
    effect_trials: int = Field(1000, ge=10, description="Monte-Carlo trials of the ∂e/∂o table")


class BpttConfig(_Table):
    alpha: float = Field(100.0, gt=0, description="SuperSpike surrogate sharpness")
    detach_reset: bool = Field(True, description="no gradient through the reset (as Norse's "
                               "recurrent LIF step; keeps BPTT's gradients finite)")
    loss: Literal["count_mse", "cross_entropy"] = "count_mse"


class TrainConfig(_Table):
    method: Literal["st-rsbp", "bptt"] = "st-rsbp"
    description: str = ""
    data: DataConfig = DataConfig()
    network: NetworkConfig = NetworkConfig()
    train: TrainLoopConfig = TrainLoopConfig()
    strsbp: StrsbpConfig = StrsbpConfig()
    bptt: BpttConfig = BpttConfig()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str | None = None) -> TrainConfig:
        try:
            cfg = cls.model_validate(dict(values))
        except ValidationError as exc:
            raise config_error(exc, source, cls) from None
        n_layers = len(parse_layers(cfg.network.layers)) + 1
        if len(cfg.network.v_th) != n_layers:
            raise ConfigError("network.v_th", f"{n_layers} thresholds for '{cfg.network.layers}'"
                              " plus the output layer", cfg.network.v_th, source)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_toml(self) -> str:
        return tomli_w.dumps(_without_none(self.to_dict()))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple | list):
        return [_without_none(v) for v in value]
    return value


def load_train_config(path: str | Path, overrides: Iterable[str] = (),
                      method: str | None = None) -> TrainConfig:
    """A training config from TOML plus ``table.key=value`` overrides (``--set``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("--config", "an existing TOML file", str(path))
    values = read_toml(path)
    if method is not None:
        values["method"] = method
    TrainConfig.from_mapping(values, str(path))
    overrides = list(overrides)
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(values, key, value)
    return TrainConfig.from_mapping(values, "--set" if overrides else str(path))
