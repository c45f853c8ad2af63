r"""LMU training speed on psMNIST: keras-lmu, a plain torch loop, and snnkit's three LMUs.

Training sequences per second (forward, backward and one Adam step, batch 100, 784-step
sequences of one pixel, cross-entropy on the last step's logits) for five variants, each in a
fresh process (so that its peak memory and thread pools are its own):

``keras-lmu``
    The authors' implementation, ``keras_lmu.LMU`` 0.9.0 on TensorFlow 2.15 (the ``nengo``
    extra's), set up as snnkit's psMNIST LMU (``models/lmu_psmnist.toml``, the paper's cell):
    ``memory_d = 1, order = 256, theta = 784, hidden_to_memory = memory_to_memory =
    input_to_hidden = True, use_bias = False``, hidden cell ``SimpleRNNCell(212, tanh,
    use_bias=False)``, then ``Dense(10)``; Adam with Keras' defaults, ``model.train_on_batch``.
    With recurrence into the memory, keras-lmu runs its cell in ``keras.layers.RNN`` (a graph
    loop over time); only a memory without ``hidden_to_memory``/``memory_to_memory`` gets its
    FFT path (``LMUFeedforward``).
``sequential loop``
    The naive baseline written here (:class:`SequentialLMU`): a Python ``for t in range(T)``
    over the cell equations u_t = e_x x_t + e_h·h_{t−1} + e_m·m_{t−1},
    m_t = Ā m_{t−1} + B̄ u_t, h_t = tanh(W_x x_t + W_h h_{t−1} + W_m m_t) in plain torch ops,
    with Ā, B̄ from ``scipy.signal.cont2discrete`` (independent of snnkit's ``discretize_zoh``).
``snnkit LMU``
    ``models/lmu_psmnist.toml`` built and stepped as ``snnkit train lmu`` does
    (:class:`snnkit.train.lmu_trainer.LMUNet`; with e_h and e_m the memory is recurrent, so the
    step loop of :class:`snnkit.train.lmu.LMU`, not its FFT memory).
``snnkit parallel LMU``
    ``models/lmu_parallel_psmnist.toml``: :class:`snnkit.train.lmu.ParallelLMU`, d = 468,
    346 ReLU units (166,092 parameters, a different and larger model: Chilkuri & Eliasmith's),
    trained as ``snnkit train lmu`` trains it: the classifier reads the last step, so only the
    last memory state is computed (one product with the impulse response, no loop over time).
``snnkit parallel LMU, every step``
    The same network with every step's hidden state computed (FFT memory of the whole
    sequence, then the dense layers on all 784 steps), for a sequence-to-sequence task.
``snnkit hybrid-spiking LMU``
    ``models/lmu_psmnist_spiking.toml``: the LMU above with its hidden units replaced by
    sigma-delta quantizers of tanh, at the end of its dt schedule (``dt_end = 1``: at most one
    spike per neuron and step).

keras-lmu, the loop, snnkit's LMU and the hybrid-spiking LMU are the same model with the same
trainable parameter count (102,027, checked). Before timing, the keras-lmu and loop workers copy
the weights of snnkit's LMU (its zero-initialised e_h, e_m, W_x, W_h set to small random values
so that every connection matters), run ``--check`` sequences through both and report the largest
logit difference: the three implementations compute the same function. Then one warm-up step
(tracing for TensorFlow) and ``--steps`` timed steps on random psMNIST-shaped data (uint8 pixels
/ 255, random labels) or the real data (``--data psmnist``). Memory: the peak resident set above
the process's level before the first step (``ru_maxrss``).

    python bench/bench_lmu.py [--steps 5] [--threads 2] [--no-write]
    python bench/bench_lmu.py --steps 1 --seq-len 64 --no-write     # a quick check

Goals (issue 12): snnkit's LMU at least as fast as keras-lmu; the parallel LMU at least 5× the
sequential loop.  keras-lmu is in the ``bench`` extra; it needs the TensorFlow of the ``nengo``
extra.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(__file__))
from _report import git_rev, machine, write_section

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
T_FULL = 784
N_CLASSES = 10
CHECK_TOL = 1e-3  # largest |Δ logit| accepted between implementations (float32, 784 steps)


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    config: str  # snnkit config the variant follows
    same_model: bool  # the psMNIST LMU of 102,027 parameters (counts must agree)


VARIANTS = {v.key: v for v in (
    Variant("keras", "keras-lmu (TensorFlow)", "lmu_psmnist.toml", True),
    Variant("loop", "sequential torch loop", "lmu_psmnist.toml", True),
    Variant("lmu", "snnkit LMU", "lmu_psmnist.toml", True),
    Variant("parallel", "snnkit parallel LMU", "lmu_parallel_psmnist.toml", False),
    Variant("parallel_all", "snnkit parallel LMU, every step", "lmu_parallel_psmnist.toml",
            False),
    Variant("spiking", "snnkit hybrid-spiking LMU", "lmu_psmnist_spiking.toml", True),
)}


def legendre_ab(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous A (d, d), B (d,) of the LMU memory, written out again (float64)."""
    q = np.arange(order)
    i, j = np.meshgrid(q, q, indexing="ij")
    A = np.where(i < j, -1.0, (-1.0) ** (i - j + 1)) * (2 * q + 1)[:, None]
    B = (-1.0) ** q * (2 * q + 1)
    return A, B


