r"""Layered recurrent spiking networks: layer specs, connectivity, weights and the forward pass.

A network is described by a spec such as ``"400-R400"``: hidden layers left to right, a plain
number a dense feed-forward layer, ``R`` a recurrent layer (feed-forward input from the layer
below plus lateral weights within the layer).  An output layer of ``n_classes`` neurons is
appended, with fixed all-to-all lateral inhibition of strength :math:`w_0` (no self-connection),
as in the official ST-RSBP code (``LOCAL_INHIBITION``).

Recurrent connectivity is dense, or the paper's "reservoir" grid (``Reservoir.cu``): neurons on
a 3-D grid (5×5×16 for N = 400), 80 % labelled excitatory (the label only sets the probability;
weights have random sign), a connection :math:`j \to i` present with probability

.. math:: P = c_{\mathrm{type}(j)\,\mathrm{type}(i)}\; e^{-d(i,j)^2/\lambda^2},
    \quad \lambda = 2,\quad c_{EE} = 0.45,\ c_{EI} = 0.3,\ c_{IE} = 0.6,\ c_{II} = 0.15,

self-connections (P = c at distance 0) only with ``self_loops`` (the official code draws them).
All weights start as :math:`U(-a, a)` with :math:`a` = ``init_scale``
(the code's ``initW = 1``), except grid lateral weights with ``recurrent_init = "dale"``:
:math:`w_{ij} = \pm a` by the type of the presynaptic neuron :math:`j` (+ excitatory,
− inhibitory), as in the official repository's first commit (fe5bf2d, ``Reservoir.cu``), the
code that predates its Fashion-MNIST log; later commits draw :math:`U(-1, 1)`.

Every layer is the LIF neuron of :mod:`snnkit.train.lif`; presynaptic spikes of step ``t`` reach
the synaptic state at step ``t + 1`` (one-step delay), for feed-forward and lateral inputs alike.
The forward pass (:func:`forward`) runs layer after layer over the whole sequence: the
feed-forward current of a layer is one matrix product over all steps (without autograd: over
:data:`DRIVE_CHUNK` steps at a time, :class:`ChunkedDrive`), and only the lateral term is
computed inside the time loop.  Spike trains may be bool (the encoder's, and those of the
compiled forward pass): a layer's current converts the steps it reads to the weights' type.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import torch
from torch import nn

from snnkit.errors import ConfigError
from snnkit.train.lif import (
    COMPILED_BLOCK,
    NeuronParams,
    StepFn,
    StepsFn,
    compiled_lif_steps,
    initial_state,
    lif_step,
    lif_steps,
)

_LAYER = re.compile(r"^(R?)(\d+)$")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its size and whether it has lateral (recurrent) weights."""

    size: int
    recurrent: bool = False

    def __str__(self) -> str:
        return f"{'R' if self.recurrent else ''}{self.size}"


def parse_layers(spec: str, field: str = "network.layers") -> list[LayerSpec]:
    """``"400-R400"`` -> ``[LayerSpec(400), LayerSpec(400, recurrent=True)]``."""
    layers = []
    for part in str(spec).replace(" ", "").split("-"):
        m = _LAYER.match(part)
        if not m or int(m.group(2)) < 1:
            hint = "'R400'" if part.lower().startswith("r") else "'400' or 'R400'"
            raise ConfigError(field, f"layers like '400-R400' (bad part {part!r}; did you mean "
                              f"{hint}?)", spec)
        layers.append(LayerSpec(int(m.group(2)), m.group(1) == "R"))
    return layers


def grid_shape(n: int) -> tuple[int, int, int]:
    """The official grids (400: 5×5×16, 250: 5×5×10, 500: 10×10×5), else 5×5×⌈n/25⌉."""
    known = {400: (5, 5, 16), 250: (5, 5, 10), 500: (10, 10, 5), 100: (5, 5, 4),
             200: (5, 5, 8), 800: (10, 10, 8)}
    return known.get(n, (5, 5, math.ceil(n / 25)))


