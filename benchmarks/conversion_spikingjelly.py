"""ANN-to-SNN conversion, spikeforge against SpikingJelly's ann2snn, on the same trained ANNs (scikit-learn digits).

    .venv-bench/bin/python benchmarks/conversion_spikingjelly.py [--seeds 0 1 2] [--anns cnn resnet]
        [--timesteps 2 4 8 16 32 64 128] [--epochs 30] [--out runs/bench/conversion_spikingjelly.json]

For each seed and ANN (`spikeforge.learning.conversion.ann_model`, ReLU activations, trained by `train_ann`: Adam,
cosine decay, best validation epoch), one trained network is converted by

- spikeforge: ``spikeforge.convert(ann, x_train)`` with its defaults (99.9th percentile of the positive training
  activations per channel, IF with subtract reset started at half threshold, spiking max-pool gated by accumulated
  counts, BatchNorm folded), the same with ``v_init=0`` (membranes start at 0, as classic rate conversion), and
  ``spikeforge.convert(ann, x_train, timesteps=T)``: a network calibrated for each T (biases corrected for T steps
  on the first 512 training images);
- SpikingJelly 2.0.0: ``ann2snn.FXConverter(RateCodingRecipe(loader, mode=...))`` with ``mode="Max"`` (its
  default), ``mode="99.9%"`` (robust normalisation), and ``mode="99.9%", channel_wise=True, half_threshold=True``
  (its per-channel thresholds with half-threshold start), and ``LocalThresholdBalancingRecipe`` (Bu et al. 2024,
  training-free per-channel thresholds for low latency, half-threshold IF); the calibration loader holds the same
  training images in batches of 256.

Both SNNs get the analog image at every step and accumulate the output layer over T steps (SpikingJelly's example
``val`` loop: the sum of the per-step outputs; spikeforge: its read-out). Accuracy on the 450 test images, and the
share of them on which the SNN predicts the ANN's class (a finer measure of faithfulness than accuracy when both are
near the ANN's), at every T of ``--timesteps`` are read from one simulation of the largest T (the calibrated
spikeforge networks: one simulation per T). Prints a table per ANN (mean over seeds, and the
per-seed values in the JSON) and writes JSON to ``--out`` (outside the tracked files by default).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import torch
from _machine import cpu_model


def _import_ann2snn():
    """SpikingJelly's ann2snn imports ``requests`` for its checkpoint downloads only; the bench venv installs the peers
    without their dependencies, so a missing ``requests`` is replaced by an empty module (nothing is downloaded)."""
    import importlib.util
    import sys
    import types

    if "requests" not in sys.modules and importlib.util.find_spec("requests") is None:
        sys.modules.setdefault("requests", types.ModuleType("requests"))
    from spikingjelly.activation_based import ann2snn, functional

    return ann2snn, functional


def _spikingjelly_predictions(ann, split, timesteps: list[int], recipe: str = "rate", **options):
    """Predicted classes ``{T: [N]}`` of SpikingJelly's converted network (the sum of its per-step outputs)."""
    ann2snn, functional = _import_ann2snn()

    loader = [(x, None) for x in split.x_train.split(256)]
    if recipe == "ltb":
        from spikingjelly.activation_based.ann2snn.recipes import LocalThresholdBalancingRecipe

        chosen = LocalThresholdBalancingRecipe(dataloader=loader, **options)
    else:
        chosen = ann2snn.RateCodingRecipe(dataloader=loader, **options)
    converter = ann2snn.FXConverter(recipe=chosen, device="cpu")
    snn = converter.convert(copy.deepcopy(ann)).eval()
    predictions: dict[int, list[torch.Tensor]] = {t: [] for t in timesteps}
    with torch.no_grad():
        for lo in range(0, len(split.y_test), 256):
            x = split.x_test[lo : lo + 256]
            functional.reset_net(snn)
            total = None
            for t in range(1, max(timesteps) + 1):
                step = snn(x)
                total = step if total is None else total + step
                if t in predictions:
                    predictions[t].append(total.argmax(1))
    return {t: torch.cat(p) for t, p in predictions.items()}


