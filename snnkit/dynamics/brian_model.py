r"""Brian2 objects for a delayed inhibitory LIF network (one builder for every Brian2 target).

Equations, in units of the membrane time constant (t' = t/tau_m)::

    dv_i/dt' = I_i - v_i - g E_i(t')                 threshold v > 1, reset v = 0
    delta pulses:  E_i = (1/K) sum_k delta(t' - t_k - t_d)     (v_i -= g/K per spike)
    alpha pulses:  dE_i/dt' = -a E_i + P_i,  dP_i/dt' = -a P_i,  P_i += a^2/K per spike
                   (a = alpha * tau_m, so each pulse has the kernel a^2 t' e^{-a t'}
                    with unit area and still lowers v by g/K in total)

Implementation choices (each one keeps the generated C++ identical across
parameter values, so that a compiled ``cpp_standalone`` binary is reused through
``run_args``):

* Every run-time parameter is a model variable, never a Python constant:
  ``I`` (per neuron), ``g``, ``tau_m``, ``Kin``, ``t_ref``, the alpha-pulse
  propagators (shared); the delay is a per-synapse variable.
* Every object has a fixed name, so the automatic ``*_codeobject_<n>`` names do
  not depend on what else lives in the process.
* delta pulses: ``method='exact'`` (v <- I + (v - I) e^{-dt/tau_m}).
* alpha pulses: the exact propagator of the linear system (v - I, E, P) over one
  step is computed in NumPy with ``scipy.linalg.expm`` and applied by a
  ``run_regularly`` operation.  Brian2's symbolic ``exact`` solver would divide
  by (a - 1) and fail at alpha * tau_m = 1; the matrix exponential has no such
  degenerate case and lets ``alpha`` change between standalone runs.
* Pulses are delivered in the ``after_resets`` slot: a neuron that fires in the
  step a pulse arrives keeps the pulse (v = -g/K after the reset) instead of
  having it wiped by the reset (reference note §7.5); with t_d = 0 a spike's
  pulses arrive right after the resets of that step, as in the exact
  event-driven model (:mod:`snnkit.dynamics.exact`).
* Global coupling uses a one-neuron hub instead of N^2 synapses: every neuron
  sends its spike to the hub with the delay t_d; the hub counts arrivals, every
  neuron reads the count through a linked variable and receives ``g/N`` per
  arrival (its own spike included, in-degree N).  Memory O(N).
* **Precise reset.**  Brian2 integrates v from t to t + dt in the step it
  labels t and detects the crossing at the end of the step.  Resetting to 0
  there would lose the part of the step after the crossing in every cycle, an
  error that accumulates spike after spike (~dt/2 per ISI).  Instead the time
  elapsed since the crossing, ``lag``, is computed and the reset puts v where
  the free trajectory started at the crossing would be at the end of the step
  (grid-constrained integration with sub-step spike times, Hansel et al.,
  Neural Comput. 10, 467 (1998)).  Between pulses the trajectory is known
  exactly, so for delta pulses

      lag = tau_m ln[(I - 1)/(I - v)],      v <- I (v - 1)/(I - 1),

  both exact; for alpha pulses lag comes from linear interpolation of v over
  the step and the drive mu = I - g E is taken as constant over the lag
  (second-order accurate).  Spike times are reported as t + dt - lag; an
  isolated neuron then fires at exactly its period, and a delayed pulse
  reaches its target at most one dt late, an error that does not accumulate.
* **Pulse weights are per neuron, not per synapse.**  The decay a pulse had
  over its sender's lag (module docstring of :func:`model_code`) depends only
  on the sender, so the reset stores it in a neuron variable (``w``; ``wP``,
  ``wE`` for alpha pulses) and the synapse code only reads ``w_pre``: one
  ``exp`` per spike instead of one per synaptic event (K per spike).  On the
  N = 10,000, K = 100 benchmark network the per-event ``exp`` made the
  ``cpp_standalone`` binary 2.5x slower than a plain Brian2 script.
* **Synapses are stored sorted by source** (:func:`synapse_order`).  Brian2
  delivers the synapses of one spike as a list of synapse indices; sorted by
  source these are consecutive, so the pre/post index arrays are read
  sequentially instead of at K random places (~20-30 % of the binary's CPU
  time at K = 100).  The order only changes the order in which pulses arriving in
  the same step are summed.
* With a refractory period (t_ref > 0) v is clamped at 0 during it; delta
  pulses arriving then are ignored, alpha pulses still feed (E, P) and act on
  v once the period is over.  The reset and the refractory period then start
  on the grid (spike times stay precise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

from snnkit.dynamics.engines._brian2 import b2
from snnkit.dynamics.network import NetworkInstance

#: Bumped whenever the generated model code changes (part of the build-cache key).
MODEL_CODE_VERSION = 4

_DELTA_EQS = """
dv/dt = (I - v)/tau_m : 1 {unless}
lag = tau_m*log((I - 1)/(I - v)) : second
w : 1
I : 1 (constant)
g : 1 (shared, constant)
tau_m : second (shared, constant)
Kin : 1 (shared, constant)
"""

_ALPHA_EQS = """
v : 1
v_old : 1
lag = dt*clip((v - 1)/(v - v_old), 0, 1) : second
wP : 1
wE : 1
E : 1
P : 1
I : 1 (constant)
g : 1 (shared, constant)
tau_m : second (shared, constant)
Kin : 1 (shared, constant)
a : 1 (shared, constant)
p_vv : 1 (shared, constant)
c_E : 1 (shared, constant)
c_P : 1 (shared, constant)
p_EE : 1 (shared, constant)
p_EP : 1 (shared, constant)
"""

_ALPHA_UPDATE = """
v_old = v
v = {gate}(I + p_vv*(v - I) - g*(c_E*E + c_P*P)) + {keep}
E = p_EE*E + p_EP*P
P = p_EE*P
"""


@dataclass(frozen=True)
class ModelCode:
    """The code strings of one network structure (see the module docstring)."""

    equations: str
    reset: str
    synapse_on_pre: str  # sparse: neuron -> neuron; global: neuron -> hub
    hub_equations: str = ""
    hub_pulses: str = ""  # run by every neuron after the resets (global coupling)
    hub_clear: str = ""


def model_code(cfg) -> ModelCode:
    """Equations, reset and pulse code for ``cfg``'s structure.

    A pulse sent by a neuron whose spike happened ``lag`` before the end of
    its step arrives, a whole number of steps later, ``lag`` late; it is
    applied with the decay it would have had (delta: exp(-lag/tau_m), which
    makes the potential after an arrival exact; alpha: the exact (E, P) state
    lag after a jump, neglecting the pulse's effect on v during that lag, a
    relative error ~ (a lag/tau_m)^2/2 of one pulse).  That decay depends only
    on the sender, so the reset computes it once per spike into the sender's
    ``w`` (alpha: ``wP`` = exp(-a lag/tau_m), ``wE`` = (lag/tau_m) wP), from
    the pre-reset v, and every synapse reads ``w_pre``.  ``w`` is read at
    delivery and belongs to the sender's latest spike, so the weighting is
    exact when t_d + dt is shorter than the shortest inter-spike interval
    tau_m ln[I_high/(I_high - 1)], and a first-order approximation otherwise.
    """
    refractory = cfg.t_ref > 0
    gate = "int(not_refractory)*" if refractory else ""
    if cfg.pulse == "delta":
        eqs = _DELTA_EQS.format(unless="(unless refractory)" if refractory else "")
        weights = "w = exp(-lag/tau_m)"
        reset = "v = 0" if refractory else "v = I*(v - 1)/(I - 1)"
        gate_post = "int(not_refractory_post)*" if refractory else ""
        sparse_pre = f"v_post -= {gate_post}g_post/Kin_post*w_pre"
        hub_eqs, hub_pre = "n : 1", "n_post += w_pre"
        hub_pulses, hub_clear, links = f"v -= {gate}g/Kin*n_hub", "n = 0", "n_hub : 1 (linked)\n"
    else:
        eqs = _ALPHA_EQS
        weights = "wP = exp(-a*lag/tau_m)\nwE = lag/tau_m*wP"
        reset = "v = 0" if refractory else "v = (I - g*E)*(1 - exp(-lag/tau_m))"
        sparse_pre = ("P_post += a_post**2/Kin_post*wP_pre\n"
                      "E_post += a_post**2/Kin_post*wE_pre")
        hub_eqs = "nP : 1\nnE : 1"
        hub_pre = "nP_post += wP_pre\nnE_post += wE_pre"
        hub_pulses = "P += a**2/Kin*nP_hub\nE += a**2/Kin*nE_hub"
        hub_clear = "nP = 0\nnE = 0"
        links = "nP_hub : 1 (linked)\nnE_hub : 1 (linked)\n"
    if refractory:
        eqs += "t_ref : second (shared, constant)\n"
    # the weights first: lag is a function of v, which the reset then changes
    reset = weights + "\n" + reset
    if cfg.coupling == "sparse":
        return ModelCode(eqs, reset, sparse_pre)
    return ModelCode(eqs + links, reset, hub_pre, hub_eqs, hub_pulses, hub_clear)


def synapse_order(pre: np.ndarray) -> np.ndarray:
    """Permutation that sorts the synapses by source (stable: by target within a source).

    Brian2's spike queue delivers the synapses of a spike as a list of synapse
    indices and the pulse code reads ``_synaptic_pre[idx]`` and
    ``_synaptic_post[idx]``.  With the synapses sorted by target (the order of
    :func:`snnkit.dynamics.network.fixed_indegree`) the K synapses of one spike
    lie at K random places of these N K-element arrays, one cache miss each;
    sorted by source they are consecutive.  Measured on the N = 10,000,
    K = 100 benchmark network: 0.47 -> 0.33 CPU s for a plain Brian2 binary.
    """
    return np.argsort(pre, kind="stable")


def alpha_propagator(alpha_tm: float, dt_tm: float) -> dict[str, float]:
    """Exact one-step propagator of (u = v - I, E, P) for alpha pulses, with g = 1.

    The state obeys d/dt' (u, E, P) = A (u, E, P) with
    A = [[-1, -1, 0], [0, -a, 1], [0, 0, -a]] (the -1 in A[0, 1] is -g with g
    factored out), so one step is exp(A dt'):  u <- p_vv u - g (c_E E + c_P P),
    E <- p_EE E + p_EP P, P <- p_EE P.
    """
    A = np.array([[-1.0, -1.0, 0.0], [0.0, -alpha_tm, 1.0], [0.0, 0.0, -alpha_tm]])
    M = expm(A * dt_tm)
    return {
        "p_vv": float(M[0, 0]),
        "c_E": float(-M[0, 1]),
        "c_P": float(-M[0, 2]),
        "p_EE": float(M[1, 1]),
        "p_EP": float(M[1, 2]),
    }


@dataclass
class BrianNetwork:
    """Handles on the Brian2 objects of one network (what run_args address)."""

    net: b2.Network
    neurons: b2.NeuronGroup
    synapses: b2.Synapses  # sparse synapses, or the neuron -> hub synapses
    spikes: b2.SpikeMonitor
    runs: list[tuple[float, bool]] = field(default_factory=list)  # (ms, monitor active)


def runtime_values(inst: NetworkInstance) -> dict[str, float | np.ndarray]:
    """Values of every run-time variable of the neuron group (SI units for times)."""
    cfg = inst.config
    values: dict[str, float | np.ndarray] = {
        "I": inst.I.astype(float),
        "v": inst.v0.astype(float),
        "g": float(cfg.g),
        "tau_m": cfg.tau_m * 1e-3,
        "Kin": float(cfg.in_degree),
    }
    if cfg.t_ref > 0:
        values["t_ref"] = cfg.t_ref * 1e-3
    if cfg.pulse == "alpha":
        a = cfg.alpha * cfg.tau_m
        values["a"] = a
        values.update(alpha_propagator(a, cfg.dt / cfg.tau_m))
    return values


#: What the standalone binary prints to stdout, with the model time in seconds.
PROGRESS_MARK = "snnkit-progress"
#: Progress marks per run (over transient + window), see :func:`_progress_printer`.
PROGRESS_MARKS = 200

_PROGRESS_CPP = """
double snnkit_progress(const double t, const double period)
{
    static double next_t = 0.0;
    if (t >= next_t) {
        std::printf("MARK %.9g\\n", t);
        std::fflush(stdout);
        next_t = t + period;
    }
    return 0.0;
}
""".replace("MARK", PROGRESS_MARK)


def _progress_printer(total_ms: float) -> list[object]:
    """A one-element group that prints ``snnkit-progress <t>`` every 1/200 of the run.

    Used by the ``cpp_standalone`` engine instead of Brian2's ``report='text'``:
    Brian2's report calls ``std::clock()`` (a system call) before every object
    in every step (~80 ms per 30,000 steps); this group costs one function call
    per step and 200 short writes (no measurable difference on the N = 10,000
    benchmark run), so it is compiled into every build.
    """
    func = b2.Function(lambda t, period: 0.0, arg_units=[b2.second, b2.second],
                       return_unit=1, arg_names=["t", "period"])
    func.implementations.add_implementation("cpp", _PROGRESS_CPP, name="snnkit_progress",
                                            compiler_kwds={"headers": ["<cstdio>"]})
    group = b2.NeuronGroup(1, "x : 1\nperiod : second (shared, constant)", name="progress",
                           namespace={"snnkit_progress": func})
    group.period = total_ms / PROGRESS_MARKS * b2.ms
    group.run_regularly("x = snnkit_progress(t, period)", when="end", name="progress_print")
    return [group]


def create_and_run(inst: NetworkInstance, report: object = None, report_period: float = 1.0,
                   before_run: object = None, progress_marks: bool = False) -> BrianNetwork:
    """Create the Brian2 objects for ``inst`` on the active device and run them.

    In runtime mode (numpy, cython) this simulates; in standalone mode it only
    records the runs for the later ``device.build``/``device.run``.

    ``report`` is passed to :meth:`brian2.Network.run` (a callable in runtime
    mode).  ``progress_marks`` (standalone only) adds the cheap progress
    printer of :func:`_progress_printer` instead.  ``before_run`` (a callable)
    is invoked once the objects exist and before the first ``run`` call: the
    standalone engine uses it to place ``device.apply_run_args()`` after the
    synapses and their delays are created and before the spike queues are
    prepared, which is what lets ``run_args`` change delays (reference note
    §7.3).
    """
    cfg = inst.config
    N = cfg.N
    b2.defaultclock.dt = cfg.dt * b2.ms
    code = model_code(cfg)
    kwargs = dict(threshold="v > 1", reset=code.reset, name="neurons")
    if cfg.t_ref > 0:
        kwargs["refractory"] = "t_ref"
    if cfg.pulse == "delta":
        kwargs["method"] = "exact"
    G = b2.NeuronGroup(N, code.equations, **kwargs)
    objects: list[object] = [G]
    if cfg.pulse == "alpha":
        refractory = cfg.t_ref > 0
        update = _ALPHA_UPDATE.format(gate="int(not_refractory)*" if refractory else "",
                                      keep="(1 - int(not_refractory))*v" if refractory else "0")
        G.run_regularly(update, when="groups", name="alpha_update")
    if cfg.coupling == "sparse":
        S = b2.Synapses(G, G, on_pre=code.synapse_on_pre, name="synapses")
        order = synapse_order(inst.pre)
        S.connect(i=inst.pre[order], j=inst.post[order])
        objects.append(S)
    else:
        hub = b2.NeuronGroup(1, code.hub_equations, name="hub")
        for var in code.hub_equations.replace(" : 1", "").split("\n"):
            setattr(G, f"{var}_hub", b2.linked_var(hub, var, index=np.zeros(N, dtype=int)))
        S = b2.Synapses(G, hub, on_pre=code.synapse_on_pre, name="synapses")
        S.connect(i=np.arange(N), j=np.zeros(N, dtype=np.int64))
        G.run_regularly(code.hub_pulses, when="after_resets", order=1, name="hub_pulses")
        hub.run_regularly(code.hub_clear, when="end", name="hub_clear")
        objects += [hub, S]
    S.delay = cfg.delay * b2.ms
    S.pre.when = "after_resets"
    S.pre.order = 0

    for key, value in runtime_values(inst).items():
        setattr(G, key, value * b2.second if key in ("tau_m", "t_ref") else value)

    M = b2.SpikeMonitor(G, variables=["lag"], name="spikes")
    objects.append(M)
    if progress_marks:
        objects += _progress_printer(cfg.transient + cfg.duration)
    net = b2.Network(*objects, name="network")
    if before_run is not None:
        before_run()
    bn = BrianNetwork(net, G, S, M)
    every = report_period * b2.second
    if cfg.transient > 0:
        M.active = False
        net.run(cfg.transient * b2.ms, report=report, report_period=every)
        bn.runs.append((cfg.transient, False))
        M.active = True
    net.run(cfg.duration * b2.ms, report=report, report_period=every)
    bn.runs.append((cfg.duration, True))
    return bn
