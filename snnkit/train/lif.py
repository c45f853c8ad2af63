r"""The discrete LIF neuron of ST-RSBP, run on Norse's LIF step function.

The paper's neuron (official code, ``g_Spiking_feedforward``), one step per "ms",
for every neuron at step :math:`t = 1..T`, in this order:

.. math::

    \epsilon &\leftarrow \epsilon\,(1 - 1/\tau_s) + I[t-1]
        \qquad I[t-1] = \textstyle\sum_j w_{ij} s_j[t-1]  \ \text{(one-step delay)}\\
    v &\leftarrow v\,(1 - 1/\tau_m) + \epsilon/\tau_s \\
    v &\leftarrow 0 \ \text{if the refractory counter } c > 0 \ (c \leftarrow c - 1)\\
    s[t] &= [v > V_{th} - 10^{-6}], \qquad \text{on a spike } v \leftarrow 0,\ c \leftarrow n_{ref}

with :math:`\epsilon = v = c = 0` at :math:`t = 0`.

Norse's ``lif_feed_forward_step`` (norse 1.1, ``dt = 1``, ``v_leak = v_reset = 0``) does
``i ← i + x``, ``v ← v + (−v + i)/τ_m``, spike on ``v > v_th``, reset, ``i ← i (1 − 1/τ_s)``.
With Norse's current :math:`i = (\tau_m/\tau_s)\,\epsilon` (after decay) the two agree when
Norse is fed :math:`x[t] = (\tau_m/\tau_s)\,I[t-1]` at step :math:`t`, i.e. the input current
scaled by :data:`current_gain` and delayed one step.  Refractoriness, which Norse's feed-forward
step lacks, is added around it: a refractory neuron's spike is cleared and its membrane set
to 0 after the step (:func:`lif_step`; under BPTT both masks also stop its surrogate
gradient).  ``tests/test_train_lif_spsp.py`` checks that this equals :func:`reference_lif` (a
direct loop over the paper's equations) spike for spike.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
from norse.torch.functional.lif import LIFFeedForwardState, LIFParameters, lif_feed_forward_step

#: The paper's threshold tolerance: a neuron fires on v > V_th - 1e-6.
THRESHOLD_EPS = 1e-6


class NeuronParams(NamedTuple):
    """Time constants (steps), threshold and refractory steps of one layer."""

    tau_m: float = 64.0
    tau_s: float = 8.0
    v_th: float = 20.0
    refractory: int = 2

    @property
    def current_gain(self) -> float:
        """Factor τ_m/τ_s from the paper's ε/τ_s drive to Norse's i/τ_m drive."""
        return self.tau_m / self.tau_s

    def norse(self, method: str = "super", alpha: float = 100.0) -> LIFParameters:
        """Norse parameters: dt = 1, rest and reset at 0, threshold with the paper's tolerance.

        The fields are plain Python floats, not the 0-d tensors of Norse's defaults: Norse's
        step then folds ``dt * tau_mem_inv`` into one scalar instead of running a tensor op per
        step (in float32 the values, and every spike, are the same as with the tensors).
        """
        return LIFParameters(
            tau_syn_inv=1.0 / self.tau_s,
            tau_mem_inv=1.0 / self.tau_m,
            v_leak=0.0,
            v_th=self.v_th - THRESHOLD_EPS,
            v_reset=0.0,
            method=method,
            alpha=alpha,
        )


class LIFState(NamedTuple):
    """Norse's (v, i) plus the refractory counter (steps left, float like v)."""

    v: torch.Tensor
    i: torch.Tensor
    refrac: torch.Tensor


def initial_state(shape: tuple[int, ...], device: torch.device | str | None = None,
                  dtype: torch.dtype = torch.float32) -> LIFState:
    zeros = torch.zeros(shape, device=device, dtype=dtype)
    return LIFState(zeros, zeros.clone(), zeros.clone())


def lif_step(x: torch.Tensor, state: LIFState, params: NeuronParams,
             norse_params: LIFParameters, detach_reset: bool = False
             ) -> tuple[torch.Tensor, LIFState]:
    r"""One step: Norse's LIF step with the refractory clamp around it.

    ``x`` is Norse's input current of this step, i.e. ``current_gain ×`` the paper's
    input of the previous step.  Differentiable through Norse's surrogate when
    ``norse_params.method`` has one (BPTT); ST-RSBP calls it under ``no_grad``.

    ``detach_reset`` (BPTT) stops the gradient through the reset, as Norse's recurrent
    ``lif_step`` does (``v ← (1 − z̄) v_decayed`` with :math:`\bar z` detached) and its
    feed-forward step does not: the reset's term :math:`\partial v/\partial z = -v` (≈ −V_th
    at every spike) multiplies through the time steps and makes BPTT's gradients overflow in
    a 400-step, 400-neuron layer.  Done by adding :math:`(z - \bar z)\,v_{decayed}` (zero in
    value, :math:`+v_{decayed}` in gradient) with Norse's own :math:`v_{decayed}`; the values
    and spikes are unchanged.
    """
    z, new = lif_feed_forward_step(x, LIFFeedForwardState(state.v, state.i), norse_params,
                                   dt=1.0)
    v = new.v
    if detach_reset:
        p = norse_params
        v_decayed = state.v + 1.0 * p.tau_mem_inv * ((p.v_leak - state.v) + (state.i + x))
        v = v + (z - z.detach()) * v_decayed
    if params.refractory == 0:
        return z, LIFState(v, new.i, state.refrac)
    blocked = state.refrac > 0
    z = z.masked_fill(blocked, 0.0)
    # a spiking neuron was not refractory (counter 0): new counter = max(c − 1, 0) + n_ref·z
    refrac = (state.refrac - 1).clamp_(min=0).add_(z, alpha=params.refractory)
    return z, LIFState(v.masked_fill_(blocked, 0.0), new.i, refrac)


