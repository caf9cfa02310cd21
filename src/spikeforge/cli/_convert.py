"""`spikeforge convert`: train (or load) an ANN, convert it to IF neurons, and sweep the number of time steps."""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from ._device import add_device_argument

__all__ = ["add_parser", "run"]

DEFAULT_TIMESTEPS = "4,8,16,32,64,128"


def add_parser(sub) -> argparse.ArgumentParser:
    from ..learning.conversion import ANNS

    p = sub.add_parser(
        "convert",
        help="train or load an ANN, convert it to a spiking network and sweep the time steps",
        description="Train an ANN (or load its weights), convert every ReLU to integrate-and-fire neurons with "
        "reset by subtraction (data-based normalisation from a percentile of the training activations, or the "
        "trained bounds of QCFS activations), and measure the SNN's test accuracy, spikes and synaptic operations "
        "per inference at each number of time steps beside the ANN's accuracy and multiply-accumulates. By "
        "default each T gets a network calibrated for it (low-latency calibration: biases corrected for T steps); "
        "the uncalibrated network's accuracy is shown beside it. The image is fed as a constant input current at every step (direct encoding). Writes a run folder that "
        "`spikeforge evaluate` and `spikeforge profile` read (at --run-timesteps steps).",
    )
    p.add_argument("--dataset", default="digits", help="'digits' (default) or 'idx:PATH' (MNIST-format folder)")
    p.add_argument(
        "--ann",
        choices=list(ANNS),
        default="cnn",
        help="; ".join(f"{name}: {desc}" for name, (_, desc) in ANNS.items()) + " (default cnn)",
    )
    p.add_argument(
        "--qcfs",
        action="store_true",
        help="train with quantisation-clip-floor-shift activations (Bu et al. 2022) instead of ReLU: converts "
        "accurately at few time steps",
    )
    p.add_argument("--levels", type=int, default=4, help="QCFS quantisation steps L (default 4)")
    p.add_argument(
        "--timesteps",
        default=DEFAULT_TIMESTEPS,
        help=f"numbers of time steps to measure, comma separated (default {DEFAULT_TIMESTEPS})",
    )
    p.add_argument(
        "--run-timesteps",
        type=int,
        dest="run_timesteps",
        help="time steps that the run folder's config sets for evaluate/profile (default: the largest of --timesteps)",
    )
    p.add_argument(
        "--percentile",
        type=float,
        default=99.9,
        help="percentile of each layer's positive activations used as its scale (default 99.9; 100 = maximum)",
    )
    p.add_argument(
        "--no-calibration",
        action="store_false",
        dest="calibrate",
        help="skip the low-latency calibration (by default each T gets its own network whose biases are corrected "
        "for T steps on 512 training images, Li et al. 2021); the uncalibrated accuracy is shown either way",
    )
    p.add_argument(
        "--normalise",
        choices=["weights", "threshold"],
        default="weights",
        help="scale the weights (thresholds 1, the default) or the thresholds (threshold balancing); same spikes",
    )
    p.add_argument(
        "--ann-weights",
        type=Path,
        dest="ann_weights",
        help="load the ANN from this safetensors file (a run's ann.safetensors) instead of training it",
    )
    p.add_argument("--calibration", type=int, help="training samples used for calibration (default: all)")
    p.add_argument("--epochs", type=int, default=30, help="ANN training epochs (default 30)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, cosine-decayed (default 0.002)")
    p.add_argument("--weight-decay", type=float, dest="weight_decay", default=1e-4, help="default 0.0001")
    p.add_argument("--batch-size", type=int, dest="batch_size", default=64, help="ANN training batch (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-convert-<ann>[-qcfs]-s<seed>)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only a spikeforge run folder)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.add_argument(
        "--config",
        type=Path,
        help="a converted run's config.json: repeat that conversion (flags given here override it)",
    )
    add_device_argument(p)
    p.set_defaults(func=run, config_defaults={dest: p.get_default(dest) for dest in _FROM_CONFIG})
    return p


# run-folder config -> argument: (section, key) for every option that `--config` restores
_FROM_CONFIG = {
    "dataset": (None, "dataset"),
    "ann": ("convert", "ann"),
    "qcfs": ("convert", "qcfs"),
    "levels": ("convert", "levels"),
    "timesteps": ("convert", "timesteps"),
    "run_timesteps": ("train", "timesteps"),
    "percentile": ("convert", "percentile"),
    "normalise": ("convert", "normalise"),
    "calibrate": ("convert", "calibrated"),
    "calibration": ("convert", "calibration_samples"),
    "ann_weights": ("convert", "ann_weights"),
    "epochs": ("train", "epochs"),
    "lr": ("train", "lr"),
    "weight_decay": ("train", "weight_decay"),
    "batch_size": ("train", "batch_size"),
    "seed": ("train", "seed"),
}


