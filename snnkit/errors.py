"""User-facing errors.

Every mistake a user can make (a bad config value, an unknown key, an unwritable
folder) raises a :class:`SnnkitError` whose message is one line naming the field
or file and what was expected.  The CLI prints that line and exits with code 2,
without a traceback; library users catch the exception like any ``ValueError``.
"""

from __future__ import annotations


class SnnkitError(ValueError):
    """An error caused by user input: one line, naming the field/file at fault."""


class ConfigError(SnnkitError):
    """A model or sweep configuration value is missing, unknown or out of range.

    ``field`` is the config key at fault, ``source`` where the value came from
    (a file name, ``--set``, or ``None`` for Python keyword arguments).
    """

    def __init__(self, field: str, expected: str, got: object = None, source: str | None = None):
        self.field = field
        self.expected = expected
        self.got = got
        self.source = source
        where = f"{source}: " if source else ""
        tail = "" if got is None else f", got {got!r}"
        super().__init__(f"{where}{field}: expected {expected}{tail}")


class OutputError(SnnkitError):
    """An output folder or file cannot be created or written."""
