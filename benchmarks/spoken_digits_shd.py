"""The spoken-digit corpus in the layout of the Spiking Heidelberg Digits (SHD) files, for `--dataset shd:DIR`.

Each recording goes through `AudioToSpikes` at 1 ms steps (32 mel bands, 1 dB per spike: the front end's own
defaults) and its up/down spikes become SHD events: ``spikes/times`` (seconds, float16 as in SHD), ``spikes/units``
(uint16) and ``labels``. The 64 channels are spread over SHD's 700 unit indices (channel c -> unit 10 c + 5), so
the loader's default pooling of 5 neighbouring units (700 -> 140) keeps every channel apart. The train/test parts
are the corpus' own (test = unseen voices).

    python benchmarks/spoken_digits_shd.py        # writes runs/corpora/spoken_digits_shd/shd_{train,test}.h5
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from _study import CORPUS, ROOT, need_corpus


def convert(corpus: Path, out: Path) -> None:
    import h5py
    import torch

    from spikeforge.encoding import AudioToSpikes

    torch.set_num_threads(1)
    manifest = json.loads((corpus / "manifest.json").read_text())
    front = AudioToSpikes(manifest["sample_rate"], dt=0.001)
    out.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        files = [f for f in manifest["files"] if f["part"] == part]
        times, units = [], []
        for f in files:
            z = front(corpus / f["file"])  # [T, 64]
            t, c = z.nonzero(as_tuple=True)
            order = np.lexsort((c.numpy(), t.numpy()))
            times.append(((t.numpy()[order] + 0.5) * 0.001).astype(np.float16))  # mid-step, in seconds
            units.append((c.numpy()[order] * 10 + 5).astype(np.uint16))
        tmp = out / f"shd_{part}.h5.tmp"
        with h5py.File(tmp, "w") as h:
            h.create_dataset("spikes/times", data=np.array(times, dtype=object), dtype=h5py.vlen_dtype(np.float16))
            h.create_dataset("spikes/units", data=np.array(units, dtype=object), dtype=h5py.vlen_dtype(np.uint16))
            h.create_dataset("labels", data=np.array([f["label"] for f in files], dtype=np.uint16))
            h.create_dataset("extra/keys", data=np.array(manifest["classes"], dtype="S"))
        os.replace(tmp, out / f"shd_{part}.h5")
        print(f"{out / f'shd_{part}.h5'}: {len(files)} samples", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "corpora" / "spoken_digits_shd")
    args = p.parse_args()
    convert(need_corpus(args.corpus), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
