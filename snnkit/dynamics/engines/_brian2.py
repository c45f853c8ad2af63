"""The one place snnkit imports Brian2.

Importing Brian2 installs a ``sys.excepthook`` that reports *any* uncaught
exception of the process as a Brian2 bug (and writes debug files); snnkit is
a library used inside other programs, so the hook is removed right after the
import.  Every snnkit module gets Brian2 from here: ``from ... import b2``.
"""

import sys

_hook = sys.excepthook
import brian2 as b2  # noqa: E402
from brian2.devices.device import RuntimeDevice  # noqa: E402

sys.excepthook = _hook

__all__ = ["RuntimeDevice", "b2"]
