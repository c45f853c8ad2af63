"""Sweep description: a base model, a grid over model keys, and seeds.

A sweep file is TOML::

    [sweep]
    model = "sparse_k20_delay"        # shipped model name, or a path relative to this file
    seeds = 3                         # 3 -> seeds 0, 1, 2; or an explicit list [0, 5, 9]
    description = "chi vs g and t_d"

    [set]                             # fixed changes to the base model (optional)
    duration = 2000.0

    [grid]                            # one dimension per key, in this order
    g = { start = 1, stop = 100, num = 20, scale = "log" }
    delay = [0.5, 1.0, 2.0]           # explicit values
    # also: { start = 0.1, stop = 2.0, step = 0.1 }   (stop included when on the grid)

    [[plot]]                          # figures drawn by `snnkit plot` (optional, see plots)
    kind = "lines"
    measure = "chi"

Every grid key must be a model key (``snnkit.dynamics.config.ModelConfig``); every
point of the grid must be a valid model (checked before anything runs, errors name
the key and the offending value).  Points are the Cartesian product of the grid
values and the seeds; the seed of a point is the model's ``seed`` key (network
realisation: excitabilities if random, initial state, connectivity).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from snnkit.dynamics.config import ModelConfig, load_config, read_toml
from snnkit.errors import ConfigError

_SECTIONS = {"sweep", "set", "grid", "plot"}
_SWEEP_KEYS = {"model", "seeds", "description", "engine"}


def _range_values(key: str, spec: Mapping[str, Any], source: str) -> list[float]:
    """Values of a ``{start, stop, num|step, scale}`` range (stop included)."""
    known = {"start", "stop", "num", "step", "scale"}
    extra = set(spec) - known
    if extra:
        raise ConfigError(f"grid.{key}", f"range keys {sorted(known)}", sorted(extra), source)
    try:
        start, stop = float(spec["start"]), float(spec["stop"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"grid.{key}", "numbers 'start' and 'stop'", dict(spec),
                          source) from None
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise ConfigError(f"grid.{key}.scale", "'linear' or 'log'", scale, source)
    if ("num" in spec) == ("step" in spec):
        raise ConfigError(f"grid.{key}", "exactly one of 'num' or 'step'", dict(spec), source)
    if "num" in spec:
        num = spec["num"]
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"grid.{key}.num", "an integer >= 1", num, source)
        if scale == "log":
            if start <= 0 or stop <= 0:
                raise ConfigError(f"grid.{key}", "start, stop > 0 for scale = 'log'",
                                  dict(spec), source)
            values = np.geomspace(start, stop, num)
        else:
            values = np.linspace(start, stop, num)
    else:
        step = float(spec["step"])
        if step <= 0 or scale != "linear":
            raise ConfigError(f"grid.{key}.step", "a positive step with a linear scale",
                              spec["step"], source)
        count = math.floor((stop - start) / step + 1e-9) + 1
        values = start + step * np.arange(max(count, 0))
    # 12 significant digits: 0.1 + 0.2 steps land on the dt grid
    return [float(f"{v:.12g}") for v in values]


def _axis_values(key: str, raw: Any, source: str) -> list[Any]:
    if isinstance(raw, Mapping):
        values = _range_values(key, raw, source)
    elif isinstance(raw, list):
        values = list(raw)
    else:
        values = [raw]
    if not values:
        raise ConfigError(f"grid.{key}", "at least one value", raw, source)
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"grid.{key}", "distinct values", values, source)
    return values


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its position (indices), coordinates and model config."""

    index: int  # flat index in the sweep's point order
    position: tuple[int, ...]  # index along each grid dimension, then the seed's
    coords: dict[str, Any]  # grid key -> value, plus "seed"
    config: ModelConfig


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: base model (after ``[set]``), grid axes, seeds, plots."""

    base: ModelConfig
    grid: dict[str, list[Any]]
    seeds: list[int]
    description: str = ""
    plots: tuple[dict[str, Any], ...] = ()
    source: str = "sweep"

    @property
    def dims(self) -> list[str]:
        return [*self.grid, "seed"]

    @property
    def shape(self) -> tuple[int, ...]:
        return (*(len(v) for v in self.grid.values()), len(self.seeds))

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    def points(self) -> Iterator[SweepPoint]:
        """Every point, seeds varying fastest (the order of ``results.nc``)."""
        axes = [*self.grid.values(), self.seeds]
        for flat, position in enumerate(itertools.product(*(range(len(a)) for a in axes))):
            coords = {dim: axes[d][k] for d, (dim, k) in enumerate(zip(self.dims, position,
                                                                        strict=True))}
            yield SweepPoint(flat, position, coords, self._config(coords))

    def _config(self, coords: Mapping[str, Any]) -> ModelConfig:
        where = ", ".join(f"{k}={v!r}" for k, v in coords.items())
        try:
            return self.base.replace(source=f"{self.source} (grid point {where})", **coords)
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.expected, exc.got, exc.source) from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved sweep (base model expanded) as plain data; see :meth:`fingerprint`."""
        out: dict[str, Any] = {
            "sweep": {"description": self.description, "seeds": list(self.seeds)},
            "model": self.base.to_dict(),
            "grid": {k: list(v) for k, v in self.grid.items()},
        }
        if self.plots:
            out["plot"] = [dict(p) for p in self.plots]
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def fingerprint(self) -> str:
        """Hash of what determines the results (base model, grid, seeds); plots excluded."""
        data = self.to_dict()
        data.pop("plot", None)
        data["sweep"].pop("description", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]

    def validate_points(self) -> None:
        """Build every point's config now, so a bad grid value fails before any work."""
        for _ in self.points():
            pass


