"""`spikeforge profile runs/NAME`: operation counts and energy estimate of a trained model on its test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_parser", "profile_split", "run"]


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
    p.set_defaults(func=run)
    return p


def profile_split(model, split, cfg, *, batches: int | None = None, energy=None):
    """Count operations of ``model`` on the test split, batch by batch, encoded as `spikeforge evaluate` does.

    Args:
        model: the trained network (time-first).
        split: a :class:`~spikeforge.data.Split` (images, encoded with ``cfg``) or a split of padded time-first
            series ``x_test[T, N, C]`` with ``len_test`` (fed as they are; padded steps are counted too).
        cfg: the run's :class:`~spikeforge.learning.TrainConfig` (encoding, timesteps, batch size, eval seed).
        batches: only the first ``batches`` batches of ``cfg.batch_size`` samples (default: all).
        energy: the :class:`~spikeforge.metrics.EnergyModel` (default: Horowitz 2014, 32-bit float).

    Returns:
        An :class:`~spikeforge.metrics.EfficiencyReport`; the train summary and ``spikeforge profile`` call this
        same function, so their figures agree.
    """
    import torch

    from ..learning import encode_batch
    from ..metrics import EfficiencyCounter

    if batches is not None and batches <= 0:
        raise ValueError(f"--batches: expected a positive number of batches, got {batches}")
    series = getattr(split, "len_test", None) is not None
    starts = range(0, len(split.y_test), cfg.batch_size)
    if batches is not None:
        starts = starts[:batches]
    generator = torch.Generator().manual_seed(cfg.eval_seed)  # the same draws as `evaluate` for rate/poisson
    was_training = model.training
    model.eval()
    try:
        # a series is a sequence: its ANN counterpart runs every step; an image is run once whatever its encoding
        with torch.no_grad(), EfficiencyCounter(model, ann="per_step" if series else "once") as counter:
            for lo in starts:
                if series:
                    x_seq = split.x_test[:, lo : lo + cfg.batch_size]
                else:
                    x_seq = encode_batch(split.x_test[lo : lo + cfg.batch_size], cfg, generator)
                model(x_seq)
    finally:
        model.train(was_training)
    return counter.report(energy)


def run(args: argparse.Namespace) -> int:
    from ..interop import load_model
    from ..learning import TrainConfig
    from ..metrics import EnergyModel
    from ._train import load_split

    folder: Path = args.run
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"run: {folder} has no {name}; expected a folder written by `spikeforge train`")
    if args.batches is not None and args.batches <= 0:
        raise ValueError(f"--batches: expected a positive number of batches, got {args.batches}")
    energy = EnergyModel.from_file(args.energy) if args.energy else EnergyModel.horowitz_45nm(args.precision)
    config = json.loads((folder / "config.json").read_text())
    model, _ = load_model(folder / "model.safetensors")
    split = load_split(config["dataset"], dt=config["model_config"]["dt"])  # the same loader as train and evaluate: images or series
    report = profile_split(model, split, TrainConfig(**config["train"]), batches=args.batches, energy=energy)
    if args.json:
        print(json.dumps({"run": str(folder), "dataset": config["dataset"], **report.to_dict()}, indent=2))
    else:
        from rich.console import Console

        console = Console()
        console.print(f"[bold]spikeforge profile[/] {folder}: {report.samples} test samples, T={report.timesteps}")
        Console(width=max(console.width, 120)).print(report)
    return 0
