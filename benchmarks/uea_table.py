"""UEA/UCR time-series table: an SNN and a non-spiking GRU baseline, trained by the same `spikeforge train`.

Every run is a real `spikeforge train --config CONFIG --dataset uea:NAME --seed S` (run folders under --runs);
test accuracy is read back from its metrics.json. Results are appended to the JSON file after every run, so an
interrupted sweep resumes where it stopped (runs already recorded are skipped).

    python benchmarks/uea_table.py                                   # every aeon-shipped set, seeds 0 1 2
    python benchmarks/uea_table.py --datasets BasicMotions --seeds 0 1 2
    python benchmarks/uea_table.py --table-only                      # print the table from the JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "snn": ROOT / "configs" / "uea-recurrent.yaml",  # the SNN column of the table
    "gru": ROOT / "configs" / "uea-gru.yaml",  # the non-spiking baseline column
    # other spiking models, listed below the table when run
    "mlp": ROOT / "configs" / "uea-mlp.yaml",
    "delay": ROOT / "configs" / "uea-delay.yaml",
    "ralif": ROOT / "configs" / "uea-recurrent-alif.yaml",
    "snn-wide": ROOT / "configs" / "uea-recurrent-wide.yaml",
}


def _load(path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    return {"runs": [], "datasets": {}}


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _describe(name: str) -> dict:
    from spikeforge.data import load_uea

    s = load_uea(name)
    lengths = [int(v) for part in (s.len_train, s.len_val, s.len_test) for v in part]
    return {
        "n_train": len(s.y_train),
        "n_val": len(s.y_val),
        "n_test": len(s.y_test),
        "channels": s.input_shape[0],
        "classes": s.n_classes,
        "min_length": min(lengths),
        "max_length": max(lengths),
    }


def run(args: argparse.Namespace) -> None:
    import torch

    from spikeforge.cli import main
    from spikeforge.data import uea_datasets

    torch.set_num_threads(args.threads)
    data = _load(args.json)
    names = args.datasets or uea_datasets()
    done = {(r["dataset"], r["model"], r["seed"]) for r in data["runs"]}
    for name in names:
        data["datasets"].setdefault(name, _describe(name))
        for seed in args.seeds:
            for model in args.models:
                if (name, model, seed) in done:
                    continue
                out = args.runs / f"{name}-{model}-s{seed}"
                argv = [
                    "train",
                    "--config",
                    str(MODELS[model]),
                    "--dataset",
                    f"uea:{name}",
                    "--seed",
                    str(seed),
                    "--out",
                    str(out),
                    "--overwrite",
                    "--quiet",
                ]
                if args.epochs:
                    argv += ["--epochs", str(args.epochs)]
                start = time.perf_counter()
                if main(argv) != 0:
                    raise SystemExit(f"run failed: spikeforge {' '.join(argv)}")
                metrics = json.loads((out / "metrics.json").read_text())
                config = json.loads((out / "config.json").read_text())
                row = {
                    "dataset": name,
                    "model": model,
                    "seed": seed,
                    "config": str(MODELS[model].relative_to(ROOT)),
                    "epochs": config["train"]["epochs"],
                    "test_accuracy": metrics["test_accuracy"],
                    **{k: metrics[k] for k in ("test_accuracy_rounded_delays",) if k in metrics},
                    "val_accuracy": metrics["val_accuracy"],
                    "train_seconds": metrics["train_seconds"],
                    "wall_seconds": time.perf_counter() - start,
                    "n_parameters": metrics["n_parameters"],
                    "spikes_per_sample": metrics["spikes_per_sample"],
                    "load_average": os.getloadavg()[0],
                    "threads": torch.get_num_threads(),
                    "command": "spikeforge " + " ".join(argv),
                }
                data["runs"].append(row)
                data["environment"] = {
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                }
                _save(args.json, data)
                print(
                    f"{name:24s} {model:4s} seed {seed}: test {row['test_accuracy']:.3f} "
                    f"({row['train_seconds']:.0f} s training)",
                    flush=True,
                )


def table(data: dict) -> str:
    lines = [
        "| dataset | train/val/test | channels | length | SNN (recurrent LIF) | GRU | seconds SNN / GRU |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, info in sorted(data["datasets"].items()):
        cells = []
        secs = []
        for model in ("snn", "gru"):
            runs = [r for r in data["runs"] if r["dataset"] == name and r["model"] == model]
            if not runs:
                cells.append("not run")
                secs.append("-")
                continue
            acc = [100 * r["test_accuracy"] for r in runs]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            cells.append(f"{statistics.mean(acc):.1f} ± {sd:.1f} (n={len(acc)})")
            secs.append(f"{statistics.mean(r['train_seconds'] for r in runs):.0f}")
        length = (
            str(info["max_length"])
            if info["min_length"] == info["max_length"]
            else f"{info['min_length']}-{info['max_length']}"
        )
        lines.append(
            f"| {name} | {info['n_train']}/{info['n_val']}/{info['n_test']} | {info['channels']} | "
            f"{length} | {cells[0]} | {cells[1]} | {secs[0]} / {secs[1]} |"
        )
    extra = sorted({(r["dataset"], r["model"]) for r in data["runs"] if r["model"] not in ("snn", "gru")})
    if extra:
        lines += [
            "",
            "| dataset | model (config) | test accuracy % | after rounding delays % | seconds |",
            "|---|---|---|---|---|",
        ]
    for name, model in extra:
        runs = [r for r in data["runs"] if r["dataset"] == name and r["model"] == model]
        acc = [100 * r["test_accuracy"] for r in runs]
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        rounded = [100 * r["test_accuracy_rounded_delays"] for r in runs if "test_accuracy_rounded_delays" in r]
        after = (
            f"{statistics.mean(rounded):.1f} ± {statistics.stdev(rounded) if len(rounded) > 1 else 0.0:.1f}"
            if rounded
            else "-"
        )
        lines.append(
            f"| {name} | {model} ({runs[0]['config']}) | {statistics.mean(acc):.1f} ± {sd:.1f} "
            f"(n={len(acc)}) | {after} | {statistics.mean(r['train_seconds'] for r in runs):.0f} |"
        )
    return "\n".join(lines)


def main_cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="*", help="aeon-shipped set names (default: all)")
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--models", nargs="*", choices=sorted(MODELS), default=["snn", "gru"])
    p.add_argument("--epochs", type=int, help="override the configs' epochs (recorded per run)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-uea.json")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "uea")
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args(argv)
    if not args.table_only:
        run(args)
    print(table(_load(args.json)))
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
