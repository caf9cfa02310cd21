"""`spikeforge train --learning stdp`: unsupervised STDP (after Diehl & Cook 2015) and its run folder.

The run folder holds ``model.safetensors`` (weights, adaptive thresholds, neuron labels; the network's settings in
its metadata), ``config.json``, ``metrics.json``, ``receptive_fields.png`` and ``confusion.png``;
`spikeforge evaluate RUN` reloads it and measures the test accuracy again (:func:`evaluate_run`).
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

__all__ = ["STDP_DEFAULTS", "add_arguments", "evaluate_run", "resolve_stdp_config", "run"]

#: defaults of the options --learning stdp reads (the rest of the network: DiehlCookConfig's defaults)
STDP_DEFAULTS: dict[str, Any] = {"dataset": "digits", "neurons": 400, "epochs": 3, "batch_size": 1, "seed": 0}
#: flags of `spikeforge train` that --learning stdp reads (beyond the run-folder ones)
_READS = {"dataset", "neurons", "epochs", "batch_size", "seed", "timesteps", "config"}
#: flags about the run folder and output, which every training reads
_RUN_FLAGS = {"out", "overwrite", "quiet", "learning", "command", "func", "device"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--learning`` and ``--neurons`` to the parser of `spikeforge train`."""
    from ..learning.plasticity import LEARNERS

    p.add_argument(
        "--learning",
        choices=list(LEARNERS),
        help="train with a local rule instead of gradients: "
        + "; ".join(f"{k}: {v}" for k, v in LEARNERS.items())
        + ". Takes --dataset (images), --neurons, --epochs, --batch-size, --timesteps, --seed, --config",
    )
    p.add_argument(
        "--neurons",
        type=int,
        help=f"excitatory neurons of --learning stdp (default {STDP_DEFAULTS['neurons']})",
    )


def _refuse_unsupported(args: argparse.Namespace) -> None:
    defaults = {"method": "bptt", "device": "auto"}
    given = sorted(
        k
        for k, v in vars(args).items()
        if k not in _READS | _RUN_FLAGS and v not in (None, False) and defaults.get(k) != v
    )
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(
            f"--learning {args.learning}: does not take {flags} (the network is fixed: rate-coded input, one "
            "excitatory layer with adaptive thresholds and lateral inhibition); it reads --dataset, --neurons, "
            "--epochs, --batch-size, --timesteps, --seed and --config"
        )
    if args.device not in (None, "auto", "cpu"):
        raise ValueError(f"--device: --learning {args.learning} runs on the CPU; got {args.device!r}")


