"""Run a sweep on Dask distributed: a local cluster by default, any cluster by address.

Every point is one Dask task (:func:`snnkit.dynamics.sweep.worker.run_point`).
Points are submitted grouped by network structure, so each worker compiles (or
copies from the on-disk build cache) a structure once and then runs all its
points through the same binary, whatever their g, delay, excitabilities or seed.
The client stores each point the moment its result arrives
(:class:`~snnkit.dynamics.sweep.store.SweepStore`), so an interrupted sweep
resumes where it stopped.

``engine = "auto"`` in a sweep means ``event`` (the compiled event-driven engine)
when ``auto`` picks it for every point, else ``cpp_standalone`` (one compile,
many runs).
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from pathlib import Path

import xarray as xr

from snnkit.dynamics.sweep.spec import SweepSpec, load_sweep
from snnkit.dynamics.sweep.store import SweepStore, remove_points
from snnkit.dynamics.sweep.worker import run_point
from snnkit.errors import SnnkitError
from snnkit.progress import progress_bar

#: Measures whose NaN is an expected outcome, not a problem (reported apart).
EXPECTED_NAN = {"co_frequency_hz": "no collective oscillation"}

log = logging.getLogger("snnkit.sweep")


def connect(scheduler: str | None, workers: int | None, timeout: float = 10.0):
    """A Dask client: to ``scheduler`` if given, else to a new local cluster.

    Returns ``(client, cluster)``; ``cluster`` is None for an external scheduler.
    An address that does not answer within ``timeout`` seconds raises a one-line
    :class:`SnnkitError`.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout, set_as_default=False), None
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SnnkitError(f"--scheduler: no Dask scheduler answers at {scheduler} within "
                              f"{timeout:g} s ({reason})") from None
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise SnnkitError(f"--workers: expected an integer >= 1, got {workers}")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False), cluster


def sweep_engine(spec: SweepSpec) -> SweepSpec:
    """Resolve ``engine = "auto"`` for a sweep: ``event`` if ``auto`` picks it for every
    point, else ``cpp_standalone``."""
    if spec.base.engine != "auto":
        return spec
    from dataclasses import replace

    from snnkit.dynamics.engines import choose_engine

    event = all(choose_engine(p.config) == "event" for p in spec.points())
    return replace(spec, base=spec.base.replace(engine="event" if event else "cpp_standalone"))


def run_sweep(spec: SweepSpec | str | Path, out: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, progress: bool = True,
              timeout: float = 10.0) -> xr.Dataset:
    """Run every point of ``spec`` not yet stored in ``out``; return the full Dataset.

    ``workers`` sets the size of the local cluster (default: one per core);
    ``scheduler`` (``tcp://host:port``) uses an existing Dask cluster instead,
    whose workers must have snnkit installed.  ``resume`` continues a sweep
    stored in ``out`` (refused if ``out`` holds a different sweep).
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    spec = sweep_engine(spec)
    store = SweepStore(out)
    store.check(spec, resume)  # before anything is started or written
    client, cluster = connect(scheduler, workers, timeout)
    try:
        store.open(spec)
        done = store.done(spec)
        todo = [p for p in spec.points() if p.index not in done]
        where = scheduler or f"local cluster, {len(client.scheduler_info()['workers'])} workers"
        store.log(f"{'resume' if done else 'start'}: {len(todo)} of {spec.n_points} points "
                  f"to run on {where}")
        from snnkit.dynamics.engines.brian_standalone import structure_key

        todo.sort(key=lambda p: (structure_key(p.config), p.config.seed, p.index))
        futures = {}
        fingerprint = spec.fingerprint()
        for p in todo:
            fut = client.submit(run_point, p.config.to_dict(), pure=False,
                                key=f"snnkit-{fingerprint}-{p.index}")
            futures[fut] = p
        nan_counts: Counter[str] = Counter()
        from distributed import as_completed

        with progress_bar(spec.n_points, "sweep", unit="pt", enabled=progress, delay=0,
                          initial=len(done)) as bar:
            for fut in as_completed(list(futures), loop=client.loop):
                point = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:
                    store.log(f"point {point.index} {point.coords} failed: {exc!r}")
                    for other in futures:
                        other.cancel()
                    raise SnnkitError(f"sweep point {point.coords} failed: {exc}; finished "
                                      f"points are stored, fix and --resume") from exc
                store.save_point(point, result["measures"], result["timings"])
                nans = [k for k, v in result["measures"].items() if not math.isfinite(v)]
                nan_counts.update(nans)
                unexpected = [k for k in nans if k not in EXPECTED_NAN]
                if unexpected:
                    store.log(f"point {point.index} {point.coords}: NaN in {unexpected}")
                bar.update(1)
        ds = store.assemble(spec)
        store.write_results(ds)
        remove_points(store)
        summary = ", ".join(f"{k} in {n} point(s)" + (f" ({EXPECTED_NAN[k]})"
                                                      if k in EXPECTED_NAN else "")
                            for k, n in sorted(nan_counts.items()))
        store.log(f"finished: {spec.n_points} points" + (f"; NaN: {summary}" if summary else ""))
        ds.attrs["nan_summary"] = summary
        return ds
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
