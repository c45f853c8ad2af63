"""Model description: one validated, flat configuration object per network run.

A :class:`ModelConfig` holds everything needed to repeat a run, with the
papers' names (Luccioli, Angulo-Garcia & Torcini, PRE 99, 052412 (2019);
Angulo-Garcia et al., NJP 19, 053011 (2017)) as keys so that ``--set`` reads
naturally::

    description, N, K, coupling, g, delay, I_low, I_high, I_width, I_anchor, I_spacing,
    tau_m, t_ref, pulse, alpha, dt, duration, transient, engine, seed,
    chi_tau, co_threshold

Times are in ms, ``alpha`` in 1/ms, currents and ``g`` dimensionless (units of
the threshold).  The config is immutable; :meth:`ModelConfig.replace` returns a
validated copy with some fields changed.

Heterogeneity width.  ``I_low``/``I_high`` define I_i ~ U[I_low, I_high].  When
``I_width`` is set it redefines the interval around a fixed anchor:

* ``I_anchor = "mean"``: [c - w/2, c + w/2] with c = (I_low + I_high)/2;
* ``I_anchor = "low"``:  [I_low, I_low + w].

Both are idempotent, so the resolved config (written to ``config.toml``)
repeats the run.  The choice matters: widening at fixed mean lowers the active
fraction, widening upward from a fixed lower edge raises it (reference note
§4.2).

Validation raises :class:`snnkit.errors.ConfigError` with a one-line message
naming the key and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from snnkit.errors import ConfigError
from snnkit.tomlconfig import config_error, parse_override, read_toml

Coupling = Literal["global", "sparse"]
Pulse = Literal["delta", "alpha"]
Spacing = Literal["random", "even"]
Anchor = Literal["mean", "low"]
Engine = Literal["auto", "numpy", "cython", "cpp_standalone", "exact", "event"]

#: Engines that run every model (alpha pulses, refractoriness); the event-driven
#: ones (``exact``, ``event``) need delta pulses and ``t_ref = 0``.
CLOCK_ENGINES = ("numpy", "cython", "cpp_standalone")

#: Tolerance (in steps) for "is an integer multiple of dt".
_STEP_TOL = 1e-6


class ModelConfig(BaseModel):
    """A delayed inhibitory LIF network run (all times in ms).

    Defaults are the project's default model (``models/default.toml``): a
    sparse network, N=400, K=20, g=5, t_d=1 ms, I ~ U[1, 1.5] evenly spaced.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    description: str = Field("", description="free text shown in outputs")
    N: int = Field(400, ge=1, description="number of neurons")
    K: int = Field(20, ge=1, description="in-degree (sparse coupling); ignored for global")
    coupling: Coupling = Field("sparse", description="'global' (all-to-all) or 'sparse'")
    g: float = Field(5.0, ge=0, description="coupling strength; each pulse lowers v by g/K")
    delay: float = Field(1.0, ge=0, description="transmission delay t_d (ms)")
    I_low: float = Field(1.0, description="lowest excitability")
    I_high: float = Field(1.5, description="highest excitability")
    I_width: float | None = Field(None, gt=0, description="width I_high - I_low (see I_anchor)")
    I_anchor: Anchor = Field("mean", description="what I_width keeps fixed: 'mean' or 'low'")
    I_spacing: Spacing = Field("even", description="'even' (ordered grid) or 'random' (sorted)")
    tau_m: float = Field(10.0, gt=0, description="membrane time constant (ms)")
    t_ref: float = Field(0.0, ge=0, description="refractory period (ms)")
    pulse: Pulse = Field("delta", description="'delta' or 'alpha' pulses")
    alpha: float = Field(1.0, gt=0, description="inverse alpha-pulse width (1/ms)")
    dt: float = Field(0.1, gt=0, description="integration step (ms)")
    duration: float = Field(2000.0, gt=0, description="measurement window (ms)")
    transient: float = Field(1000.0, ge=0, description="discarded transient (ms)")
    engine: Engine = Field("auto", description="simulation engine")
    seed: int = Field(0, ge=0, description="seed for excitabilities, v0 and connectivity")
    chi_tau: float = Field(2.0, gt=0, description="filter time of the synchrony measure (ms)")
    co_threshold: float = Field(5.0, gt=0, description="coherence needed to report a CO")

    @model_validator(mode="after")
    def _check_consistency(self) -> ModelConfig:
        if self.I_width is not None:
            if self.I_anchor == "mean":
                centre = 0.5 * (self.I_low + self.I_high)
                low, high = centre - 0.5 * self.I_width, centre + 0.5 * self.I_width
            else:
                low, high = self.I_low, self.I_low + self.I_width
            object.__setattr__(self, "I_low", low)
            object.__setattr__(self, "I_high", high)
        if self.I_low > self.I_high:
            raise ConfigError("I_low", f"I_low <= I_high (= {self.I_high})", self.I_low)
        for name, value in (("I_low", self.I_low), ("I_high", self.I_high)):
            if not math.isfinite(value):
                raise ConfigError(name, "a finite number", value)
        if self.coupling == "sparse":
            if self.N < 2:
                raise ConfigError("N", "N >= 2 for sparse coupling", self.N)
            if self.K >= self.N:
                raise ConfigError(
                    "K", f"K < N (= {self.N}) for sparse coupling without autapses", self.K
                )
        for name in ("delay", "duration", "transient", "t_ref"):
            value = getattr(self, name)
            steps = value / self.dt
            if abs(steps - round(steps)) > _STEP_TOL * max(1.0, steps):
                raise ConfigError(name, f"a multiple of dt (= {self.dt} ms)", value)
        if self.duration < self.dt:
            raise ConfigError("duration", f"at least one step dt (= {self.dt} ms)", self.duration)
        if self.engine in ("exact", "event"):
            others = ", ".join(CLOCK_ENGINES)
            if self.pulse != "delta":
                raise ConfigError(
                    "engine", f"'{self.engine}' only with pulse = 'delta' (pulse = "
                    f"'{self.pulse}' runs on engine = {others} or auto)", self.engine)
            if self.t_ref > 0:
                raise ConfigError(
                    "engine", f"'{self.engine}' only with t_ref = 0 (t_ref > 0 runs on "
                    f"engine = {others} or auto)", self.engine)
        return self

    # -- derived quantities ------------------------------------------------
    @property
    def in_degree(self) -> int:
        """Inputs per neuron: K for sparse coupling, N (self included) for global."""
        return self.N if self.coupling == "global" else self.K

    @property
    def name(self) -> str:
        return self.description or "snnkit model"

    # -- construction helpers ----------------------------------------------
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str | None = None) -> ModelConfig:
        """Validate a plain mapping (e.g. parsed TOML); errors name ``source``."""
        try:
            return cls(**dict(values))
        except ValidationError as exc:
            raise config_error(exc, source, cls) from None
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.expected, exc.got, source) from None

    def replace(self, source: str | None = None, **changes: Any) -> ModelConfig:
        """A validated copy with ``changes`` applied."""
        values = self.to_dict()
        values.update(changes)
        return type(self).from_mapping(values, source)

    def to_dict(self) -> dict[str, Any]:
        """All fields; ``None`` values (unset options) are left out."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def to_toml(self) -> str:
        """The resolved config as TOML text (loadable with :func:`load_config`)."""
        return tomli_w.dumps(self.to_dict())


# -- files and overrides -----------------------------------------------------

def models_dirs() -> list[Path]:
    """Folders searched for model names: the source tree's ``models/``, then the wheel copy."""
    here = Path(__file__).resolve().parent.parent
    return [p for p in (here.parent / "models", here / "_data" / "models") if p.is_dir()]


