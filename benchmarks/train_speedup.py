"""Does `spikeforge train` on digits speed up by the engine's factor? (issue 3, bar 4)

Times, round-robin in one process so that both share the machine's conditions:

1. the W1 training step of the engine benchmark (700 -> 256 LIF -> 20 LI at (T, B) = (100, 32)) with the torch
   reference scan and with the fused kernels (``spikeforge:torch`` / ``spikeforge:cpu`` of ``interleaved.py``);
2. the real command, ``spikeforge train --dataset digits`` (the default config, 40 epochs), with ``--backend torch``
   and with the default ``--backend auto``, reading training seconds and test accuracy from each run's metrics.json.

Prints both speed-ups (ratio of the minima) and writes ``--out`` (default: a file in the system's temporary folder).

    python benchmarks/train_speedup.py [--rounds 3] [--epochs 40] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import impls  # noqa: E402

from spikeforge.cli import main as cli  # noqa: E402


def time_w1(names: list[str], rounds: int, reps: int = 5) -> dict[str, list[float]]:
    w = impls.canonical_weights("w1")
    x, y = impls.make_data("w1", 100, 32)
    steps = {n: impls.build(n, "w1", w)[0] for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds * reps + 1):  # round 0 warms up (kernel build, allocator)
        for n in names:
            t0 = time.perf_counter()
            loss, _ = steps[n](x, y)
            loss.backward()
            if r:
                times[n].append(time.perf_counter() - t0)
    return times


def time_cli(backends: list[str], rounds: int, epochs: int, out: Path) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {b: [] for b in backends}
    for r in range(rounds):
        for b in backends:
            folder = out / f"{b}-{r}"
            argv = [
                "train",
                "--dataset",
                "digits",
                "--epochs",
                str(epochs),
                "--backend",
                b,
                "--quiet",
                "--out",
                str(folder),
            ]
            t0 = time.perf_counter()
            if cli(argv) != 0:
                raise SystemExit(f"spikeforge {' '.join(argv)} failed")
            wall = time.perf_counter() - t0
            m = json.loads((folder / "metrics.json").read_text())
            runs[b].append(
                {"train_seconds": m["train_seconds"], "wall_seconds": wall, "test_accuracy": m["test_accuracy"]}
            )
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-train_speedup.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    w1 = time_w1(["spikeforge:torch", "spikeforge:cpu"], args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        digits = time_cli(["torch", "auto"], args.rounds, args.epochs, Path(tmp))
    w1_min = {n: min(v) for n, v in w1.items()}
    bench_factor = w1_min["spikeforge:torch"] / w1_min["spikeforge:cpu"]
    train_min = {b: min(r["train_seconds"] for r in v) for b, v in digits.items()}
    cli_factor = train_min["torch"] / train_min["auto"]
    acc = {b: sorted({round(r["test_accuracy"], 6) for r in v}) for b, v in digits.items()}
    print(f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {args.threads} torch threads")
    print(
        f"W1 (100, 32) training step: torch reference {w1_min['spikeforge:torch'] * 1e3:.1f} ms, fused "
        f"{w1_min['spikeforge:cpu'] * 1e3:.1f} ms -> x{bench_factor:.2f}"
    )
    print(
        f"spikeforge train --dataset digits ({args.epochs} epochs): --backend torch {train_min['torch']:.2f} s, "
        f"auto {train_min['auto']:.2f} s training -> x{cli_factor:.2f}; test accuracy torch {acc['torch']}, "
        f"auto {acc['auto']}"
    )
    print("bar (train speed-up >= benchmark speed-up):", "met" if cli_factor >= bench_factor else "NOT met")
    result = {
        "w1_train_step_ms": {n: [t * 1e3 for t in v] for n, v in w1.items()},
        "w1_factor": bench_factor,
        "digits_runs": digits,
        "digits_factor": cli_factor,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "threads": args.threads,
        "load_average": [load_before, os.getloadavg()[0]],
        "machine": platform.machine(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    path = args.out
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
