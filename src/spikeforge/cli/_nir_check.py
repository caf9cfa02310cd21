"""`spikeforge export ... --check`: the drift check of a written NIR file (re-import, and snnTorch when present)."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["PEERS", "PEER_PYTHON", "SNNTORCH_DT", "drift_check"]

#: the time step snnTorch's NIR importer assumes (it reads tau by forward Euler at this dt)
SNNTORCH_DT = 1e-4
#: where the peer libraries live (the benchmark environment); SPIKEFORGE_PEER_PYTHON overrides it
PEER_PYTHON = Path(".venv-bench/bin/python")
#: the --peer choices
PEERS = ("auto", "snntorch", "none")


def _batches(split, cfg, dtype):
    """The test split as the training pipeline feeds it: ``(inputs [T, B, ...], labels, lengths or None)``."""
    import torch

    from ..learning import encode_batch

    generator = torch.Generator().manual_seed(cfg.eval_seed)
    lengths = getattr(split, "len_test", None)
    n = len(split.y_test)
    for lo in range(0, n, cfg.batch_size):
        idx = torch.arange(lo, min(n, lo + cfg.batch_size))
        if lengths is None:
            yield encode_batch(split.x_test[idx], cfg, generator).to(dtype), split.y_test[idx], None
        else:
            lb = lengths[idx]
            yield split.x_test[: int(lb.max()), idx].to(dtype), split.y_test[idx], lb


def _peer_python(choice: str) -> Path | None:
    if choice == "none":
        return None
    path = Path(os.environ.get("SPIKEFORGE_PEER_PYTHON", PEER_PYTHON))
    if not path.is_file():
        if choice == "snntorch":
            raise FileNotFoundError(
                f"--peer snntorch: no peer environment at {path}; set SPIKEFORGE_PEER_PYTHON to a python that has "
                "snntorch, nir and nirtorch, or use --peer auto / none"
            )
        print(f"  snnTorch: not run ({path} not found; --peer snntorch requires it)")
        return None
    return path


def _run_peer(python: Path, exported, input_shape, options: dict, dt: float, inputs: list, refs: list) -> dict:
    """Export for snnTorch (forward Euler, time rescaled to its 0.1 ms step), run it in the peer environment on the
    same inputs and compare the spikes of the layers it could build with each reference (a list of per-batch spike
    lists: the run's network, the file as spikeforge reads it)."""
    import warnings

    import numpy as np
    import torch

    from ..interop import export_nir, write_nir
    from ..interop._drift import compare_spikes, retime_graph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export already printed its notes for the file itself
        graph = export_nir(exported, input_shape, **{**options, "integrator": "euler"})
    retime_graph(graph, dt, SNNTORCH_DT)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_nir(tmp / "peer.nir", graph)
        np.savez(tmp / "x.npz", **{f"x_{b}": x.float().numpy() for b, x in enumerate(inputs)})
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        src = str(Path(__file__).resolve().parents[2])  # spikeforge's own source for the peer process
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        cmd = [
            str(python),
            "-m",
            "spikeforge.interop._nir_peer",
            str(tmp / "peer.nir"),
            str(tmp / "x.npz"),
            str(tmp / "z.npz"),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ValueError(f"snnTorch peer failed (exit {done.returncode}): {' | '.join(tail)}")
        with np.load(tmp / "z.npz") as data:
            skipped = str(data["skipped"])
            n_layers = len([k for k in data.files if k.startswith("spikes_0_")])
            agreement = []
            for ref in refs:
                equal = total = None
                for b, z in enumerate(ref):
                    theirs = [torch.from_numpy(data[f"spikes_{b}_{i}"]) for i in range(n_layers)]
                    eq, tot = compare_spikes(z[:n_layers], theirs)
                    equal = eq if equal is None else [a + c for a, c in zip(equal, eq, strict=True)]
                    total = tot if total is None else [a + c for a, c in zip(total, tot, strict=True)]
                agreement.append([e / t for e, t in zip(equal or [], total or [], strict=True)])
    of = len(refs[0][0]) if refs and refs[0] else 0
    return {"agreement": agreement, "layers": n_layers, "of": of, "skipped": skipped}


def _pct(values: list[float]) -> str:
    return ", ".join(f"{v:.3%}" for v in values) or "no spiking layers"


def drift_check(model, exported, args: argparse.Namespace, run_config: dict[str, Any], options: dict) -> int:
    """Print spike agreement and accuracy before/after; 1 when beyond ``args.tolerance``, else 0."""
    from ..interop import compare_models, import_nir
    from ..learning import TrainConfig, scores
    from ..nn import placement
    from ._evaluate import check_fits, run_split

    mc = run_config["model_config"]
    split = run_split(args.run, run_config)
    check_fits(split, mc, run_config["dataset"], "dataset")
    cfg = TrainConfig.from_section(run_config["train"])  # the encoder, read-out and batch size among them
    dtype = placement(model)[1]
    back = import_nir(args.nir).to(dtype)
    inputs, ours, read, failed = [], [], [], []

    def keep(x, before, after):
        inputs.append(x)
        ours.append(before)
        read.append(after)

    report = compare_models(
        model, back, _batches(split, cfg, dtype), lambda out, lb: scores(out, cfg.readout, lb), on_batch=keep
    )
    tol = args.tolerance
    print(f"check: {report.samples} test samples of {run_config['dataset']}, tolerance {tol:g}")
    if exported is not model:  # rounded delays: the file against the exported (rounded) network too
        exact = compare_models(
            exported, back, _batches(split, cfg, dtype), lambda out, lb: scores(out, cfg.readout, lb)
        )
        print(
            f"  rounded network -> re-import: spike agreement per layer {_pct(exact.agreement)}; accuracy "
            f"{exact.accuracy_before:.2%} -> {exact.accuracy_after:.2%}"
        )
        if exact.min_agreement < 1 - tol or abs(exact.accuracy_before - exact.accuracy_after) > tol:
            failed.append("rounded network -> re-import")
    print(
        f"  run's network -> re-import: spike agreement per layer {_pct(report.agreement)}; predictions agree "
        f"{report.prediction_agreement:.2%}; accuracy {report.accuracy_before:.2%} -> {report.accuracy_after:.2%}"
    )
    if report.min_agreement < 1 - tol or abs(report.accuracy_before - report.accuracy_after) > tol:
        failed.append("run's network -> re-import")
    python = _peer_python(args.peer)
    if python is not None:
        peer = _run_peer(python, exported, mc["input_shape"], options, mc["dt"], inputs, [ours, read])
        stop = (
            f"; it stops at {peer['skipped']}: later layers and the accuracy are not compared"
            if peer["skipped"]
            else ""
        )

        if peer["layers"]:
            what = (
                f"spike agreement of its first {peer['layers']} of {peer['of']} spiking layers with the run's "
                f"network {_pct(peer['agreement'][0])}, with the file as spikeforge reads it {_pct(peer['agreement'][1])}"
            )
        else:
            what = "no spiking layer reached"
        print(f"  snnTorch (forward Euler at 0.1 ms, time constants rescaled): {what}{stop}")
        if min(peer["agreement"][0], default=1.0) < 1 - tol:
            failed.append("snnTorch")
    if failed:
        print(f"check: DRIFT beyond tolerance {tol:g} in {', '.join(failed)}")
        return 1
    print("check: ok (within tolerance)")
    return 0
