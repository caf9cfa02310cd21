"""Time per-sample binning of SHD-layout HDF5 files (synthetic: 10k spikes per sample, 700 channels, times in
[0, 1.4) s), read through a DataLoader with ``collate_spikes``. Prints ms per sample and the projected time of one
pass over SHD's 8156 training samples.

Run: ``python benchmarks/data_spikes.py [--samples 500]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from spikeforge.data import HeidelbergSpikes, collate_spikes


def write_synthetic(path: Path, n: int, spikes: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.dtype(np.float16)))
        u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        for i in range(n):
            t[i] = np.sort(rng.uniform(0, 1.4, spikes)).astype(np.float16)
            u[i] = rng.integers(0, 700, spikes).astype(np.uint16)
        f.create_dataset("labels", data=(np.arange(n) % 20).astype(np.uint16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--spikes", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f}, 1 torch thread")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_shd.h5"
        write_synthetic(path, args.samples, args.spikes)
        for kw in (dict(dt=0.01, duration=1.0), dict(dt=0.01, duration=1.0, pool=5), dict(dt=0.001, duration=1.4)):
            ds = HeidelbergSpikes(path, **kw)
            ds[0]
            loader = torch.utils.data.DataLoader(ds, batch_size=64, collate_fn=collate_spikes)
            t0 = time.perf_counter()
            batch = None
            for batch in loader:  # noqa: B007 (the last batch's shape is printed)
                pass
            per = (time.perf_counter() - t0) / args.samples
            print(
                f"{kw}: {per * 1e3:.2f} ms/sample incl. collate, last batch x {tuple(batch.x.shape)}; "
                f"8156 samples ~ {per * 8156:.1f} s"
            )
            ds.close()


if __name__ == "__main__":
    main()