def resolve_stdp_config(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults <- ``--config`` (a run's config.json) <- flags, checked; the config.json of the run."""
    from ..data import dataset_kind, describe_datasets
    from ..learning.plasticity import DiehlCookConfig

    _refuse_unsupported(args)
    net: dict[str, Any] = {}
    opts = dict(STDP_DEFAULTS)
    if args.config is not None:
        from .._files import read_json_or_yaml

        data = read_json_or_yaml(args.config, what="--config")
        if not isinstance(data, dict):
            raise ValueError(f"--config: expected a mapping of options, got {type(data).__name__}")
        data = {k: v for k, v in data.items() if k not in ("model_config", "train")} | {
            **data.get("model_config", {}),
            **data.get("train", {}),
        }
        if data.get("learning", args.learning) != args.learning:
            raise ValueError(f"--config: {args.config} is a {data.get('learning')!r} run, not {args.learning!r}")
        for key in ("n_inputs", "n_classes", "input_shape", "learning", "model"):
            data.pop(key, None)
        for key in ("dataset", "epochs", "batch_size", "seed"):
            if key in data:
                opts[key] = data.pop(key)
        if "n_neurons" in data:
            opts["neurons"] = data.pop("n_neurons")
        net.update(data)
    for key in ("dataset", "neurons", "epochs", "batch_size", "seed"):
        if getattr(args, key, None) is not None:
            opts[key] = getattr(args, key)
    if args.timesteps is not None:
        net["present"] = args.timesteps * float(net.get("dt", DiehlCookConfig.dt))
    if dataset_kind(str(opts["dataset"])) != "images":
        images = describe_datasets(kinds=["images"])
        raise ValueError(f"--dataset: --learning {args.learning} takes images ({images}), got {opts['dataset']!r}")
    cfg = DiehlCookConfig.from_dict(
        {
            **net,
            "n_neurons": opts["neurons"],
            "epochs": opts["epochs"],
            "batch_size": opts["batch_size"],
            "seed": opts["seed"],
        }
    )
    return {
        "dataset": str(opts["dataset"]),
        "learning": args.learning,
        "model_config": {k: v for k, v in asdict(cfg).items() if k not in ("epochs", "batch_size", "seed")},
        "train": {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "seed": cfg.seed},
    }


def _network_config(config: dict):
    from ..learning.plasticity import DiehlCookConfig

    model = {k: v for k, v in config["model_config"].items() if k not in ("n_inputs", "n_classes", "input_shape")}
    return DiehlCookConfig.from_dict({**model, **config["train"]})


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data import dataset_slug, load_split
    from ..learning.plasticity import evaluate_diehl_cook, save_diehl_cook
    from ..viz import plot_confusion, plot_receptive_fields
    from ._rundir import check_out_dir, run_dir, write_json

    started = time.perf_counter()
    config = resolve_stdp_config(args)
    cfg = _network_config(config)
    out = args.out or Path("runs") / f"{dataset_slug(config['dataset'])}-stdp{cfg.n_neurons}-s{cfg.seed}"
    check_out_dir(out, args.overwrite)  # before any work: a refused run writes nothing
    split = load_split(config["dataset"])
    shape = list(split.input_shape)
    config["model_config"] |= {
        "input_shape": shape,
        "n_inputs": int(torch.tensor(shape).prod()),
        "n_classes": split.n_classes,
    }
    from rich.console import Console

    console = Console()
    console.print(
        f"[bold]spikeforge train --learning {args.learning}[/] {config['dataset']} ({len(split.y_train)}/"
        f"{len(split.y_val)}/{len(split.y_test)} train/val/test) neurons={cfg.n_neurons} steps={cfg.steps} "
        f"(dt {cfg.dt * 1e3:g} ms) batch={cfg.batch_size} epochs={cfg.epochs} seed={cfg.seed} -> {out}"
    )
    with run_dir(out, args.overwrite) as tmp:
        write_json(tmp / "config.json", config)
        net, history = _train_with_progress(split, cfg, console, quiet=args.quiet)
        test = evaluate_diehl_cook(net, split.x_test, split.y_test, seed=cfg.seed + 2)
        pred = net.predict(net.counts(split.x_test, generator=torch.Generator().manual_seed(cfg.seed + 2)))
        metrics = {
            "test_accuracy": test["accuracy"],
            "val_accuracy": history[-1]["val_accuracy"],
            "spikes_per_sample": test["spikes_per_sample"],
            "n_neurons": cfg.n_neurons,
            "labelled_neurons": int((net.labels >= 0).sum()),
            "n_train": len(split.y_train),
            "n_val": len(split.y_val),
            "n_test": len(split.y_test),
            "seconds_per_epoch": [h["seconds"] for h in history],
            "train_seconds": sum(h["seconds"] + h["label_seconds"] for h in history),
            "wall_seconds": time.perf_counter() - started,
            "history": history,
            "environment": {
                "torch": torch.__version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "threads": torch.get_num_threads(),
            },
        }
        save_diehl_cook(tmp / "model.safetensors", net)
        write_json(tmp / "metrics.json", metrics)
        plot_receptive_fields(
            net.weight,
            shape,
            tmp / "receptive_fields.png",
            labels=net.labels,
            title=f"{config['dataset']}: receptive fields of {cfg.n_neurons} neurons (label in red)",
        )
        plot_confusion(
            pred, split.y_test, split.n_classes, tmp / "confusion.png", title=f"test accuracy {test['accuracy']:.2%}"
        )
    _summary(console, metrics, out)
    return 0


def _train_with_progress(split, cfg, console, *, quiet: bool):
    from ..learning.plasticity import train_diehl_cook

    if quiet:
        return train_diehl_cook(split, cfg)

    def line(epoch: int, row: dict) -> None:
        console.print(
            f"epoch {epoch + 1}/{cfg.epochs}  val {row['val_accuracy']:.2%}  {row['seconds']:.1f} s  "
            f"retries {row['retries']}  labelled neurons {row['labelled_neurons']}",
            highlight=False,
        )

    if not console.is_terminal:
        return train_diehl_cook(split, cfg, on_epoch_end=line)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("samples"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("", total=len(split.y_train) * cfg.epochs)
        epoch_base = {"done": 0}

        def on_batch(done: int, total: int) -> None:
            bar.update(task, completed=epoch_base["done"] + done)

        def on_epoch_end(epoch: int, row: dict) -> None:
            epoch_base["done"] += len(split.y_train)
            line(epoch, row)

        return train_diehl_cook(split, cfg, on_batch=on_batch, on_epoch_end=on_epoch_end)


def _summary(console, metrics: dict, out: Path) -> None:
    from rich.table import Table

    table = Table(title="spikeforge train --learning stdp: summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("test accuracy", f"{metrics['test_accuracy']:.2%} ({metrics['n_test']} samples)")
    table.add_row("validation accuracy", f"{metrics['val_accuracy']:.2%}")
    table.add_row("neurons (labelled)", f"{metrics['n_neurons']} ({metrics['labelled_neurons']})")
    table.add_row("spikes per test sample", f"{metrics['spikes_per_sample']:.1f}")
    table.add_row("seconds per epoch", ", ".join(f"{s:.1f}" for s in metrics["seconds_per_epoch"]))
    table.add_row("wall time", f"{metrics['wall_seconds']:.1f} s")
    console.print(table)
    console.print(f"wrote {out}/: model.safetensors config.json metrics.json receptive_fields.png confusion.png")


def evaluate_run(args: argparse.Namespace, folder: Path, config: dict) -> int:
    """`spikeforge evaluate` of a ``--learning stdp`` run: reload the network and measure the test accuracy again."""
    import json

    from ..data import load_split
    from ..learning.plasticity import evaluate_diehl_cook, load_diehl_cook

    if args.device not in (None, "auto", "cpu"):
        raise ValueError(
            f"--device: a --learning {config['learning']} run is evaluated on the CPU; got {args.device!r}"
        )
    net = load_diehl_cook(folder / "model.safetensors")
    dataset = args.dataset or config["dataset"]
    split = load_split(dataset)
    expected, got = list(config["model_config"].get("input_shape", [])), list(split.input_shape)
    if expected and got != expected:
        option = "--dataset" if args.dataset else "dataset"
        raise ValueError(f"{option}: {dataset} has images of shape {got}, but the network takes {expected}")
    result = evaluate_diehl_cook(net, split.x_test, split.y_test, seed=net.config.seed + 2)
    recorded = None
    if (folder / "metrics.json").is_file():
        recorded = json.loads((folder / "metrics.json").read_text()).get("test_accuracy")
    out = {
        "run": str(folder),
        "dataset": dataset,
        "learning": config["learning"],
        "test_accuracy": result["accuracy"],
        "recorded_test_accuracy": recorded,
        "spikes_per_sample": result["spikes_per_sample"],
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        from ._output import accuracy_line

        print(accuracy_line(folder, result["accuracy"], len(split.y_test), recorded))
    return 0
