"""`spikeforge convert` writes a run folder that `evaluate` and `profile` read back with the same figures."""

import json

import pytest
import torch

from spikeforge.cli import main
from spikeforge.data import load_digits
from spikeforge.learning.conversion import ann_accuracy, ann_model, load_ann_weights


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "mlp"
    rc = main(
        ["convert", "--dataset", "digits", "--ann", "mlp", "--epochs", "2", "--timesteps", "16,4", "--out", str(out)]
    )
    assert rc == 0
    return out


def test_run_folder_holds_the_sweep_and_the_models(run):
    assert {"config.json", "metrics.json", "model.safetensors", "ann.safetensors", "accuracy.png"} <= {
        p.name for p in run.iterdir()
    }
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert config["model_config"]["model"] == "converted"
    assert config["train"]["timesteps"] == 16 and config["train"]["encoding"] == "direct"
    assert [r["timesteps"] for r in metrics["sweep"]] == [4, 16]
    row = metrics["sweep"][1]
    assert metrics["test_accuracy"] == row["accuracy"]
    # the ANN equivalent: the same layers once per image; the SNN's first layer takes the analog image at every
    # step: one multiply-accumulate per nonzero pixel and hidden neuron; every later layer adds spikes (ACs)
    assert row["ann_macs"] == pytest.approx(64 * 256 + 256 * 128 + 128 * 10)
    pixels = float((load_digits().x_test != 0).sum()) / 450
    assert row["macs"] == pytest.approx(16 * 256 * pixels)
    assert row["synaptic_operations"] == pytest.approx(row["macs"] + row["acs"])
    assert len(metrics["diagnostics"]["layers"]) == 2


def test_evaluate_and_profile_read_the_run(run, capsys):
    metrics = json.loads((run / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json", "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_accuracy"] == metrics["test_accuracy"]
    assert main(["profile", str(run), "--json", "--device", "cpu"]) == 0
    profiled = json.loads(capsys.readouterr().out)
    assert profiled["per_sample"]["spikes"] == pytest.approx(metrics["sweep"][1]["spikes"])
    assert profiled["per_sample"]["synaptic_operations"] == pytest.approx(metrics["sweep"][1]["synaptic_operations"])


def test_ann_weights_load_back_safely(run, tmp_path):
    split = load_digits()
    ann = ann_model("mlp", split.input_shape, split.n_classes)
    load_ann_weights(run / "ann.safetensors", ann)
    metrics = json.loads((run / "metrics.json").read_text())
    assert ann_accuracy(ann, split.x_test, split.y_test) == metrics["ann_test_accuracy"]
    pickle = tmp_path / "ann.pt"
    torch.save(ann.state_dict(), pickle)
    with pytest.raises(ValueError, match=r"pickle|torch\.save"):
        load_ann_weights(pickle, ann)
    with pytest.raises(ValueError, match="does not fit the chosen ANN"):
        load_ann_weights(run / "ann.safetensors", ann_model("mlp", split.input_shape, 5))


def test_convert_from_stored_weights_reproduces_the_ann(run, tmp_path, capsys):
    out = tmp_path / "again"
    capsys.readouterr()
    args = ["convert", "--ann", "mlp", "--ann-weights", str(run / "ann.safetensors"), "--timesteps", "4"]
    assert main([*args, "--out", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    first = json.loads((run / "metrics.json").read_text())
    assert again["ann_test_accuracy"] == first["ann_test_accuracy"]
    assert again["sweep"][0] == first["sweep"][0]  # same ANN, same calibration: the same SNN at T=4


def test_config_repeats_the_conversion_and_train_refuses_it(run, tmp_path, capsys):
    out = tmp_path / "repeat"
    capsys.readouterr()
    args = ["convert", "--config", str(run / "config.json"), "--ann-weights", str(run / "ann.safetensors")]
    assert main([*args, "--timesteps", "4", "--out", str(out), "--json"]) == 0  # ann mlp, seed, ... from the file
    again = json.loads(capsys.readouterr().out)
    first = json.loads((run / "metrics.json").read_text())
    assert again["sweep"][0] == first["sweep"][0]
    config = json.loads((out / "config.json").read_text())
    assert config["convert"]["ann"] == "mlp" and config["train"]["timesteps"] == 16  # --run-timesteps kept too
    assert main(["train", "--config", str(run / "config.json"), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "describes a converted network" in err and f"spikeforge convert --config {run / 'config.json'}" in err
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"dataset": "digits", "train": {"epochs": 1}}))
    assert main(["convert", "--config", str(plain), "--out", str(tmp_path / "c")]) == 2
    assert "expected the config.json of a `spikeforge convert` run" in capsys.readouterr().err
    assert not (tmp_path / "t").exists() and not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "uea:BasicMotions"], "--dataset: conversion takes static images"),
        (["--timesteps", "0,4"], "--timesteps: expected positive numbers"),
        (["--timesteps", "four"], "--timesteps: expected comma-separated integers"),
        (["--percentile", "120"], "--percentile: expected a number in"),
        (
            ["--ann-weights", "/nonexistent/ann.safetensors"],
            "--ann-weights: /nonexistent/ann.safetensors is not a file",
        ),
    ],
)
def test_bad_options_are_refused_before_any_work(extra, message, tmp_path, capsys):
    assert main(["convert", "--out", str(tmp_path / "x"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
