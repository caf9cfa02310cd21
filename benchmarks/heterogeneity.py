"""Heterogeneous time constants: homogeneous fixed tau, heterogeneous fixed, heterogeneous learned (after
Perez-Nieves et al. 2021), on the spoken-digit corpus, its SHD-layout version and two UEA sets, 3 seeds each.

    python benchmarks/heterogeneity.py --datasets BasicMotions JapaneseVowels     # ~3-5 min at 1 thread
    python benchmarks/heterogeneity.py --datasets spoken                          # ~8-10 min
    python benchmarks/heterogeneity.py --datasets spoken-shd                      # ~8-10 min
    python benchmarks/heterogeneity.py --table-only

Every run is `spikeforge train --dataset D --model recurrent --config C --seed S`; only the membrane time constants
differ between the three configs (written by this script next to its results):

- homogeneous fixed: every neuron tau_mem = 20 ms, not trained;
- heterogeneous fixed: tau_mem drawn per neuron from log-uniform(5 ms, 100 ms), not trained;
- heterogeneous learned: the same draw, trained with the weights (the series default).

Spoken digits (audio:DIR, 10 ms frames) and its SHD layout (shd:DIR, 1 ms spikes binned to 10 ms): a recurrent
layer of 64, 15 epochs. UEA sets: the series defaults of `spikeforge train` (64 recurrent LIF, 60 epochs).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from _study import CORPUS, ROOT, load, mean_std, need_corpus, outputs, pyplot, report, save, save_figure, summary, train

SETTINGS = {
    "homogeneous fixed": {"tau_mem": 0.02, "learn": []},
    "heterogeneous fixed": {"tau_mem": {"dist": "log_uniform", "low": 0.005, "high": 0.1}, "learn": []},
    "heterogeneous learned": {"tau_mem": {"dist": "log_uniform", "low": 0.005, "high": 0.1}, "learn": ["tau_mem"]},
}
SHD_CORPUS = ROOT / "runs" / "corpora" / "spoken_digits_shd"
DATASETS = {
    "spoken": (lambda: f"audio:{need_corpus(CORPUS)}", ["--hidden", "64", "--epochs", "15"]),
    "spoken-shd": (lambda: f"shd:{need_corpus(SHD_CORPUS)}", ["--hidden", "64", "--epochs", "15", "--lr", "0.01"]),
    "BasicMotions": (lambda: "uea:BasicMotions", []),
    "JapaneseVowels": (lambda: "uea:JapaneseVowels", []),
}


def table(data: dict) -> str:
    head = "| data set | " + " | ".join(SETTINGS) + " | learned - homogeneous (points) |"
    lines = [head, "|---" * (len(SETTINGS) + 2) + "|"]
    for name in DATASETS:
        cells, means = [], {}
        for setting in SETTINGS:
            accs = [r["test_accuracy"] for k, r in sorted(data["runs"].items()) if k.startswith(f"{name}/{setting}/")]
            cells.append(f"{mean_std(accs)} (n={len(accs)})" if accs else "-")
            if accs:
                means[setting] = 100 * statistics.mean(accs)
        if not means:
            continue
        gap = means.get("heterogeneous learned", float("nan")) - means.get("homogeneous fixed", float("nan"))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {gap:+.1f} |")
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    plt = pyplot()
    names = [n for n in DATASETS if any(k.startswith(n + "/") for k in data["runs"])]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(SETTINGS)
    for j, setting in enumerate(SETTINGS):
        means, spreads = [], []
        for name in names:
            accs = [100 * r["test_accuracy"] for k, r in data["runs"].items() if k.startswith(f"{name}/{setting}/")]
            means.append(statistics.mean(accs) if accs else 0.0)
            spreads.append(statistics.stdev(accs) if len(accs) > 1 else 0.0)
        xs = [i + (j - 1) * width for i in range(len(names))]
        ax.bar(xs, means, width, yerr=spreads, capsize=3, label=setting)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    outputs(p, "heterogeneity")
    args = p.parse_args()
    data = load(args.results)
    configs = args.results.parent / "heterogeneity_configs"
    if not args.table_only:
        configs.mkdir(parents=True, exist_ok=True)
        for name in args.datasets:
            spec, extra = DATASETS[name][0](), DATASETS[name][1]
            for seed in args.seeds:
                for setting, options in SETTINGS.items():
                    key = f"{name}/{setting}/s{seed}"
                    if key in data["runs"]:
                        continue
                    cfg = configs / (setting.replace(" ", "-") + ".json")
                    cfg.write_text(json.dumps(options))
                    out = ROOT / "runs" / "studies" / "heterogeneity" / key.replace("/", "-").replace(" ", "-")
                    argv = ["--dataset", spec, "--model", "recurrent", "--config", str(cfg), "--seed", str(seed)]
                    metrics = train([*argv, *extra], out)
                    data["runs"][key] = summary(metrics)
                    save(args.results, data)
                    print(f"{key}: {metrics['test_accuracy']:.2%} ({metrics['seconds']:.0f} s)", flush=True)
    return report(table(data), plot, data, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
