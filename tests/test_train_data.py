"""Data sets and rate encoding (snnkit.train.data): real IDX files, corrupt copies, no network."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import numpy as np
import pytest
import torch

from snnkit.errors import SnnkitError
from snnkit.train import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No data anywhere unless a test puts it there."""
    monkeypatch.delenv("SNNKIT_DATA", raising=False)
    monkeypatch.setenv("SNNKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIR", tmp_path / "system")
    return tmp_path


@pytest.fixture
def shared(clean_env, monkeypatch):
    assert (SHARED / "mnist").is_dir(), f"the data sets are expected at {SHARED} (../shared/data)"
    monkeypatch.setenv("SNNKIT_DATA", str(SHARED))
    return SHARED


def fake_set(root: Path, folder: str = "mnist") -> Path:
    """A folder with the four (empty) file names: enough for resolve_data_dir."""
    (root / folder).mkdir(parents=True)
    for stem in data.FILES:
        (root / folder / f"{stem}.gz").touch()
    return root / folder


def copy_set(src: Path, dst: Path) -> Path:
    """Symlink a real set into ``dst`` so that single files can be replaced cheaply."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).symlink_to(f)
    return dst


def one_line_error(excinfo: pytest.ExceptionInfo, *parts: str) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    for part in parts:
        assert part in msg, msg
    return msg


# --- real data --------------------------------------------------------------------------

def test_fashion_mnist_test_set(shared):
    ds = data.load_dataset("fashion-mnist", "test")
    assert ds.images.shape == (10_000, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and len(ds) == 10_000
    assert np.bincount(ds.labels).tolist() == [1000] * 10
    assert (ds.name, ds.split) == ("fashion-mnist", "test")


def test_mnist_test_set_and_checksum_cache(shared):
    data._VERIFIED.clear()
    ds = data.load_dataset("mnist", "test")
    assert np.bincount(ds.labels).tolist() == MNIST_TEST_COUNTS
    assert ds.images.max() == 255 and ds.images.flags.writeable
    assert len(data._VERIFIED) == 2  # both files hashed once, remembered by path+mtime+size
    assert data.resolve_data_dir("mnist") == shared / "mnist"


def test_mnist_holdout(shared):
    full = data.load_dataset("mnist", "train")
    train = data.load_dataset("mnist", "train", holdout=5000)
    val = data.load_dataset("mnist", "validation", holdout=5000)
    assert (len(full), len(train), len(val)) == (60_000, 55_000, 5000)
    assert np.array_equal(np.concatenate([train.labels, val.labels]), full.labels)
    assert np.array_equal(val.images, full.images[-5000:])
    with pytest.raises(SnnkitError) as excinfo:
        data.load_dataset("mnist", "validation")
    one_line_error(excinfo, "holdout")
    with pytest.raises(SnnkitError):
        data.load_dataset("mnist", "dev")


def test_psmnist_permutation_and_splits(shared):
    order, pixels = data.psmnist_permutation()
    assert sorted(pixels.tolist()) == list(range(784))
    assert pixels[:10].tolist() == [46, 466, 537, 44, 515, 589, 362, 765, 270, 539]
    assert order[:5].tolist() == [6820, 11854, 9635, 45077, 18764]
    splits = {s: data.load_dataset("psmnist", s) for s in data.SPLITS}
    assert {s: d.images.shape for s, d in splits.items()} == {
        "train": (50_000, 784), "validation": (10_000, 784), "test": (10_000, 784)}
    mnist_train = data.load_dataset("mnist", "train")
    counts = np.bincount(np.concatenate([splits["train"].labels, splits["validation"].labels]))
    assert counts.tolist() == np.bincount(mnist_train.labels).tolist()
    first = mnist_train.images[order[0]].reshape(-1)[pixels]
    assert np.array_equal(splits["train"].images[0], first)
    mnist_test = data.load_dataset("mnist", "test")
    assert np.array_equal(splits["test"].images, mnist_test.images.reshape(-1, 784)[:, pixels])
    with pytest.raises(SnnkitError):
        data.load_dataset("psmnist", "train", holdout=5000)


# --- broken files -------------------------------------------------------------------------

@pytest.fixture
def labels_raw() -> bytes:
    header = bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big")
    return header + bytes(range(10)) * 10


def test_load_idx_ok(tmp_path, labels_raw):
    (tmp_path / "a").write_bytes(labels_raw)
    (tmp_path / "a.gz").write_bytes(gzip.compress(labels_raw))
    for name in ("a", "a.gz"):
        arr = data.load_idx(tmp_path / name)
        assert arr.shape == (100,) and arr.dtype == np.uint8 and arr[13] == 3


@pytest.mark.parametrize("kind, expect", [
    ("bad_magic", "not an IDX file"),
    ("truncated", "truncated"),
    ("extra", "extra bytes"),
    ("gzip_garbage", "corrupt gzip"),
    ("gzip_cut", "corrupt gzip"),
    ("not_gzip", "expected gzip"),
    ("empty", "not an IDX file"),
])
def test_load_idx_broken(tmp_path, labels_raw, kind, expect):
    name = "t10k-labels-idx1-ubyte.gz"
    payload = {
        "bad_magic": gzip.compress(b"\x08\x03" + labels_raw[2:]),
        "truncated": gzip.compress(labels_raw[:-7]),
        "extra": gzip.compress(labels_raw + b"\0"),
        "gzip_garbage": b"\x1f\x8b" + bytes(range(200)),
        "gzip_cut": gzip.compress(labels_raw)[:-12],
        "not_gzip": labels_raw,
        "empty": gzip.compress(b""),
    }[kind]
    (tmp_path / name).write_bytes(payload)
    with pytest.raises(SnnkitError) as excinfo:
        data.load_idx(tmp_path / name)
    one_line_error(excinfo, name, expect)


def test_checksum_mismatch(shared, tmp_path):
    folder = copy_set(shared / "mnist", tmp_path / "d" / "mnist")
    name = "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress((shared / "mnist" / name).read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # still a valid IDX file, one label changed
    (folder / name).unlink()
    (folder / name).write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    with pytest.raises(SnnkitError) as excinfo:
        data.load_dataset("mnist", "test", data_dir=tmp_path / "d")
    one_line_error(excinfo, name, "SHA-256")
    ds = data.load_dataset("mnist", "test", data_dir=tmp_path / "d", verify=False)
    assert len(ds) == 10_000


def test_truncated_file_in_a_set(shared, tmp_path):
    folder = copy_set(shared / "mnist", tmp_path / "mnist")
    name = "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress((shared / "mnist" / name).read_bytes())
    (folder / name).unlink()
    (folder / name).write_bytes(gzip.compress(raw[:-784], compresslevel=1))
    with pytest.raises(SnnkitError) as excinfo:
        data.load_dataset("mnist", "test", data_dir=tmp_path)  # the files directly
    one_line_error(excinfo, name, "truncated", "10000x28x28")


# --- finding the files ------------------------------------------------------------------

def test_missing_lists_places(clean_env, monkeypatch):
    monkeypatch.setenv("SNNKIT_DATA", str(clean_env / "env"))
    with pytest.raises(SnnkitError) as excinfo:
        data.resolve_data_dir("fashion-mnist")
    one_line_error(excinfo, str(clean_env / "env" / "fashion-mnist"),
                   str(clean_env / "cache" / "data" / "fashion-mnist"),
                   str(clean_env / "system" / "fashion-mnist"),
                   "snnkit data download fashion-mnist", "--data-dir", "SNNKIT_DATA")
    with pytest.raises(SnnkitError) as excinfo:
        data.load_dataset("mnist", data_dir=clean_env / "nowhere")
    one_line_error(excinfo, str(clean_env / "nowhere"), "--data-dir")


def test_incomplete_folder_names_missing_file(clean_env):
    folder = fake_set(clean_env / "x")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(SnnkitError) as excinfo:
        data.resolve_data_dir("mnist", clean_env / "x")
    one_line_error(excinfo, "missing t10k-labels-idx1-ubyte")


def test_unknown_name_suggests(clean_env):
    for call in (data.resolve_data_dir, data.load_dataset, data.download):
        with pytest.raises(SnnkitError) as excinfo:
            call("mnsit")
        one_line_error(excinfo, "did you mean 'mnist'", "fashion-mnist", "psmnist")


def test_resolution_order(clean_env, monkeypatch):
    explicit = fake_set(clean_env / "explicit")
    env = fake_set(clean_env / "env")
    cache = fake_set(clean_env / "cache" / "data")
    system = fake_set(clean_env / "system")
    monkeypatch.setenv("SNNKIT_DATA", str(clean_env / "env"))
    assert data.resolve_data_dir("mnist", clean_env / "explicit") == explicit
    assert data.resolve_data_dir("psmnist", explicit) == explicit  # the files directly
    assert data.resolve_data_dir("mnist") == env
    monkeypatch.delenv("SNNKIT_DATA")
    assert data.resolve_data_dir("psmnist") == cache
    shutil.rmtree(cache)
    assert data.resolve_data_dir("mnist") == system
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    monkeypatch.delenv("SNNKIT_CACHE_DIR")
    assert data.cache_dir() == clean_env / "xdg" / "snnkit" / "data"


# --- rate encoding ------------------------------------------------------------------------

def test_rate_encode_reproducible():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    a = data.rate_encode(images, 20, 7)
    assert a.shape == (20, 3, 784) and a.dtype == torch.float32
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, data.rate_encode(torch.from_numpy(images), 20, 7))
    assert not torch.equal(a, data.rate_encode(images, 20, 8))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(data.rate_encode(images, 5, g1), data.rate_encode(images, 5, g2))
    with pytest.raises(SnnkitError):
        data.rate_encode(images, 0, 1)
    with pytest.raises(SnnkitError):
        data.rate_encode(images.astype(np.float32) * 2, 5, 1)


@pytest.mark.parametrize("threads", [1, 2])
def test_encode_batch_is_rate_encode_per_image(threads: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's trains (drawn by several threads) are those of :func:`rate_encode` with each
    image's own seed, whatever the batch they are drawn in; the epoch enters only "fresh"."""
    from snnkit.train.encoding import encode_batch, sample_seed

    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    images = np.random.default_rng(1).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    idx = np.array([4, 0, 5])
    x = encode_batch(images, idx, 30, 0.5, 3, "train")
    assert x.dtype == torch.bool
    for b, i in enumerate(idx):
        gen = torch.Generator().manual_seed(sample_seed(3, "train", int(i)))
        assert torch.equal(x[:, b:b + 1].float(),
                           data.rate_encode(images[i][None], 30, gen, p_max=0.5))
    assert torch.equal(encode_batch(images, idx[::-1], 30, 0.5, 3, "train"), x.flip(1))
    assert not torch.equal(encode_batch(images, idx, 30, 0.5, 3, "train", epoch=1), x)