def apply_config(args: argparse.Namespace) -> None:
    """Fill the options left at their defaults from ``args.config`` (a run folder's ``config.json`` written by
    ``spikeforge convert``); an option given on the command line wins."""
    from .._files import read_json_or_yaml

    data = read_json_or_yaml(args.config, what="--config")
    if not isinstance(data, dict) or not isinstance(data.get("convert"), dict):
        raise ValueError(
            f"--config: expected the config.json of a `spikeforge convert` run (with a 'convert' section), "
            f"got {args.config}"
        )
    for dest, (section, key) in _FROM_CONFIG.items():
        source = data if section is None else data.get(section, {})
        if key not in source or getattr(args, dest) != args.config_defaults[dest]:
            continue
        value = source[key]
        if dest == "timesteps":
            value = ",".join(str(t) for t in value)
        elif dest == "ann_weights" and value is not None:
            value = Path(value)
        setattr(args, dest, value)


def _timesteps(text: str) -> list[int]:
    try:
        steps = sorted({int(t) for t in str(text).split(",") if t.strip()})
    except ValueError:
        raise ValueError(f"--timesteps: expected comma-separated integers like 4,8,16, got {text!r}") from None
    if not steps or steps[0] <= 0:
        raise ValueError(f"--timesteps: expected positive numbers of steps, got {text!r}")
    return steps


