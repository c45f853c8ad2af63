"""Model description: validation, overrides, shipped model files."""

from __future__ import annotations

import tomllib

import pytest

from snnkit.dynamics.config import (
    ModelConfig,
    available_models,
    load_config,
    parse_override,
    resolve_model_path,
)
from snnkit.errors import ConfigError


def test_defaults_equal_default_model_file():
    path = resolve_model_path("default")
    with open(path, "rb") as fh:
        values = tomllib.load(fh)
    from_file = ModelConfig.from_mapping(values)
    assert from_file.replace(description="") == ModelConfig()


def test_every_shipped_model_is_valid():
    models = available_models()
    expected = {"default", "global_wta", "sparse_k20", "sparse_k20_delay", "alpha_pulses"}
    assert expected <= set(models)
    for name in models:
        cfg = load_config(name)
        assert cfg.description, f"{name} has no description"


def test_round_trip_through_toml(tmp_path):
    cfg = ModelConfig(g=2.5, delay=0.3, I_width=0.3, coupling="global", seed=7)
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    ("item", "expected"),
    [("N=1000", ("N", 1000)), ("g=2.5", ("g", 2.5)),
     ("coupling=global", ("coupling", "global")), ("g=1e-3", ("g", 1e-3)),
     ("I_low=.5", ("I_low", 0.5)), ("description=a b", ("description", "a b"))],
)
def test_parse_override_types(item, expected):
    assert parse_override(item) == expected


def test_overrides_and_seed():
    cfg = load_config("default", ["g=8", "coupling=global"], seed=3)
    assert (cfg.g, cfg.coupling, cfg.seed) == (8.0, "global", 3)
    assert isinstance(cfg.g, float)


def test_width_around_fixed_mean_and_from_fixed_low_edge():
    mean = ModelConfig(I_low=1.0, I_high=1.5, I_width=0.2, I_anchor="mean")
    assert (mean.I_low, mean.I_high) == pytest.approx((1.15, 1.35))
    low = ModelConfig(I_low=1.0, I_high=1.5, I_width=0.2, I_anchor="low")
    assert (low.I_low, low.I_high) == pytest.approx((1.0, 1.2))
    # idempotent: re-validating the resolved config changes nothing
    assert ModelConfig.from_mapping(mean.to_dict()) == mean


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"Nn": 3}, "Nn", "did you mean 'N'"),
        ({"N": "many"}, "N", "an integer"),
        ({"N": 2.5}, "N", "an integer"),
        ({"N": 0}, "N", ">= 1"),
        ({"g": "strong"}, "g", "a number"),
        ({"coupling": "full"}, "coupling", "'global' or 'sparse'"),
        ({"K": 400}, "K", "K < N"),
        ({"delay": -1.0}, "delay", ">= 0"),
        ({"delay": 0.15}, "delay", "multiple of dt"),
        ({"I_low": 2.0}, "I_low", "I_low <= I_high"),
        ({"dt": 0.0}, "dt", "> 0"),
        ({"engine": "exact", "pulse": "alpha"}, "engine", "delta"),
    ],
)
def test_bad_values_name_the_field(changes, field, words):
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_mapping(changes, "model.toml")
    msg = str(info.value)
    assert info.value.field == field
    assert msg.startswith(f"model.toml: {field}: expected")
    assert words in msg
    assert "\n" not in msg


def test_unknown_model_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="default"):
        load_config("no_such_model")


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("N = = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_config(path)


def test_set_errors_name_set():
    with pytest.raises(ConfigError, match=r"^--set: N: expected"):
        load_config("default", ["N=0"])
