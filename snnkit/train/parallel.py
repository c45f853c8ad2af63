"""Data parallelism for the trainers: ``torchrun`` process groups (gloo on CPU, nccl on CUDA).

Each process takes a contiguous slice of every batch; gradients are averaged with
``all_reduce`` weighted by each slice's share, so two processes give the weights of one
process on the combined batch.  Rank 0 is the process that writes and prints.
"""

from __future__ import annotations

import os

import numpy as np
import torch.distributed as dist

from snnkit.train.network import SpikingNet


def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True outside ``torchrun`` and on rank 0 (the process that writes and prints)."""
    return world()[0] == 0


def my_slice(indices: np.ndarray) -> np.ndarray:
    rank, size = world()
    return np.array_split(indices, size)[rank]


def sync_gradients(net: SpikingNet, n_mine: int, n_batch: int) -> None:
    """Average gradients over processes, weighting each by its share of the batch."""
    if world()[1] == 1:
        return
    for p in net.parameters():
        if p.grad is not None:
            p.grad.mul_(n_mine / n_batch * world()[1])
            dist.all_reduce(p.grad)
            p.grad.div_(world()[1])


def init_distributed(device: str) -> None:
    """Join the ``torchrun`` process group if launched by it (gloo on CPU, nccl on CUDA)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
