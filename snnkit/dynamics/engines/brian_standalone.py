"""Brian2 ``cpp_standalone`` engine: compile once per network structure, then run by arguments.

How a run reaches the binary

* **Structure** (what the generated C++ depends on): N, coupling, K, pulse
  shape, refractoriness on/off, dt, transient and window lengths, the model-code
  version and the Brian2 version.  Its hash names a folder in the build cache
  (``$SNNKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/snnkit`` or ``~/.cache/snnkit``; sub-folder
  ``brian2-standalone/<hash>``).  The first process that needs a structure
  compiles it there under a file lock (``template``); every later process, on
  this machine and in later sessions, copies the compiled project into its
  own working folder and only regenerates code, which ``make`` finds unchanged.
* **Connectivity** is data: the synapse index arrays (sorted by source, see
  :func:`snnkit.dynamics.brian_model.synapse_order`) are static-array files
  read by the binary at start-up.  With a fixed in-degree every realisation
  has N K synapses, so a new realisation overwrites the sources and targets
  files in the process's working folder (located after the build by their
  content) and runs the same binary: no code generation, no compilation.
* **Everything else** (g, t_d, I_i, v0, tau_m, alpha propagators, t_ref) is
  passed through ``device.run(run_args=...)``.  ``device.apply_run_args()`` is
  placed after the synapses and their delays are created and before the first
  ``run``, so a delay given at run time is what the spike queue is prepared
  with (reference note §7.3; tested in ``tests/test_engines.py``).

Brian2 2.9 names the delay variable of a ``Synapses`` object after its pathway
(``synapses_pre.delay``) in the Python ``run_args`` dict while the binary only
knows ``synapses.delay``; the delay is therefore passed in the list form
``"synapses.delay=<seconds>"``.

Progress: the binary prints ``snnkit-progress <t>`` lines (model time) into
``stdout.txt`` (:func:`snnkit.dynamics.brian_model._progress_printer`, compiled
into every build: it costs nothing measurable, unlike Brian2's text report);
a thread follows that file and moves the progress bar.

Cost of the binary (N = 10,000, K = 100, 2.2 s of model time; table in
docs/model.md, "Cost of the cpp_standalone binary"): the per-event pulse
weight and the target-sorted synapse order made it 2.5x slower than a plain
Brian2 script; both are gone (model code version 4) and it now takes
0.85-0.9x the plain script's CPU time.  What remains (run-time variables
instead of constants, the precise reset, recording ``lag``, a per-synapse
delay array, delivery after the resets, the transient/window split,
``run_args``) costs ~12 % of the plain binary in total.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from snnkit.dynamics import brian_model
from snnkit.dynamics.config import ModelConfig
from snnkit.dynamics.engines import EngineRun
from snnkit.dynamics.engines._brian2 import b2
from snnkit.dynamics.engines.brian_common import activate_standalone, window_spikes
from snnkit.dynamics.network import NetworkInstance
from snnkit.io import cache_dir
from snnkit.progress import advance_to, progress_bar


def cache_root() -> Path:
    """Folder holding compiled standalone projects (created on demand)."""
    root = cache_dir("brian2-standalone")
    root.mkdir(parents=True, exist_ok=True)
    return root


def structure_key(config: ModelConfig) -> str:
    """Hash of everything the generated C++ code depends on.

    The progress printer is in every build (it is cheap), so runs with and
    without a progress bar share one binary.
    """
    parts = {
        "N": config.N,
        "coupling": config.coupling,
        "K": config.K if config.coupling == "sparse" else None,
        "pulse": config.pulse,
        "refractory": config.t_ref > 0,
        "dt": config.dt,
        "transient": config.transient,
        "duration": config.duration,
        "model_code": brian_model.MODEL_CODE_VERSION,
        "brian2": b2.__version__,
        "compiler": repr([b2.prefs.codegen.cpp.extra_compile_args,
                          b2.prefs.devices.cpp_standalone.openmp_threads]),
    }
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _data_key(inst: NetworkInstance) -> str:
    h = hashlib.sha1()
    for arr in (inst.pre, inst.post):
        if arr is not None:
            h.update(np.ascontiguousarray(arr, dtype=np.int64).data)
    return h.hexdigest()


@dataclass
class _Built:
    key: tuple[str, str]
    project: Path
    network: brian_model.BrianNetwork
    sources_file: Path | None = None  # static array holding the synapse sources
    targets_file: Path | None = None  # static array holding the synapse targets


_current: _Built | None = None
_own_dirs: set[Path] = set()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_workdirs(folder: Path) -> None:
    """Working folders of processes that no longer exist (e.g. killed with -9)."""
    for work in folder.glob("proc-*"):
        m = re.fullmatch(r"proc-(\d+)", work.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(work, ignore_errors=True)


@atexit.register
def _cleanup() -> None:
    for d in list(_own_dirs):
        shutil.rmtree(d, ignore_errors=True)


def _publish(src: Path, template: Path) -> None:
    """Copy a compiled project to the shared template folder atomically."""
    tmp = template.with_name(f"template.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("results*"))
    tmp.rename(template)


def _build(inst: NetworkInstance) -> _Built:
    """Make ``inst``'s structure and connectivity the process's built project."""
    global _current
    cfg = inst.config
    skey = structure_key(cfg)
    folder = cache_root() / skey
    folder.mkdir(exist_ok=True)
    work = folder / f"proc-{os.getpid()}"
    template = folder / "template"
    # drop the previous network before creating the new one (object names!)
    _current = None
    activate_standalone()

    def construct() -> brian_model.BrianNetwork:
        device = b2.get_device()
        return brian_model.create_and_run(inst, before_run=device.apply_run_args,
                                          progress_marks=True)

    compiled_here = False
    with FileLock(str(folder / ".lock")):
        _remove_stale_workdirs(folder)
        if (template / "main").exists():
            if not (work / "main").exists():
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(template, work)
        else:
            shutil.rmtree(work, ignore_errors=True)
            _own_dirs.add(work)
            network = construct()
            b2.get_device().build(directory=str(work), compile=True, run=False)
            _publish(work, template)
            compiled_here = True
    _own_dirs.add(work)
    if not compiled_here:
        network = construct()
        b2.get_device().build(directory=str(work), compile=True, run=False)
    _current = _Built((skey, _data_key(inst)), work, network)
    if inst.pre is not None:
        pre, post = _sorted_synapses(inst)
        _current.sources_file = _find_static_array(work, pre)
        _current.targets_file = _find_static_array(work, post)
        if _current.sources_file == _current.targets_file:  # same bytes: cannot tell them apart
            _current.sources_file = _current.targets_file = None
    return _current


def _sorted_synapses(inst: NetworkInstance) -> tuple[np.ndarray, np.ndarray]:
    """``inst``'s synapses in the order the Brian2 model stores them."""
    order = brian_model.synapse_order(inst.pre)
    return inst.pre[order], inst.post[order]


