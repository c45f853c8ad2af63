"""Shared test set-up.

* Compiled standalone projects go to a fresh cache folder per test session, so
  the compile path is exercised on every run (and no user cache is touched).
* Brian2's numpy target is used unless a test asks for another engine.
"""

from __future__ import annotations

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="snnkit-test-cache-")
os.environ["SNNKIT_CACHE_DIR"] = _CACHE
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def cache_dir() -> str:
    return _CACHE
