"""`spikeforge evaluate runs/NAME`: reload a trained model and measure its test accuracy again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._device import add_device_argument, parse_device

__all__ = ["add_parser", "check_fits", "read_run_config", "run"]


def require_run_files(folder: Path) -> None:
    """Refuse a folder that lacks the config and the model file that `spikeforge train` writes."""
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"run: {folder} has no {name}; expected a folder written by `spikeforge train`")


def run_split(folder: Path, config: dict, spec: str | None = None):
    """The data split of a run (or of data set ``spec`` read the run's way): images, series, or audio through the
    run's front end and feature cache, exactly as `spikeforge train` loaded it."""
    from ..data import load_split
    from ._audio import split_options

    spec = spec or config["dataset"]
    return load_split(spec, dt=config["model_config"]["dt"], **split_options(spec, config, folder))


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
    p.add_argument(
        "--latency",
        action="store_true",
        help="also measure deciding early: test accuracy against the number of input steps seen, and an early-exit "
        "rule (decide at the first step where the softmax margin of the read-out, top minus second class "
        "probability, reaches a threshold) with its accuracy and mean decision time",
    )
    p.add_argument(
        "--margins",
        default="0.5,0.8,0.9,0.95,0.99",
        help="early-exit thresholds for --latency: softmax margins in [0, 1], comma separated "
        "(default 0.5,0.8,0.9,0.95,0.99)",
    )
    add_device_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..interop import load_model
    from ..learning import TrainConfig, evaluate, get_method

    folder: Path = args.run
    require_run_files(folder)
    config = read_run_config(folder)
    if config.get("learning") is not None:  # a local-rule run (spikeforge train --learning): its own network
        from ._train_stdp import evaluate_run

        return evaluate_run(args, folder, config)
    device = parse_device(args.device)
    model, model_config = load_model(folder / "model.safetensors")
    spec = args.dataset or config["dataset"]
    margins = _margins(args.margins) if args.latency else []
    split = run_split(folder, config, spec)
    check_fits(split, model_config, args.dataset or config["dataset"], "--dataset" if args.dataset else "dataset")
    train_cfg = TrainConfig.from_section(config["train"])
    trainer = get_method(config["train"].get("method", "bptt")).load()
    if hasattr(trainer, "evaluate"):  # scored as trained (EventProp: the exact event-driven simulation, on the CPU)
        if args.latency:
            raise ValueError("--latency: measured on the discrete-time model; this run's method scores another network")
        result = trainer.evaluate(model, split, "test", train_cfg)
    else:
        result = evaluate(
            model.to(device),
            split.x_test,
            split.y_test,
            train_cfg,
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
    if args.latency:
        out["latency"] = _latency(model, split, train_cfg, margins, device)
        out["latency"]["dt"] = config["model_config"]["dt"]
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        from ._output import accuracy_line

        print(accuracy_line(folder, result.accuracy, len(split.y_test), recorded))
    if args.latency and not args.json:
        _print_latency(out["latency"])
    return 0


def _margins(text: str) -> list[float]:
    import math

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--margins: expected comma-separated numbers in [0, 1] like 0.5,0.9, got {text!r}") from None
    bad = [v for v in values if not (math.isfinite(v) and 0 <= v <= 1)]
    if not values or bad:
        raise ValueError(f"--margins: expected softmax margins in [0, 1] like 0.5,0.9, got {text!r}")
    return values


def _outputs(model, split, cfg, device):
    """The network's output sequence ``[T, N, C]`` on the test part (CPU), and the valid steps ``[N]``."""
    import torch

    from ..learning import encode_batch
    from ..nn import placement

    dtype = placement(model)[1]
    series = getattr(split, "time_first", False)
    n = len(split.y_test)
    generator = torch.Generator().manual_seed(cfg.eval_seed)
    outs = []
    model.eval()
    with torch.no_grad():
        for start in range(0, n, cfg.batch_size):
            idx = torch.arange(start, min(start + cfg.batch_size, n))
            x = split.x_test[:, idx] if series else encode_batch(split.x_test[idx], cfg, generator)
            out_seq, _ = model(x.to(device, dtype))
            outs.append(out_seq.float().cpu())
    out = torch.cat(outs, dim=1)
    lengths = split.len_test if series else torch.full((n,), out.shape[0], dtype=torch.long)
    return out, lengths


def _latency(model, split, cfg, margins: list[float], device) -> dict:
    from ..learning.supervised import accuracy_by_steps, early_exit, prefix_scores

    out, lengths = _outputs(model, split, cfg, device)
    prefix = prefix_scores(out, cfg.readout, lengths)
    t_max = prefix.shape[0]
    steps = sorted({max(1, round(t_max * k / 10)) for k in range(1, 11)})
    return {
        "steps": steps,
        "accuracy": accuracy_by_steps(prefix, split.y_test, steps),
        "mean_length": float(lengths.double().mean()),
        "early_exit": [vars(e) for e in early_exit(prefix, split.y_test, margins, lengths)],
    }


def _print_latency(lat: dict) -> None:
    dt_ms = lat["dt"] * 1e3
    print(f"accuracy against input steps seen (dt {dt_ms:g} ms; mean sample length {lat['mean_length']:.1f} steps):")
    print("| steps seen | time (ms) | test accuracy |")
    print("|---|---|---|")
    for s, a in zip(lat["steps"], lat["accuracy"], strict=True):
        print(f"| {s} | {s * dt_ms:g} | {a:.2%} |")
    print("early exit at the first step whose softmax margin (top minus second class) reaches the threshold:")
    print(
        "| margin threshold | test accuracy | mean decision time (steps) | (ms) | share of the sample | exited early |"
    )
    print("|---|---|---|---|---|---|")
    for e in lat["early_exit"]:
        print(
            f"| {e['threshold']:g} | {e['accuracy']:.2%} | {e['mean_steps']:.1f} | {e['mean_steps'] * dt_ms:.0f} | "
            f"{e['mean_fraction']:.0%} | {e['exited_early']:.0%} |"
        )
