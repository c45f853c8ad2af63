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
MODEL_CODE_VERSION = 3

_DELTA_EQS = """
dv/dt = (I - v)/tau_m : 1 {unless}
lag = tau_m*log((I - 1)/(I - v)) : second
lag_s : second
I : 1 (constant)
g : 1 (shared, constant)
tau_m : second (shared, constant)
Kin : 1 (shared, constant)
"""

_ALPHA_EQS = """
v : 1
v_old : 1
lag = dt*clip((v - 1)/(v - v_old), 0, 1) : second
lag_s : second
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

    A pulse sent by a neuron whose spike happened ``lag_s`` before the end of
    its step arrives, a whole number of steps later, ``lag_s`` late; it is
    applied with the decay it would have had (delta: exp(-lag_s/tau_m), which
    makes the potential after an arrival exact; alpha: the exact (E, P) state
    lag_s after a jump, neglecting the pulse's effect on v during those lag_s,
    a relative error ~ (a lag_s/tau_m)^2/2 of one pulse).  ``lag_s`` is read at
    delivery and belongs to the sender's latest spike, so the weighting is
    exact when t_d + dt is shorter than the shortest inter-spike interval
    tau_m ln[I_high/(I_high - 1)], and a first-order approximation otherwise.
    """
    refractory = cfg.t_ref > 0
    gate = "int(not_refractory)*" if refractory else ""
    lag_tm = "lag_s_pre/tau_m_pre"
    if cfg.pulse == "delta":
        eqs = _DELTA_EQS.format(unless="(unless refractory)" if refractory else "")
        reset = "v = 0" if refractory else "v = I*(v - 1)/(I - 1)"
        weight = f"exp(-{lag_tm})"
        gate_post = "int(not_refractory_post)*" if refractory else ""
        sparse_pre = f"v_post -= {gate_post}g_post/Kin_post*{weight}"
        hub_eqs, hub_pre = "n : 1", f"n_post += {weight}"
        hub_pulses, hub_clear, links = f"v -= {gate}g/Kin*n_hub", "n = 0", "n_hub : 1 (linked)\n"
    else:
        eqs = _ALPHA_EQS
        reset = "v = 0" if refractory else "v = (I - g*E)*(1 - exp(-lag/tau_m))"
        decay = f"exp(-a_pre*{lag_tm})"
        sparse_pre = (f"P_post += a_post**2/Kin_post*exp(-a_post*{lag_tm})\n"
                      f"E_post += a_post**2/Kin_post*{lag_tm}*exp(-a_post*{lag_tm})")
        hub_eqs = "nP : 1\nnE : 1"
        hub_pre = f"nP_post += {decay}\nnE_post += {lag_tm}*{decay}"
        hub_pulses = "P += a**2/Kin*nP_hub\nE += a**2/Kin*nE_hub"
        hub_clear = "nP = 0\nnE = 0"
        links = "nP_hub : 1 (linked)\nnE_hub : 1 (linked)\n"
    if refractory:
        eqs += "t_ref : second (shared, constant)\n"
    reset = "lag_s = lag\n" + reset
    if cfg.coupling == "sparse":
        return ModelCode(eqs, reset, sparse_pre)
    return ModelCode(eqs + links, reset, hub_pre, hub_eqs, hub_pulses, hub_clear)


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


def create_and_run(inst: NetworkInstance, report: object = None, report_period: float = 1.0,
                   before_run: object = None) -> BrianNetwork:
    """Create the Brian2 objects for ``inst`` on the active device and run them.

    In runtime mode (numpy, cython) this simulates; in standalone mode it only
    records the runs for the later ``device.build``/``device.run``.

    ``report`` is passed to :meth:`brian2.Network.run` (a callable in runtime
    mode, ``'text'`` in standalone mode).  ``before_run`` (a callable) is invoked
    once the objects exist and before the first ``run`` call: the standalone
    engine uses it to place ``device.apply_run_args()`` after the synapses and
    their delays are created and before the spike queues are prepared, which
    is what lets ``run_args`` change delays (reference note §7.3).
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
        S.connect(i=inst.pre, j=inst.post)
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
    net = b2.Network(*objects, name="network")
    if before_run is not None:
        before_run()
    bn = BrianNetwork(net, G, S, M)
    period = report_period * b2.second
    if cfg.transient > 0:
        M.active = False
        net.run(cfg.transient * b2.ms, report=report, report_period=period)
        bn.runs.append((cfg.transient, False))
        M.active = True
    net.run(cfg.duration * b2.ms, report=report, report_period=period)
    bn.runs.append((cfg.duration, True))
    return bn