def sweep_from_mapping(data: Mapping[str, Any], source: str = "sweep",
                       base_dir: Path | None = None) -> SweepSpec:
    """Validate a parsed sweep file (see the module docstring)."""
    unknown = set(data) - _SECTIONS - {"model"}
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"a sweep section ({', '.join(sorted(_SECTIONS))})",
                          None, source)
    head = dict(data.get("sweep", {}))
    extra = set(head) - _SWEEP_KEYS
    if extra:
        raise ConfigError(f"sweep.{sorted(extra)[0]}", f"one of {sorted(_SWEEP_KEYS)}", None,
                          source)
    if "model" in data:  # a resolved sweep (results.nc attrs, sweep.toml): the model inline
        base = ModelConfig.from_mapping(data["model"], f"{source} [model]")
    else:
        model = head.get("model", "default")
        path = Path(model)
        if base_dir is not None and not path.is_absolute() and (base_dir / path).is_file():
            model = str(base_dir / path)
        base = load_config(model)
    changes = dict(data.get("set", {}))
    if "engine" in head:
        changes["engine"] = head["engine"]
    if changes:
        base = ModelConfig.from_mapping({**base.to_dict(), **changes}, f"{source} [set]")
    seeds_raw = head.get("seeds", 1)
    if isinstance(seeds_raw, bool) or not isinstance(seeds_raw, int | list):
        raise ConfigError("sweep.seeds", "a count or a list of seeds", seeds_raw, source)
    seeds = list(range(seeds_raw)) if isinstance(seeds_raw, int) else list(seeds_raw)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ConfigError("sweep.seeds", "a count >= 1 or a list of integers >= 0",
                          seeds_raw, source)
    if len(set(seeds)) != len(seeds):
        raise ConfigError("sweep.seeds", "distinct seeds", seeds_raw, source)
    grid_raw = data.get("grid", {})
    if not isinstance(grid_raw, Mapping) or not grid_raw:
        raise ConfigError("grid", "at least one model key with values", grid_raw or None, source)
    known = set(ModelConfig.model_fields)
    grid: dict[str, list[Any]] = {}
    for key, raw in grid_raw.items():
        if key not in known or key in ("seed", "description", "engine"):
            hint = "" if key not in ("seed", "engine") else " (use [sweep] seeds/engine)"
            raise ConfigError(f"grid.{key}", f"a model key{hint}", None, source)
        grid[key] = _axis_values(key, raw, source)
    plots_raw = data.get("plot", [])
    plots = tuple(dict(p) for p in (plots_raw if isinstance(plots_raw, list) else [plots_raw]))
    spec = SweepSpec(base, grid, seeds, str(head.get("description", "")), plots, source)
    spec.validate_points()
    return spec


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("sweep", "an existing sweep TOML file", str(path))
    return sweep_from_mapping(read_toml(path), str(path), path.parent)
