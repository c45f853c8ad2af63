"""TOML configuration files shared by every room of snnkit (dynamics, training, hardware).

Reading a TOML file, parsing ``KEY=VALUE`` overrides, and turning a pydantic
:class:`~pydantic.ValidationError` into the one-line :class:`snnkit.errors.ConfigError`
that the CLI prints (exit code 2).  Field names of nested models are dotted
(``network.layers``); an unknown key gets a "did you mean" suggestion from the
keys of the model it was found in.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from snnkit.errors import ConfigError


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The (nested) pydantic model that owns the last element of ``loc``."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        sub = getattr(field, "annotation", None) if field is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            break
        model = sub
    return model


def config_error(exc: ValidationError, source: str | None, model: type[BaseModel]) -> ConfigError:
    """Turn the first pydantic error into a one-line :class:`ConfigError`."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "config"
    kind, ctx = err["type"], err.get("ctx", {})
    got = err.get("input")
    if kind == "extra_forbidden":
        known = sorted(_model_at(model, tuple(err["loc"])).model_fields)
        last = str(err["loc"][-1]) if err["loc"] else field
        close = difflib.get_close_matches(last, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
        return ConfigError(field, f"a known key{hint}", None, source)
    if kind == "value_error" and isinstance(ctx.get("error"), ConfigError):
        inner = ctx["error"]
        return ConfigError(inner.field, inner.expected, inner.got, source)
    expected = {
        "int_type": "an integer",
        "int_from_float": "an integer",
        "int_parsing": "an integer",
        "float_type": "a number",
        "float_parsing": "a number",
        "string_type": "a string",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "missing": "a value (required key)",
        "model_type": "a table",
        "finite_number": "a finite number",
    }.get(kind)
    if expected is None and kind == "literal_error":
        expected = f"one of {ctx.get('expected')}"
    if expected is None and kind in ("greater_than_equal", "greater_than", "less_than_equal",
                                     "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        expected = f"a value {op} {bound}"
    if expected is None:
        expected = err["msg"]
    return ConfigError(field, expected, None if kind == "missing" else got, source)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a one-line ConfigError naming the file."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"valid TOML ({exc})", None, str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("config", "a UTF-8 text file", None, str(path)) from None
    except OSError as exc:
        raise ConfigError("config", f"a readable file ({exc.strerror})", None, str(path)) from None


def parse_override(item: str) -> tuple[str, Any]:
    """Parse one ``key=value`` override; the value is read as a TOML literal.

    ``N=1000`` gives an int, ``g=2.5`` a float, ``coupling=global`` a string
    (bare words that are not TOML literals are taken as strings).
    """
    key, sep, raw = item.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError("--set", "KEY=VALUE", item)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        try:
            value = float(raw)
        except ValueError:
            value = raw
    return key, value


def set_dotted(values: dict[str, Any], key: str, value: Any) -> None:
    """Set ``values["a"]["b"] = value`` for ``key = "a.b"`` (tables created as needed)."""
    *parents, last = key.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(key, f"'{part}' to be a table", node)
    node[last] = value
