"""Lazy package attributes (PEP 562), so ``import snnkit`` stays cheap.

A package lists ``name -> module`` and gets a module ``__getattr__`` that imports
the module on first access.  Start-up matters: every Dask worker of a sweep, every
CLI call and every ``torchrun`` process imports the package, and the eager
imports (Brian2, xarray, Dask) took seconds before a worker ran its first point.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, exports: dict[str, str]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``; ``exports[name]`` is the module defining it."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # next access skips __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(importlib.import_module(package).__dict__) | set(exports))

    return __getattr__, __dir__