def _find_static_array(project: Path, values: np.ndarray) -> Path | None:
    """The static-array file of ``project`` whose bytes are ``values`` (as int32)."""
    wanted = np.ascontiguousarray(values, dtype=np.int32).tobytes()
    for path in sorted((project / "static_arrays").glob("_static_array_*")):
        if path.stat().st_size == len(wanted) and path.read_bytes() == wanted:
            return path
    return None


def _rewire(built: _Built, inst: NetworkInstance) -> bool:
    """Give the built binary ``inst``'s synapses without rebuilding, if possible.

    The structure key fixes the number of synapses (N K), so only the contents
    of the two index files change.
    """
    if built.sources_file is None or built.targets_file is None or inst.pre is None:
        return False
    for path, values in zip((built.sources_file, built.targets_file), _sorted_synapses(inst),
                            strict=True):
        if path.stat().st_size != values.size * 4:
            return False
    for path, values in zip((built.sources_file, built.targets_file), _sorted_synapses(inst),
                            strict=True):
        tmp = path.with_name(f"{path.name}.tmp")
        np.ascontiguousarray(values, dtype=np.int32).tofile(tmp)
        os.replace(tmp, path)
    built.key = (built.key[0], _data_key(inst))
    return True


def _run_args(project: Path, inst: NetworkInstance) -> list[str]:
    """Run-time values as Brian2 ``run_args`` in list form (``owner.var=value``).

    Scalars go on the command line (SI units); arrays are written once to
    ``static_arrays/`` under a content hash, as Brian2 itself does.
    """
    args = []
    for name, value in brian_model.runtime_values(inst).items():
        if np.ndim(value) == 0:
            args.append(f"neurons.{name}={float(value)!r}")
            continue
        array = np.ascontiguousarray(value, dtype=np.float64)
        if array.size != inst.N:  # the binary would only print a warning
            raise ValueError(f"run-time array {name} has {array.size} values, need {inst.N}")
        file_name = f"init_neurons_{name}_{hashlib.md5(array.data).hexdigest()}.dat"
        path = project / "static_arrays" / file_name
        if not path.exists():
            tmp = path.with_name(f"{file_name}.tmp-{os.getpid()}")
            array.tofile(tmp)
            os.replace(tmp, path)
        args.append(f"neurons.{name}=static_arrays/{file_name}")
    args.append(f"synapses.delay={inst.config.delay * 1e-3!r}")
    return args


