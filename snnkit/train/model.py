"""Trained-model files: a network's weights with the config that built it.

A model file (``model.pt``, ``best.pt``, ``models/trained/*.pt``) is a ``torch.save``'d dict::

    {"format": "snnkit-model/1", "config": TrainConfig as a dict, "state_dict": ...,
     "architecture": {...}, "info": {"epoch": ..., "test_accuracy": ..., ...}}

Readers (:func:`load_model`, the hardware exporters) rebuild the network from the config and
load the weights; the trainers that wrote it are not needed.  LMU models (config ``method =
"lmu"``) use the same format and are read by :func:`snnkit.train.lmu_trainer.load_lmu_model`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write
from snnkit.train.config import NetworkConfig, TrainConfig
from snnkit.train.lif import NeuronParams
from snnkit.train.network import SpikingNet, parse_layers

FORMAT = "snnkit-model/1"
N_IN, N_OUT = 784, 10


def build_network(cfg: NetworkConfig, n_in: int = N_IN, n_out: int = N_OUT) -> SpikingNet:
    """The network a config describes, freshly initialised (seeded by ``cfg.seed``)."""
    params = [NeuronParams(cfg.tau_m, cfg.tau_s, v, cfg.refractory) for v in cfg.v_th]
    return SpikingNet(n_in, parse_layers(cfg.layers), n_out, params, recurrent=cfg.recurrent,
                      inhibition=cfg.inhibition, init_scale=cfg.init_scale, seed=cfg.seed,
                      self_loops=cfg.self_loops, recurrent_init=cfg.recurrent_init)


def save_model(path: str | Path, net: torch.nn.Module, cfg: TrainConfig | Any,
               info: dict[str, Any]) -> Path:
    """Write a model file atomically (``net.architecture()`` and ``cfg.to_dict()`` are stored)."""
    payload = {"format": FORMAT, "config": cfg.to_dict(), "architecture": net.architecture(),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
               "info": info}
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def read_torch_file(path: str | Path, what: str = "model") -> dict[str, Any]:
    """``torch.load`` a snnkit file; a missing or unreadable file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SnnkitError(f"{path}: expected an existing {what} file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise SnnkitError(f"{path}: not a readable {what} file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or "state_dict" not in data or "config" not in data:
        raise SnnkitError(f"{path}: not a snnkit {what} file (no config/state_dict)")
    return data


def _load_state(net: torch.nn.Module, data: dict[str, Any], path: str | Path) -> None:
    try:
        net.load_state_dict(data["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise SnnkitError(f"{path}: weights do not fit the architecture ({first})") from None


def load_weights(net: SpikingNet, path: str | Path) -> dict[str, Any]:
    """Load a model file's weights (and connectivity masks) into ``net``; its info dict."""
    data = read_torch_file(path)
    _load_state(net, data, path)
    return dict(data.get("info", {}))


def load_model(path: str | Path) -> tuple[SpikingNet, TrainConfig, dict[str, Any]]:
    """Network (weights loaded, eval mode), its config and the info dict of a model file."""
    data = read_torch_file(path)
    if data["config"].get("method") == "lmu":
        raise SnnkitError(f"{path}: an LMU model; read it with "
                          "snnkit.train.lmu_trainer.load_lmu_model")
    cfg = TrainConfig.from_mapping(data["config"], str(path))
    net = build_network(cfg.network)
    _load_state(net, data, path)
    return net.eval(), cfg, dict(data.get("info", {}))
