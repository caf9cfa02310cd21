"""Does the default model of `spikeforge train` train faster on spike input now that it times its synapses? (issue 11)

An SHD-layout corpus at SHD's real size (8156 training and 2264 test recordings, 700 channels, 20 classes) is
written by the tests' synthetic HDF5 writer (``tests/formats.py``), read back by the same loader ``spikeforge train
--dataset shd:DIR`` uses, at 1 ms bins without channel pooling over a 100 ms window (T = 100, the W1 benchmark's
shape) and at W1's input density (5 %, every spike in its own bin, so the input is binary). Classes differ by which
35-channel block fires more often.

Two copies of the same model (``mlp``, 700 -> 256 LIF -> 20 LI, the builders' config, batch 32) are trained from the
same seed, one epoch per round, round-robin in one process so that both see the same load:

* ``dense``: ``synapses="dense"``, plain ``nn.Linear`` layers: the default before this change (git HEAD~8);
* ``auto``: the new default: each linear layer times its event-driven and dense paths on this machine for its
  shape and spike density (once, cached) and takes the faster one.

Prints the per-epoch training seconds (min and spread), the ratio dense / auto (bar: >= 1.3), the test accuracy of
each, the path every layer took and the timings behind each decision. Results go to ``--out`` (default: a file in
the system's temporary folder; ``benchmarks/results/event_default.json`` is where the project keeps the one it
quotes).

    python benchmarks/event_default.py [--rounds 2] [--threads 2] [--train 8156] [--test 2264]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _machine import cpu_model, run_record, write_result  # noqa: E402

from formats import write_heidelberg  # noqa: E402  (the tests' SHD-layout writer)
from spikeforge import _choice  # noqa: E402
from spikeforge.data._spike_series import spike_series  # noqa: E402
from spikeforge.data._spikes import load_shd  # noqa: E402
from spikeforge.learning import TrainConfig  # noqa: E402
from spikeforge.learning.supervised import evaluate, fit  # noqa: E402
from spikeforge.models import build_model  # noqa: E402
from spikeforge.synapses import synapse_paths  # noqa: E402

T, CHANNELS, CLASSES, DT = 100, 700, 20, 0.001


def write_corpus(folder: Path, n_train: int, n_test: int, density: float, seed: int = 0) -> None:
    """SHD-layout files: each sample has ``density * T * CHANNELS`` spikes in distinct (bin, channel) cells,
    40 % of them inside its class's 35-channel block."""
    rng = np.random.default_rng(seed)
    n_spikes = round(density * T * CHANNELS)
    block = CHANNELS // CLASSES

    def samples(n: int):
        out, labels = [], []
        for i in range(n):
            c = i % CLASSES
            inside = rng.choice(T * block, int(0.4 * n_spikes), replace=False)
            inside = (inside // block) * CHANNELS + c * block + inside % block
            rest = rng.choice(T * CHANNELS, 3 * n_spikes, replace=False)
            cells = np.unique(np.concatenate([inside, rest]))
            cells = rng.permutation(cells)[:n_spikes]
            cells.sort()
            times = (cells // CHANNELS + 0.5) * DT  # bin centres: every spike in its own 1 ms bin
            out.append((times, cells % CHANNELS))
            labels.append(c)
        return out, labels

    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        write_heidelberg(folder / name, *samples(n), keys=[f"word{k}".encode() for k in range(CLASSES)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train", type=int, default=8156, help="training recordings (SHD: 8156)")
    ap.add_argument("--test", type=int, default=2264, help="test recordings (SHD: 2264)")
    ap.add_argument("--density", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-event_default.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_corpus(Path(tmp) / "shd", args.train, args.test, args.density)
        corpus = load_shd(Path(tmp) / "shd", dt=DT, duration=T * DT, pool=1)
        split = spike_series(f"shd:{tmp}/shd", corpus, val_fraction=0.1)
        print(f"corpus written and binned in {time.perf_counter() - t0:.0f} s: x_train {tuple(split.x_train.shape)}")
    density = float((split.x_train != 0).float().mean())
    binary = bool(((split.x_train == 0) | (split.x_train == 1)).all())
    cfg = TrainConfig(epochs=1, timesteps=T, readout="mean", lr=2e-3, batch_size=32, seed=0, restore_best=False)
    base = {"model": "mlp", "hidden": [256], "input_shape": [CHANNELS], "n_classes": CLASSES}
    names = ("dense", "auto")
    models = {}
    for n in names:
        torch.manual_seed(0)
        models[n] = build_model({**base, "synapses": n})
    seconds: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for n in names:
            history = fit(models[n], split, cfg)
            seconds[n].append(sum(h["seconds"] for h in history))
    acc = {n: evaluate(models[n], split.x_test, split.y_test, cfg, split.len_test).accuracy for n in names}
    best = {n: min(v) for n, v in seconds.items()}
    ratio = best["dense"] / best["auto"]
    paths = {n: synapse_paths(models[n]) for n in names}
    print(f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {args.threads} torch threads, {cpu_model()}")
    print(f"input density {density:.2%} ({'binary' if binary else 'NOT binary'}), T={T}, batch 32")
    for n in names:
        spread = ", ".join(f"{s:.1f}" for s in seconds[n])
        print(f"{n:>5}: epoch {best[n]:.1f} s (runs {spread}), test accuracy {acc[n]:.2%}, paths {paths[n]}")
    print(f"per-epoch speed-up dense / auto: x{ratio:.2f} (bar >= 1.3: {'met' if ratio >= 1.3 else 'NOT met'})")
    for key, entry in _choice.CHOOSER.decisions.items():
        timed = ", ".join(f"{p} {s * 1e3:.2f} ms" for p, s in entry["seconds"].items())
        print(f"  decision {entry['path']:>5} <- {timed}  [{key}]")
    result = {
        "epoch_seconds": seconds,
        "ratio_dense_over_auto": ratio,
        "test_accuracy": acc,
        "paths": paths,
        "decisions": _choice.CHOOSER.decisions,
        "density": density,
        "n_train": args.train,
        "n_test": args.test,
        "rounds": args.rounds,
        "threads": args.threads,
        **run_record(load_before),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
