"""Does `spikeforge train --model conv` train faster per epoch than the code issue 11 started from? (issue 11, bar 6)

Runs the real command, ``spikeforge train --model conv --dataset D --epochs E --seed 0``, on two data sets: the
shipped ``digits`` (E = 10 by default) and an MNIST-format ``idx:`` folder (E = 2; written here by the tests' writer,
``tests/formats.py``: 2000 training and 500 test images of 28 x 28, 4 classes, a bright bar per class). Each run is a fresh process; the baseline runs the package source of
``--baseline`` (default ``d823ad5``, the commit before the first of issue 11's; extracted with ``git archive``, with
its own kernel cache), the other the source of this checkout. Runs alternate, baseline and current, round after round,
so both see the same load. Prints the training seconds per epoch (minimum over rounds, and every run) and the test
accuracy of each, and writes ``--out`` (default: a file in the system's temporary folder).

    python benchmarks/conv_epochs.py [--rounds 3] [--epochs 10] [--threads 2] [--baseline d823ad5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from _machine import cpu_model, run_record, write_result

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from formats import make_idx_folder  # noqa: E402


def extract(rev: str, into: Path) -> Path:
    """The package source of ``rev`` (``src/``) under ``into``, by ``git archive``."""
    archive = into / "src.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def train(src: Path, cache: Path, dataset: str, epochs: int, threads: int, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "SPIKEFORGE_CACHE": str(cache), "OMP_NUM_THREADS": str(threads)}
    argv = [sys.executable, "-m", "spikeforge", "train", "--model", "conv", "--dataset", dataset]
    argv += ["--epochs", str(epochs), "--seed", "0", "--quiet", "--out", str(out)]
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    m = json.loads((out / "metrics.json").read_text())
    return {"seconds_per_epoch": m["train_seconds"] / epochs, "test_accuracy": m["test_accuracy"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10, help="epochs on digits (idx: a fifth, at least 1)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline", default="d823ad5")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-conv_epochs.json")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "base").mkdir()
        sources = {"baseline": extract(args.baseline, tmp / "base"), "current": ROOT / "src"}
        idx = make_idx_folder(tmp / "idx", n_train=2000, n_test=500, size=28)
        datasets = {"digits": "digits", "idx": f"idx:{idx}"}
        epochs = {"digits": args.epochs, "idx": max(1, args.epochs // 5)}
        runs: dict[str, dict[str, list[dict]]] = {d: {s: [] for s in sources} for d in datasets}
        for r in range(args.rounds):
            for d, spec in datasets.items():
                for s, src in sources.items():
                    out = tmp / f"{d}-{s}-{r}"
                    runs[d][s].append(train(src, tmp / f"cache-{s}", spec, epochs[d], args.threads, out))
    print(f"{cpu_model()}, {args.threads} threads, load {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"spikeforge train --model conv, epochs {epochs}, {args.rounds} rounds; baseline {args.baseline}")
    result = {"rows": {}}
    for d in datasets:
        best = {s: min(x["seconds_per_epoch"] for x in v) for s, v in runs[d].items()}
        for s, v in runs[d].items():
            every = ", ".join(f"{x['seconds_per_epoch']:.2f}" for x in v)
            accs = sorted({round(x["test_accuracy"], 4) for x in v})
            print(f"  {d:>6} {s:>8}: {best[s]:.2f} s per epoch (runs {every}), test accuracy {accs}")
        speedup = best["baseline"] / best["current"]
        print(f"  {d:>6}: baseline / current x{speedup:.2f} ({'faster' if speedup > 1 else 'NOT faster'})")
        result["rows"][d] = {"runs": runs[d], "speedup": speedup}
    write_result(args.out, {**run_record(load_before), "args": vars(args) | {"out": str(args.out)}, **result})


if __name__ == "__main__":
    main()
