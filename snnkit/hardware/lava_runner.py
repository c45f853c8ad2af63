"""Run a NetX ``.net`` file on Lava's bit-accurate CPU model (the real peer of the emulator).

Per input sample: ``netx.hdf5.Network`` loads the file, a ``RingBuffer`` source feeds the
(n_in, T) spikes (time on the last axis) into ``net.inp``, a ``RingBuffer`` sink records the
output layer, and the network runs ``T`` steps with ``Loihi2SimCfg(select_tag='fixed_pt')``
(``PyLifModelBitAcc``, ``PyDenseModelBitAcc``), then always ``net.stop()``.  Lava's step
``t + 1`` is index ``t`` of snnkit's emulator, so the two outputs compare element for element.
Lava processes cannot be reset and run again with new data, so every sample builds the
network anew (about a second each).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from snnkit.hardware.lava_compat import import_netx
from snnkit.progress import progress_bar


def run_lava(path: str | Path, spikes: torch.Tensor | np.ndarray,
             progress: bool = True) -> torch.Tensor:
    """Output spikes (T, B, n_out) of the ``.net`` at ``path`` for inputs (T, B, n_in)."""
    netx = import_netx()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    x = np.asarray(spikes, dtype=np.int32)
    T, B, _ = x.shape
    outputs = []
    with progress_bar(B, "lava", "sample", enabled=progress) as bar:
        for b in range(B):
            net = netx.hdf5.Network(net_config=str(path))
            src = Source(data=np.ascontiguousarray(x[:, b, :].T))
            snk = Sink(shape=net.out.shape, buffer=T)
            src.s_out.connect(net.inp)
            net.out.connect(snk.a_in)
            try:
                net.run(condition=RunSteps(num_steps=T),
                        run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
                outputs.append(np.asarray(snk.data.get()).T.astype(np.int8))
            finally:
                net.stop()
            bar.update(1)
    return torch.as_tensor(np.stack(outputs, axis=1))
