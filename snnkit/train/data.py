r"""Training data: MNIST, Fashion-MNIST, permuted-sequential MNIST, and rate encoding.

Files
-----
A set is the four standard IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each gzipped ``.gz`` or not) in a folder
``mnist/`` or ``fashion-mnist/`` (``psmnist`` reads MNIST's).  :func:`resolve_data_dir` looks in

1. the explicit ``data_dir`` (``--data-dir``): ``data_dir/<name>/`` or ``data_dir`` itself; when
   one is given nothing else is tried;
2. ``$SNNKIT_DATA/<name>/``;
3. the user cache ``$SNNKIT_CACHE_DIR/data/<name>/`` (else ``$XDG_CACHE_HOME/snnkit/data`` or
   ``~/.cache/snnkit/data``), where :func:`download` puts the files unless told otherwise;
4. ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist`` installs there).

Every file is checked (gzip integrity, IDX magic, size against the header) and, with
``verify=True``, the SHA-256 of its *decompressed* bytes is compared with the packaged
``checksums.txt`` (mirrors gzip the same IDX bytes differently).  A file that passed is not
hashed again in the same process while its path, size and mtime are unchanged.

Splits
------
``mnist``, ``fashion-mnist``: ``test`` is the 10k test set.  With ``holdout = h``, ``train`` is
the first ``60000 - h`` training images and ``validation`` the last ``h`` (file order).

``psmnist`` follows the NRU code of Chandar et al. (2019), "Towards non-saturating recurrent
units" (``apsarath/NRU``, ``nru_project/task/mnist_task.py`` with ``seed: 50`` from
``config/nru.yaml``)::

    rng = np.random.RandomState(50)
    order = rng.permutation(60000)    # training images, shuffled once
    pixels = rng.permutation(784)     # the fixed pixel permutation

train = MNIST train ``[order[:50000]]``, validation = ``[order[50000:]]``, test = MNIST test;
each image is flattened row-major to ``x`` (784 pixels) and presented as ``x[pixels]``.

Rate encoding
-------------
:func:`rate_encode` draws independent spikes ``s[t, b, i] ~ Bernoulli(p[b, i])``,
``p[b, i] = p_max * x[b, i] / 255``, ``t = 0 .. T-1`` (a discrete-time Poisson rate code).
ST-RSBP uses ``p_max = 1/5.5``, i.e. ``p = x / (5.5 * 255)``.  Time comes first (Norse).
"""

from __future__ import annotations

import contextlib
import difflib
import gzip
import hashlib
import math
import os
import zlib
from dataclasses import dataclass
from functools import cache
from http.client import HTTPException
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.request import urlopen

import numpy as np

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write, ensure_writable_dir
from snnkit.io import cache_dir as io_cache_dir
from snnkit.progress import progress_bar

if TYPE_CHECKING:
    import torch

STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FILES = (*STEMS["train"], *STEMS["test"])
SPLITS = ("train", "validation", "test")
SYSTEM_DIR = Path("/usr/share/datasets")
PSMNIST_SEED = 50
PSMNIST_VALIDATION = 10_000
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                  "https://storage.googleapis.com/cvdf-datasets/mnist/")
_FMNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class DatasetInfo:
    """Where a data set's files live (``folder``) and where they can be downloaded from."""

    folder: str
    mirrors: tuple[str, ...]
    description: str


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", _MNIST_MIRRORS, "MNIST digits, 60k train + 10k test, 28x28"),
    "fashion-mnist": DatasetInfo("fashion-mnist", _FMNIST_MIRRORS,
                                 "Fashion-MNIST, 60k train + 10k test, 28x28"),
    "psmnist": DatasetInfo("mnist", _MNIST_MIRRORS,
                           "permuted sequential MNIST, 50k/10k/10k, 784 pixels per sequence"),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split: ``images`` uint8 ``(n, 28, 28)`` (psmnist: ``(n, 784)``), ``labels`` int64."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


