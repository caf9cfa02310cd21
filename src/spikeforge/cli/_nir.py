"""`spikeforge export runs/NAME --nir model.nir [--check]` and `spikeforge import model.nir [--out runs/X]`."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

__all__ = ["add_parsers", "run_export", "run_import"]

RUN_KEY = "spikeforge_run"


def add_parsers(sub) -> None:
    from ._nir_check import PEER_PYTHON, PEERS

    p = sub.add_parser("export", help="write a trained run's model as a NIR graph file")
    p.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    p.add_argument("--nir", type=Path, required=True, help="the .nir file to write")
    p.add_argument(
        "--integrator",
        choices=("exact", "euler"),
        default="exact",
        help="how the NIR ODEs reproduce spikeforge's steps: exact (default) or euler (snnTorch, Norse)",
    )
    from ..interop import ALIF_AS, RESET_AS

    p.add_argument(
        "--reset-as",
        dest="reset_as",
        choices=list(RESET_AS),
        default="keep",
        help="; ".join(f"{k}: {v}" for k, v in RESET_AS.items()) + " (default keep)",
    )
    p.add_argument(
        "--alif-as",
        dest="alif_as",
        choices=list(ALIF_AS),
        default="exact",
        help="; ".join(f"{k}: {v}" for k, v in ALIF_AS.items()) + " (default exact)",
    )
    p.add_argument(
        "--round-delays",
        dest="round_delays",
        action="store_true",
        help="round learnable delays to whole steps first (spikeforge.synapses.round_delays); --check then compares "
        "the learnable network with the rounded one read back",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="re-import the file, run the run's test split through the run's network and the re-imported one (and "
        "snnTorch when the peer environment is present) and print spike agreement and accuracy before/after",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="--check fails (exit 1) when a spike agreement is below 1 - TOL or an accuracy differs by more than TOL "
        "(fractions; default 0: identical)",
    )
    p.add_argument(
        "--peer",
        choices=PEERS,
        default="auto",
        help=f"--check also runs snnTorch through {PEER_PYTHON} (or $SPIKEFORGE_PEER_PYTHON): auto (when present), "
        "snntorch (required), none",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=run_export)
    q = sub.add_parser("import", help="read a NIR graph file, print its summary, optionally write a run folder")
    q.add_argument("nir", type=Path, help="a .nir file")
    q.add_argument("--dt", type=float, help="time step (s) for graphs not written by spikeforge (snnTorch: 1e-4)")
    q.add_argument(
        "--integrator",
        choices=("exact", "euler"),
        help="default: the graph's own, else exact; use euler for snnTorch and Norse graphs",
    )
    q.add_argument("--out", type=Path, help="write a run folder (model.safetensors, config.json, model.nir)")
    q.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    q.set_defaults(func=run_import)


def _layers(model) -> list:
    from torch import nn

    from ..interop._nir import _flatten_layers

    skip = (nn.Dropout, nn.Identity, nn.Flatten, nn.AvgPool2d)
    return [m for m in _flatten_layers(model) if not isinstance(m, skip)]


def run_export(args: argparse.Namespace) -> int:
    from ..interop import export_nir, load_model, summarize_nir, write_nir

    folder: Path = args.run
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"run: {folder} has no model.safetensors; expected a folder written by `spikeforge train`"
        )
    if args.nir.is_dir():
        raise ValueError(
            f"--nir: {args.nir} is a directory; expected the .nir file to write (e.g. {args.nir / 'model.nir'})"
        )
    if args.nir.exists() and not args.overwrite:
        raise FileExistsError(f"--nir: {args.nir} already exists; choose another path or pass --overwrite")
    if not (math.isfinite(args.tolerance) and 0 <= args.tolerance <= 1):
        raise ValueError(f"--tolerance: expected a fraction in [0, 1], got {args.tolerance!r}")
    model, model_config = load_model(folder / "model.safetensors")
    run_config: dict[str, Any] = {"model_config": model_config}
    if (folder / "config.json").is_file():
        from ._evaluate import read_run_config

        run_config = read_run_config(folder)
    elif args.check:
        raise FileNotFoundError(f"--check: {folder} has no config.json, so its test split is unknown")
    exported = model
    if args.round_delays:
        from ..synapses import round_delays

        exported = round_delays(model)
    options = {"integrator": args.integrator, "reset_as": args.reset_as, "alif_as": args.alif_as}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = export_nir(exported, model_config["input_shape"], **options)
    graph.metadata[RUN_KEY] = json.dumps(run_config)
    write_nir(args.nir, graph)
    rows = summarize_nir(graph)
    print(f"{args.nir}: {len(rows) - 2} nodes, dt={model_config['dt'] * 1e3:g} ms, integrator {args.integrator}")
    _print_rows(rows)
    for w in caught:
        print(f"note: {w.message}")
    if args.round_delays:
        print("note: learnable delays rounded to whole steps before export (--round-delays)")
    if not args.check:
        return 0
    from ._nir_check import drift_check

    return drift_check(model, exported, args, run_config, options)


def _print_rows(rows: list[dict]) -> None:
    for r in rows:
        shape = "x".join(map(str, r["shape"])) if r["shape"] else "?"
        print(f"  {r['name']:>8}  {r['type']:<10} {shape:<12} {r['params']:>9,} params")


def run_import(args: argparse.Namespace) -> int:
    import torch

    from ..interop import graph_metadata, import_nir, read_nir, save_model, summarize_nir
    from ..models import build_model
    from ._rundir import check_out_dir, run_dir, write_json

    if args.dt is not None and not (math.isfinite(args.dt) and 0 < args.dt <= 10.0):
        raise ValueError(f"--dt: expected a positive time step in seconds (e.g. 1e-4 for snnTorch), got {args.dt!r}")
    if args.out is not None:
        check_out_dir(args.out, args.overwrite)
    graph = read_nir(args.nir)
    meta = graph_metadata(graph)
    model = import_nir(graph, dt=args.dt, integrator=args.integrator)
    dt = args.dt or meta.get("dt")
    origin = "spikeforge" if meta else "another library"
    rows = summarize_nir(graph)
    print(
        f"{args.nir}: NIR graph from {origin}, {len(rows)} nodes, dt={dt * 1e3:g} ms, "
        f"integrator {args.integrator or meta.get('integrator', 'exact')}"
    )
    _print_rows(rows)
    n_params = sum(p.numel() for p in model.state_dict().values())
    print(f"imported as {len(model)} spikeforge layers, {n_params:,} tensor values")
    if args.out is None:
        return 0
    raw = (graph.metadata or {}).get(RUN_KEY)
    if raw is None:
        raise ValueError(
            "--out: this graph was not exported from a spikeforge run, so it has no model config for "
            "build_model; use spikeforge.interop.import_nir(path) in Python instead"
        )
    run_config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    target = build_model(run_config["model_config"]).eval()
    pairs = list(zip(_layers(target), _layers(model), strict=False))
    # NIR has no event-driven flavour: an imported Affine is an nn.Linear where the builders make an EventLinear
    if len(_layers(target)) != len(_layers(model)) or any(
        type(a) is not type(b) and not (type(b).__name__ == "Linear" and type(a).__name__ == "EventLinear")
        for a, b in pairs
    ):
        raise ValueError("--out: the graph's layers do not match its recorded model config (was it edited?)")
    for a, b in pairs:
        a.load_state_dict(b.state_dict())
    x = torch.rand(4, 2, *run_config["model_config"]["input_shape"])
    if not torch.equal(target(x)[0], model(x)[0]):
        raise ValueError("--out: the rebuilt model does not reproduce the imported graph")
    with run_dir(args.out, args.overwrite, command="import") as tmp:
        save_model(tmp / "model.safetensors", target, run_config["model_config"])
        write_json(tmp / "config.json", run_config)
        shutil.copyfile(args.nir, tmp / "model.nir")
    print(f"wrote {args.out} (model.safetensors, config.json, model.nir)")
    return 0
