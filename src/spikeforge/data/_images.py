"""Image classification data: scikit-learn's bundled digits and MNIST-format IDX folders."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["IDX_FILES", "Split", "load_digits", "load_idx", "read_idx"]

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class Split:
    """A train/validation/test split of images in [0, 1] (``[N, 1, H, W]`` float32) and integer labels."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _stratified(y: np.ndarray, fractions: tuple[float, float], seed: int):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    val_frac, test_frac = fractions
    rest, test = train_test_split(idx, test_size=test_frac, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=val_frac / (1 - test_frac), stratify=y[rest], random_state=seed)
    return train, val, test


def load_digits(*, split_seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.25) -> Split:
    """scikit-learn's 1797 8x8 digits (inside its wheel, no download), stratified train/val/test split.

    The split is fixed by ``split_seed`` (not the training seed), so runs with different training seeds are
    scored on the same test images.
    """
    from sklearn.datasets import load_digits as _load

    data = _load()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    y = data.target.astype(np.int64)
    train, val, test = _stratified(y, (val_fraction, test_fraction), split_seed)
    t = torch.from_numpy
    return Split("digits", t(x[train]), t(y[train]), t(x[val]), t(y[val]), t(x[test]), t(y[test]), 10)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (plain or gzipped): big-endian magic (0x0000 0803 images / 0801 labels), sizes, uint8."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected an IDX file")
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path}: not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4)
            if len(header) < 4 or header[:2] != b"\x00\x00" or header[2] != 0x08:
                raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {header.hex()!r})")
            ndim = header[3]
            dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            data = f.read()
    except (OSError, EOFError, struct.error, zlib.error) as err:
        raise ValueError(f"{path}: cannot read IDX file ({err})") from None
    expected = math.prod(dims)
    if len(data) != expected:
        raise ValueError(f"{path}: header promises {expected} bytes for shape {dims}, file holds {len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"dataset idx:{folder}: missing {stem}[.gz]; an IDX folder holds the four MNIST-format files "
        f"{', '.join(IDX_FILES.values())} (plain or gzipped)"
    )


def _check_labels(train: np.ndarray, test: np.ndarray, folder: Path) -> int:
    """The number of classes ``K`` of an IDX data set, whose files declare none: the labels must be ``0 .. K-1``
    with every class present in the training labels, and the test labels among them. A stray label (255 in a
    10-class set) would otherwise make a model with ``K = 256`` outputs, 246 of them never trained."""
    present = np.unique(train)
    n_classes = int(present.max()) + 1
    if len(present) != n_classes:
        absent = sorted(set(range(n_classes)) - set(present.tolist()))
        counts = {int(c): int((train == c).sum()) for c in present[-3:]}
        raise ValueError(
            f"dataset idx:{folder}: training labels must be the classes 0..K-1, each present; got {len(present)} "
            f"distinct labels up to {n_classes - 1} (labels {_brief(absent)} never occur; samples per label at the "
            f"top: {counts}). IDX files declare no class list, so a stray label (255?) would add classes"
        )
    stray = sorted(set(np.unique(test).tolist()) - set(present.tolist()))
    if stray:
        raise ValueError(
            f"dataset idx:{folder}: test labels {_brief(stray)} do not occur in the training labels "
            f"(classes 0..{n_classes - 1})"
        )
    return n_classes


def _brief(values: list[int]) -> str:
    return (
        str(values) if len(values) <= 8 else f"[{', '.join(map(str, values[:4]))}, ..., {values[-1]}] ({len(values)})"
    )


def load_idx(folder: str | Path, *, split_seed: int = 0, val_fraction: float = 0.1) -> Split:
    """MNIST-format IDX folder (MNIST, Fashion-MNIST, KMNIST ...). The official test set is the test split; a
    stratified ``val_fraction`` of the training set becomes the validation split."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset idx:{folder}: folder not found")
    arrays = {key: read_idx(_find(folder, stem)) for key, stem in IDX_FILES.items()}
    for part in ("train", "test"):
        xs, ys = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
            raise ValueError(
                f"dataset idx:{folder}: {part} images {xs.shape} and labels {ys.shape} do not match "
                "(expected [N, H, W] images and [N] labels)"
            )
        if len(ys) == 0:
            raise ValueError(f"dataset idx:{folder}: the {part} files hold no samples")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise ValueError(
            f"dataset idx:{folder}: train images are {arrays['train_images'].shape[1:]} but test images are "
            f"{arrays['test_images'].shape[1:]}; expected one image size"
        )
    n_classes = _check_labels(arrays["train_labels"], arrays["test_labels"], folder)
    from sklearn.model_selection import train_test_split

    y_all = arrays["train_labels"].astype(np.int64)
    idx = np.arange(len(y_all))
    stratify = y_all if np.bincount(y_all).min() >= 2 else None
    train, val = train_test_split(idx, test_size=val_fraction, stratify=stratify, random_state=split_seed)
    x_all = torch.from_numpy(arrays["train_images"].astype(np.float32) / 255.0)[:, None]
    x_test = torch.from_numpy(arrays["test_images"].astype(np.float32) / 255.0)[:, None]
    y_t = torch.from_numpy(y_all)
    return Split(
        f"idx:{folder}",
        x_all[train],
        y_t[train],
        x_all[val],
        y_t[val],
        x_test,
        torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        n_classes,
    )
