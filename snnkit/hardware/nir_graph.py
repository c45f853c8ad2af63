r"""NIR (nir 1.0.8) export and import of a :class:`~snnkit.hardware.description.NetworkDescription`.

NIR is a secondary, *float* export: it is declarative, specifies neither discretisation nor
quantization, and is not "Loihi-accurate" (see :mod:`snnkit.hardware.netx` for that).  The
graph of an :math:`L`-layer description::

    input -> fc0 -> lif0 -> fc1 -> lif1 -> ... -> lif{L-1} -> output
                    lif_k -> rec_k -> lif_k          (recurrent layers only)

``fc_k`` and ``rec_k`` are ``nir.Linear`` (no bias), ``lif_k`` is ``nir.CubaLIF``, whose
continuous-time equations are

.. math::
    \tau_{syn}\,\dot I = -I + w_{in} S, \qquad
    \tau_{mem}\,\dot v = (v_{leak} - v) + R\,I, \qquad
    z = [v > v_{th}],\ v \leftarrow v_{reset} \text{ on a spike.}

**Parameter mapping.**  Per step (one step = ``dt`` seconds) the description's neuron is
:math:`u \leftarrow u(1-\delta_u) + W s_{in} + W_r s`,
:math:`v \leftarrow v(1-\delta_v) + u + b`, :math:`s = [v > \theta]`, :math:`v \leftarrow 0`.
Forward Euler with step ``dt`` (what NIR importers use; Norse: ``li_box`` then ``lif_box``)
turns the CubaLIF equations into

.. math::
    I \leftarrow I\,(1 - \tfrac{dt}{\tau_{syn}}) + \tfrac{dt}{\tau_{syn}} w_{in}\,x, \qquad
    v \leftarrow v\,(1 - \tfrac{dt}{\tau_{mem}}) + \tfrac{dt}{\tau_{mem}} R\,I
        + \tfrac{dt}{\tau_{mem}} v_{leak},

which is the description's neuron, with :math:`I = u` and weights unchanged, exactly when

.. math::
    \tau_{syn} = dt/\delta_u,\quad \tau_{mem} = dt/\delta_v,\quad
    w_{in} = 1/\delta_u = \tau_{syn}/dt,\quad R = 1/\delta_v = \tau_{mem}/dt,\quad
    v_{leak} = b/\delta_v,\quad v_{th} = \theta,\quad v_{reset} = 0

(per-neuron arrays, NIR#176).  One spike then adds exactly :math:`W` to :math:`I` and
:math:`I` enters :math:`v` with factor 1.  The bias is a leak *target*
(:math:`\delta_v v_{leak} = b` per step), not an ``Affine`` bias: an ``Affine`` bias would enter
the synaptic current and be filtered by :math:`\tau_{syn}`.  A decay of 0 (no leak) has no
finite time constant and is refused.  :func:`from_nir` inverts this for any ``r``, ``w_in``
and ``v_leak``: :math:`\delta_u = dt/\tau_{syn}`, :math:`\delta_v = dt/\tau_{mem}`,
:math:`W = \mathrm{diag}(\delta_v R\,\delta_u w_{in})\,W_{nir}` (the same for :math:`W_r`),
:math:`b = \delta_v v_{leak}`.

**Per-synapse delays** (``DenseLayer.delay``, extra steps): one ``Linear`` per distinct
delay :math:`d` holding the synapses with that delay, followed by ``nir.Delay`` of
:math:`d\,dt` (``fc{k}_d{d} -> delay{k}_d{d} -> lif{k}``); inputs to a node are summed.

**What NIR cannot hold** (kept in metadata, which NIR 1.0.8 serializes):

* *Timing.*  snnkit (and Lava) deliver a synaptic layer's input one step after the
  presynaptic spike; the NIR graph has no such delay (``Linear -> CubaLIF`` acts in the same
  step, as Norse runs it), so layer :math:`k` (1-based) of the description spikes exactly
  :math:`k` steps after the same layer of the graph.  Recurrent edges act one step later in
  both (``rec_k`` reads :math:`s[t-1]`).  Graph metadata ``snnkit_latency_steps_per_layer = 1``.
* *Refractory periods* (CUBA/NIR have none): refused unless ``drop_refractory``; the dropped
  value is recorded in the CubaLIF's metadata ``snnkit_dropped_refractory``.
* ``dt`` (graph metadata ``dt``), the description's ``meta`` (``snnkit_meta``, JSON) and
  layer names (CubaLIF metadata ``snnkit_layer``).
* Initial state: the description starts at :math:`u = v = 0`; NIR does not say.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnkit.errors import SnnkitError
from snnkit.hardware.description import CubaNeuron, DenseLayer, NetworkDescription
from snnkit.io import atomic_write

FORMAT = "snnkit-nir/1"
SUPPORTED = ("Input", "Output", "Linear", "Affine", "CubaLIF", "Delay")


def _nir():
    import nir

    return nir


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, value, dtype=np.float64)


def to_nir(desc: NetworkDescription, dt: float = 1e-3, *,
           drop_refractory: bool = False) -> Any:
    """The ``nir.NIRGraph`` of a description (mapping in the module docstring).

    Refuses (one-line :class:`SnnkitError`) decays of 0, which have no finite CubaLIF time
    constant, and refractory periods unless ``drop_refractory``.
    """
    nir = _nir()
    if not dt > 0:
        raise SnnkitError(f"dt: expected > 0 seconds, got {dt}")
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([desc.n_in])})}
    edges: list[tuple[str, str]] = []
    src = "input"
    for k, layer in enumerate(desc.layers):
        n, where = layer.neuron, f"layer {k}"
        for name in ("current_decay", "voltage_decay"):
            if getattr(n, name) == 0:
                raise SnnkitError(f"{where}: {name} = 0 (no leak) has no finite CubaLIF time "
                                  "constant; NIR cannot express it")
        meta: dict[str, Any] = {"snnkit_layer": layer.name or str(k)}
        if n.refractory:
            if not drop_refractory:
                raise SnnkitError(
                    f"{where}: a refractory period of {n.refractory} steps cannot be expressed "
                    "in NIR (CubaLIF has none); drop it (--drop-refractory) or fine-tune with "
                    "network.refractory = 0")
            meta["snnkit_dropped_refractory"] = int(n.refractory)
        N = layer.n_out
        lif = f"lif{k}"
        w = np.asarray(layer.weight, dtype=np.float64)
        bias = np.zeros(N) if layer.bias is None else np.asarray(layer.bias, np.float64)
        nodes[lif] = nir.CubaLIF(
            tau_syn=_full(N, dt / n.current_decay), tau_mem=_full(N, dt / n.voltage_decay),
            r=_full(N, 1.0 / n.voltage_decay), v_leak=bias / n.voltage_decay,
            v_threshold=_full(N, n.threshold), v_reset=np.zeros(N),
            w_in=_full(N, 1.0 / n.current_decay), metadata=meta)
        if layer.weight_rec is not None:  # first, so that nirtorch runs rec_k right after lif_k
            nodes[f"rec{k}"] = nir.Linear(weight=np.asarray(layer.weight_rec, np.float64))
            edges += [(lif, f"rec{k}"), (f"rec{k}", lif)]
        if layer.delay is None or not np.any(layer.delay):
            nodes[f"fc{k}"] = nir.Linear(weight=w)
            edges += [(src, f"fc{k}"), (f"fc{k}", lif)]
        else:
            delay = np.asarray(layer.delay)
            for d in np.unique(delay).tolist():
                fc = f"fc{k}_d{d}"
                nodes[fc] = nir.Linear(weight=np.where(delay == d, w, 0.0))
                edges.append((src, fc))
                if d == 0:
                    edges.append((fc, lif))
                else:
                    nodes[f"delay{k}_d{d}"] = nir.Delay(delay=_full(N, d * dt))
                    edges += [(fc, f"delay{k}_d{d}"), (f"delay{k}_d{d}", lif)]
        src = lif
    nodes["output"] = nir.Output(output_type={"output": np.array([desc.n_out])})
    edges.append((src, "output"))
    metadata = {"format": FORMAT, "producer": "snnkit", "dt": float(dt),
                "snnkit_latency_steps_per_layer": 1,
                "snnkit_meta": json.dumps(desc.meta, default=str)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _uniform(node: str, field: str, x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0 or not np.allclose(x, x[0], rtol=1e-12, atol=0.0):
        raise SnnkitError(f"node {node!r}: {field} differs between neurons; snnkit's description "
                          "has one value per layer")
    return float(x[0])


def _type(node: Any) -> str:
    return type(node).__name__


def _trace(graph: Any, preds: dict[str, list[str]], start: str, lif: str, dt: float
           ) -> tuple[str, np.ndarray, np.ndarray]:
    """Walk back from ``start`` (a predecessor of ``lif``) through Delay/Linear/Affine nodes to
    a spike source; returns (source, weight (out, in), delay in steps (out, in))."""
    nir = _nir()
    weight, d_in, d_out, name, seen = None, 0.0, 0.0, start, set()
    while True:
        node = graph.nodes[name]
        if isinstance(node, nir.Input | nir.CubaLIF):
            break
        if name in seen:
            raise SnnkitError(f"node {name!r}: a cycle without a CubaLIF")
        seen.add(name)
        if isinstance(node, nir.Delay):
            d = np.asarray(node.delay, dtype=np.float64) / dt
            steps = np.round(d)
            if not np.allclose(d, steps, rtol=0, atol=1e-6) or steps.min() < 0:
                raise SnnkitError(f"node {name!r}: delays must be non-negative multiples of "
                                  f"dt = {dt}")
            if weight is None:
                d_out = d_out + steps
            else:
                d_in = d_in + steps
        elif isinstance(node, nir.Linear | nir.Affine):
            if weight is not None:
                raise SnnkitError(f"node {name!r}: two weight nodes in a row before {lif!r}; "
                                  "expected one Linear/Affine per path")
            if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
                raise SnnkitError(f"node {name!r}: an Affine bias enters the synaptic current, "
                                  "which snnkit's description cannot express (use the "
                                  "CubaLIF's v_leak)")
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2:
                raise SnnkitError(f"node {name!r}: expected a 2-D (out, in) weight, got shape "
                                  f"{weight.shape}")
        else:  # pragma: no cover - types are checked before
            raise SnnkitError(f"node {name!r}: unexpected {_type(node)} before {lif!r}")
        if len(preds.get(name, [])) != 1:
            raise SnnkitError(f"node {name!r}: expected exactly one input edge, got "
                              f"{len(preds.get(name, []))}")
        name = preds[name][0]
    if weight is None:
        raise SnnkitError(f"node {lif!r}: input from {name!r} without a Linear/Affine weight")
    try:
        delay = np.broadcast_to(np.reshape(d_out, (-1, 1)) if np.ndim(d_out) else d_out,
                                weight.shape) + np.broadcast_to(d_in, weight.shape)
    except ValueError:
        raise SnnkitError(f"node {lif!r}: a Delay's size does not match the weights on the path "
                          f"from {name!r}") from None
    return name, weight, delay.astype(np.int64)


def from_nir(graph: Any, dt: float | None = None) -> NetworkDescription:
    """The description of a NIR graph of the shape :func:`to_nir` writes (module docstring).

    ``dt`` defaults to the graph's metadata ``dt``.  Unsupported node types, nesting and
    shapes are one-line :class:`SnnkitError` naming the node.
    """
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise SnnkitError(f"expected a nir.NIRGraph, got {_type(graph)}")
    for name, node in graph.nodes.items():
        if _type(node) not in SUPPORTED:
            raise SnnkitError(f"node {name!r}: type {_type(node)} is not supported (expected "
                              f"{', '.join(SUPPORTED)})")
    meta_in = dict(graph.metadata or {})
    if dt is None:
        if "dt" not in meta_in:
            raise SnnkitError("graph: no dt in its metadata; pass dt (seconds per step)")
        dt = float(np.asarray(meta_in["dt"]))
    if not dt > 0:
        raise SnnkitError(f"dt: expected > 0 seconds, got {dt}")
    by_type: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        by_type.setdefault(_type(node), []).append(name)
    for kind in ("Input", "Output"):
        if len(by_type.get(kind, [])) != 1:
            raise SnnkitError(f"graph: expected exactly one {kind} node, got "
                              f"{len(by_type.get(kind, []))}")
    preds: dict[str, list[str]] = {}
    for a, b in graph.edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise SnnkitError(f"graph: edge ({a!r}, {b!r}) names the unknown node {end!r}")
        preds.setdefault(b, []).append(a)
    inp, outp = by_type["Input"][0], by_type["Output"][0]

    # every CubaLIF: its feed-forward source, summed weights and delays, recurrent weights
    layers: dict[str, dict[str, Any]] = {}
    for lif in by_type.get("CubaLIF", []):
        ff_src, w, delay, w_rec = None, None, None, None
        for p in preds.get(lif, []):
            src, wp, dp = _trace(graph, preds, p, lif, dt)
            if src == lif:
                if np.any(dp):
                    raise SnnkitError(f"node {p!r}: a delay on the recurrent path of {lif!r} is "
                                      "not supported")
                if wp.shape[0] != wp.shape[1]:
                    raise SnnkitError(f"node {p!r}: recurrent weight must be square, got "
                                      f"{wp.shape}")
                w_rec = wp if w_rec is None else w_rec + wp
                continue
            if ff_src not in (None, src):
                raise SnnkitError(f"node {lif!r}: inputs from both {ff_src!r} and {src!r}; "
                                  "expected one source layer")
            ff_src = src
            if w is None:
                w, delay = wp.copy(), np.where(wp != 0, dp, 0)
            else:
                if wp.shape != w.shape:
                    raise SnnkitError(f"node {p!r}: weight shape {wp.shape} differs from "
                                      f"{w.shape} of the other paths into {lif!r}")
                clash = (wp != 0) & (w != 0) & (dp != delay)
                if np.any(clash):
                    raise SnnkitError(f"node {lif!r}: a synapse appears on two paths with "
                                      "different delays")
                delay = np.where(wp != 0, dp, delay)
                w = w + wp
        if ff_src is None:
            raise SnnkitError(f"node {lif!r}: no feed-forward input")
        layers[lif] = {"src": ff_src, "w": w, "delay": delay, "w_rec": w_rec}

    # the chain input -> lif -> ... -> output
    order, src, seen = [], inp, set()
    while True:
        nxt = [name for name, lay in layers.items() if lay["src"] == src]
        if len(nxt) > 1:
            raise SnnkitError(f"node {src!r}: feeds several CubaLIF nodes ({', '.join(nxt)}); "
                              "expected a chain of layers")
        if not nxt:
            break
        if nxt[0] in seen:
            raise SnnkitError(f"node {nxt[0]!r}: feed-forward cycle")
        seen.add(nxt[0])
        order.append(nxt[0])
        src = nxt[0]
    if not order:
        raise SnnkitError("graph: no CubaLIF layer fed by the Input node")
    if len(order) != len(layers):
        stray = sorted(set(layers) - set(order))
        raise SnnkitError(f"node {stray[0]!r}: not on the chain from {inp!r} to {outp!r}")
    if preds.get(outp) != [order[-1]]:
        raise SnnkitError(f"node {outp!r}: expected one edge from the last CubaLIF "
                          f"{order[-1]!r}, got {preds.get(outp)}")

    n_in = int(np.asarray(graph.nodes[inp].input_type["input"]).prod())
    out_layers = []
    for lif in order:
        node, lay = graph.nodes[lif], layers[lif]
        n_out = int(np.size(node.v_threshold))
        if lay["w"].shape[0] != n_out or (lay["w_rec"] is not None
                                           and lay["w_rec"].shape != (n_out, n_out)):
            raise SnnkitError(f"node {lif!r}: {n_out} neurons, but its input weights have "
                              f"shape {lay['w'].shape}")
        if np.any(np.asarray(node.v_reset) != 0):
            raise SnnkitError(f"node {lif!r}: v_reset must be 0 (snnkit's neuron resets to 0)")
        du = dt / np.asarray(node.tau_syn, dtype=np.float64).ravel()
        dv = dt / np.asarray(node.tau_mem, dtype=np.float64).ravel()
        gain = (dv * np.asarray(node.r, np.float64).ravel() * du
                * np.asarray(node.w_in, np.float64).ravel())
        bias = dv * np.asarray(node.v_leak, np.float64).ravel()
        md = dict(node.metadata or {})
        try:
            neuron = CubaNeuron(_uniform(lif, "tau_syn", du), _uniform(lif, "tau_mem", dv),
                                _uniform(lif, "v_threshold", node.v_threshold))
            layer = DenseLayer(
                weight=gain[:, None] * lay["w"],
                weight_rec=None if lay["w_rec"] is None else gain[:, None] * lay["w_rec"],
                bias=bias if np.any(bias != 0) else None,
                delay=lay["delay"] if np.any(lay["delay"]) else None,
                neuron=neuron, name=str(md.get("snnkit_layer", lif)))
        except SnnkitError as exc:
            raise SnnkitError(f"node {lif!r}: {exc}") from None
        out_layers.append(layer)
    meta: dict[str, object] = {}
    if "snnkit_meta" in meta_in:
        with contextlib.suppress(ValueError):
            stored = json.loads(str(meta_in["snnkit_meta"]))
            meta.update(stored if isinstance(stored, dict) else {})
    meta["nir_dt"] = dt
    dropped = [int(np.asarray(graph.nodes[lif].metadata.get("snnkit_dropped_refractory", 0)))
               for lif in order]
    if any(dropped):
        meta["dropped_refractory"] = dropped
    try:
        return NetworkDescription(n_in, tuple(out_layers), meta)
    except SnnkitError as exc:
        raise SnnkitError(f"graph: {exc}") from None


def write_nir(desc: NetworkDescription, path: str | Path, dt: float = 1e-3, *,
              drop_refractory: bool = False) -> Path:
    """Write the NIR graph of ``desc`` (``nir.write``, HDF5) atomically; returns the path."""
    nir = _nir()
    graph = to_nir(desc, dt, drop_refractory=drop_refractory)
    buf = io.BytesIO()
    nir.write(buf, graph)
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def read_nir_graph(path: str | Path) -> Any:
    """``nir.read`` with one-line errors for missing, foreign or unsupported files."""
    import h5py

    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise SnnkitError(f"{path}: no such file (expected a NIR graph)")
    try:
        with h5py.File(path, "r"):
            pass
    except (OSError, ValueError) as exc:
        why = str(exc).split("(")[0].strip()
        raise SnnkitError(f"{path}: not a readable HDF5 NIR graph ({why})") from None
    try:
        return nir.read(path)
    except (KeyError, ValueError, AssertionError, TypeError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SnnkitError(f"{path}: not a readable NIR graph ({why})") from None


def read_nir(path: str | Path, dt: float | None = None) -> NetworkDescription:
    """The description stored in a NIR file (:func:`read_nir_graph` then :func:`from_nir`)."""
    try:
        return from_nir(read_nir_graph(path), dt)
    except SnnkitError as exc:
        msg = str(exc)
        raise SnnkitError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def without_refractory(desc: NetworkDescription) -> NetworkDescription:
    """A copy of ``desc`` whose neurons have no refractory period (what CUBA/NIR can run)."""
    return replace(desc, layers=tuple(
        replace(layer, neuron=replace(layer.neuron, refractory=0)) for layer in desc.layers))


def _double(module: torch.nn.Module) -> torch.nn.Module:
    """Norse's imported module in float64: ``.double()`` plus the parameter tuples and the
    ``w_in``/``r`` tensors that Norse keeps as plain (unregistered) attributes."""
    module.double()

    def cast(x: Any) -> Any:
        return x.double() if isinstance(x, torch.Tensor) and x.is_floating_point() else x

    for mod in module.modules():
        for attr in ("w_in", "r"):
            if isinstance(getattr(mod, attr, None), torch.Tensor):
                setattr(mod, attr, cast(getattr(mod, attr)))
        p = getattr(mod, "p", None)
        if p is not None and hasattr(p, "_fields"):
            mod.p = type(p)(*(cast(v) for v in p))
    return module


@torch.no_grad()
def run_norse(graph_or_path: Any, spikes: torch.Tensor, *, double: bool = True,
              dt: float | None = None) -> torch.Tensor:
    r"""Output spikes (T, B, n_out) of the graph run by Norse's own NIR importer.

    ``norse.torch.from_nir`` (norse 1.1.0, through the deprecated ``nirtorch.load`` and its
    ``GraphExecutor``) maps ``Linear`` to ``torch.nn.Linear`` and ``CubaLIF`` to
    ``norse.torch.utils.import_nir.CubaLIF``: ``w_in * x`` → ``LIBoxCell`` (synaptic current,
    forward Euler :math:`I \leftarrow I + \tfrac{dt}{\tau_{syn}}(v_{leak} - I + x)`) →
    ``r * I`` → ``LIFBoxCell`` (:math:`v \leftarrow v + \tfrac{dt}{\tau_{mem}}(v_{leak} - v
    + RI)`, spike when :math:`v - v_{th} > 0`, reset to 0 — the node's ``v_reset`` is not
    read).  Both cells start at ``v_leak``, and Norse applies ``v_leak`` to the synaptic
    current as well: a graph with a bias (non-zero ``v_leak``) does not reproduce.  Every
    node runs once per step in the executor's depth-first order; an input from a node not yet
    run this step (the recurrent ``rec_k``) is its output of the previous step.  Batches work
    (states broadcast).  Layer :math:`k` of the result therefore leads the description's
    :func:`~snnkit.hardware.emulator.simulate_float` by :math:`k` steps (module docstring).

    ``double``: cast the imported module to float64 (Norse's importer makes float32 tensors);
    the parameters keep their float32 rounding.  ``dt`` defaults to the graph's metadata.
    """
    nir = _nir()
    graph = graph_or_path if isinstance(graph_or_path, nir.NIRGraph) else read_nir_graph(
        graph_or_path)
    desc = from_nir(graph, dt)  # validates the shape
    if any(layer.delay is not None for layer in desc.layers):
        raise SnnkitError("graph: Norse's NIR importer has no Delay node; cannot run delays")
    step = float(desc.meta["nir_dt"])
    if spikes.ndim != 3 or spikes.shape[2] != desc.n_in:
        raise SnnkitError(f"spikes: expected (T, B, {desc.n_in}), got {tuple(spikes.shape)}")
    with warnings.catch_warnings():  # torch.jit.script and nirtorch.load are deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        import norse.torch as norse

        level = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            module = norse.from_nir(graph, dt=step)
        finally:
            logging.disable(level)
    dtype = torch.float64 if double else torch.float32
    if double:
        module = _double(module)
    x = spikes.to(dtype)
    state, out = None, []
    for t in range(x.shape[0]):
        z, state = module(x[t], state)
        out.append(z)
    return torch.stack(out).to(dtype)
