"""`spikeforge train --method eventprop`: defaults that need no config file (the Yin-Yang protocol of
benchmarks/eventprop_yinyang.py), the saved model scored as the exact network it was trained as (`spikeforge
evaluate` gives back the recorded accuracy), and epoch-end checkpoints that resume bit for bit."""

from __future__ import annotations

import json

import pytest
import torch

from spikeforge.cli import build_parser, main
from spikeforge.cli._train import resolve_config
from spikeforge.data import SeriesSplit, load_yinyang
from spikeforge.learning import Checkpointer, TrainConfig
from spikeforge.learning.online import evaluate_eventprop, fit_eventprop
from spikeforge.models import build_model


def _small(n_train=96, n_val=64) -> SeriesSplit:
    """A few Yin-Yang points as a plain series split (inputs on the 1 ms grid)."""
    full = load_yinyang()
    return SeriesSplit(
        "yy-small",
        *(full.x_train[:, :n_train], full.y_train[:n_train], full.len_train[:n_train]),
        *(full.x_val[:, :n_val], full.y_val[:n_val], full.len_val[:n_val]),
        *(full.x_val[:, :n_val], full.y_val[:n_val], full.len_val[:n_val]),
        3,
        full.class_names,
        full.mean,
        full.std,
    )


def _model(**extra):
    cfg = {"model": "mlp", "neuron": "cubalif", "output": "cubalif", "input_shape": [5], "n_classes": 3}
    return build_model(cfg | {"hidden": [12], "dtype": "float64"} | extra)


def test_defaults_train_what_the_benchmark_trains_without_a_config_file():
    resolved = resolve_config(build_parser().parse_args(["train", "--dataset", "yinyang", "--method", "eventprop"]))
    train, model = resolved["train"], resolved["model_config"]
    assert (train["readout"], train["epochs"], train["batch_size"], train["lr"]) == ("first", 12, 64, 5e-3)
    assert (train["weight_decay"], train["select_by"]) == (0.0, "accuracy")
    assert (model["neuron"], model["output"], model["hidden"], model["dtype"]) == (
        "cubalif",
        "cubalif",
        [120],
        "float64",
    )
    assert model["tau_mem"] == 0.02 and model["learn"] == []  # one tau per layer, weights only
    parse = build_parser().parse_args
    asked = resolve_config(parse(["train", "--dataset", "yinyang", "--method", "eventprop", "--readout", "max"]))
    assert asked["model_config"]["output"] == "li"
    with pytest.raises(ValueError, match=r"--readout: 'first' .*--method eventprop"):
        resolve_config(parse(["train", "--dataset", "yinyang", "--readout", "first"]))


def test_saved_weights_give_back_the_trained_network_and_its_accuracy():
    split = _small()
    cfg = TrainConfig(epochs=2, batch_size=32, lr=5e-3, readout="first")
    model = _model()
    history = fit_eventprop(model, split, cfg)
    best = max(row["val_accuracy"] for row in history)
    again = _model()  # a fresh model holding only the saved weights (as `spikeforge evaluate` reloads them)
    again.load_state_dict(model.state_dict())
    result = evaluate_eventprop(again, split, "val", cfg)
    assert result.accuracy == best  # the best epoch's exact network, reproduced from the model's weights
    assert result.spikes_per_sample > 0 and 0 < result.rates["2"] < 1
    with pytest.raises(ValueError, match="part: expected"):
        evaluate_eventprop(again, split, "dev", cfg)


def test_resume_from_an_epoch_end_checkpoint_continues_bit_for_bit(tmp_path):
    split = _small(64, 32)
    cfg = TrainConfig(epochs=2, batch_size=32, lr=5e-3, readout="first")
    straight = _model()
    h_straight = fit_eventprop(straight, split, cfg)
    stopped = _model()
    folder = tmp_path / "ckpt"
    fit_eventprop(stopped, split, cfg, checkpoints=Checkpointer(folder))
    first = sorted(folder.glob("ckpt-*.safetensors"))[0]  # the end of epoch 1: drop epoch 2's checkpoint
    for path in sorted(folder.glob("ckpt-*"))[2:]:
        path.unlink()
    assert Checkpointer(folder).latest() == first
    resumed = _model()
    h_resumed = fit_eventprop(resumed, split, cfg, checkpoints=Checkpointer(folder), resume=True)
    assert [r["val_accuracy"] for r in h_resumed] == [r["val_accuracy"] for r in h_straight]
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="checkpoint_every: EventProp runs checkpoint at epoch ends only"):
        fit_eventprop(_model(), split, cfg, checkpoints=Checkpointer(tmp_path / "x", every=3))


def test_evaluate_reproduces_the_run_accuracy(tmp_path, capsys):
    out = tmp_path / "yy"
    args = ["train", "--dataset", "yinyang", "--method", "eventprop", "--epochs", "1"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["test_accuracy"] > 0.55
    )  # one epoch of the defaults: 0.622 (chance 1/3; the 12 of the defaults: 0.949)
    capsys.readouterr()  # the training's own report
    assert main(["evaluate", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["test_accuracy"] == metrics["test_accuracy"]