def lif_step_detached_reset(x: torch.Tensor, state: LIFState, params: NeuronParams,
                            norse_params: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """:func:`lif_step` with ``detach_reset=True`` (the step function BPTT uses by default)."""
    return lif_step(x, state, params, norse_params, detach_reset=True)


StepFn = Callable[[torch.Tensor, LIFState, NeuronParams, LIFParameters],
                  tuple[torch.Tensor, LIFState]]


def lif_steps(current: torch.Tensor, x: torch.Tensor, state: LIFState, params: NeuronParams,
              norse_params: LIFParameters, lateral_t: torch.Tensor | None = None,
              step: StepFn = lif_step) -> tuple[torch.Tensor, torch.Tensor, LIFState]:
    r"""K = ``len(current)`` consecutive steps of one layer: spikes (K, B, N), the input of the
    step after them, and the state.

    ``x`` is Norse's input of the first step; after step :math:`k` the next input is
    :math:`g\,I[k]` (``current[k]`` times :attr:`NeuronParams.current_gain` :math:`g`), plus
    :math:`z_k\,L^\top` when the layer has lateral weights (``lateral_t`` = :math:`g L^\top`):
    one ``addmm`` with ``beta = g``.  :func:`snnkit.train.network.layer_forward` runs a layer
    as a sequence of these blocks; :func:`compiled_lif_steps` compiles one block.
    """
    gain = params.current_gain
    zs = []
    for k in range(current.shape[0]):
        z, state = step(x, state, params, norse_params)
        zs.append(z)
        x = current[k] * gain if lateral_t is None else torch.addmm(current[k], z, lateral_t,
                                                                    beta=gain)
    return torch.stack(zs), x, state


StepsFn = Callable[[torch.Tensor, torch.Tensor, LIFState, NeuronParams, LIFParameters,
                    "torch.Tensor | None"], tuple[torch.Tensor, torch.Tensor, LIFState]]

#: Steps per compiled block of :func:`compiled_lif_steps`.
COMPILED_BLOCK = 8


@functools.cache
def compiled_lif_steps() -> StepsFn:
    """:func:`lif_steps` compiled by ``torch.compile`` (inductor) for blocks of
    :data:`COMPILED_BLOCK` steps, for forward passes without autograd.

    One step is ~20 element-wise tensor ops (Norse's ~14 plus the refractory clamp); on CPU
    with (32 × 400) tensors each costs a few µs of dispatch, so the per-step overhead, not the
    arithmetic, bounds the forward pass.  Inductor fuses a step into one generated C++ loop
    (CUDA: one Triton kernel) with the same float operations in the same order, so the spikes
    are those of :func:`lif_step` (``tests/test_train_lif_spsp.py`` compares them).  Compiling
    a block of 8 steps rather than one step spreads the compiled call's own overhead (~60 µs
    on 2 CPU cores, guards and wrappers: more than the step's arithmetic) over 8 steps:
    a 400-neuron layer without lateral weights runs 400 steps in ~5 ms instead of ~30 ms.

    Shapes are static (a dynamic batch dimension generated much slower code for the unrolled
    block), so each batch size and layer kind compiles once (~5-15 s on a cold cache; inductor
    keeps the kernels on disk); the recompile limit of this function is raised to allow the
    dozen shapes of a training run (train, last and evaluation batches × 3 layers).  Needs a
    C++ compiler: if compiling fails the steps run eagerly, with a warning.
    """
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    compiled = torch.compile(lif_steps, dynamic=False)
    failed = False

    def steps(current: torch.Tensor, x: torch.Tensor, state: LIFState, params: NeuronParams,
              norse_params: LIFParameters, lateral_t: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, LIFState]:
        nonlocal failed
        if not failed:
            try:
                return compiled(current, x, state, params, norse_params, lateral_t)
            except Exception as exc:  # any compiler failure: run eagerly
                failed = True
                warnings.warn(f"torch.compile of the LIF steps failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}); running them "
                              "uncompiled", RuntimeWarning, stacklevel=2)
        return lif_steps(current, x, state, params, norse_params, lateral_t)

    return steps


def reference_lif(inputs: torch.Tensor, params: NeuronParams,
                  lateral: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's recursion, written out step by step (slow; the test reference).

    ``inputs`` (T, ..., N) is the synaptic input I[t] caused by presynaptic spikes of
    step ``t`` (it reaches ε at step ``t + 1``); ``lateral`` (N, N), optional, adds
    ``lateral @ s[t]`` from the layer's own spikes.  Returns spikes (T, ..., N).
    """
    T = inputs.shape[0]
    eps = torch.zeros_like(inputs[0], dtype=torch.float64)
    v = torch.zeros_like(eps)
    count = torch.zeros_like(eps)
    prev_in = torch.zeros_like(eps)
    out = torch.zeros_like(inputs, dtype=torch.float64)
    for t in range(T):
        eps = eps * (1 - 1 / params.tau_s) + prev_in
        v = v * (1 - 1 / params.tau_m) + eps / params.tau_s
        refractory = count > 0
        v = torch.where(refractory, torch.zeros_like(v), v)
        count = torch.where(refractory, count - 1, count)
        s = (v > params.v_th - THRESHOLD_EPS).to(torch.float64)
        v = torch.where(s > 0, torch.zeros_like(v), v)
        count = torch.where(s > 0, torch.full_like(count, params.refractory), count)
        out[t] = s
        prev_in = inputs[t].to(torch.float64)
        if lateral is not None:
            prev_in = prev_in + s @ lateral.to(torch.float64).T
    return out
