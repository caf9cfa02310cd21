"""Energy against size and sparsity on spoken digits: synaptic operations and estimated energy of the SNN and of the
equivalent ANN as the hidden width grows (64 .. 1024) and as activity is regularised (`--rate-penalty`), with test
accuracy beside each point.

    python benchmarks/energy_study.py --sweep width      # 5 runs, 4-13 min at 1 thread (load 1-12); split it with
                                                         # --widths 64 128 256 512, then --widths 1024
    python benchmarks/energy_study.py --sweep penalty    # 5 runs, ~4-6 min at 1 thread
    python benchmarks/energy_study.py --table-only

Every point is one `spikeforge train --dataset audio:DIR --model mlp --hidden W [--rate-penalty L] --epochs 20`
(feed-forward LIF: 64 spike channels -> W LIF -> 10 LI; the recurrent default would cost W^2 per step to train at
1024). The counts are the ones `spikeforge train` stores (metrics.json "efficiency", as `spikeforge profile` prints
them) on the 400 test recordings: SNN accumulates (ACs, one per spike per target), the equivalent ANN's
multiply-accumulates (the same layers on dense activations at every 10 ms step, padding steps included), and the
energy ESTIMATE of the 45 nm table (Horowitz 2014: add 0.9 pJ, multiply 3.7 pJ) with one 10 pJ weight read per
operation and neuron-state traffic. A second ANN column counts a per-clip MLP of the same width on the 640 pooled
spike counts of `ann_baselines.py` (640 x W + W x 10 MACs, each 4.6 pJ + a 10 pJ weight read): the cheapest
non-spiking way to classify these clips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _study import CORPUS, ROOT, load, need_corpus, outputs, pyplot, report, save, save_figure, summary, train

WIDTHS = [64, 128, 256, 512, 1024]
PENALTIES = [0.0, 1.0, 3.0, 10.0, 30.0]
PENALTY_WIDTH = 256
EPOCHS = 20
MAC_PJ, READ_PJ = 0.9 + 3.7, 10.0


def per_clip_ann(width: int) -> tuple[int, float]:
    macs = 640 * width + width * 10
    return macs, macs * (MAC_PJ + READ_PJ) / 1e6


def table(data: dict, sweep: str) -> str:
    lines = [
        "| hidden | rate penalty | test acc. (%) | hidden spikes / neuron / step | SNN ACs / sample | ANN MACs / sample "
        "| SNN µJ (arith. / + memory) | ANN µJ (arith. / + memory) | SNN / ANN, + memory | per-clip MLP MACs, µJ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in sorted(data["runs"].items(), key=lambda kv: (kv[1]["width"], kv[1]["penalty"])):
        if not key.startswith(sweep + "/"):
            continue
        ps, e = r["per_sample"], r["energy_pj"]
        rate = next(iter(r["firing_rate_per_step"].values()), float("nan"))
        macs, uj = per_clip_ann(r["width"])
        lines.append(
            f"| {r['width']} | {r['penalty']:g} | {100 * r['test_accuracy']:.1f} | {rate:.3f} | {ps['acs']:,.0f} | "
            f"{ps['ann_macs']:,.0f} | {e['snn_arithmetic'] / 1e6:.2f} / {e['snn_with_memory'] / 1e6:.2f} | "
            f"{e['ann_arithmetic'] / 1e6:.2f} / {e['ann_with_memory'] / 1e6:.2f} | "
            f"{e['snn_with_memory'] / e['ann_with_memory']:.3f} | {macs:,}, {uj:.2f} |"
        )
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, sweep, xkey, xlabel in (
        (axes[0], "width", "width", "hidden width"),
        (axes[1], "penalty", "penalty", "firing-rate penalty λ (width 256)"),
    ):
        runs = sorted((r for k, r in data["runs"].items() if k.startswith(sweep + "/")), key=lambda r: r[xkey])
        if not runs:
            continue
        x = [max(r[xkey], 0.3) if sweep == "penalty" else r[xkey] for r in runs]
        ax.plot(x, [r["energy_pj"]["snn_with_memory"] / 1e6 for r in runs], "o-", label="SNN (+ weight reads)")
        ax.plot(x, [r["energy_pj"]["ann_with_memory"] / 1e6 for r in runs], "s-", label="per-step ANN (+ reads)")
        ax.plot(x, [per_clip_ann(r["width"])[1] for r in runs], "^--", label="per-clip MLP (+ reads)")
        for xi, r in zip(x, runs, strict=True):
            ax.annotate(f"{100 * r['test_accuracy']:.0f}%", (xi, r["energy_pj"]["snn_with_memory"] / 1e6), fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel + (" (0 drawn at 0.3)" if sweep == "penalty" else ""))
        ax.set_ylabel("µJ per sample (ESTIMATE)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("spoken digits: estimated energy per recording, SNN accuracy annotated")
    save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--sweep", choices=["width", "penalty"], default="width")
    p.add_argument("--widths", nargs="+", type=int, default=WIDTHS, help="hidden widths of the width sweep")
    outputs(p, "energy")
    args = p.parse_args()
    data = load(args.results)
    if not args.table_only:
        corpus = need_corpus(args.corpus)
        points = (
            [(w, 0.0) for w in args.widths] if args.sweep == "width" else [(PENALTY_WIDTH, lam) for lam in PENALTIES]
        )
        for width, penalty in points:
            key = f"{args.sweep}/w{width}-p{penalty:g}"
            if key in data["runs"]:
                continue
            out = ROOT / "runs" / "studies" / "energy" / key.replace("/", "-")
            argv = ["--dataset", f"audio:{corpus}", "--model", "mlp", "--hidden", str(width), "--epochs", str(EPOCHS)]
            metrics = train([*argv, "--rate-penalty", str(penalty)], out)
            data["runs"][key] = summary(metrics) | {"width": width, "penalty": penalty}
            save(args.results, data)
            print(f"{key}: test accuracy {metrics['test_accuracy']:.2%} ({metrics['seconds']:.0f} s)", flush=True)
    text = "\n".join(f"\n{sweep} sweep:\n" + table(data, sweep) for sweep in ("width", "penalty"))
    return report(text, plot, data, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