def _check(args: argparse.Namespace) -> list[int]:
    from ..data import dataset_kind, describe_datasets

    if dataset_kind(args.dataset) != "images":
        raise ValueError(
            f"--dataset: conversion takes static images ({describe_datasets(kinds=['images'])}), got {args.dataset!r}"
        )
    steps = _timesteps(args.timesteps)
    for name in ("epochs", "batch_size", "levels"):
        value = getattr(args, name)
        if value <= 0:
            raise ValueError(f"--{name.replace('_', '-')}: expected a positive integer, got {value}")
    if args.calibration is not None and args.calibration <= 0:
        raise ValueError(f"--calibration: expected a positive number of samples, got {args.calibration}")
    if args.run_timesteps is not None and args.run_timesteps <= 0:
        raise ValueError(f"--run-timesteps: expected a positive number of steps, got {args.run_timesteps}")
    if not 0 < args.percentile <= 100:
        raise ValueError(f"--percentile: expected a number in (0, 100], got {args.percentile}")
    if args.ann_weights is not None and not args.ann_weights.is_file():
        raise FileNotFoundError(f"--ann-weights: {args.ann_weights} is not a file")
    return steps


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from ..data import dataset_slug, load_split
    from ..interop import save_model
    from ..learning import TrainConfig
    from ..learning.conversion import (
        accuracy_by_timesteps,
        ann_accuracy,
        ann_model,
        convert,
        diagnose,
        load_ann_weights,
        save_ann_weights,
        sweep,
        train_ann,
    )
    from ..models import resolve_model_config
    from ..viz import plot_conversion
    from ._device import parse_device
    from ._rundir import check_out_dir, run_dir, write_json

    started = time.perf_counter()
    if args.config is not None:
        apply_config(args)
    steps = _check(args)
    run_t = args.run_timesteps or steps[-1]
    out = (
        args.out
        or Path("runs") / f"{dataset_slug(args.dataset)}-convert-{args.ann}{'-qcfs' if args.qcfs else ''}-s{args.seed}"
    )
    check_out_dir(out, args.overwrite)  # before any work: a refused run writes nothing
    device = parse_device(args.device)
    split = load_split(args.dataset)
    torch.manual_seed(args.seed)
    ann = ann_model(args.ann, split.input_shape, split.n_classes, qcfs=args.qcfs, levels=args.levels).to(device)
    description = {
        "ann": args.ann,
        "qcfs": args.qcfs,
        "levels": args.levels,
        "input_shape": list(split.input_shape),
        "n_outputs": split.n_classes,
    }
    say = (lambda *a, **k: None) if args.json else print
    history: list[dict] = []
    if args.ann_weights is not None:
        load_ann_weights(args.ann_weights, ann)
        say(f"ANN {args.ann}{' (QCFS)' if args.qcfs else ''}: weights from {args.ann_weights}")
    else:
        kind = f" (QCFS, L={args.levels})" if args.qcfs else ""
        say(f"training the ANN {args.ann}{kind} on {args.dataset}")

        def log(epoch: int, row: dict) -> None:
            say(
                f"  epoch {row['epoch']:3d}  loss {row['loss']:.4f}  train {row['accuracy']:.2%}  "
                f"val {row['val_accuracy']:.2%}  ({row['seconds']:.1f} s)"
            )

        history = train_ann(
            ann,
            split,
            epochs=args.epochs,
            lr=args.lr,
            weight_decay=args.weight_decay,
            batch_size=args.batch_size,
            seed=args.seed,
            on_epoch_end=log,
        )
    ann_test = ann_accuracy(ann, split.x_test, split.y_test)
    ann_val = ann_accuracy(ann, split.x_val, split.y_val)
    calibration = split.x_train if args.calibration is None else split.x_train[: args.calibration]
    options = {"percentile": args.percentile, "normalise": args.normalise}
    t0 = time.perf_counter()
    plain = convert(ann, calibration, **options).cpu()
    convert_seconds = time.perf_counter() - t0
    ann.cpu()
    plain_accuracy = accuracy_by_timesteps(plain, split.x_test, split.y_test, steps)
    if args.calibrate:
        say(f"calibrating a network for each T in {steps}")
        networks = {t: convert(ann, calibration, timesteps=t, **options) for t in sorted({*steps, run_t})}
        snn = networks[run_t]
        rows = sweep({t: networks[t] for t in steps}, split, steps)
    else:
        snn = plain
        rows = sweep(plain, split, steps)
    for row in rows:
        row["accuracy_uncalibrated"] = plain_accuracy[row["timesteps"]]
    diagnostics = diagnose(ann, snn, split.x_test, timesteps=run_t)
    model_cfg = resolve_model_config(snn.model_config())
    train = TrainConfig(
        epochs=args.epochs,
        timesteps=run_t,
        encoding="direct",
        readout="last",
        lr=args.lr,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    config = {
        "dataset": args.dataset,
        "model_config": model_cfg,
        "train": train.to_dict(),
        "convert": {
            **description,
            "percentile": args.percentile,
            "normalise": args.normalise,
            "calibrated": args.calibrate,
            "timesteps": steps,
            "calibration_samples": len(calibration),
            "ann_weights": None if args.ann_weights is None else str(args.ann_weights),
            "trace": snn.graph["trace"],
        },
    }
    run_row = next((r for r in rows if r["timesteps"] == run_t), None)
    metrics = {
        "ann_test_accuracy": ann_test,
        "ann_val_accuracy": ann_val,
        "test_accuracy": run_row["accuracy"] if run_row else None,
        "run_timesteps": run_t,
        "sweep": rows,
        "diagnostics": diagnostics.to_dict(),
        "ann_history": history,
        "convert_seconds": convert_seconds,
        "wall_seconds": time.perf_counter() - started,
        "n_train": len(split.y_train),
        "n_test": len(split.y_test),
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "threads": torch.get_num_threads(),
            "device": str(device),
        },
    }
    with run_dir(out, args.overwrite, command="convert") as tmp:
        write_json(tmp / "config.json", config)
        save_model(tmp / "model.safetensors", snn, model_cfg)
        save_ann_weights(tmp / "ann.safetensors", ann, description)
        if run_row is None:  # the run's own T was not in the sweep: measure it too
            run_row = sweep({run_t: snn}, split, [run_t])[0]
            metrics["test_accuracy"] = run_row["accuracy"]
        write_json(tmp / "metrics.json", metrics)
        label = f"{args.ann}{' QCFS' if args.qcfs else ''} -> IF (p{args.percentile:g})"
        curves = {label: {r["timesteps"]: r["accuracy_uncalibrated"] for r in rows}}
        if args.calibrate:
            curves[label + ", calibrated for T"] = {r["timesteps"]: r["accuracy"] for r in rows}
        plot_conversion(
            curves,
            tmp / "accuracy.png",
            ann_accuracy=ann_test,
            synops={r["timesteps"]: r["synaptic_operations"] for r in rows},
            ann_macs=rows[0]["ann_macs"],
            title=f"{args.dataset}: converted {args.ann}",
        )
    if args.json:
        print(json.dumps({"run": str(out), **metrics}, indent=2))
        return 0
    print(
        f"\nANN test accuracy {ann_test:.2%} ({len(split.y_test)} images); converted in {convert_seconds:.2f} s "
        f"({snn.graph['trace']} trace), {len(snn.neuron_layers())} IF layers"
    )
    head = ["T", "SNN acc.", "vs ANN"]
    if args.calibrate:
        head = ["T", "uncalibrated", "calibrated for T", "vs ANN"]
    head += ["spikes/inf.", "syn. ops/inf.", "of which MACs", "ANN MACs"]
    table = []
    for r in rows:
        accuracy = [f"{r['accuracy_uncalibrated']:.2%}"] + ([f"{r['accuracy']:.2%}"] if args.calibrate else [])
        table.append(
            [
                str(r["timesteps"]),
                *accuracy,
                f"{100 * (r['accuracy'] - ann_test):+.2f} pt",
                f"{r['spikes']:,.0f}",
                f"{r['synaptic_operations']:,.0f}",
                f"{r['macs']:,.0f}",
                f"{r['ann_macs']:,.0f}",
            ]
        )
    print(_table(head, table))
    print("\n" + diagnostics.table())
    print(
        f"\nwrote {out} (model.safetensors at T={run_t}: `spikeforge evaluate {out}`, `spikeforge profile {out}`; "
        f"ann.safetensors for --ann-weights; accuracy.png)"
    )
    return 0
