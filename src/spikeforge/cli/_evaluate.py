"""`spikeforge evaluate runs/NAME`: reload a trained model and measure its test accuracy again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._device import add_device_argument, parse_device

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="reload runs/NAME and reproduce its test accuracy")
    p.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    p.add_argument("--dataset", help="evaluate on another dataset spec instead of the run's own")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_device_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..data import load_split
    from ..interop import load_model
    from ..learning import TrainConfig, evaluate

    folder: Path = args.run
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"run: {folder} has no {name}; expected a folder written by `spikeforge train`")
    config = json.loads((folder / "config.json").read_text())
    device = parse_device(args.device)
    model, _ = load_model(folder / "model.safetensors")
    split = load_split(args.dataset or config["dataset"], dt=config["model_config"]["dt"])
    result = evaluate(
        model.to(device),
        split.x_test,
        split.y_test,
        TrainConfig(**config["train"]),
        getattr(split, "len_test", None),
        device=device,
    )
    recorded = None
    if (folder / "metrics.json").is_file():
        recorded = json.loads((folder / "metrics.json").read_text()).get("test_accuracy")
    out = {
        "run": str(folder),
        "dataset": args.dataset or config["dataset"],
        "test_accuracy": result.accuracy,
        "recorded_test_accuracy": recorded,
        "spikes_per_sample": result.spikes_per_sample,
        "firing_rate_per_step": result.rates,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        match = (
            ""
            if recorded is None
            else (
                " (matches metrics.json)"
                if abs(recorded - result.accuracy) < 1e-12
                else f" (metrics.json says {recorded:.2%})"
            )
        )
        print(f"{folder}: test accuracy {result.accuracy:.2%} on {len(split.y_test)} samples{match}")
    return 0