class _ReportFollower(threading.Thread):
    """Follow the binary's progress marks and move a progress bar (model time, ms)."""

    _pattern = re.compile(rf"^{brian_model.PROGRESS_MARK} (\S+)$", re.MULTILINE)

    def __init__(self, path: Path, bar) -> None:
        super().__init__(daemon=True)
        self.path, self.bar = path, bar
        self.stop = threading.Event()

    def run(self) -> None:
        pos = 0
        while not self.stop.wait(0.2):
            with contextlib.suppress(OSError), open(self.path) as fh:
                fh.seek(pos)
                text = fh.read()
                # a partly written last line is read again next time
                text = text[:text.rfind("\n") + 1]
                pos += len(text)
            marks = self._pattern.findall(text)
            if marks:
                advance_to(self.bar, round(float(marks[-1]) * 1e3))


def run_standalone(inst: NetworkInstance, progress: bool = True) -> EngineRun:
    """Simulate ``inst`` with the cached compiled binary of its structure."""
    cfg = inst.config
    start = time.perf_counter()
    key = (structure_key(cfg), _data_key(inst))
    built = _current
    if built is None or built.key[0] != key[0] or (built.key != key and not _rewire(built, inst)):
        built = _build(inst)
    build_s = time.perf_counter() - start
    device = b2.get_device()
    results = f"results-{uuid.uuid4().hex[:12]}"
    total_ms = cfg.transient + cfg.duration
    run_start = time.perf_counter()
    with progress_bar(total_ms, "simulate (cpp_standalone)", unit="ms", enabled=progress) as bar:
        follower = _ReportFollower(built.project / results / "stdout.txt", bar)
        follower.start()
        try:
            device.run(directory=str(built.project), results_directory=results,
                       run_args=_run_args(built.project, inst), with_output=False)
        finally:
            follower.stop.set()
            follower.join()
    spikes = window_spikes(built.network.spikes, cfg.N, cfg.dt, cfg.transient, total_ms)
    shutil.rmtree(built.project / results, ignore_errors=True)
    timings = {"build_s": build_s, "run_s": time.perf_counter() - run_start,
               "binary_s": float(device.timers.get("run_binary", float("nan")))}
    return EngineRun(spikes, "cpp_standalone", timings)