def run(seeds: list[int], anns: list[str], timesteps: list[int], epochs: int) -> dict:
    import spikeforge
    from spikeforge.data import load_digits
    from spikeforge.learning.conversion import ann_accuracy, ann_model, outputs_by_timesteps, train_ann

    split = load_digits()

    def ours(ann, **options):
        outs = outputs_by_timesteps(spikeforge.convert(ann, split.x_train, **options), split.x_test, timesteps)
        return {t: out.argmax(1) for t, out in outs.items()}

    def ours_calibrated(ann):
        return {
            t: outputs_by_timesteps(spikeforge.convert(ann, split.x_train, timesteps=t), split.x_test, [t])[t].argmax(1)
            for t in timesteps
        }

    methods = {
        "spikeforge (p99.9, v0 = theta/2)": ours,
        "spikeforge (p99.9, v0 = 0)": lambda ann: ours(ann, v_init=0.0),
        "spikeforge (p99.9, v0 = theta/2, calibrated for T)": ours_calibrated,
        "SpikingJelly (Max)": lambda ann: _spikingjelly_predictions(ann, split, timesteps, mode="Max"),
        "SpikingJelly (99.9%)": lambda ann: _spikingjelly_predictions(ann, split, timesteps, mode="99.9%"),
        "SpikingJelly (99.9%, channel-wise, half threshold)": lambda ann: _spikingjelly_predictions(
            ann, split, timesteps, mode="99.9%", channel_wise=True, half_threshold=True
        ),
        "SpikingJelly (local threshold balancing)": lambda ann: _spikingjelly_predictions(
            ann, split, timesteps, recipe="ltb"
        ),
    }
    rows = []
    for name in anns:
        for seed in seeds:
            torch.manual_seed(seed)
            ann = ann_model(name, split.input_shape, split.n_classes)
            train_ann(ann, split, epochs=epochs, seed=seed)
            reference = ann_accuracy(ann, split.x_test, split.y_test)
            with torch.no_grad():
                ann_pred = ann.eval()(split.x_test).argmax(1)
            row = {"ann": name, "seed": seed, "ann_accuracy": reference, "snn": {}, "agreement": {}, "seconds": {}}
            for method, fn in methods.items():
                start = time.perf_counter()
                pred = fn(ann)
                row["seconds"][method] = round(time.perf_counter() - start, 2)
                row["snn"][method] = {str(t): int((p == split.y_test).sum()) / len(p) for t, p in pred.items()}
                row["agreement"][method] = {str(t): int((p == ann_pred).sum()) / len(p) for t, p in pred.items()}
            rows.append(row)
            print(f"{name} seed {seed}: ANN {reference:.2%}", flush=True)
    return {
        "timesteps": timesteps,
        "epochs": epochs,
        "seeds": seeds,
        "rows": rows,
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": cpu_model(),
            "threads": torch.get_num_threads(),
        },
    }


def table(result: dict) -> str:
    steps = result["timesteps"]
    lines = []
    for name in dict.fromkeys(r["ann"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["ann"] == name]
        ann = sum(r["ann_accuracy"] for r in rows) / len(rows)
        for key, what in (("snn", "test accuracy"), ("agreement", "agreement with the ANN's predictions")):
            if key not in rows[0]:
                continue
            lines.append(
                f"\n{name}: {what} (%), mean over seeds {[r['seed'] for r in rows]}; ANN accuracy {100 * ann:.2f}"
            )
            lines.append("| method | " + " | ".join(f"T={t}" for t in steps) + " |")
            lines.append("|---|" + "---|" * len(steps))
            for method in rows[0][key]:
                values = [100 * sum(r[key][method][str(t)] for r in rows) / len(rows) for t in steps]
                lines.append(f"| {method} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--anns", nargs="+", default=["cnn", "resnet"])
    p.add_argument("--timesteps", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64, 128])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/bench/conversion_spikingjelly.json"))
    p.add_argument("--table-only", action="store_true", help="print the table of an existing --out file")
    args = p.parse_args()
    if args.table_only:
        print(table(json.loads(args.out.read_text())))
        return
    torch.set_num_threads(args.threads)
    result = run(args.seeds, args.anns, sorted(args.timesteps), args.epochs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