def _info(name: str) -> DatasetInfo:
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(str(name).lower(), list(DATASETS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SnnkitError(f"unknown dataset {name!r}{hint} (known: {', '.join(DATASETS)})")


def cache_dir() -> Path:
    """User data cache: ``$SNNKIT_CACHE_DIR/data``, else ``$XDG_CACHE_HOME/snnkit/data``."""
    return io_cache_dir("data")


def _find(folder: Path, stem: str) -> Path | None:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def _candidates(info: DatasetInfo, data_dir: str | Path | None) -> list[tuple[Path, str]]:
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return [(root / info.folder, "--data-dir"), (root, "--data-dir")]
    env = os.environ.get("SNNKIT_DATA")
    found = [(Path(env).expanduser() / info.folder, "$SNNKIT_DATA")] if env else []
    return [*found, (cache_dir() / info.folder, "user cache"), (SYSTEM_DIR / info.folder, "system")]


def resolve_data_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder holding the four IDX files of ``name`` (search order: module docstring)."""
    info = _info(name)
    looked = []
    for folder, origin in _candidates(info, data_dir):
        missing = [stem for stem in FILES if _find(folder, stem) is None]
        if not missing:
            return folder
        gap = f", missing {', '.join(missing)}" if folder.is_dir() else ""
        looked.append(f"{folder} ({origin}{gap})")
    unset = "" if data_dir is not None or os.environ.get("SNNKIT_DATA") else "; SNNKIT_DATA unset"
    raise SnnkitError(
        f"{name} data not found: looked in {', '.join(looked)}{unset}; get it with "
        f"`snnkit data download {name}`, or pass --data-dir / set SNNKIT_DATA to a folder "
        f"holding {info.folder}/ with the 4 IDX files ([.gz])")


def _decompress(raw: bytes, where: object, gz_name: bool) -> bytes:
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SnnkitError(f"{where}: corrupt gzip data ({_one_line(exc)}); "
                              "delete the file and download it again") from None
    if gz_name:
        raise SnnkitError(f"{where}: expected gzip data (magic 1f 8b), got {raw[:2].hex(' ')}")
    return raw


def _parse_idx(raw: bytes, where: object) -> np.ndarray:
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
        raise SnnkitError(f"{where}: not an IDX file (expected magic 00 00 <type> <ndim> with "
                          f"type 08 for ubyte, got {raw[:4].hex(' ') or 'an empty file'})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SnnkitError(f"{where}: truncated IDX header ({len(raw)} of {header} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    expected = header + dtype.itemsize * math.prod(dims)
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has extra bytes"
        shape = "x".join(map(str, dims))
        raise SnnkitError(f"{where}: {what}: its IDX header says {shape} {dtype.name} = "
                          f"{expected} bytes, the (decompressed) file has {len(raw)}")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def _read(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SnnkitError(f"{path}: cannot read ({exc.strerror})") from None
    return _decompress(raw, path, path.suffix == ".gz")


def load_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of the shape its header gives."""
    path = Path(path)
    return _parse_idx(_read(path), path)


@cache
def _checksums() -> dict[str, str]:
    text = resources.files("snnkit.train").joinpath("checksums.txt").read_text()
    lines = (line.strip() for line in text.splitlines())
    rows = (line.split(maxsplit=1) for line in lines if line and not line.startswith("#"))
    return {key.strip().lstrip("*"): digest for digest, key in rows}


_VERIFIED: set[tuple[str, int, int]] = set()


def _check_digest(raw: bytes, key: str, where: object) -> None:
    if hashlib.sha256(raw).hexdigest() != _checksums()[key]:
        raise SnnkitError(f"{where}: SHA-256 of the decompressed bytes does not match the "
                          f"packaged checksum of {key} (corrupt or a different file); delete it "
                          f"and run `snnkit data download {key.split('/')[0]}`")


def _load_file(path: Path, key: str, verify: bool) -> np.ndarray:
    raw = _read(path)
    array = _parse_idx(raw, path)
    if verify:
        st = path.stat()
        stamp = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if stamp not in _VERIFIED:
            _check_digest(raw, key, path)
            _VERIFIED.add(stamp)
    return array


def psmnist_permutation() -> tuple[np.ndarray, np.ndarray]:
    """``(order, pixels)``: shuffle of the 60k training images and the fixed pixel order."""
    rng = np.random.RandomState(PSMNIST_SEED)  # the NRU code's generator, kept for its stream
    return rng.permutation(60_000), rng.permutation(784)


def _split(images: np.ndarray, labels: np.ndarray, name: str, split: str,
           holdout: int) -> tuple[np.ndarray, np.ndarray]:
    if name == "psmnist":
        if holdout not in (0, PSMNIST_VALIDATION):
            raise SnnkitError(f"holdout: psmnist has a fixed 50k/10k/10k split, got {holdout}")
        order, pixels = psmnist_permutation()
        flat = images.reshape(len(images), -1)
        if split == "test":
            return flat[:, pixels], labels
        rows = order[:-PSMNIST_VALIDATION] if split == "train" else order[-PSMNIST_VALIDATION:]
        return flat[rows][:, pixels], labels[rows]
    if split == "test":
        return images, labels
    n = len(labels)
    if not 0 <= holdout < n:
        raise SnnkitError(f"holdout: expected 0 <= holdout < {n}, got {holdout}")
    if split == "validation" and holdout == 0:
        raise SnnkitError(f"split 'validation' of {name}: set holdout > 0 (the last `holdout` "
                          "training images form the validation set)")
    rows = slice(0, n - holdout) if split == "train" else slice(n - holdout, n)
    return images[rows], labels[rows]


def load_dataset(name: str, split: str = "train", data_dir: str | Path | None = None,
                 verify: bool = True, holdout: int = 0) -> Dataset:
    """Load one split (``train``, ``validation``, ``test``) of a data set in :data:`DATASETS`.

    ``holdout``: for mnist/fashion-mnist, how many of the last training images form the
    validation split (psmnist's is fixed).  ``verify``: compare SHA-256 with the packaged sums.
    """
    info = _info(name)
    if split not in SPLITS:
        raise SnnkitError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    folder = resolve_data_dir(name, data_dir)
    part = "test" if split == "test" else "train"
    images, labels = (_load_file(_find(folder, stem), f"{info.folder}/{stem}", verify)
                      for stem in STEMS[part])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise SnnkitError(f"{folder}: {part} images {images.shape} and labels {labels.shape} "
                          "do not match (expected (n, 28, 28) and (n,))")
    images, labels = _split(images, labels.astype(np.int64), name, split, holdout)
    return Dataset(images=images, labels=labels, name=name, split=split)


def _get(url: str, progress: bool) -> bytes:
    with urlopen(url, timeout=60) as response:
        size = int(response.headers.get("Content-Length") or 0) or None
        chunks = []
        with progress_bar(size, url.rsplit("/", 1)[-1], unit="B", enabled=progress,
                          unit_scale=True) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _fetch(info: DatasetInfo, stem: str, progress: bool) -> bytes:
    key, errors = f"{info.folder}/{stem}", []
    for base in info.mirrors:
        url = f"{base}{stem}.gz"
        try:
            payload = _get(url, progress)
            raw = _decompress(payload, url, True)
            _parse_idx(raw, url)
            _check_digest(raw, key, url)
            return payload
        except (OSError, HTTPException) as exc:
            errors.append(f"{url}: {_one_line(exc)}")
        except SnnkitError as exc:
            errors.append(str(exc))
    raise SnnkitError(f"could not download {key} ({'; '.join(errors)}); check the network, or "
                      "copy the IDX files into a folder and pass --data-dir / set SNNKIT_DATA")


def _intact(path: Path, key: str) -> bool:
    try:
        _load_file(path, key, verify=True)
    except SnnkitError:
        return False
    return True


def download(name: str, dest: str | Path | None = None, progress: bool = True) -> Path:
    """Fetch the IDX files of ``name`` into ``dest/<name>/`` and return that folder.

    ``dest`` defaults to ``$SNNKIT_DATA``, else the user cache.  Files already there and intact
    are kept; each download is verified (decompressed SHA-256) before it is written, atomically.
    """
    info = _info(name)
    env = os.environ.get("SNNKIT_DATA")
    root = Path(dest).expanduser() if dest is not None else Path(env) if env else cache_dir()
    folder, created = ensure_writable_dir(root / info.folder, "download folder")
    try:
        for stem in FILES:
            have = _find(folder, stem)
            if have is not None and _intact(have, f"{info.folder}/{stem}"):
                continue
            payload = _fetch(info, stem, progress)
            target = atomic_write(folder / f"{stem}.gz", lambda fh, data=payload: fh.write(data))
            if have is not None and have != target:
                have.unlink()  # a corrupt uncompressed copy would shadow the new file
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise
    return folder


def rate_encode(images: torch.Tensor | np.ndarray, T: int, generator: torch.Generator | int,
                p_max: float = 1 / 5.5, device: torch.device | str | None = None) -> torch.Tensor:
    """Bernoulli spikes ``(T, batch, pixels)`` (float 0/1), rate ``p_max * pixel / 255``.

    ``images``: pixel values 0..255, batch first (``(batch, 28, 28)`` or ``(batch, 784)``).
    ``generator``: a seed or a ``torch.Generator``; the same seed gives the same spikes.
    ``device``: where the result lives (default: that of ``images``).
    """
    import torch

    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T < 1:
        raise SnnkitError(f"T: expected a positive integer number of time steps, got {T!r}")
    if not 0 < p_max <= 1:
        raise SnnkitError(f"p_max: expected 0 < p_max <= 1, got {p_max}")
    x = torch.as_tensor(images)
    if x.ndim < 2 or x.numel() == 0:
        raise SnnkitError(f"images: expected a non-empty batch (batch, ...), got {tuple(x.shape)}")
    x = x.to(device if device is not None else x.device).reshape(len(x), -1).float()
    if x.min() < 0 or x.max() > 255:
        raise SnnkitError("images: expected pixel values in 0..255, got "
                          f"[{float(x.min())}, {float(x.max())}]")
    if not isinstance(generator, torch.Generator):
        seed, generator = int(generator), torch.Generator(device=x.device)
        generator.manual_seed(seed)
    u = torch.rand((int(T), *x.shape), generator=generator, device=generator.device)
    return (u.to(x.device) < x * (p_max / 255)).float()
