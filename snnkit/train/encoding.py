"""Per-sample reproducible Bernoulli encoding of image sets.

Each image's spike train is a pure function of ``(seed, split, index[, epoch])``: a
:class:`numpy.random.SeedSequence` of those numbers seeds one ``torch.Generator`` per image,
which draws its (T, 784) Bernoulli spikes as :func:`snnkit.train.data.rate_encode` does with
that generator (``tests/test_train_data.py`` compares them).  The same image thus
gets the same train whatever the batch, the shuffling, the number of processes or a resume after
a kill.  ``encoding = "fixed"`` (the official code: trains drawn once, reused every epoch) leaves
the epoch out of the seed; ``"fresh"`` draws new trains each epoch.

Drawing the trains (one Mersenne-Twister stream per image) costs about a tenth of an ST-RSBP
step on CPU.  Drawing the next batch in a background thread was tried and measured slower on
2 cores (45.8 against 55.3 samples/s: the thread's ops fight the main thread's OpenMP pool).
Instead each image's uniform numbers are drawn by one of ``torch.get_num_threads()`` threads
while the main thread waits (each image's stream is serial, images are independent; torch
releases the GIL while it draws) and compared with the image's rates straight into the
output: the values of :func:`snnkit.train.data.rate_encode`, image by image.

The trains are returned as ``torch.bool`` (1 byte per step and pixel instead of float32's 4;
at T = 400 a batch of 32 images is 10 MB instead of 40): spikes are events, and every consumer
in :mod:`snnkit.train` (the layers' input currents, the S-PSPs, the counts) takes bool trains
and converts what it reads, a block of steps at a time, to float.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

_SALT = {"train": 1, "validation": 1, "test": 2}


def sample_seed(seed: int, split: str, index: int, epoch: int | None = None) -> int:
    """A 63-bit seed for one image's spike train."""
    entropy = [seed, _SALT[split], int(index)] + ([] if epoch is None else [epoch + 1])
    return int(np.random.SeedSequence(entropy).generate_state(2, np.uint64)[0] >> np.uint64(1))


def encode_batch(images: np.ndarray, indices: np.ndarray, T: int, p_max: float, seed: int,
                 split: str, epoch: int | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Spikes (T, B, pixels), bool, for ``images[indices]``; see the module docstring."""
    n_pix = int(np.prod(images.shape[1:]))
    out = torch.empty((T, len(indices), n_pix), dtype=torch.bool)
    rate = torch.as_tensor(images[np.asarray(indices)]).reshape(len(indices), n_pix).float()
    rate = rate * (p_max / 255)

    def draw(b: int) -> None:
        gen = torch.Generator().manual_seed(sample_seed(seed, split, int(indices[b]), epoch))
        torch.lt(torch.rand((T, n_pix), generator=gen), rate[b], out=out[:, b])

    with ThreadPoolExecutor(max(1, min(torch.get_num_threads(), len(indices)))) as pool:
        list(pool.map(draw, range(len(indices))))
    return out.to(device)
