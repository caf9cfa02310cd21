"""`spikeforge train`: train an SNN classifier and write a run folder."""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

from ..data import dataset_kind, dataset_slug, describe_datasets, is_series, is_spike_corpus
from ..encoding import DECODERS, ENCODERS, direct, first_spike, reads_spikes, spike_count
from ..learning import METHODS, TrainConfig
from ..models import DEFAULTS as MODEL_DEFAULTS
from ..models import DTYPES, HIDDEN_NEURONS, MODELS, SYNAPSES, models_for
from . import _train_stdp
from ._audio import AUDIO_MODEL_DEFAULTS, audio_options, frontend, split_options
from ._device import add_device_argument

__all__ = ["add_parser", "load_config_file", "resolve_config", "run"]

_TRAIN_CONFIG_DEFAULTS = TrainConfig()

TRAIN_DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "model": MODEL_DEFAULTS["model"],
    "epochs": 40,
    "timesteps": 16,
    "encoding": _TRAIN_CONFIG_DEFAULTS.encoding,
    "readout": _TRAIN_CONFIG_DEFAULTS.readout,
    "lr": 2e-3,
    "weight_decay": 3e-3,
    "batch_size": 64,
    "seed": 0,
    "hidden": None,
    "backend": None,
    "neuron": None,
    "dtype": None,
    "synapses": None,
    "method": "bptt",  # a name of spikeforge.learning.METHODS; kept in the config's train section
    "rate_penalty": _TRAIN_CONFIG_DEFAULTS.rate_penalty,
    "audio": None,  # options of the audio front end, for audio:DIR data sets (see cli/_audio.py)
}


#: defaults for time-series data sets where neither the config file nor a flag sets the option (what
#: configs/uea-recurrent.yaml and configs/uea-gru.yaml hold)
SERIES_DEFAULTS: dict[str, Any] = {
    "epochs": 60,
    "lr": 0.01,
    "weight_decay": 0.001,
    "batch_size": 16,
    "readout": "mean",
    "hidden": [64],
    "tau_mem": {"dist": "log_uniform", "low": 0.005, "high": 0.1},
    "learn": ["tau_mem"],
}
#: non-spiking baselines (gru) on top of those: no neuron options, a max read-out
GRU_DEFAULTS: dict[str, Any] = {**SERIES_DEFAULTS, "readout": "max", "weight_decay": 0.0}
_NEURON_OPTIONS = ("tau_mem", "learn")  # series defaults that a non-spiking baseline does not take
#: online methods -> the series defaults they leave out (they train weights only; OTTT's traces need one tau)
_ONLINE_METHODS: dict[str, tuple[str, ...]] = {
    "eprop": ("learn",),
    "ottt": ("learn", "tau_mem"),
    "eventprop": ("learn", "tau_mem", "readout", "epochs", "lr", "weight_decay", "batch_size", "hidden"),
}
#: EventProp's defaults where neither the config file nor a flag sets the option: the Yin-Yang protocol of
#: benchmarks/eventprop_yinyang.py (5 -> 120 -> 3 current-based LIF, first-spike loss, Adam 5e-3 cosine, batch 64,
#: 12 epochs, best validation epoch), in float64 so that the saved weights give back the trained network exactly
EVENTPROP_DEFAULTS: dict[str, Any] = {
    "neuron": "cubalif",
    "dtype": "float64",
    "hidden": [120],
    "epochs": 12,
    "lr": 5e-3,
    "weight_decay": 0.0,
    "batch_size": 64,
    "select_by": "accuracy",
}
#: SHD / SSC on top of those: 10 ms bins (the network's dt), larger batches for thousands of samples
SPIKE_CORPUS_DEFAULTS: dict[str, Any] = {"dt": 0.01, "batch_size": 64, "epochs": 30}
#: dense widths after the convolutions of image-only models (conv) when none are given
IMAGE_MODEL_HIDDEN = [128]


