"""Spoken digits: spiking models (feed-forward, recurrent, learnable delays) against a non-spiking GRU on the same
features, every one trained by the same `spikeforge train --dataset audio:DIR --model M` command.

    python benchmarks/spoken_digits.py                 # the corpus (runs/corpora/spoken_digits), once
    python benchmarks/audio_models.py --seeds 0        # ~3 min at 1 thread at load ~2, 23 min under load 8-12
    python benchmarks/audio_models.py --models gru --seeds 1 2      # split by model on a busy machine
    python benchmarks/audio_models.py --table-only     # print the table from the JSON

Every run uses the default audio front end and training settings (src/spikeforge/cli/_audio.py) with only --model
changed: 128 hidden units, 30 epochs, mean read-out; the GRU is the same command with `--model gru`.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _study import CORPUS, ROOT, load, mean_std, need_corpus, outputs, report, save, summary, train

MODELS = {
    "recurrent": "recurrent LIF (the default audio model)",
    "mlp": "feed-forward LIF",
    "delay": "feed-forward LIF with learnable delays (up to 10 steps = 100 ms)",
    "gru": "GRU (non-spiking baseline)",
}


def table(data: dict) -> str:
    lines = [
        "| model | test accuracy (%) | seeds | hidden spikes / neuron / step | parameters | train s (1 thread) |",
        "|---|---|---|---|---|---|",
    ]
    for model, what in MODELS.items():
        runs = [r for k, r in sorted(data["runs"].items()) if k.split("/")[0] == model]
        if not runs:
            continue
        rates = [statistics.mean(r["firing_rate_per_step"].values()) for r in runs if r["firing_rate_per_step"]]
        rate = f"{statistics.mean(rates):.3f}" if rates else "-"
        lines.append(
            f"| {what} | {mean_std([r['test_accuracy'] for r in runs])} | {len(runs)} | {rate} | "
            f"{runs[0]['n_parameters']:,} | {statistics.mean(r['train_seconds'] for r in runs):.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    outputs(p, "audio_models", plot=False)
    args = p.parse_args()
    data = load(args.results)
    if not args.table_only:
        corpus = need_corpus(args.corpus)
        for seed in args.seeds:
            for model in args.models:
                key = f"{model}/s{seed}"
                if key in data["runs"]:
                    continue
                out = ROOT / "runs" / "studies" / "audio_models" / key.replace("/", "-")
                metrics = train(["--dataset", f"audio:{corpus}", "--model", model, "--seed", str(seed)], out)
                data["runs"][key] = summary(metrics)
                save(args.results, data)
                print(f"{key}: test accuracy {metrics['test_accuracy']:.2%} ({metrics['seconds']:.0f} s)", flush=True)
    return report(table(data))


if __name__ == "__main__":
    raise SystemExit(main())