class SequentialLMU(nn.Module):
    """The paper's LMU and a dense readout as a plain time loop of torch ops (naive baseline).

    Input: pixels (T, B) (one input channel, memory_size 1).  Parameters are named as in
    :class:`snnkit.train.lmu.LMUCell` (e_x (1,), e_h (hidden,), e_m (order,), W_x (hidden,),
    W_h, W_m) plus ``readout_w``, ``readout_b``; Ā, B̄ by ``scipy.signal.cont2discrete``.
    """

    def __init__(self, hidden: int = 212, order: int = 256, theta: float = 784.0,
                 n_classes: int = N_CLASSES):
        super().__init__()
        from scipy.signal import cont2discrete

        A, B = legendre_ab(order)
        abar, bbar, *_ = cont2discrete((A / theta, B[:, None] / theta, np.eye(order),
                                        np.zeros((order, 1))), dt=1.0, method="zoh")
        dtype = torch.get_default_dtype()
        self.register_buffer("abar_t", torch.as_tensor(abar.T.copy(), dtype=dtype))
        self.register_buffer("bbar", torch.as_tensor(bbar[:, 0].copy(), dtype=dtype))
        self.hidden, self.order = hidden, order
        self.e_x = nn.Parameter(torch.ones(1))
        self.e_h = nn.Parameter(torch.zeros(hidden))
        self.e_m = nn.Parameter(torch.zeros(order))
        self.W_x = nn.Parameter(torch.zeros(hidden))
        self.W_h = nn.Parameter(torch.zeros(hidden, hidden))
        self.W_m = nn.Parameter(nn.init.xavier_normal_(torch.empty(hidden, order)))
        self.readout_w = nn.Parameter(torch.zeros(n_classes, hidden))
        self.readout_b = nn.Parameter(torch.zeros(n_classes))

    @torch.no_grad()
    def copy_from(self, lmu_cell: nn.Module, readout: nn.Linear) -> SequentialLMU:
        """Take the weights of a :class:`snnkit.train.lmu.LMUCell` (input 1, memory 1)."""
        c = lmu_cell
        self.e_x.copy_(c.e_x.reshape(1))
        self.e_h.copy_(c.e_h.reshape(-1))
        self.e_m.copy_(c.e_m.reshape(-1))
        self.W_x.copy_(c.W_x.reshape(-1))
        self.W_h.copy_(c.W_h)
        self.W_m.copy_(c.W_m)
        self.readout_w.copy_(readout.weight)
        self.readout_b.copy_(readout.bias)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) of pixel sequences (T, B)."""
        batch = x.shape[1]
        h = x.new_zeros(batch, self.hidden)
        m = x.new_zeros(batch, self.order)
        for t in range(x.shape[0]):
            xt = x[t, :, None]                                        # (B, 1)
            u = xt * self.e_x + h @ self.e_h[:, None] + m @ self.e_m[:, None]  # (B, 1)
            m = m @ self.abar_t + u * self.bbar
            h = torch.tanh(xt * self.W_x + h @ self.W_h.T + m @ self.W_m.T)
        return h @ self.readout_w.T + self.readout_b


# --------------------------------------------------------------------------- worker side


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _batches(opts: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """n·batch pixel sequences (n·B, T) float32 in [0, 1] and labels, random or psMNIST."""
    count, T = n * opts["batch"], opts["seq_len"]
    if opts["data"] == "psmnist":
        from snnkit.train.data import load_dataset

        data = load_dataset("psmnist", "train")
        idx = np.arange(count) % len(data.labels)
        return (data.images[idx, :T] / np.float32(255.0)).astype(np.float32), data.labels[idx]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, T), dtype=np.uint8)
    return (images / np.float32(255.0)).astype(np.float32), rng.integers(0, N_CLASSES, count)


def _snnkit_net(variant: Variant) -> nn.Module:
    from snnkit.train.lmu_config import load_lmu_config
    from snnkit.train.lmu_trainer import build_lmu_network
    from snnkit.train.quantize import set_quantizer_dt

    cfg = load_lmu_config(MODELS / variant.config)
    net = build_lmu_network(cfg)
    if cfg.spiking.enabled:
        set_quantizer_dt(net, cfg.spiking.dt_end)  # the end of the schedule: spiking
    return net


def _reference(seed: int = 1) -> nn.Module:
    """snnkit's psMNIST LMU with its zero-initialised connections made small and random."""
    net = _snnkit_net(VARIANTS["lmu"])
    gen = torch.Generator().manual_seed(seed)
    cell = net.core.cell
    with torch.no_grad():
        for p in (cell.e_h, cell.e_m, cell.W_x, cell.W_h):
            p.copy_(torch.randn(p.shape, generator=gen) * (0.5 / p.shape[-1] ** 0.5))
    return net


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _torch_worker(variant: Variant, opts: dict[str, Any]) -> dict[str, Any]:
    torch.set_num_threads(opts["threads"])
    torch.manual_seed(0)
    images, labels = _batches(opts, opts["steps"] + 1)
    B = opts["batch"]
    check = None
    if variant.key == "loop":
        ref = _reference().eval()
        net: nn.Module = SequentialLMU().copy_from(ref.core.cell, ref.readout)
        if opts["check"]:
            x = torch.as_tensor(images[:opts["check"]].T.copy())
            with torch.no_grad():
                check = _max_diff(net(x).numpy(), ref(x[..., None])[0].numpy())

        def logits(x: torch.Tensor) -> torch.Tensor:
            return net(x)
    else:
        net = _snnkit_net(variant)

        def logits(x: torch.Tensor) -> torch.Tensor:
            # as lmu_trainer trains: the classifier reads the last step only, which lets the
            # parallel LMU compute the last memory state alone (ParallelLMU.forward_last)
            return net(x[..., None], sequence=variant.key == "parallel_all")[0]

    net.train()
    # Adam as the trainer builds it (lmu_trainer.train_lmu: lr, betas, eps of [train])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    base = _rss_mb()

    def step(i: int) -> None:
        x = torch.as_tensor(images[i * B:(i + 1) * B].T.copy())  # time-major (T, B)
        y = torch.as_tensor(labels[i * B:(i + 1) * B])
        loss = F.cross_entropy(logits(x), y, reduction="sum")
        opt.zero_grad(set_to_none=True)
        (loss / B).backward()
        opt.step()

    step(0)
    start = time.perf_counter()
    for i in range(1, opts["steps"] + 1):
        step(i)
    wall = time.perf_counter() - start
    return {"seq_per_s": opts["steps"] * B / wall, "params": _n_params(net),
            "peak_mb": _rss_mb() - base, "check": check}