def available_models() -> dict[str, Path]:
    """Model name -> TOML file, for every ready-to-run network model shipped with snnkit.

    ``models/`` also holds training configs (a top-level ``method`` key, read by
    :mod:`snnkit.train`); they are not network models and are left out.
    """
    found: dict[str, Path] = {}
    for folder in reversed(models_dirs()):
        for path in sorted(folder.glob("*.toml")):
            if _is_training_config(path):
                continue
            found[path.stem] = path
    return dict(sorted(found.items()))


def _is_training_config(path: Path) -> bool:
    try:
        return "method" in read_toml(path)
    except ConfigError:
        return False


def resolve_model_path(spec: str | Path) -> Path:
    """A config file path, or the name of a shipped model (``sparse_k20``)."""
    path = Path(spec)
    if path.is_file():
        return path
    models = available_models()
    name = path.stem if path.suffix == ".toml" else str(spec)
    if name in models and path.parent == Path("."):
        return models[name]
    known = ", ".join(models) or "none"
    raise ConfigError("config", f"an existing TOML file or a model name ({known})", str(spec))


def load_config(
    spec: str | Path | None = None,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    seed: int | None = None,
) -> ModelConfig:
    """Load a model: a TOML file or shipped model name (default ``default``), plus overrides.

    ``overrides`` is a list of ``"key=value"`` strings (as given to ``--set``)
    or a mapping; ``seed`` replaces the file's seed.  Errors name the file or
    ``--set`` and the key.
    """
    path = resolve_model_path(spec if spec is not None else "default")
    values = read_toml(path)
    base = ModelConfig.from_mapping(values, str(path))
    if isinstance(overrides, Mapping):
        changes = dict(overrides)
    else:
        changes = dict(parse_override(item) for item in overrides)
    if seed is not None:
        changes["seed"] = seed
    if not changes:
        return base
    merged = {**values, **changes}
    return ModelConfig.from_mapping(merged, "--set")
