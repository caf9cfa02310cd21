"""`spikeforge train --method`: the online methods run through the usual command, keep their method in the run's
config (so --config and --resume continue with it) and refuse models they cannot train before writing anything."""

from __future__ import annotations

import json

from spikeforge.cli import build_parser, main
from spikeforge.cli._train import resolve_config


def test_train_with_ottt_writes_a_run_folder_that_names_the_method(tmp_path):
    out = tmp_path / "ottt"
    args = ["train", "--dataset", "digits", "--method", "ottt", "--epochs", "1", "--timesteps", "4", "--hidden", "32"]
    args += ["--lr", "0.02", "--batch-size", "32"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["train"]["method"] == "ottt"
    assert config["train"]["readout"] == "mean"  # the online methods' default read-out
    assert metrics["test_accuracy"] > 0.6  # one epoch on digits (chance: 0.1; BPTT with these settings: 0.85)
    again = resolve_config(build_parser().parse_args(["train", "--config", str(out / "config.json")]))
    assert again["train"] == config["train"]  # --config continues with the method (and everything else)
    assert resolve_config(build_parser().parse_args(["train"]))["train"]["method"] == "bptt"  # the default


def test_methods_refuse_models_they_cannot_train(tmp_path, capsys):
    out = tmp_path / "refused"
    assert main(["train", "--dataset", "digits", "--method", "eprop", "--model", "conv", "--out", str(out)]) != 0
    assert "model: e-prop trains" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--method", "ottt", "--readout", "max", "--out", str(out)]) != 0
    assert "readout: OTTT learns from a readout that sums over time" in capsys.readouterr().err
    assert not out.exists()
