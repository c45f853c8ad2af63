"""Hardware target profiles: the integer ranges and core limits of a neuromorphic target.

Profiles are TOML files in the top-level ``hardware/`` folder (``hardware/loihi.toml``), copied
into the wheel; :func:`load_profile` takes a shipped name or a path.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from snnkit.errors import ConfigError
from snnkit.tomlconfig import config_error, read_toml


class TargetProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    weight_bits: int = Field(8, ge=1)
    weight_min: int = -256
    weight_max: int = 254
    even_weights: bool = True
    weight_shift: int = Field(6, ge=0)
    decay_max: int = Field(4096, ge=1)
    decay_shift: int = Field(12, ge=0)
    state_bits: int = Field(24, ge=8)
    vth_max: int = Field(131071, ge=1)
    bias_min: int = -4096
    bias_max: int = 4095
    max_delay: int = Field(62, ge=0)
    refractory: bool = False
    neurons_per_core: int = Field(1024, ge=1)
    synapses_per_core: int = Field(131072, ge=1)
    fan_in_per_core: int = Field(4096, ge=1)
    cores_per_chip: int = Field(128, ge=1)


def profile_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    return [p for p in (here.parent / "hardware", here / "_data" / "hardware") if p.is_dir()]


def available_profiles() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in reversed(profile_dirs()):
        for path in sorted(folder.glob("*.toml")):
            found[path.stem] = path
    return found


def load_profile(spec: str | Path = "loihi") -> TargetProfile:
    """A shipped profile by name (``loihi``) or a TOML file."""
    path = Path(spec)
    if not path.is_file():
        profiles = available_profiles()
        if str(spec) not in profiles:
            raise ConfigError("--target", f"a profile file or one of {', '.join(profiles)}",
                              str(spec))
        path = profiles[str(spec)]
    try:
        return TargetProfile.model_validate(read_toml(path))
    except ValidationError as exc:
        raise config_error(exc, str(path), TargetProfile) from None
