"""Small files in real formats, written by tests (no downloads)."""

import gzip
import struct

import numpy as np

from spikeforge.data import IDX_FILES


def write_idx(path, array: np.ndarray, *, gz: bool = False) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def make_idx_folder(folder, *, n_train=60, n_test=20, size=8, gz=False, seed=0):
    """A small MNIST-format data set: class k is a bright bar in row k of the image (learnable)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 4
        images = rng.integers(0, 40, size=(n, size, size))
        for i, k in enumerate(labels):
            images[i, 2 * k : 2 * k + 2, :] = 255
        write_idx(folder / IDX_FILES[f"{part}_images"], images, gz=gz)
        write_idx(folder / IDX_FILES[f"{part}_labels"], labels, gz=gz)
    return folder
