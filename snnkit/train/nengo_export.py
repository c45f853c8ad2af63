r"""Run a trained (hybrid-spiking) LMU of :mod:`snnkit.train.lmu_trainer` in nengo and nengo-dl.

**Mapping** (:func:`to_nengo`; the sequential ``kind = "lmu"`` model, memory_size S, order d,
hidden H, one input channel per step):

=====================  =========================================================================
snnkit (torch)          nengo
=====================  =========================================================================
input :math:`x_t`       ``net.input``: a ``nengo.Node`` (no input) that outputs :math:`x_t` at
                        step t (:class:`SequenceInput`; nengo-dl feeds it batched data instead)
:math:`u_t`             ``net.u``: a pass-through ``nengo.Node(size_in=S)``
memory :math:`m_t`      ``net.m``: a pass-through ``nengo.Node(size_in=S·d)`` with the
                        connections ``u → m`` (:math:`I_S \otimes \bar B`, ``synapse=None``) and
                        ``m → m`` (:math:`I_S \otimes \bar A`, ``synapse=0``): the discrete
                        linear system itself, as matrix products of float64 signals
hidden :math:`h_t`      ``net.h``: an Ensemble of H neurons, gain 1, bias 0, driven on
                        ``.neurons``; spiking: ``nengo.RegularSpiking(base, amplitude=a)``
                        with simulator ``dt`` = the quantizer's ``dt`` and the initial
                        ``voltage`` = the quantizer's :math:`v_0`; non-spiking: the base rate
                        neuron itself (its output times a, folded into the outgoing weights)
base rate f             ``tanh`` → ``nengo.Tanh(tau_ref=1)`` (rate :math:`\tanh J`), ``relu`` →
                        ``nengo.RectifiedLinear()``; ``identity`` is not mapped
readout                 ``net.output``: ``nengo.Node(size_in=10)`` fed by ``h.neurons`` (W,
                        ``synapse=None``) and a constant ``nengo.Node`` (the bias); probed
                        (``net.probe``); the class is the argmax at the last step
=====================  =========================================================================

**Timing.**  In nengo a connection with ``synapse=None`` is instantaneous (same step) and
``synapse=0`` (``Lowpass(0)``: one state, no pass-through) is an *update* operator whose output at
step t is its input of step t−1 (zero at step 1), i.e. an exact one-step delay; a loop of
``synapse=None`` connections is refused by nengo's op graph, so every loop holds one
``synapse=0``.  With these, simulator step t (t = 1..T) computes exactly torch's step:

* ``x → u`` (e_x, None), ``h.neurons → u`` (e_h, 0), ``m → u`` (e_m, 0):
  :math:`u_t = e_x x_t + e_h h_{t-1} + e_m m_{t-1}`;
* ``u → m`` (:math:`\bar B`, None), ``m → m`` (:math:`\bar A`, 0):
  :math:`m_t = \bar A m_{t-1} + \bar B u_t`;
* ``x → h.neurons`` (W_x, None), ``m → h.neurons`` (W_m, None), ``h.neurons → h.neurons``
  (W_h, 0): :math:`J_t = W_x x_t + W_h h_{t-1} + W_m m_t`, :math:`h_t = \mathrm{neuron}(J_t)`;
* ``h.neurons → output`` (W, None) + bias: the logits of :math:`h_t`, read at t = T.

:math:`h_0 = m_0 = 0` (the delayed signals start at zero) as in
:meth:`snnkit.train.lmu.LMUCell.initial_state`.  ``nengo.RegularSpiking`` does
:math:`v \mathrel{+}= dt\,f(J)`, :math:`n = \lfloor v\rfloor`, :math:`v \mathrel{-}= n`, output
:math:`a n/dt`: the quantizer's recursion.  The memory is a pass-through Node with a ``synapse=0``
self-connection rather than a ``nengo.LinearFilter``: nengo's LinearFilter is single-input
single-output per dimension (a transfer function), and the d-th order transfer functions of
:math:`(\bar A, \bar B)` are numerically ill-conditioned for d in the hundreds, while the matrix
form computes the same products as torch.  A stateful Python Node would also be exact in nengo,
but nengo-dl runs Python nodes once per minibatch element, which breaks a shared state.

**Reset.**  Each sequence starts from the initial state: :func:`predict_nengo` with
``backend="nengo"`` runs one ``nengo.Simulator`` and calls ``sim.reset()`` before every sequence
(memory, delays and neuron voltages back to their initial values); with ``backend="nengo_dl"``
``sim.predict`` runs every minibatch from the initial state (``stateful=False``).  A quantizer
with ``initial = "uniform"`` draws :math:`v_0` of the shape of its batch (B, H) from its seed, so
in torch a sequence's :math:`v_0` depends on its row in the batch; nengo gives every sequence the
:math:`v_0` of a batch of one (row 0), i.e. it equals torch run one sequence at a time
(``initial = "zeros"``, the shipped configs, has no such dependence).

**Exactness.**  The products are float64 in nengo (float32 in torch) and torch rounds the drive
:math:`dt\,f(J)` to the quantizer's :math:`2^{-24}` grid (:mod:`snnkit.train.quantize`): spike
counts can differ only when a voltage lands within ~1e-7 of an integer, which the tests measure
(nengo-dl is run in float64 too).  The parallel LMU (``kind = "parallel"``) is not mapped.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnkit.errors import SnnkitError

INSTALL = "pip install 'snnkit[nengo]'"
BACKENDS = ("nengo", "nengo_dl")
SUPPORTED = ("kind = 'lmu' (sequential LMU, any e_h/e_m/W_x/W_h, memory_size >= 1) with a tanh "
             "or relu hidden layer, spiking (sigma-delta quantizer) or not")


def import_nengo() -> Any:
    """nengo, or a one-line :class:`SnnkitError` with the install command."""
    try:
        import nengo
    except ImportError as exc:
        raise SnnkitError(f"nengo is not installed ({exc}); install it with: {INSTALL}") from None
    return nengo


def _keras_shim() -> None:
    """Make keras 2.15 look like the keras 2.11 nengo-dl 3.6.0 imports (in memory only)."""
    import keras
    import keras.layers

    if "keras.engine.functional" in sys.modules or importlib.util.find_spec("keras.engine"):
        return  # already shimmed, or keras <= 2.12 (nothing to do)
    import keras.src.engine as engine
    import keras.src.engine.functional as functional
    from keras.src.layers.normalization import batch_normalization as bn
    from keras.src.layers.normalization import batch_normalization_v1 as bn1

    sys.modules.setdefault("keras.engine", engine)
    sys.modules.setdefault("keras.engine.functional", functional)
    if not hasattr(keras.layers, "BatchNormalizationV1"):
        keras.layers.BatchNormalizationV1 = bn1.BatchNormalization
    if not hasattr(keras.layers, "BatchNormalizationV2"):
        keras.layers.BatchNormalizationV2 = bn.BatchNormalization


def import_nengo_dl() -> Any:
    """nengo_dl after the keras import shim; a one-line :class:`SnnkitError` if missing."""
    import_nengo()
    log_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    try:
        _keras_shim()
        with warnings.catch_warnings():  # "not been tested with your Nengo version (4.1.0)"
            warnings.filterwarnings("ignore", "This version of NengoDL", UserWarning)
            import nengo_dl
    except ImportError as exc:
        raise SnnkitError(f"nengo-dl (with tensorflow 2.15.1) is not importable ({exc}); "
                          f"install it with: {INSTALL}") from None
    finally:  # nengo_dl sets TF_CPP_MIN_LOG_LEVEL = 1 for the whole process at import
        if log_level is not None:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = log_level
    return nengo_dl


class SequenceInput:
    """Node output for nengo: :math:`x_t` of the current sequence at step t (zeros after T).

    ``set(x)`` with x (T, input_size) selects the sequence; picklable.
    """

    def __init__(self, size: int, dt: float):
        self.size = size
        self.dt = dt
        self.x = np.zeros((0, size))

    def set(self, x: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=np.float64).reshape(-1, self.size)

    def __call__(self, t: float) -> np.ndarray:
        step = round(float(t) / self.dt) - 1
        return self.x[step] if 0 <= step < len(self.x) else np.zeros(self.size)


def _net_parts(model: Any) -> dict[str, Any]:
    """Weights (float64 numpy) and neuron settings of an LMUNet, or a one-line error."""
    from snnkit.train.lmu import LMU

    if isinstance(model, str | Path):
        from snnkit.train.lmu_trainer import load_lmu_model

        model = load_lmu_model(model)[0]
    core = getattr(model, "core", None)
    readout = getattr(model, "readout", None)
    if not isinstance(core, LMU) or not isinstance(readout, torch.nn.Linear):
        kind = type(core if core is not None else model).__name__
        raise SnnkitError(f"nengo export: unsupported model ({kind}); supported: {SUPPORTED}")
    cell = core.cell
    q = getattr(model, "quantizer", None)
    act = q.activation if q is not None else cell.nonlinearity
    names = {torch.tanh: "tanh", torch.relu: "relu"}
    base = names.get(act)
    if base is None:
        raise SnnkitError(f"nengo export: unsupported hidden nonlinearity {act!r}; "
                          f"supported: {SUPPORTED}")

    def arr(p: torch.Tensor | None) -> np.ndarray | None:
        return None if p is None else p.detach().cpu().double().numpy()

    S, d = cell.memory_size, cell.memory.order
    abar, bbar = arr(cell.memory.abar), arr(cell.memory.bbar)
    parts = {
        "input_size": cell.input_size, "hidden": cell.hidden_size, "S": S, "d": d,
        "e_x": arr(cell.e_x), "e_h": arr(cell.e_h), "e_m": arr(cell.e_m),
        "W_x": arr(cell.W_x), "W_h": arr(cell.W_h), "W_m": arr(cell.W_m),
        "A": np.kron(np.eye(S), abar), "B": np.kron(np.eye(S), bbar[:, None]),
        "W_out": arr(readout.weight), "b_out": arr(readout.bias)
        if readout.bias is not None else np.zeros(readout.out_features),
        "base": base, "spiking": bool(q is not None and q.spiking),
        "amplitude": float(q.amplitude) if q is not None else 1.0,
        "dt": float(q.dt) if q is not None and q.spiking else 1.0,
        "v0": None,
    }
    if parts["spiking"]:
        parts["v0"] = q.initial_state(torch.zeros(cell.hidden_size)).numpy()
    return parts


def _build(parts: dict[str, Any]) -> Any:
    nengo = import_nengo()
    H, S, d, n_in = parts["hidden"], parts["S"], parts["d"], parts["input_size"]
    base = nengo.Tanh(tau_ref=1.0) if parts["base"] == "tanh" else nengo.RectifiedLinear()
    a = parts["amplitude"]
    if parts["spiking"]:
        neuron = nengo.RegularSpiking(base, amplitude=a,
                                      initial_state={"voltage": parts["v0"]})
        out_scale = 1.0  # the spikes carry a / dt
    else:
        neuron, out_scale = base, a  # h = a·f(J): a folded into every weight leaving h
    net = nengo.Network(label="snnkit LMU")
    with net:
        net.config[nengo.Connection].synapse = None
        net.input = nengo.Node(SequenceInput(n_in, parts["dt"]), size_out=n_in, label="x")
        net.u = nengo.Node(size_in=S, label="u")
        net.m = nengo.Node(size_in=S * d, label="m")
        net.h = nengo.Ensemble(H, 1, neuron_type=neuron, gain=np.ones(H), bias=np.zeros(H),
                               label="h")
        net.output = nengo.Node(size_in=len(parts["b_out"]), label="logits")
        net.bias = nengo.Node(parts["b_out"], label="readout bias")
        hn = net.h.neurons
        nengo.Connection(net.input, net.u, transform=parts["e_x"])
        if parts["e_h"] is not None:
            nengo.Connection(hn, net.u, transform=parts["e_h"] * out_scale, synapse=0)
        if parts["e_m"] is not None:
            nengo.Connection(net.m, net.u, transform=parts["e_m"], synapse=0)
        nengo.Connection(net.u, net.m, transform=parts["B"])
        nengo.Connection(net.m, net.m, transform=parts["A"], synapse=0)
        nengo.Connection(net.input, hn, transform=parts["W_x"])
        nengo.Connection(net.m, hn, transform=parts["W_m"])
        nengo.Connection(hn, hn, transform=parts["W_h"] * out_scale, synapse=0)
        nengo.Connection(hn, net.output, transform=parts["W_out"] * out_scale)
        nengo.Connection(net.bias, net.output)
        net.probe = nengo.Probe(net.output, synapse=None)
        net.spikes = nengo.Probe(hn, synapse=None)
    net.snnkit_dt = parts["dt"]
    net.snnkit_spiking = parts["spiking"]
    net.snnkit_amplitude = a
    return net


def to_nengo(model: Any) -> Any:
    """A ``nengo.Network`` computing the LMU model (an ``LMUNet`` or a model file path).

    Attributes: ``input`` (Node), ``u``, ``m`` (Nodes), ``h`` (Ensemble), ``output`` (Node of
    the logits), ``probe`` (on ``output``), ``spikes`` (on ``h.neurons``: a·n/dt when spiking),
    ``snnkit_dt`` (the simulator dt to use).  Mapping and timing: module docstring.
    """
    return _build(_net_parts(model))


def _as_sequences(sequences: Any) -> np.ndarray:
    x = sequences.detach().cpu().numpy() if isinstance(sequences, torch.Tensor) else sequences
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise SnnkitError(f"sequences: expected time-major (T, B, features), got {x.shape}")
    return x


def run_nengo(model: Any, sequences: Any, backend: str = "nengo", batch: int = 50,
              spikes: bool = False) -> dict[str, np.ndarray]:
    """Logits (B, classes) of time-major ``sequences`` (T, B, F) and, with ``spikes``, the
    hidden spike counts (T, B, H) (outputs ·dt/a; the outputs themselves when not spiking)."""
    if backend not in BACKENDS:
        raise SnnkitError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    net = model if hasattr(model, "snnkit_dt") else to_nengo(model)
    x = _as_sequences(sequences)
    T, n_seq, _ = x.shape
    dt = net.snnkit_dt
    scale = dt / net.snnkit_amplitude if net.snnkit_spiking else 1.0
    logits, counts = [], []
    if backend == "nengo":
        nengo = import_nengo()
        with nengo.Simulator(net, dt=dt, progress_bar=False, optimize=False) as sim:
            for b in range(n_seq):
                sim.reset()
                net.input.output.set(x[:, b])
                sim.run_steps(T)
                logits.append(sim.data[net.probe][T - 1])
                if spikes:
                    counts.append(sim.data[net.spikes][:T] * scale)
        out = {"logits": np.stack(logits)}
        if spikes:
            out["counts"] = np.stack(counts, axis=1)
        return out
    nengo_dl = import_nengo_dl()
    batch = max(1, min(int(batch), n_seq))
    pad = -n_seq % batch
    data = np.concatenate([x.transpose(1, 0, 2), np.zeros((pad, T, x.shape[2]))])
    with net:
        nengo_dl.configure_settings(dtype="float64", stateful=False, inference_only=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No GPU support detected", UserWarning)
        sim = nengo_dl.Simulator(net, dt=dt, minibatch_size=batch, progress_bar=False)
    with sim:
        res = sim.predict({net.input: data}, n_steps=T, verbose=0)
    out = {"logits": res[net.probe][:n_seq, T - 1]}
    if spikes:
        out["counts"] = (res[net.spikes][:n_seq] * scale).transpose(1, 0, 2)
    return out


def predict_nengo(model: Any, sequences: Any, backend: str = "nengo", batch: int = 50
                  ) -> np.ndarray:
    """Predicted classes (B,) of time-major ``sequences`` (T, B, F) run in nengo or nengo-dl
    (``batch`` = nengo-dl's ``minibatch_size``; nengo runs one sequence at a time)."""
    return run_nengo(model, sequences, backend, batch)["logits"].argmax(1)


def export_nengo(model: Any, out: str | Path) -> dict[str, Any]:
    """Pickle the ``nengo.Network`` of ``model`` to ``out``; returns a short description."""
    net = to_nengo(model)
    out = Path(out)
    try:
        payload = pickle.dumps(net)
    except Exception as exc:  # nengo objects are picklable; a custom callable may not be
        raise SnnkitError(f"nengo export: the network is not picklable ({exc})") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(payload)
    except OSError as exc:
        raise SnnkitError(f"--out: cannot write {out} ({exc.strerror})") from None
    return {"out": str(out), "format": "nengo", "dt": net.snnkit_dt,
            "spiking": net.snnkit_spiking, "neurons": net.h.n_neurons,
            "neuron_type": str(net.h.neuron_type), "bytes": len(payload),
            "load": "pickle.load(open(out, 'rb')); run with nengo.Simulator(net, dt=net.snnkit_dt)"}