def grid_reservoir(n: int, generator: torch.Generator, excitatory: float = 0.8,
                   lam: float = 2.0, self_loops: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's 3-D grid reservoir (see module docstring): its boolean connection mask
    (post, pre) and each neuron's excitatory label (bool, N)."""
    nx, ny, _ = grid_shape(n)
    idx = torch.arange(n)
    pos = torch.stack([idx % nx, (idx // nx) % ny, idx // (nx * ny)], dim=1).double()
    d2 = torch.cdist(pos, pos).pow(2)
    exc = torch.rand(n, generator=generator, dtype=torch.float64) < excitatory
    c = torch.empty(n, n, dtype=torch.float64)
    post_e, pre_e = exc[:, None], exc[None, :]
    c[:] = 0.15
    c[pre_e & post_e] = 0.45
    c[pre_e & ~post_e] = 0.3
    c[~pre_e & post_e] = 0.6
    p = c * torch.exp(-d2 / lam**2)
    mask = torch.rand(n, n, generator=generator, dtype=torch.float64) < p
    if not self_loops:
        mask.fill_diagonal_(False)
    return mask, exc


class SpikingNet(nn.Module):
    """Weights of a layered (recurrent) LIF network; the dynamics live in :func:`forward`.

    ``weights[k]`` (N_k × N_{k−1}) are the feed-forward weights into layer ``k``;
    ``recurrent[str(k)]`` (N_k × N_k) the trained lateral weights of recurrent layers, with a
    fixed 0/1 buffer ``mask_k``; the output layer's fixed inhibition is the buffer
    ``lateral_out``.  ``params[k]`` are the layer's neuron parameters.
    """

    def __init__(self, n_in: int, layers: list[LayerSpec], n_out: int,
                 params: list[NeuronParams], *, recurrent: str = "grid",
                 inhibition: float = 1.0, init_scale: float = 1.0, seed: int = 5,
                 self_loops: bool = False, recurrent_init: str = "uniform"):
        super().__init__()
        if len(params) != len(layers) + 1:
            raise ConfigError("neuron.v_th", f"{len(layers) + 1} thresholds (one per layer, "
                              "output included)", [p.v_th for p in params])
        if recurrent_init == "dale" and recurrent != "grid":
            raise ConfigError("network.recurrent_init", '"uniform" with a dense recurrent layer '
                              '("dale" needs the grid\'s excitatory labels)', recurrent_init)
        self.n_in, self.layers, self.n_out = n_in, list(layers), n_out
        self.params = list(params)
        self.recurrent_kind = recurrent
        gen = torch.Generator().manual_seed(seed)
        sizes = [n_in, *(spec.size for spec in layers), n_out]
        self.weights = nn.ParameterList(
            nn.Parameter(_uniform((sizes[k + 1], sizes[k]), init_scale, gen))
            for k in range(len(sizes) - 1))
        self.recurrent = nn.ParameterDict()
        for k, spec in enumerate(layers):
            if not spec.recurrent:
                continue
            if recurrent == "grid":
                mask, exc = grid_reservoir(spec.size, gen, self_loops=self_loops)
            else:
                mask, exc = ~torch.eye(spec.size, dtype=torch.bool), None
            if recurrent_init == "dale":
                w = torch.where(exc, init_scale, -init_scale) * mask   # sign by column (pre)
            else:
                w = _uniform((spec.size, spec.size), init_scale, gen) * mask
            self.recurrent[str(k)] = nn.Parameter(w)
            self.register_buffer(f"mask_{k}", mask.to(torch.float32))
        lateral = -inhibition * (1.0 - torch.eye(n_out))
        self.register_buffer("lateral_out", lateral)

    @property
    def n_layers(self) -> int:
        """Layers with weights, output included."""
        return len(self.weights)

    def lateral(self, k: int) -> torch.Tensor | None:
        """Lateral weights (post, pre) of layer ``k``: trained, fixed inhibition, or None."""
        if k == self.n_layers - 1:
            return self.lateral_out if self.lateral_out.abs().sum() > 0 else None
        w = self.recurrent.get(str(k))
        return None if w is None else w * getattr(self, f"mask_{k}")

    def architecture(self) -> dict[str, object]:
        """What identifies the architecture (compared on --resume)."""
        return {"n_in": self.n_in, "layers": "-".join(str(s) for s in self.layers),
                "n_out": self.n_out, "recurrent": self.recurrent_kind,
                "shapes": [list(w.shape) for w in self.weights]}


def _uniform(shape: tuple[int, int], scale: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) * 2.0 - 1.0) * scale


def layer_forward(current: torch.Tensor | ChunkedDrive, params: NeuronParams,
                  lateral: torch.Tensor | None = None, method: str = "heaviside",
                  alpha: float = 100.0, step: StepFn = lif_step,
                  steps: StepsFn | None = None) -> torch.Tensor:
    """Spikes (T, B, N) of one LIF layer driven by ``current`` (T, B, N).

    ``current[t]`` is the paper's synaptic input caused by presynaptic spikes of step ``t``;
    it reaches the neuron at step ``t + 1``.  ``lateral`` (N, N) adds ``lateral @ s[t]``
    from the layer's own spikes with the same delay.  Runs Norse's LIF step (see
    :mod:`snnkit.train.lif`); ``method`` is Norse's threshold: ``"heaviside"`` (no surrogate,
    the fast choice without autograd) or a surrogate such as ``"super"`` for BPTT; ``step``
    is the step function (e.g. BPTT's with the reset detached); the spikes are float.
    ``steps`` (e.g. :func:`~snnkit.train.lif.compiled_lif_steps`, no autograd) runs the
    sequence in blocks of :data:`~snnkit.train.lif.COMPILED_BLOCK` steps with
    :func:`~snnkit.train.lif.lif_step` (a last, shorter block eagerly), reads ``current``
    (a tensor or a :class:`ChunkedDrive`) block by block and returns bool spikes.
    """
    T, B, N = current.shape
    norse_p = params.norse(method=method, alpha=alpha)
    state = initial_state((B, N), device=current.device, dtype=current.dtype)
    # one op per step for the input: gain·current[t] + z (gain·lateralᵀ)
    lateral_t = None if lateral is None else lateral.T * params.current_gain
    x = torch.zeros((B, N), dtype=current.dtype, device=current.device)
    if steps is None:  # eager: all T steps as one block
        return lif_steps(current, x, state, params, norse_p, lateral_t, step=step)[0]
    trains = torch.empty((T, B, N), dtype=torch.bool, device=current.device)
    for t0 in range(0, T, COMPILED_BLOCK):
        chunk = current[t0:t0 + COMPILED_BLOCK]
        run = steps if len(chunk) == COMPILED_BLOCK else functools.partial(lif_steps, step=step)
        z, x, state = run(chunk, x, state, params, norse_p, lateral_t)
        trains[t0:t0 + len(z)] = z
    return trains


#: Without autograd, layers at least this wide get their input current from a sparse product.
SPARSE_DRIVE_MIN_WIDTH = 100


def drive(pre: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""Feed-forward currents :math:`I[t] = W s[t]` (T, B, N_post) of all steps at once from
    spike trains ``pre`` (T, B, N_pre; bool trains are converted to ``w``'s type).

    Trains are sparse (a few % ones after encoding and in trained hidden layers), so without
    autograd and for layers of at least :data:`SPARSE_DRIVE_MIN_WIDTH` neurons the trains are
    turned into a CSR matrix and multiplied by MKL's sparse kernel, written into the result
    with ``beta = 0``: 1.4× (input layer) to 2.2× (hidden layer) faster than the dense product
    on 2 CPU cores at T = 400, conversion included.  The sums run in another order, so the
    currents equal the dense ones to float rounding (a neuron exactly at threshold may then
    differ).  With autograd (BPTT) or narrow layers: the dense product.
    """
    pre = pre.to(w.dtype)
    if torch.is_grad_enabled() or w.shape[0] < SPARSE_DRIVE_MIN_WIDTH:
        return pre @ w.T
    flat = pre.reshape(-1, pre.shape[-1])
    out = torch.empty((flat.shape[0], w.shape[0]), dtype=w.dtype, device=w.device)
    return out.addmm_(flat.to_sparse_csr(), w.T, beta=0.0).view(*pre.shape[:-1], w.shape[0])


#: Steps of input current a :class:`ChunkedDrive` computes at a time (a multiple of
#: :data:`~snnkit.train.lif.COMPILED_BLOCK`).
DRIVE_CHUNK = 64


class ChunkedDrive:
    """The currents :func:`drive` ``(pre, w)`` made :data:`DRIVE_CHUNK` steps at a time, as
    :func:`layer_forward`'s blocks read them: the (T, B, N) currents never exist whole, so a
    forward pass without autograd holds only the (bool) trains in memory that grows with T.

    Indexing takes a slice of steps that lies within one chunk (the blocks of
    :func:`layer_forward` do: ``DRIVE_CHUNK`` is a multiple of their length); each chunk is
    the same product :func:`drive` computes for those steps.
    """

    def __init__(self, pre: torch.Tensor, w: torch.Tensor, chunk: int = DRIVE_CHUNK) -> None:
        self.pre, self.w, self.chunk = pre, w, chunk
        self.shape = (pre.shape[0], pre.shape[1], w.shape[0])
        self.dtype, self.device = w.dtype, w.device
        self._t0, self._current = -1, None

    def __getitem__(self, steps: slice) -> torch.Tensor:
        t0 = steps.start or 0
        c0 = t0 - t0 % self.chunk
        if c0 != self._t0:
            self._t0, self._current = c0, drive(self.pre[c0:c0 + self.chunk], self.w)
        stop = min(steps.stop if steps.stop is not None else self.shape[0], self.shape[0])
        if stop > c0 + self.chunk:
            raise IndexError(f"ChunkedDrive: steps {t0}..{stop} cross a chunk boundary")
        return self._current[t0 - c0:stop - c0]


def forward(net: SpikingNet, spikes: torch.Tensor, method: str = "heaviside",
            alpha: float = 100.0, step: StepFn = lif_step,
            steps: StepsFn | None = None) -> list[torch.Tensor]:
    """Spike trains of every layer, output last, for input spikes (T, B, n_in), float or bool
    (``step``, ``steps``: see :func:`layer_forward`; with ``steps`` the currents are made a
    chunk at a time, :class:`ChunkedDrive`, and the trains are bool)."""
    trains = []
    pre = spikes
    for k, w in enumerate(net.weights):
        current = drive(pre, w) if steps is None else ChunkedDrive(pre, w)
        pre = layer_forward(current, net.params[k], net.lateral(k), method=method, alpha=alpha,
                            step=step, steps=steps)
        trains.append(pre)
    return trains


@torch.no_grad()
def compiled_forward(net: SpikingNet, spikes: torch.Tensor) -> list[torch.Tensor]:
    """:func:`forward` without autograd, its LIF steps compiled in blocks
    (:func:`~snnkit.train.lif.compiled_lif_steps`): the same spikes, ~2× faster on CPU, as
    bool trains, the currents made a chunk at a time."""
    return forward(net, spikes, steps=compiled_lif_steps())
