"""Deciding early on spoken digits: `spikeforge evaluate RUN --latency` on the runs of `audio_models.py`, as one
table (accuracy after a share of the input, and the early-exit rule's accuracy and mean decision time) and a plot.

    python benchmarks/audio_models.py --seeds 0        # the runs (once)
    python benchmarks/latency_study.py                 # ~1 min at 1 thread; runs/studies/latency.{json,png}

Each row is exactly what `spikeforge evaluate runs/studies/audio_models/MODEL-s0 --latency` prints (run here with
--json). The steps axis is 10 ms frames of the padded test tensor (146 steps); recordings last 80 steps on average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _study import ROOT, environment, outputs, pyplot, report, save, save_figure

MODELS = {"recurrent": "recurrent LIF", "mlp": "feed-forward LIF", "delay": "delays", "gru": "GRU (non-spiking)"}
MARGINS = "0.5,0.9,0.99"


def latency(run: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "spikeforge", "evaluate", str(run), "--latency", "--json", "--margins", MARGINS]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def table(data: dict) -> str:
    lines = [
        "| model | acc. after 300 ms | 500 ms | 700 ms | whole input | early exit: margin 0.9 (acc., mean ms) "
        "| margin 0.99 (acc., mean ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, label in MODELS.items():
        r = data["runs"].get(model)
        if r is None:
            continue
        lat = r["latency"]
        dt_ms = lat["dt"] * 1e3
        curve = dict(zip(lat["steps_all"], lat["accuracy_all"], strict=True))
        cells = [f"{100 * curve[round(ms / dt_ms)]:.1f}" for ms in (300, 500, 700)]
        cells.append(f"{100 * r['test_accuracy']:.1f}")
        for e in lat["early_exit"][1:]:
            cells.append(f"{100 * e['accuracy']:.1f}, {e['mean_steps'] * dt_ms:.0f} ms")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for model, label in MODELS.items():
        r = data["runs"].get(model)
        if r is None:
            continue
        lat = r["latency"]
        ms = [s * lat["dt"] * 1e3 for s in lat["steps_all"]]
        (line,) = ax.plot(ms, [100 * a for a in lat["accuracy_all"]], label=label)
        for e in lat["early_exit"]:
            ax.plot(e["mean_steps"] * lat["dt"] * 1e3, 100 * e["accuracy"], "o", color=line.get_color(), ms=4)
    ax.set_xlabel("input seen (ms); dots: early exit at margins " + MARGINS + " (mean decision time)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "studies" / "audio_models")
    p.add_argument("--seed", type=int, default=0)
    outputs(p, "latency", table_only=False)
    args = p.parse_args()
    data = {"runs": {}, "environment": environment()}
    for model in MODELS:
        run = args.runs / f"{model}-s{args.seed}"
        if (run / "model.safetensors").is_file():
            data["runs"][model] = latency(run)
            _every_step(run, data["runs"][model])
    save(args.results, data)
    return report(table(data), plot, data, args.plot)


def _every_step(run: Path, r: dict) -> None:
    """Accuracy after every step (the CLI prints tenths of the input), from the same functions the CLI calls."""
    import torch

    from spikeforge.cli._audio import split_options
    from spikeforge.cli._evaluate import _outputs, read_run_config
    from spikeforge.data import load_split
    from spikeforge.interop import load_model
    from spikeforge.learning import TrainConfig
    from spikeforge.learning.supervised import accuracy_by_steps, prefix_scores

    torch.set_num_threads(1)
    config = read_run_config(run)
    model, _ = load_model(run / "model.safetensors")
    split = load_split(
        config["dataset"], dt=config["model_config"]["dt"], **split_options(config["dataset"], config, run)
    )
    known = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in config["train"].items() if k in known})
    out, lengths = _outputs(model, split, cfg, torch.device("cpu"))
    prefix = prefix_scores(out, cfg.readout, lengths)
    steps = list(range(1, prefix.shape[0] + 1))
    r["latency"]["steps_all"] = steps
    r["latency"]["accuracy_all"] = accuracy_by_steps(prefix, split.y_test, steps)


if __name__ == "__main__":
    raise SystemExit(main())
