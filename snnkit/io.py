"""Atomic file writing and output-folder handling shared by every snnkit writer.

Results are never left half-written: each file is written to a temporary
sibling and moved into place with :func:`os.replace` (atomic on POSIX), and a
run folder's completion marker is written last.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snnkit.errors import OutputError, SnnkitError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Write ``path`` atomically: ``write(fh)`` fills a temp file that then replaces it."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {path.parent} ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual mode
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def json_ready(value: Any) -> Any:
    """NaN/inf -> None (JSON null) and numpy scalars -> Python, recursively."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n")


def open_hdf5(path: str | Path, what: str) -> Any:
    """Open an HDF5 file for reading; missing, foreign or truncated files are one-line errors.

    Returns an ``h5py.File`` (use it as a context manager); ``what`` names the expected kind
    of file in the message ("NetX network", "event file").
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise SnnkitError(f"{path}: no such file (expected a {what})")
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        why = str(exc).split("(")[0].strip()
        raise SnnkitError(f"{path}: not a readable HDF5 {what} ({why})") from None


def cache_dir(name: str) -> Path:
    """``<cache>/<name>``: the user cache of snnkit (not created here).

    ``$SNNKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/snnkit``, else ``~/.cache/snnkit``; shared by
    compiled Brian2 projects, data sets and ST-RSBP's effect tables.
    """
    base = os.environ.get("SNNKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "snnkit")
    return Path(base) / name


def ensure_writable_dir(path: str | Path, what: str = "--out") -> tuple[Path, bool]:
    """Create ``path`` if needed and check that files can be written in it.

    Returns ``(path, created)``; raises a one-line :class:`OutputError` naming
    ``what`` otherwise.  Call it *before* long work so a bad folder fails fast.
    """
    path = Path(path)
    created = not path.exists()
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what}: expected a folder, but {path} is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{what}: cannot write to {path} ({exc.strerror})") from None
    return path, created
