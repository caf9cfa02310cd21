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


def write_heidelberg(path, samples, labels, *, speakers=None, keys=None, drop=(), times_dtype=np.float16):
    """An HDF5 file in the SHD/SSC layout: variable-length float16 times and uint16 units, uint16 labels, extras."""
    import h5py

    with h5py.File(path, "w") as f:
        if "spikes/times" not in drop:
            times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.dtype(times_dtype)))
            for i, (t, _) in enumerate(samples):
                times[i] = np.asarray(t, dtype=times_dtype)
        if "spikes/units" not in drop:
            units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
            for i, (_, u) in enumerate(samples):
                units[i] = np.asarray(u, dtype=np.uint16)
        if "labels" not in drop:
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        f.create_dataset("extra/speaker", data=np.arange(len(labels), dtype=np.uint16) % 3)
        f.create_dataset("extra/keys", data=np.array(keys or [f"word{k}".encode() for k in range(4)]))
    return path
