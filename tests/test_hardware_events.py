"""Event files and converters round-trip exactly (dense tensors, Lava arrays, NIR, tonic)."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from snnkit.errors import SnnkitError
from snnkit.hardware import events as E


def _spikes(seed: int = 0, shape=(50, 4, 24)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g) < 0.1).to(torch.int8)
    x[:, 2] = 0  # one silent sample
    return x


def test_dense_file_lava_round_trip(tmp_path) -> None:
    x = _spikes()
    ev = E.from_dense(x, dt=1e-3, labels=np.array([3, 1, 4, 1]))
    assert len(ev) == int(x.sum())
    key = np.lexsort((ev.idx, ev.t, ev.sample))
    assert np.array_equal(key, np.arange(len(ev)))  # sorted by (sample, t, idx)
    back = E.read_events(E.write_events(ev, tmp_path / "in.events"))
    assert torch.equal(E.to_dense(back), x)
    assert back.labels.tolist() == [3, 1, 4, 1]
    lava = E.to_lava(back, 1)
    assert lava.shape == (24, 50) and np.array_equal(lava, x[:, 1].numpy().T)


def test_chunks_concatenate_and_slice_exactly() -> None:
    x = _spikes(1, (30, 7, 10))
    parts = [E.from_dense(x[:, a:b], labels=np.arange(a, b)) for a, b in [(0, 3), (3, 4), (4, 7)]]
    ev = E.concat(parts)
    whole = E.from_dense(x, labels=np.arange(7))
    for key in ("sample", "t", "idx", "labels"):
        assert np.array_equal(getattr(ev, key), getattr(whole, key))
    assert torch.equal(E.to_dense(ev, 2, 5), x[:, 2:5])
    assert torch.equal(E.to_dense(ev, 5), x[:, 5:])
    with pytest.raises(SnnkitError, match="different steps"):
        E.concat([parts[0], E.from_dense(x[:10, :2])])


@pytest.mark.parametrize("dt", [1e-3, 1e-4, 0.1, 7e-4])
def test_nir_event_data_round_trip(tmp_path, dt: float) -> None:
    x = _spikes(1)
    ev = E.from_dense(x, dt=dt)
    data = E.to_nir(ev)
    assert isinstance(data, nir.EventData)
    # NIR's own gridding gives the same tensor (time first in snnkit, sample first in NIR)
    grid = data.to_time_gridded(dt).data
    assert np.array_equal(grid.transpose(1, 0, 2), x.numpy().astype(bool))
    assert torch.equal(E.to_dense(E.from_nir(data, dt)), x)


def test_tonic_round_trip_chw() -> None:
    x = _spikes(2, shape=(30, 3, 2 * 4 * 5))
    ev = E.from_dense(x, dt=1e-3, shape=(2, 4, 5), layout="CHW")
    arrays = [E.to_tonic(ev, b) for b in range(3)]
    assert arrays[0].dtype.names == ("x", "y", "t", "p")
    back = E.from_tonic(arrays, 30, (2, 4, 5), dt=1e-3, layout="CHW")
    assert torch.equal(E.to_dense(back), x)


def test_bad_event_files(tmp_path) -> None:
    (tmp_path / "x.events").write_text("hello")
    with pytest.raises(SnnkitError, match=r"x\.events"):
        E.read_events(tmp_path / "x.events")
    with pytest.raises(SnnkitError, match="binary"):
        E.from_dense(np.full((3, 1, 2), 2))


def test_export_format_events_equals_export_inputs(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from snnkit.cli import app

    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("SNNKIT_DATA", str(root.parent / "shared" / "data"))
    model = str(root / "models" / "trained" / "strsbp_fmnist.pt")
    runner = CliRunner()
    a, b = tmp_path / "a.events", tmp_path / "b.events"
    res = runner.invoke(app, ["export", model, "--format", "events", "--n", "3", "--out", str(a)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export-inputs", "--model", model, "--n", "3", "--out", str(b)])
    assert res.exit_code == 0, res.output
    ea, eb = E.read_events(a), E.read_events(b)
    assert ea.n_samples == 3 and ea.n_neurons == 784 and ea.n_steps == 400 and len(ea) > 1000
    for key in ("sample", "t", "idx", "labels"):
        assert np.array_equal(getattr(ea, key), getattr(eb, key))
