"""`spikeforge report runs/NAME`: one self-contained HTML page of a run (config, curves, metrics, figures)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report",
        help="write runs/NAME/report.html: the run's config, curves, metrics and activity on one page",
        description="Reload a trained model, run it on its test split and write one self-contained HTML page "
        "(figures embedded, no other file or network needed): the configuration, training curves, test metrics, a "
        "confusion matrix, spike rasters and membrane potentials of a few test samples, firing-rate histograms and "
        "the efficiency table.",
    )
    p.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    p.add_argument("--out", type=Path, help="the HTML file to write (default RUN/report.html; replaced if it exists)")
    p.add_argument(
        "--samples", type=int, default=3, metavar="K", help="test samples drawn as rasters and membranes (default 3)"
    )
    p.add_argument(
        "--neurons", type=int, default=64, metavar="M", help="at most M neurons per raster panel (default 64)"
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import functools

    from ..interop import load_model
    from ..learning import TrainConfig, scores
    from ..metrics import inspect_split
    from ..viz import write_report
    from ._evaluate import check_fits, read_run_config, require_run_files, run_split

    folder: Path = args.run
    if not folder.is_dir():
        raise FileNotFoundError(f"run: {folder} is not a folder; expected a run folder written by `spikeforge train`")
    require_run_files(folder)
    if args.out is not None and args.out.is_dir():
        raise FileExistsError(f"--out: {args.out} is a directory; expected an HTML file such as {args.out}/report.html")
    if args.samples < 0:
        raise ValueError(f"--samples: expected a number of test samples >= 0, got {args.samples}")
    if args.neurons < 1:
        raise ValueError(f"--neurons: expected at least 1 neuron per raster panel, got {args.neurons}")
    config = read_run_config(folder)
    model, _ = load_model(folder / "model.safetensors")
    split = run_split(folder, config)  # as train, evaluate and profile do
    check_fits(split, config["model_config"], config["dataset"], option="run")
    train = TrainConfig.from_section(config["train"])
    readout = functools.partial(scores, readout=train.readout)  # the read-out the model was trained with
    dt = config["model_config"]["dt"]
    activity = inspect_split(model, split, train, score=readout, samples=args.samples, dt=dt)
    path = write_report(folder, activity, out=args.out, max_neurons=args.neurons)
    print(f"wrote {path}")
    return 0
