"""`spikeforge train`: train an SNN classifier and write a run folder."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "load_config_file", "resolve_config", "run"]

TRAIN_DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "model": "mlp",
    "epochs": 40,
    "timesteps": 16,
    "encoding": "direct",
    "readout": "max",
    "lr": 2e-3,
    "weight_decay": 3e-3,
    "batch_size": 64,
    "seed": 0,
    "hidden": None,
    "backend": None,
}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train an SNN classifier and write runs/NAME",
                       description="Train a spiking classifier with surrogate gradients (BPTT) and write the model, "
                                   "its config, metrics and plots to a run folder.")
    p.add_argument("--dataset", help="'digits' (bundled with scikit-learn) or 'idx:PATH' (MNIST-format folder); "
                                     "default digits")
    p.add_argument("--model", choices=["mlp", "conv"], help="LIF multilayer perceptron or small convolutional SNN")
    p.add_argument("--hidden", help="hidden layer widths, comma separated (default: 256)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--timesteps", type=int, help="simulation steps per sample (default 16)")
    p.add_argument("--encoding", choices=["direct", "rate", "poisson", "latency"], help="input encoding")
    p.add_argument("--readout", choices=["max", "mean", "count", "first", "last"], help="output decoder")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.002, cosine-decayed)")
    p.add_argument("--weight-decay", type=float, dest="weight_decay", help="L2 penalty (default 0.003)")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--seed", type=int)
    p.add_argument("--backend", help="neuron kernels: 'auto' (fused compiled kernels where available), 'torch' "
                                     "(the reference scan) or a registered backend name")
    p.add_argument("--config", type=Path, help="a config.json (e.g. from a run folder) or YAML file; flags override")
    p.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-<model>-s<seed>)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def load_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"--config: {path} not found")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"--config: expected a mapping of options, got {type(data).__name__}")
    # a run folder's config.json nests its parts; flatten them back to options
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("train", "model_config") and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def resolve_config(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults <- config file <- explicit flags, validated; every value needed to reproduce the run."""
    from ..learning import TrainConfig
    from ..models import DEFAULTS as MODEL_DEFAULTS

    opts: dict[str, Any] = dict(TRAIN_DEFAULTS)
    if args.config is not None:
        from_file = load_config_file(args.config)
        known = set(TRAIN_DEFAULTS) | set(TrainConfig.__dataclass_fields__) | set(MODEL_DEFAULTS) | {
            "input_shape", "n_classes"}
        unknown = sorted(set(from_file) - known)
        if unknown:
            raise ValueError(f"--config: unknown option(s) {unknown} in {args.config}; known: {sorted(known)}")
        opts.update(from_file)
    for key in TRAIN_DEFAULTS:
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
    if isinstance(opts.get("hidden"), str):
        try:
            opts["hidden"] = [int(h) for h in opts["hidden"].split(",") if h.strip()]
        except ValueError:
            raise ValueError(f"--hidden: expected comma-separated integers like 256,128, got {opts['hidden']!r}") \
                from None
    if opts["model"] not in ("mlp", "conv"):
        raise ValueError(f"--model: expected 'mlp' or 'conv', got {opts['model']!r}")
    dataset = str(opts["dataset"])
    if dataset != "digits" and not dataset.startswith("idx:"):
        raise ValueError(f"--dataset: expected 'digits' or 'idx:PATH', got {dataset!r}")
    train_keys = set(TrainConfig.__dataclass_fields__)
    train = TrainConfig(**{k: v for k, v in opts.items() if k in train_keys})
    model_cfg = {k: v for k, v in opts.items() if k in MODEL_DEFAULTS and v is not None}
    model_cfg["model"] = opts["model"]
    if opts.get("hidden") is None and opts["model"] == "conv":
        model_cfg["hidden"] = [128]
    return {"dataset": dataset, "model_config": {**MODEL_DEFAULTS, **model_cfg}, "train": train.to_dict()}


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data import load_dataset
    from ..interop import save_model
    from ..learning import TrainConfig, evaluate, fit, scores
    from ..metrics import SpikeRecorder, describe, spiking_layers
    from ..models import build_model, resolve_model_config
    from ..viz import plot_curves, plot_raster
    from ._output import Reporter
    from ._rundir import check_out_dir, run_dir, write_json

    started = time.perf_counter()
    config = resolve_config(args)
    train_cfg = TrainConfig(**config["train"])
    slug = config["dataset"].replace("idx:", "").rstrip("/").split("/")[-1] or "idx"
    out = args.out or Path("runs") / f"{slug}-{config['model_config']['model']}-s{train_cfg.seed}"
    check_out_dir(out, args.overwrite)  # before any work: a refused run writes nothing
    split = load_dataset(config["dataset"])
    model_cfg = resolve_model_config({**config["model_config"], "input_shape": list(split.input_shape),
                                      "n_classes": split.n_classes})
    config["model_config"] = model_cfg
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    n_params = sum(p.numel() for p in model.parameters())
    rep = Reporter(quiet=args.quiet)
    rep.header(config, split, n_params, out)

    with run_dir(out, args.overwrite) as tmp:
        with rep.progress(train_cfg.epochs) as hooks:
            history = fit(model, split, train_cfg, **hooks)
        test = evaluate(model, split.x_test, split.y_test, train_cfg)
        val = evaluate(model, split.x_val, split.y_val, train_cfg)
        wall = time.perf_counter() - started
        dt = model_cfg["dt"]
        metrics = {
            "test_accuracy": test.accuracy,
            "test_loss": test.loss,
            "val_accuracy": val.accuracy,
            "firing_rate_per_step": test.rates,
            "firing_rate_hz": {k: v / dt for k, v in test.rates.items()},
            "spikes_per_sample": test.spikes_per_sample,
            "layers": {n: describe(n, m) for n, m in spiking_layers(model).items()},
            "n_parameters": n_params,
            "n_train": len(split.x_train),
            "n_val": len(split.x_val),
            "n_test": len(split.x_test),
            "train_seconds": sum(h["seconds"] for h in history),
            "wall_seconds": wall,
            "history": history,
            "environment": {"torch": torch.__version__, "python": platform.python_version(),
                            "machine": platform.machine(), "threads": torch.get_num_threads()},
        }
        save_model(tmp / "model.safetensors", model, model_cfg)
        write_json(tmp / "config.json", config)
        write_json(tmp / "metrics.json", metrics)
        with torch.no_grad(), SpikeRecorder(model) as rec:
            from ..learning import encode_batch

            model.eval()
            x0 = encode_batch(split.x_test[:1], train_cfg, torch.Generator().manual_seed(train_cfg.eval_seed))
            v_out, _ = model(x0)
        layers = {"input": x0[:, 0]} | {describe(n, rec.layers[n]): z[0][:, 0] for n, z in rec.spikes.items()}
        plot_raster(layers, tmp / "raster.png", dt=dt, readout=("readout LI", v_out[:, 0]),
                    title=f"test sample 0 (label {int(split.y_test[0])}, predicted "
                          f"{int(scores(v_out, train_cfg.readout)[0].argmax())}), {train_cfg.encoding} encoding")
        plot_curves(history, tmp / "curves.png", title=f"{config['dataset']} / {model_cfg['model']}")
    rep.summary(metrics, out)
    return 0
