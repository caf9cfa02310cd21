"""`spikeforge export RUN --nir F --check`: re-import, spike agreement and accuracy before/after, exit status;
recurrent and delay runs; the snnTorch peer when its environment is present."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeforge.cli import main
from spikeforge.cli._rundir import write_json
from spikeforge.interop import read_nir, save_model
from spikeforge.learning import TrainConfig
from spikeforge.models import build_model, resolve_model_config

PEER = Path(os.environ.get("SPIKEFORGE_PEER_PYTHON", Path(__file__).resolve().parents[2] / ".venv-bench/bin/python"))


def _write_ts(folder: Path, n: int = 12) -> Path:
    """A tiny 2-channel .ts pair (three classes of ramps), as the UEA archive ships them."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for part in ("TRAIN", "TEST"):
        lines = ["@problemName ramps", "@univariate false", "@equalLength true", "@classLabel true a b c", "@data"]
        for k in range(n):
            t = np.linspace(0, 1, 25)
            ch = [2 * t, 2 - 2 * t, 1 - np.abs(2 * t - 1)][k % 3] + rng.normal(0, 0.1, 25)
            lines.append(",".join(f"{v:.3f}" for v in ch) + ":" + ",".join("0.5" for _ in t) + f":{'abc'[k % 3]}")
        (folder / f"ramps_{part}.ts").write_text("\n".join(lines) + "\n")
    return folder / "ramps_TRAIN.ts"


def _run(tmp_path, model: str, **extra) -> Path:
    torch.manual_seed(0)
    data = _write_ts(tmp_path / "data")
    cfg = resolve_model_config(
        {"model": model, "input_shape": [2], "n_classes": 3, "hidden": [16], "backend": "torch", **extra}
    )
    net = build_model(cfg)
    with torch.no_grad():
        net[0].module.weight.mul_(4.0) if model == "delay" else net[0].weight.mul_(4.0)  # make it spike
    out = tmp_path / "runs" / model
    out.mkdir(parents=True)
    save_model(out / "model.safetensors", net, cfg)
    train = TrainConfig(batch_size=8, readout="mean", timesteps=25)
    write_json(out / "config.json", {"dataset": str(data), "model_config": cfg, "train": train.to_dict()})
    return out


def test_recurrent_run_exports_as_a_cycle_and_checks_identical(tmp_path, capsys):
    run = _run(tmp_path, "recurrent", learn=["tau_mem"])
    path = tmp_path / "r.nir"
    assert main(["export", str(run), "--nir", str(path), "--check", "--peer", "none"]) == 0
    printed = capsys.readouterr().out
    assert "1.rec" in printed and "spike agreement per layer 100.000%" in printed and "check: ok" in printed
    assert ("1.rec", "1") in read_nir(path).edges
    # the explicit zero reset changes the network: the check says by how much and fails at tolerance 0
    assert (
        main(["export", str(run), "--nir", str(path), "--overwrite", "--check", "--peer", "none", "--reset-as", "zero"])
        == 1
    )
    printed = capsys.readouterr().out
    assert "reset to v_reset instead of subtraction" in printed and "DRIFT beyond tolerance 0" in printed
    assert "spike agreement per layer 100.000%" not in printed
    argv = ["export", str(run), "--nir", str(path), "--overwrite", "--check", "--peer", "none", "--reset-as", "zero"]
    assert main([*argv, "--tolerance", "1"]) == 0
    assert main([*argv, "--tolerance", "2"]) == 2
    assert "--tolerance: expected a fraction in [0, 1]" in capsys.readouterr().err


def test_delay_run_needs_explicit_rounding_and_the_check_compares_before_and_after(tmp_path, capsys):
    run = _run(tmp_path, "delay", max_delay=5)
    path = tmp_path / "d.nir"
    assert main(["export", str(run), "--nir", str(path)]) == 2
    assert "round them first" in capsys.readouterr().err and not path.exists()
    argv = ["export", str(run), "--nir", str(path), "--round-delays", "--check", "--peer", "none", "--tolerance", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "rounded to whole steps" in printed and "accuracy" in printed and "->" in printed


@pytest.mark.skipif(not PEER.is_file(), reason=f"no peer environment at {PEER}")
def test_snntorch_reads_the_recurrent_graph_with_identical_spikes(tmp_path, capsys):
    run = _run(tmp_path, "recurrent")
    argv = ["export", str(run), "--nir", str(tmp_path / "z.nir"), "--check", "--peer", "snntorch"]
    assert main([*argv, "--reset-as", "zero", "--tolerance", "1"]) == 0
    printed = capsys.readouterr().out
    # snnTorch builds RLeaky from the LIF <-> Linear cycle and stops at the LI readout it has no module for
    assert (
        "with the file as spikeforge reads it 100.000%" in printed and "(LI: snnTorch has no module for it)" in printed
    )
