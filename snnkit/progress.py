"""Progress bars shared by long-running work (simulations, sweeps, training).

A thin layer over tqdm: bars appear only for work that lasts longer than
``delay`` seconds (so short runs print nothing), go to stderr, and are
switched off entirely with ``enabled=False`` (the CLI's ``--quiet``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm


@contextmanager
def progress_bar(total: float, desc: str, unit: str = "", enabled: bool = True,
                 delay: float = 2.0, **kwargs: object) -> Iterator[tqdm]:
    """A tqdm bar that shows up after ``delay`` s; a disabled bar is a no-op."""
    bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled, delay=delay,
               dynamic_ncols=True, leave=False, **kwargs)
    try:
        yield bar
    finally:
        bar.close()


def advance_to(bar: tqdm, position: float) -> None:
    """Move ``bar`` forward to ``position`` (never back); respects the display delay."""
    step = position - bar.n
    if step > 0:
        bar.update(step)
