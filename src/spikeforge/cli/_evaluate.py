"""`spikeforge evaluate runs/NAME`: reload a trained model and measure its test accuracy again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._device import add_device_argument, parse_device

__all__ = ["add_parser", "check_fits", "read_run_config", "run"]


def read_run_config(folder: Path) -> dict:
    """``folder/config.json`` as written by `spikeforge train`; an empty, broken or foreign file is named."""
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"run: {folder} has no config.json; expected a folder written by `spikeforge train`")
    text = path.read_text()
    if not text.strip():
        raise ValueError(f"run: {path} is empty; expected the JSON config that `spikeforge train` writes")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"run: {path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from None
    missing = [key for key in ("dataset", "model_config", "train") if not isinstance(config, dict) or key not in config]
    if missing:
        raise ValueError(f"run: {path} lacks {missing}; expected the config that `spikeforge train` writes")
    return config


def check_fits(split, model_config: dict, dataset: str, option: str = "--dataset") -> None:
    """Refuse a data set whose samples or labels the model cannot take, before any of it runs."""
    expected = tuple(int(s) for s in model_config.get("input_shape", ()))
    got = tuple(int(s) for s in split.input_shape)
    if expected and got != expected:
        raise ValueError(
            f"{option}: {dataset} has samples of shape {list(got)}, but the model takes {list(expected)}; "
            "evaluate on a data set like the one it was trained on"
        )
    n_classes = model_config.get("n_classes")
    top = int(split.y_test.max()) if len(split.y_test) else -1
    if n_classes is not None and top >= int(n_classes):
        raise ValueError(
            f"{option}: {dataset} has labels up to {top}, but the model has {n_classes} classes (0..{int(n_classes) - 1})"
        )


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
    config = read_run_config(folder)
    device = parse_device(args.device)
    model, model_config = load_model(folder / "model.safetensors")
    split = load_split(args.dataset or config["dataset"], dt=config["model_config"]["dt"])
    check_fits(split, model_config, args.dataset or config["dataset"], "--dataset" if args.dataset else "dataset")
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
