"""Shared helpers of the study scripts: run `spikeforge train` in a subprocess at one thread, keep results in a JSON
file that is rewritten atomically after every run (an interrupted study resumes where it stopped), and print tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "runs" / "corpora" / "spoken_digits"


def environment() -> dict:
    return {
        "cpu": cpu_model(),
        "threads": 1,
        "load_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"runs": {}, "environment": environment()}


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def train(args: list[str], out: Path) -> dict:
    """``spikeforge train ARGS --out OUT --overwrite --quiet`` at one thread; its metrics.json (plus ``seconds``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "spikeforge", "train", *args, "--out", str(out), "--overwrite", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["seconds"] = time.perf_counter() - start
    return metrics


def summary(rows: dict) -> dict:
    """Figures kept per run (the whole metrics.json is in the run folder)."""
    eff = rows.get("efficiency", {})
    return {
        "test_accuracy": rows["test_accuracy"],
        "val_accuracy": rows["val_accuracy"],
        "firing_rate_per_step": rows.get("firing_rate_per_step", {}),
        "per_sample": eff.get("per_sample", {}),
        "energy_pj": eff.get("energy_estimate_pj_per_sample", {}),
        "n_parameters": rows["n_parameters"],
        "train_seconds": rows["train_seconds"],
        "seconds": rows["seconds"],
    }


def mean_std(values: list[float]) -> str:
    """``mean ± sample std`` in percent."""
    pct = [100 * v for v in values]
    if len(pct) == 1:
        return f"{pct[0]:.1f}"
    return f"{statistics.mean(pct):.1f} ± {statistics.stdev(pct):.1f}"


def need_corpus(path: Path) -> Path:
    if not path.is_dir():
        sys.exit(f"{path}: not found; build it first with: python benchmarks/spoken_digits.py --out {path}")
    return path


def clean(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def outputs(parser: argparse.ArgumentParser, name: str, *, plot: bool = True, table_only: bool = True) -> None:
    """The options every study shares: ``--results`` (its JSON under ``runs/studies/``), ``--plot`` (its PNG) and
    ``--table-only`` (print the table of the results so far, run nothing)."""
    studies = ROOT / "runs" / "studies"
    parser.add_argument("--results", type=Path, default=studies / f"{name}.json")
    if plot:
        parser.add_argument("--plot", type=Path, default=studies / f"{name}.png")
    if table_only:
        parser.add_argument("--table-only", action="store_true")


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def report(text: str, plot=None, data: dict | None = None, path: Path | None = None) -> int:
    """Print a study's table and, with ``plot``, draw ``plot(data, path)`` and name the file; the exit status."""
    print(text)
    if plot is not None:
        plot(data, path)
        print(f"plot: {path}")
    return 0