def _keras_worker(opts: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(opts["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(opts["threads"])
    torch.set_num_threads(opts["threads"])
    import keras_lmu

    tf.keras.utils.set_random_seed(0)
    images, labels = _batches(opts, opts["steps"] + 1)
    B, T = opts["batch"], opts["seq_len"]
    ref = _reference()
    cell_ref = ref.core.cell
    m = ref.cfg.model
    lmu = keras_lmu.LMU(
        memory_d=1, order=m.order, theta=m.theta,
        hidden_cell=tf.keras.layers.SimpleRNNCell(m.hidden, activation="tanh", use_bias=False),
        hidden_to_memory=m.hidden_to_memory, memory_to_memory=m.memory_to_memory,
        input_to_hidden=True, use_bias=False, kernel_initializer="ones",
        recurrent_initializer="zeros")
    inp = tf.keras.Input((T, 1), batch_size=None)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(N_CLASSES)(lmu(inp)))
    # The same weights as snnkit's LMU.  keras-lmu: u = [x, h] @ kernel + m @ recurrent_kernel,
    # h = tanh([m, x] @ hidden.kernel + h @ hidden.recurrent_kernel).
    cell = lmu.layer.cell
    w = {k: v.detach().numpy() for k, v in cell_ref.named_parameters()}
    cell.kernel.assign(np.concatenate([w["e_x"], w["e_h"]], axis=1).T)
    cell.recurrent_kernel.assign(w["e_m"].T)
    cell.hidden_cell.kernel.assign(np.concatenate([w["W_m"], w["W_x"]], axis=1).T)
    cell.hidden_cell.recurrent_kernel.assign(w["W_h"].T)
    dense = model.layers[-1]
    dense.kernel.assign(ref.readout.weight.detach().numpy().T)
    dense.bias.assign(ref.readout.bias.detach().numpy())
    check = None
    if opts["check"]:
        x = images[:opts["check"]]
        with torch.no_grad():
            want = ref(torch.as_tensor(x.T.copy())[..., None])[0].numpy()
        check = _max_diff(model(x[..., None], training=False).numpy(), want)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    params = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    base = _rss_mb()

    def step(i: int) -> None:
        model.train_on_batch(images[i * B:(i + 1) * B, :, None], labels[i * B:(i + 1) * B])

    step(0)
    start = time.perf_counter()
    for i in range(1, opts["steps"] + 1):
        step(i)
    wall = time.perf_counter() - start
    return {"seq_per_s": opts["steps"] * B / wall, "params": params,
            "peak_mb": _rss_mb() - base, "check": check}


def worker(key: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Time one variant in this process (the ``--worker`` entry point)."""
    if key == "keras":
        return _keras_worker(opts)
    return _torch_worker(VARIANTS[key], opts)


# --------------------------------------------------------------------------- driver side


def run_worker(key: str, opts: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", key, json.dumps(opts)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{key} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _goal(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "not measured"
    return f"{'met' if ratio >= target else 'not met'} ({ratio:.2f}x)"


def _ratio(res: dict[str, dict[str, Any]], a: str, b: str) -> float | None:
    if a in res and b in res:
        return res[a]["seq_per_s"] / res[b]["seq_per_s"]
    return None


def _fmt(x: float | None, spec: str = ".2f", suffix: str = "x") -> str:
    return "n/a" if x is None else f"{x:{spec}}{suffix}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per variant")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads / TensorFlow intra- and inter-op threads")
    parser.add_argument("--seq-len", type=int, default=T_FULL,
                        help="steps per sequence (784; fewer only for a quick check)")
    parser.add_argument("--data", choices=("random", "psmnist"), default="random",
                        help="random psMNIST-shaped data, or the real psMNIST training set")
    parser.add_argument("--check", type=int, default=10,
                        help="sequences compared between implementations (0: skip)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    if args.worker:
        key, opts = args.worker
        print(json.dumps(worker(key, json.loads(opts))))
        return
    if "keras" in args.variants and importlib.util.find_spec("keras_lmu") is None:
        raise SystemExit("keras-lmu is not installed: pip install 'snnkit[bench,nengo]' "
                         "(or leave it out with --variants)")
    opts = {"steps": args.steps, "batch": args.batch, "threads": args.threads,
            "seq_len": args.seq_len, "data": args.data, "check": min(args.check, args.batch)}
    res: dict[str, dict[str, Any]] = {}
    for key in args.variants:
        res[key] = r = run_worker(key, opts)
        extra = "" if r["check"] is None else f"  max |Δlogit| vs snnkit LMU {r['check']:.1e}"
        print(f"{VARIANTS[key].label:28s} {r['seq_per_s']:8.2f} seq/s  {r['params']:8,d} params"
              f"  peak {r['peak_mb']:6.0f} MB{extra}", flush=True)
    counts = {res[k]["params"] for k in res if VARIANTS[k].same_model}
    if len(counts) > 1:
        raise SystemExit(f"parameter counts differ between the same-model variants: {counts}")
    bad = {k: r["check"] for k, r in res.items() if r["check"] is not None
           and not r["check"] < CHECK_TOL}
    if bad:
        raise SystemExit(f"outputs differ from snnkit's LMU with the same weights: {bad}")

    rows = []
    for key, r in res.items():
        rows.append(f"| {VARIANTS[key].label} | {r['seq_per_s']:.2f} | "
                    f"{_fmt(_ratio(res, key, 'keras'))} | {_fmt(_ratio(res, key, 'loop'))} | "
                    f"{r['params']:,} | {r['peak_mb']:.0f} |")
    table = ("| variant | sequences/s | × keras-lmu | × sequential loop | params | peak MB |\n"
             "|---|---|---|---|---|---|\n" + "\n".join(rows))
    goal_keras = _goal(_ratio(res, "lmu", "keras"), 1.0)
    goal_parallel = _goal(_ratio(res, "parallel", "loop"), 5.0)
    checks = ", ".join(f"{VARIANTS[k].label} {r['check']:.1e}" for k, r in res.items()
                       if r["check"] is not None)
    print(f"\n{table}\n\nsnnkit LMU >= keras-lmu: {goal_keras}\n"
          f"parallel LMU >= 5x sequential loop: {goal_parallel}")
    if args.no_write:
        return
    flags = "".join(f" --{k} {v}" for k, v in (("steps", args.steps), ("batch", args.batch),
                                                 ("threads", args.threads),
                                                 ("seq-len", args.seq_len), ("data", args.data))
                    if v != parser.get_default(k.replace("-", "_")))
    write_section("lmu", f"""
## LMU training on psMNIST: keras-lmu vs a torch loop vs snnkit's LMUs (batch {args.batch})

Command: `python bench/bench_lmu.py{flags}` (snnkit {git_rev()}; {machine()});
{args.threads} threads (torch; TensorFlow intra- and inter-op), {args.seq_len}-step sequences
of {args.data} psMNIST-shaped data, one warm-up step then {args.steps} timed steps of forward,
backward and Adam; memory is the peak resident set above the process's level before training.
keras-lmu, the loop and snnkit's LMU are the same model (d = 256, θ = 784, 212 tanh units,
e_h and e_m on: keras-lmu's `hidden_to_memory = memory_to_memory = input_to_hidden = True`,
no biases); with the same weights their logits agree to {checks or "(not checked)"}.  The
parallel LMU is `models/lmu_parallel_psmnist.toml` (d = 468, 346 ReLU units), trained as
`snnkit train lmu` trains it (last step only: one product with the memory's impulse
response); "every step" computes all 784 hidden states (FFT memory); the
hybrid-spiking LMU is `models/lmu_psmnist_spiking.toml` at dt = 1 (spiking).

{table}

Goals (issue 12): snnkit's LMU at least as fast as keras-lmu: **{goal_keras}**; the parallel
LMU at least 5x the sequential loop: **{goal_parallel}**.
""")


if __name__ == "__main__":
    main()
