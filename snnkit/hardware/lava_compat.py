"""Import Lava (lava-nc 0.10.0) and lava-dl's NetX (0.6.0) on Python 3.11.

Both packages declare ``Requires-Python <3.11`` and are archived upstream, so they
are installed with ``pip install --no-deps --ignore-requires-python`` (docs/install.md)
and two import-time problems are worked around here, without editing site-packages:

1. **Dataclass default fix.**  ``lava/magma/compiler/var_model.py`` declares eight
   fields ``x: ByteEncoder = ByteEncoder()``.  Since Python 3.11 ``dataclasses``
   rejects any unhashable default (``ValueError: mutable default ... use
   default_factory``), so every ``lava.proc``/``lava.magma`` import fails.
   Importing this module puts a small finder on ``sys.meta_path`` that matches
   only that module and compiles it from its original source with those defaults
   rewritten to ``field(default_factory=ByteEncoder)`` (the fix a Lava maintainer
   would make; each instance gets its own encoder instead of one shared one).
   The rewrite happens in memory (the cached ``.pyc`` is neither used nor
   written), so afterwards plain ``import lava...`` statements work in any order.
   Nothing is installed before Python 3.11, and a source without that default
   compiles unchanged.
2. **Object-detection stubs.**  ``import lava.lib.dl.netx`` imports slayer, whose
   ``object_detection`` subpackage imports ``cv2`` and ``torchvision`` at import
   time; NetX never uses them.  torchvision built for another torch raises
   (``operator torchvision::nms does not exist``) and opencv is usually absent.
   :func:`import_netx` puts empty stand-ins for whichever of ``cv2``,
   ``torchvision``, ``torchvision.ops``, ``torchvision.transforms`` does not
   import, only while NetX is imported, then removes them from ``sys.modules`` so
   that other code still sees the real import error.  The misleading "Prophesee
   Dataset Toolbox could not be found" line printed by that subpackage is swallowed.

3. **Start method.**  Lava's multiprocessing runtime calls ``set_start_method('fork')`` at
   import and fails if the start method was fixed before; :func:`import_lava` imports it with
   a tolerant stand-in (see :func:`_import_fork_runtime`).

Keep ``numpy<2`` with Lava: with numpy 2 networks that flatten/reshape fail
(``reshape() got an unexpected keyword argument 'newshape'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import sys
import types

from snnkit.errors import SnnkitError

INSTALL = (
    "pip install 'snnkit[lava]' && "
    "pip install --no-deps --ignore-requires-python lava-nc==0.10.0 lava-dl==0.6.0"
)
_VAR_MODEL = "lava.magma.compiler.var_model"
_BAD = "ByteEncoder = ByteEncoder()"
_GOOD = "ByteEncoder = _snnkit_field(default_factory=ByteEncoder)"
_STUBS = {"cv2": (), "torchvision": ("ops", "transforms")}
STUB_DOC = "snnkit stand-in for lava-dl's unused object-detection imports"


def _missing(what: str, err: BaseException | None = None) -> SnnkitError:
    why = f" ({err})" if err is not None else ""
    return SnnkitError(f"{what} is not installed{why}; install it with: {INSTALL}")


def _spec(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


class _FixedSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles var_model from its source with the defaults rewritten (never its .pyc)."""

    def get_code(self, fullname):
        source = self.get_source(fullname).replace(_BAD, _GOOD)
        return compile(source, self.path, "exec", dont_inherit=True)

    def exec_module(self, module):
        module._snnkit_field = dataclasses.field
        super().exec_module(module)


class _VarModelFinder(importlib.abc.MetaPathFinder):
    """Hands lava's var_model to :class:`_FixedSourceLoader`; ignores every other module."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _VAR_MODEL:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _FixedSourceLoader(fullname, spec.origin)
        return spec


def install_fix() -> None:
    """Put the var_model hook on ``sys.meta_path`` (idempotent; a no-op before Python 3.11)."""
    if sys.version_info >= (3, 11) and not any(
        isinstance(f, _VarModelFinder) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _VarModelFinder())


install_fix()


def import_lava() -> types.ModuleType:
    """Apply the dataclass fix, import Lava's core and return the ``lava`` package.

    Raises :class:`SnnkitError` (one line with the install commands) if lava-nc is absent.
    """
    if _spec("lava.magma.core") is None:
        raise _missing("lava-nc")
    try:
        install_fix()
        _import_fork_runtime()
        importlib.import_module("lava.magma.core.process.process")  # imports var_model
        return sys.modules["lava"]
    except ModuleNotFoundError as err:  # a dependency of lava-nc is missing
        raise _missing("lava-nc or a dependency of it", err) from err


def _import_fork_runtime() -> None:
    """Import Lava's multiprocessing runtime although the start method may be fixed already.

    That module calls ``multiprocessing.set_start_method('fork')`` at import, which raises
    "context has already been set" once anything in the process has fixed the start method
    (a ``get_start_method()`` call is enough: Dask, torch.multiprocessing, pytest plugins).
    While it is imported, a tolerant stand-in accepts the call when 'fork' is already in force
    and otherwise forces 'fork' (Lava's runtime needs it).
    """
    import multiprocessing as mp

    name = "lava.magma.runtime.message_infrastructure.multiprocessing"
    if name in sys.modules:
        return
    original = mp.set_start_method

    def set_start_method(method: str, force: bool = False) -> None:
        if mp.get_start_method(allow_none=True) != method:
            original(method, force=True)

    mp.set_start_method = set_start_method
    try:
        importlib.import_module(name)
    finally:
        mp.set_start_method = original


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except Exception:
        return False


def import_netx() -> types.ModuleType:
    """Return ``lava.lib.dl.netx``, importable on Python 3.11 (raises SnnkitError if absent)."""
    import_lava()
    if _spec("lava.lib.dl.netx") is None:
        raise _missing("lava-dl")
    if "lava.lib.dl.netx" in sys.modules:
        return sys.modules["lava.lib.dl.netx"]
    stubs: dict[str, types.ModuleType] = {}
    for top, subs in _STUBS.items():
        if top in sys.modules or _importable(top):
            continue
        stubs[top] = types.ModuleType(top, STUB_DOC)
        for sub in subs:
            stubs[f"{top}.{sub}"] = types.ModuleType(f"{top}.{sub}", STUB_DOC)
            setattr(stubs[top], sub, stubs[f"{top}.{sub}"])
    sys.modules.update(stubs)
    try:
        # slayer's object-detection import prints a "Prophesee Dataset Toolbox" warning
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module("lava.lib.dl.netx")
    except ModuleNotFoundError as err:
        raise _missing("lava-dl or a dependency of it", err) from err
    finally:
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