def test_rate_encode_rates():
    levels = np.array([0, 1, 51, 128, 200, 255], dtype=np.uint8)
    images = np.tile(levels, (50, 1))  # 50 images of 6 pixels
    T = 2000
    spikes = data.rate_encode(images, T, 0).numpy()
    rate = spikes.mean(axis=(0, 1))
    p = levels / (5.5 * 255)
    sigma = np.sqrt(p * (1 - p) / (T * len(images)))
    assert rate[0] == 0
    assert np.all(np.abs(rate - p) <= 5 * sigma + 1e-12), (rate, p)
    full = data.rate_encode(images, 500, 1, p_max=1.0).numpy().mean(axis=(0, 1))
    assert full[-1] == 1.0 and abs(full[3] - 128 / 255) < 0.02


# --- download (no network) ---------------------------------------------------------------

def serve(folder: Path, calls: list[str], tamper=None):
    """A stand-in for urlopen that serves the local .gz files."""
    def fake_urlopen(url, timeout=None):
        calls.append(url)
        path = folder / url.rsplit("/", 1)[-1]
        if tamper is not None:
            path = tamper(path)
        return urlopen(path.as_uri())
    return fake_urlopen


def test_download_writes_and_verifies(shared, tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(data, "urlopen", serve(shared / "mnist", calls))
    folder = data.download("psmnist", tmp_path / "dl", progress=False)
    assert folder == tmp_path / "dl" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.gz" for s in data.FILES)
    assert all(url.startswith(data.DATASETS["mnist"].mirrors[0]) for url in calls)
    assert len(calls) == 4
    ds = data.load_dataset("mnist", "test", data_dir=tmp_path / "dl")
    assert np.bincount(ds.labels).tolist() == MNIST_TEST_COUNTS
    data.download("mnist", tmp_path / "dl", progress=False)
    assert len(calls) == 4  # intact files are kept, nothing fetched again


def test_download_refuses_corrupt_file(shared, tmp_path, monkeypatch):
    bad = tmp_path / "bad.gz"
    raw = bytearray(gzip.decompress((shared / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[-1] ^= 1
    bad.write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    calls: list[str] = []
    monkeypatch.setattr(data, "urlopen", serve(shared / "mnist", calls, tamper=lambda p: bad))
    dest = tmp_path / "dl"
    with pytest.raises(SnnkitError) as excinfo:
        data.download("mnist", dest, progress=False)
    one_line_error(excinfo, "could not download", "train-images-idx3-ubyte")
    assert len(calls) == 2  # both mirrors tried
    assert [p for p in dest.rglob("*") if p.is_file()] == []


def test_download_network_failure(clean_env, monkeypatch):
    def offline(url, timeout=None):
        raise URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(data, "urlopen", offline)
    with pytest.raises(SnnkitError) as excinfo:
        data.download("fashion-mnist", progress=False)  # default: the user cache
    one_line_error(excinfo, "could not download", "name resolution", "fashion-mnist")
    assert not (clean_env / "cache" / "data" / "fashion-mnist").exists()