def _or(names: list[str]) -> str:
    """``a, b or c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train an SNN classifier and write runs/NAME",
        description="Train a spiking classifier (surrogate-gradient BPTT, or another --method) and write the model, "
        "its config, metrics and plots to a run folder.",
    )
    p.add_argument(
        "--dataset",
        help=f"{describe_datasets(notes=True)}; spike files are binned to the model's dt (default "
        f"{SPIKE_CORPUS_DEFAULTS['dt'] * 1e3:g} ms); default {TRAIN_DEFAULTS['dataset']}",
    )
    p.add_argument(
        "--model",
        choices=[name for name, kind in MODELS.items() if kind.trainable],
        help="; ".join(f"{name}: {kind.description}" for name, kind in MODELS.items() if kind.trainable),
    )
    p.add_argument("--neuron", choices=list(HIDDEN_NEURONS), help="hidden neuron model (default lif)")
    p.add_argument("--hidden", help="hidden layer widths, comma separated (default: 256)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--timesteps", type=int, help="simulation steps per sample (default 16)")
    p.add_argument("--encoding", choices=list(ENCODERS), help="input encoding")
    p.add_argument(
        "--readout",
        choices=list(DECODERS),
        help="output decoder: max or mean output membrane over (valid) steps, last valid step, or spike "
        "count (of a spiking output layer), or first-spike latency ('first': only with --method eventprop, where it is "
        "the default)",
    )
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.002, cosine-decayed)")
    p.add_argument("--weight-decay", type=float, dest="weight_decay", help="L2 penalty (default 0.003)")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument(
        "--rate-penalty",
        type=float,
        dest="rate_penalty",
        help="weight of the firing-rate penalty added to the loss: the mean spikes per neuron per step of the "
        "spiking layers (default 0: off)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--method",
        choices=list(METHODS),
        help="how gradients are computed: "
        + "; ".join(f"{m.name}: {m.summary}" for m in METHODS.values())
        + f" (default {TRAIN_DEFAULTS['method']}); e-prop and OTTT default to the mean read-out, EventProp to the "
        "Yin-Yang protocol of benchmarks/eventprop_yinyang.py (first-spike read-out, 120 hidden cubalif, 12 epochs)",
    )
    p.add_argument(
        "--backend",
        help="neuron kernels: 'auto' (fused compiled kernels where available), 'torch' "
        "(the reference scan) or a registered backend name",
    )
    p.add_argument(
        "--synapses",
        choices=list(SYNAPSES),
        help="linear synapses: 'auto' (default: the event-driven path where spike input made it faster in a short "
        "timing on this machine, per layer shape and density; dense otherwise), 'event' (event-driven below a fixed "
        "10%% density) or 'dense' (plain matrix products)",
    )
    p.add_argument(
        "--dtype",
        choices=list(DTYPES),
        help="floating-point precision of the model and its inputs (default float32; float64 for exact comparisons)",
    )
    p.add_argument("--config", type=Path, help="a config.json (e.g. from a run folder) or YAML file; flags override")
    p.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-<model>-s<seed>)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only a spikeforge run folder)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue the killed or interrupted run RUN (its --out) from its last checkpoint, with its own settings",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        dest="checkpoint_every",
        metavar="N",
        help="also checkpoint every N training steps (default: at each epoch end only)",
    )
    p.add_argument("--tensorboard", action="store_true", help="also log the per-epoch scalars to RUN/tensorboard")
    add_device_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _train_stdp.add_arguments(p)  # --learning, --neurons: local rules (cli/_train_stdp.py)
    p.set_defaults(func=run)
    return p


#: options that only choose how a run is carried out, which --resume accepts
_RESUME_OPTIONS = {"resume", "checkpoint_every", "tensorboard", "quiet", "device", "command", "func"}


def _resumed_config(args: argparse.Namespace, partial: Path) -> dict[str, Any]:
    """The settings of the run being resumed (its own config.json); options that would change them are refused."""
    import json

    given = sorted(k for k, v in vars(args).items() if k not in _RESUME_OPTIONS and v not in (None, False))
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(f"--resume: continues the run with its own settings; drop {flags}")
    try:
        return json.loads((partial / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--resume: {partial / 'config.json'} is missing or unreadable ({err})") from None


def load_config_file(path: Path) -> dict[str, Any]:
    from .._files import read_json_or_yaml

    data = read_json_or_yaml(path, what="--config")
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
    opts: dict[str, Any] = dict(TRAIN_DEFAULTS)
    explicit: set[str] = set()
    if args.config is not None:
        from_file = load_config_file(args.config)
        if from_file.get("model") == "converted" or "convert" in from_file:
            raise ValueError(
                f"--config: {args.config} describes a converted network (written by `spikeforge convert`); "
                f"converted networks are not trained: repeat the conversion with "
                f"`spikeforge convert --config {args.config}`"
            )
        known = (
            set(TRAIN_DEFAULTS)
            | set(TrainConfig.__dataclass_fields__)
            | set(MODEL_DEFAULTS)
            | {"input_shape", "n_classes"}
        )
        unknown = sorted(set(from_file) - known)
        if unknown:
            raise ValueError(f"--config: unknown option(s) {unknown} in {args.config}; known: {sorted(known)}")
        opts.update(from_file)
        explicit |= set(from_file)
    for key in TRAIN_DEFAULTS:
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
            explicit.add(key)
    kind = dataset_kind(str(opts["dataset"]))
    series = is_series(str(opts["dataset"]))
    if kind == "audio" and "model" not in explicit:
        opts["model"] = AUDIO_MODEL_DEFAULTS["model"]
    model = MODELS.get(opts["model"])
    if opts["method"] not in METHODS:
        raise ValueError(f"--method: expected one of {', '.join(METHODS)}, got {opts['method']!r}")
    online = opts["method"] in _ONLINE_METHODS
    eventprop = opts["method"] == "eventprop"
    if online and "readout" not in explicit:  # the online methods learn from read-outs that sum over time;
        opts["readout"] = "first" if eventprop else "mean"  # EventProp from first spikes (or max, when asked)
    if eventprop:
        for key, value in EVENTPROP_DEFAULTS.items():
            if key not in explicit:
                opts[key] = value
        if "output" not in explicit:
            opts["output"] = "cubalif" if opts["readout"] == "first" else "li"
    if series:
        baseline = model is not None and not model.spiking
        for key, value in (GRU_DEFAULTS if baseline else SERIES_DEFAULTS).items():
            if key not in explicit and not (baseline and key in _NEURON_OPTIONS):
                if online and key in _ONLINE_METHODS[opts["method"]]:
                    continue  # not a default the online method can train with (learned or per-neuron tau)
                opts[key] = value
        if is_spike_corpus(str(opts["dataset"])):
            for key, value in SPIKE_CORPUS_DEFAULTS.items():
                if key not in explicit:
                    opts[key] = value
        if kind == "audio":
            for key, value in AUDIO_MODEL_DEFAULTS.items():
                if key not in explicit and not (baseline and key in _NEURON_OPTIONS):
                    opts[key] = value
            opts["audio"] = audio_options(opts.get("audio"))
            frontend(opts["audio"], opts["dt"])  # refuses bad options now, before any work
    if isinstance(opts.get("hidden"), str):
        raw = opts["hidden"]
        try:
            opts["hidden"] = [int(h) for h in raw.split(",") if h.strip()]
        except ValueError:
            raise ValueError(f"--hidden: expected comma-separated integers like 256,128, got {raw!r}") from None
        if not opts["hidden"]:  # the model config refuses widths <= 0 itself
            raise ValueError(f"--hidden: expected one or more widths like 256,128, got {raw!r}")
    if model is None:
        raise ValueError(f"--model: expected one of {list(MODELS)}, got {opts['model']!r}")
    dataset = str(opts["dataset"])
    if kind is None:
        raise ValueError(f"--dataset: expected {describe_datasets()}, got {dataset!r}")
    if series and "series" not in model.inputs:
        raise ValueError(f"--model: {opts['model']!r} takes images; for time series use {_or(models_for('series'))}")
    if not series and "images" not in model.inputs:
        series_specs = describe_datasets(kinds=["series", "spikes", "audio"])
        raise ValueError(f"--model: {opts['model']!r} takes time series ({series_specs}), not {dataset!r}")
    if not model.spiking and reads_spikes(opts["readout"]):
        no_spikes = [name for name in DECODERS if not reads_spikes(name)]
        raise ValueError(
            f"--readout: the {opts['model']} baseline has no spikes; use {_or(no_spikes)}, not {opts['readout']!r}"
        )
    if DECODERS.get(opts["readout"]) is first_spike and not eventprop:  # piecewise constant: no gradient for BPTT
        trainable = [n for n in DECODERS if DECODERS[n] is not first_spike]
        raise ValueError(
            f"--readout: 'first' (first-spike latency) has no gradient to train with backpropagation through "
            f"time; train with {_or(trainable)} (or with --method eventprop, which has exact spike-time gradients)"
        )
    if model.spiking and reads_spikes(opts["readout"]) and opts.get("output", "lif") not in ("lif", "cubalif"):
        raise ValueError(
            f"--readout: {opts['readout']!r} counts spikes, but output {opts['output']!r} is a membrane read-out; "
            "drop output (a spiking output layer is used) or read out the membrane (max, mean or last)"
        )
    if series and ENCODERS.get(opts["encoding"]) is not direct:
        raise ValueError(f"--encoding: time series are fed directly as input current, got {opts['encoding']!r}")
    if series and "select_by" not in opts:  # small validation parts tie often: prefer the lower loss
        opts["select_by"] = "accuracy_then_loss"
    train_keys = set(TrainConfig.__dataclass_fields__)
    train = TrainConfig(**{k: v for k, v in opts.items() if k in train_keys})
    model_cfg = {k: v for k, v in opts.items() if k in MODEL_DEFAULTS and v is not None}
    model_cfg["model"] = opts["model"]
    if opts.get("hidden") is None and model.inputs == {"images"}:
        model_cfg["hidden"] = list(IMAGE_MODEL_HIDDEN)
    if DECODERS.get(opts["readout"]) is spike_count and "output" not in opts:
        model_cfg["output"] = "lif"  # count spikes of a spiking output layer
    train_section = train.to_dict() | {"method": opts["method"]}
    resolved = {"dataset": dataset, "model_config": {**MODEL_DEFAULTS, **model_cfg}, "train": train_section}
    return resolved | ({"audio": opts["audio"]} if kind == "audio" else {})


def run(args: argparse.Namespace) -> int:
    if getattr(args, "learning", None) is not None:  # a local rule: its own network and run folder
        return _train_stdp.run(args)
    import torch

    from ..data import load_split
    from ..interop import save_model
    from ..learning import Checkpointer, encode_batch, evaluate, from_environment, get_method, scores
    from ..metrics import SpikeRecorder, describe, profile_split, spiking_layers
    from ..models import build_model, resolve_model_config
    from ..synapses import LearnableDelayLinear, round_delays, synapse_paths
    from ..viz import plot_curves, plot_raster
    from ._device import parse_device
    from ._epochlog import EpochLog
    from ._output import Reporter
    from ._rundir import check_out_dir, partial_dir, run_dir, update_marker, write_json

    started = time.perf_counter()
    resume = args.resume is not None
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = parse_device(args.device, distributed=distributed)
    rank0 = int(os.environ.get("RANK", "0")) == 0  # only the first process checks and writes the run folder
    if resume:
        out = args.resume
        if rank0:
            check_out_dir(out, False, resume=True)  # before any work
        config = _resumed_config(args, partial_dir(out))
    else:
        config = resolve_config(args)
        slug = dataset_slug(config["dataset"])
        seed = config["train"]["seed"]
        method = config["train"].get("method", "bptt")
        tag = "" if method == "bptt" else f"-{method}"
        out = args.out or Path("runs") / f"{slug}-{config['model_config']['model']}{tag}-s{seed}"
        if rank0:
            check_out_dir(out, args.overwrite)  # before any work: a refused run writes nothing
    method = config["train"].get("method", "bptt")  # run folders written before --method have none: BPTT
    train_cfg = TrainConfig.from_section(config["train"])
    trainer = get_method(method).load()
    split = load_split(
        config["dataset"], dt=config["model_config"]["dt"], **split_options(config["dataset"], config, out)
    )
    series = getattr(split, "time_first", False)
    if series:  # the series length is the number of steps
        config["train"]["timesteps"] = train_cfg.timesteps = int(split.x_train.shape[0])
    model_cfg = resolve_model_config(
        {**config["model_config"], "input_shape": list(split.input_shape), "n_classes": split.n_classes}
    )
    config["model_config"] = model_cfg
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if hasattr(trainer, "check"):  # what the method cannot train is refused before the run folder is made
        trainer.check(model, train_cfg)
    n_params = sum(p.numel() for p in model.parameters())
    group = from_environment(device) if distributed else None
    if not rank0:  # another process of a torchrun job: trains its share, writes nothing
        checkpoints = Checkpointer(partial_dir(out) / "checkpoints") if resume else None
        trainer(model, split, train_cfg, checkpoints=checkpoints, resume=resume, device=device, distributed=group)
        group.close()  # together with rank 0, which leaves as soon as its training is over
        return 0
    rep = Reporter(quiet=args.quiet)
    rep.header(config, split, n_params, out)
    if group is not None:
        rep.console.print(
            f"data-parallel over {group.world} processes ({device.type}), global batch {train_cfg.batch_size}"
        )

    with run_dir(out, args.overwrite, resume=resume) as tmp:
        if not resume:
            write_json(tmp / "config.json", config)  # first: what --resume continues with
        checkpoints = Checkpointer(
            tmp / "checkpoints",
            every=args.checkpoint_every,
            on_write=lambda st: update_marker(tmp, progress=f"epoch {st.epoch + (st.batch > 0)}, step {st.step}"),
        )
        log = EpochLog(tmp, tensorboard=args.tensorboard)
        with rep.progress(train_cfg.epochs) as hooks:
            user_end = hooks.get("on_epoch_end")

            def on_epoch_end(epoch: int, row: dict) -> None:
                log(epoch, row)
                if user_end is not None:
                    user_end(epoch, row)

            try:
                history = trainer(
                    model,
                    split,
                    train_cfg,
                    **(hooks | {"on_epoch_end": on_epoch_end}),
                    checkpoints=checkpoints,
                    resume=resume,
                    device=device,
                    distributed=group,
                )
            except KeyboardInterrupt:
                if checkpoints.latest() is not None:
                    rep.console.print(
                        f"interrupted; continue from the last checkpoint with: spikeforge train --resume {out}"
                    )
                raise
            finally:
                log.close()
        if group is not None:
            group.close()  # no collective after training: every process leaves now, together
        if hasattr(trainer, "evaluate"):  # the method's own network is scored (EventProp: the exact simulation)
            test, val = (trainer.evaluate(model, split, part, train_cfg) for part in ("test", "val"))
        else:
            test = evaluate(model, split.x_test, split.y_test, train_cfg, getattr(split, "len_test", None))
            val = evaluate(model, split.x_val, split.y_val, train_cfg, getattr(split, "len_val", None))
        model.cpu()  # the profile, the model file and the plots work on the CPU
        efficiency = profile_split(model, split, train_cfg)  # the same figures as `spikeforge profile`
        rounded = None
        if any(isinstance(m, LearnableDelayLinear) for m in model.modules()):
            # learnable delays: the accuracy once they are rounded to whole steps (an exact delayed sum)
            rounded = evaluate(
                round_delays(model), split.x_test, split.y_test, train_cfg, getattr(split, "len_test", None)
            ).accuracy
        wall = time.perf_counter() - started
        dt = model_cfg["dt"]
        metrics = {
            "test_accuracy": test.accuracy,
            **({} if rounded is None else {"test_accuracy_rounded_delays": rounded}),
            "test_loss": test.loss,
            "val_accuracy": val.accuracy,
            "firing_rate_per_step": test.rates,
            "firing_rate_hz": {k: v / dt for k, v in test.rates.items()},
            "spikes_per_sample": test.spikes_per_sample,
            "layers": {n: describe(n, m) for n, m in spiking_layers(model).items()},
            "synapse_paths": synapse_paths(model),  # event-driven or dense, as each linear layer trained
            "n_parameters": n_params,
            "n_train": len(split.y_train),
            "n_val": len(split.y_val),
            "n_test": len(split.y_test),
            "train_seconds": sum(h["seconds"] for h in history),
            "wall_seconds": wall,
            "history": history,
            "efficiency": efficiency.to_dict(),
            "environment": {
                "torch": torch.__version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "threads": torch.get_num_threads(),
                "device": str(device),
                "processes": 1 if group is None else group.world,
            },
        }
        save_model(tmp / "model.safetensors", model, model_cfg)
        write_json(tmp / "config.json", config)  # again: series runs fix the number of steps from the data
        write_json(tmp / "metrics.json", metrics)
        with torch.no_grad(), SpikeRecorder(model) as rec:
            model.eval()
            if series:
                x0 = split.x_test[: int(split.len_test[0]), :1]
            else:
                x0 = encode_batch(split.x_test[:1], train_cfg, torch.Generator().manual_seed(train_cfg.eval_seed))
            v_out, _ = model(x0.to(DTYPES[model_cfg["dtype"]]))
        layers = {"input": x0[:, 0]} | {describe(n, rec.layers[n]): z[0][:, 0] for n, z in rec.spikes.items()}
        kind = MODELS[model_cfg["model"]]
        readout_name = "readout LI" if kind.spiking else f"{model_cfg['model'].upper()} read-out"
        plot_raster(
            layers,
            tmp / "raster.png",
            dt=dt,
            readout=(readout_name, v_out[:, 0]),
            title=f"test sample 0 (label {int(split.y_test[0])}, predicted "
            f"{int(scores(v_out, train_cfg.readout)[0].argmax())}), "
            + ("series input" if series else f"{train_cfg.encoding} encoding"),
        )
        plot_curves(history, tmp / "curves.png", title=f"{config['dataset']} / {model_cfg['model']}")
    rep.summary(metrics, out)
    return 0
