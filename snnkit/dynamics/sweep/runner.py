"""Run a sweep on Dask distributed: a local cluster by default, any cluster by address.

Points are sorted by network structure and cut into batches of about
``BATCH_SECONDS`` of estimated work (:func:`batches`); each batch is one Dask task
(:func:`snnkit.dynamics.sweep.worker.run_points`).  A task costs a few
milliseconds of scheduling and messaging, as much as a whole point of a small
event-engine sweep, so one task per point spent more time in Dask than in the
simulations.  Batches stay small enough for load balancing (at least
``BATCHES_PER_WORKER`` per worker) and for losing little to a kill.  Sorting by
structure lets each worker compile (or copy from the on-disk build cache) a
structure once and run all its points through the same binary, whatever their g,
delay, excitabilities or seed.  The client stores each batch's points the moment
its result arrives, in one atomic file
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

from snnkit.dynamics.sweep.spec import SweepPoint, SweepSpec, load_sweep
from snnkit.dynamics.sweep.store import SweepStore, remove_points
from snnkit.errors import SnnkitError
from snnkit.progress import progress_bar

#: Measures whose NaN is an expected outcome, not a problem (reported apart).
EXPECTED_NAN = {"co_frequency_hz": "no collective oscillation"}

log = logging.getLogger("snnkit.sweep")

#: Target estimated work per Dask task (seconds), and the least number of tasks per
#: worker (for load balancing: points of one sweep differ in cost by orders of magnitude).
BATCH_SECONDS = 1.0
BATCHES_PER_WORKER = 4
#: Engines that run without Brian2 (their workers never import it).
NO_BRIAN = ("event", "exact")


def batches(points: list[SweepPoint], n_workers: int,
            seconds: float = BATCH_SECONDS) -> list[list[SweepPoint]]:
    """Cut ``points`` (in order) into consecutive batches for Dask tasks.

    A batch closes when its estimated time
    (:func:`snnkit.dynamics.engines.estimated_seconds`) reaches ``seconds``, or
    when it holds ``len(points) / (BATCHES_PER_WORKER * n_workers)`` points, so
    that every worker gets several tasks.  Never empty; every point in exactly one
    batch, order kept.
    """
    from snnkit.dynamics.engines import estimated_seconds

    most = max(1, math.ceil(len(points) / (BATCHES_PER_WORKER * max(1, n_workers))))
    out: list[list[SweepPoint]] = []
    batch: list[SweepPoint] = []
    work = 0.0
    for point in points:
        batch.append(point)
        work += estimated_seconds(point.config)
        if work >= seconds or len(batch) >= most:
            out.append(batch)
            batch, work = [], 0.0
    if batch:
        out.append(batch)
    return out


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
        from snnkit.dynamics.engines import choose_engine

        # Brian2 is imported in the workers only if some point needs it
        if all(choose_engine(p.config) in NO_BRIAN for p in todo):
            from snnkit.dynamics.sweep.worker import run_points as task
        else:
            from snnkit.dynamics.engines.brian_standalone import structure_key
            from snnkit.dynamics.sweep.worker_brian import run_points_brian as task

            todo.sort(key=lambda p: (structure_key(p.config), p.config.seed, p.index))
        n_slots = max(1, sum(client.nthreads().values()))  # worker threads, not processes
        futures = {}
        for batch in batches(todo, n_slots):
            fut = client.submit(task, [p.config.to_dict() for p in batch], pure=False)
            futures[fut] = batch
        nan_counts: Counter[str] = Counter()
        from distributed import as_completed

        with progress_bar(spec.n_points, "sweep", unit="pt", enabled=progress, delay=0,
                          initial=len(done)) as bar:
            for fut in as_completed(list(futures), loop=client.loop):
                batch = futures.pop(fut)
                try:
                    results = fut.result()
                except Exception as exc:  # the task itself died (e.g. a lost worker)
                    results = [{"error": f"{type(exc).__name__}: {exc}"}] * len(batch)
                pairs = list(zip(batch, results, strict=True))
                ok = [(p, r) for p, r in pairs if "error" not in r]
                if ok:
                    store.save_points([p for p, _ in ok], [r["measures"] for _, r in ok],
                                      [r["timings"] for _, r in ok])
                failed = [(p, r["error"]) for p, r in pairs if "error" in r]
                if failed:
                    for point, error in failed:
                        store.log(f"point {point.index} {point.coords} failed: {error}")
                    for other in futures:
                        other.cancel()
                    point, error = failed[0]
                    raise SnnkitError(f"sweep point {point.coords} failed: {error}; finished "
                                      f"points are stored, fix and --resume")
                for point, result in ok:
                    nans = [k for k, v in result["measures"].items() if not math.isfinite(v)]
                    nan_counts.update(nans)
                    unexpected = [k for k in nans if k not in EXPECTED_NAN]
                    if unexpected:
                        store.log(f"point {point.index} {point.coords}: NaN in {unexpected}")
                bar.update(len(batch))
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
