"""`spikeforge export runs/NAME --nir model.nir` and `spikeforge import model.nir [--out runs/X]`."""

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
    p = sub.add_parser("export", help="write a trained run's model as a NIR graph file")
    p.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    p.add_argument("--nir", type=Path, required=True, help="the .nir file to write")
    p.add_argument(
        "--integrator",
        choices=("exact", "euler"),
        default="exact",
        help="how the NIR ODEs reproduce spikeforge's steps: exact (default) or euler (snnTorch, Norse)",
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
    model, model_config = load_model(folder / "model.safetensors")
    run_config: dict[str, Any] = {"model_config": model_config}
    if (folder / "config.json").is_file():
        from ._evaluate import read_run_config

        run_config = read_run_config(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = export_nir(model, model_config["input_shape"], integrator=args.integrator)
    graph.metadata[RUN_KEY] = json.dumps(run_config)
    write_nir(args.nir, graph)
    rows = summarize_nir(graph)
    print(f"{args.nir}: {len(rows) - 2} layers, dt={model_config['dt'] * 1e3:g} ms, integrator {args.integrator}")
    _print_rows(rows)
    for w in caught:
        print(f"note: {w.message}")
    return 0


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
    if len(_layers(target)) != len(_layers(model)) or any(type(a) is not type(b) for a, b in pairs):
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
