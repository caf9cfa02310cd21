"""`spikeforge profile runs/NAME`: operation counts and energy estimate of a trained model on its test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._device import add_device_argument, parse_device

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "profile",
        help="count synaptic operations, spikes and membrane updates of runs/NAME; estimate energy",
        description="Run a trained model on its test split with counting hooks and print, per layer, synaptic "
        "operations (ACs for spike input, MACs for real-valued input), the equivalent ANN's MACs, membrane updates, "
        "spikes, firing rates and sparsity, with an energy ESTIMATE from a per-operation table (default: Horowitz, "
        "ISSCC 2014, 45 nm). Arithmetic alone flatters SNNs: the estimate with memory access is shown beside it.",
    )
    p.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    p.add_argument("--batches", type=int, help="profile only the first N test batches (default: all)")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32", help="Horowitz table to use")
    p.add_argument("--energy", type=Path, help="a JSON/YAML table of pJ per operation replacing the default")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    add_device_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..interop import load_model
    from ..learning import TrainConfig
    from ..metrics import EnergyModel, profile_split
    from ._evaluate import check_fits, read_run_config, require_run_files, run_split

    folder: Path = args.run
    require_run_files(folder)
    if args.batches is not None and args.batches <= 0:
        raise ValueError(f"--batches: expected a positive number of batches, got {args.batches}")
    energy = EnergyModel.from_file(args.energy) if args.energy else EnergyModel.horowitz_45nm(args.precision)
    config = read_run_config(folder)
    model, model_config = load_model(folder / "model.safetensors")
    model.to(parse_device(args.device))
    # the same loader as train and evaluate: images, series, or audio through the run's front end and feature cache
    split = run_split(folder, config)
    check_fits(split, model_config, config["dataset"], "dataset")
    report = profile_split(model, split, TrainConfig.from_section(config["train"]), batches=args.batches, energy=energy)
    if args.json:
        print(json.dumps({"run": str(folder), "dataset": config["dataset"], **report.to_dict()}, indent=2))
    else:
        from rich.console import Console

        console = Console()
        console.print(f"[bold]spikeforge profile[/] {folder}: {report.samples} test samples, T={report.timesteps}")
        Console(width=max(console.width, 120)).print(report)
    return 0
