"""The Diehl & Cook network: its batched STDP against the per-step rule, its model file, a small run, the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from spikeforge.cli import main
from spikeforge.data import load_split
from spikeforge.learning.plasticity import (
    Bounds,
    DiehlCook,
    DiehlCookConfig,
    PairSTDP,
    Plastic,
    evaluate_diehl_cook,
    load_diehl_cook,
    normalize_weights,
    save_diehl_cook,
    trace_seq,
    train_diehl_cook,
)
from spikeforge.learning.plasticity._diehl_cook import _decay_matrix


def test_closed_form_trace_equals_the_step_by_step_trace():
    s = (torch.rand(30, 2, 5) < 0.2).float()
    lam = math.exp(-1e-3 / 0.02)
    torch.testing.assert_close((_decay_matrix(30, lam) @ s.reshape(30, -1)).reshape(30, 2, 5), trace_seq(s, lam))


def test_presentation_update_equals_the_per_step_rule():
    cfg = DiehlCookConfig(n_neurons=6, nu_pre=0.001, nu_post=0.002, theta_plus=0.0, w_max=1.0, batch_size=3)
    net = DiehlCook(cfg, 8, 10, generator=torch.Generator().manual_seed(0))
    net.weight = torch.full((6, 8), 0.5)  # far from both bounds: no clipping anywhere
    s_in = (torch.rand(25, 3, 8) < 0.3).float()
    spikes = (torch.rand(25, 3, 6) < 0.1).float()
    layer = nn.Linear(8, 6, bias=False)
    nn.init.constant_(layer.weight, 0.5)
    rule = PairSTDP(a_plus=0.002, a_minus=0.001, tau_plus=cfg.tau_pre, tau_minus=cfg.tau_post, dt=cfg.dt)
    Plastic(layer, rule, bounds=Bounds(-100, 100), reduce="sum").run(s_in, spikes)
    expected = normalize_weights(layer.weight.detach().clone(), net.norm)
    net.learn(s_in, spikes)
    torch.testing.assert_close(net.weight, expected, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def small_run():
    torch.set_num_threads(1)
    split = load_split("digits")
    split.x_train, split.y_train = split.x_train[:400], split.y_train[:400]
    cfg = DiehlCookConfig(n_neurons=30, present=0.03, epochs=1, seed=0)
    net, history = train_diehl_cook(split, cfg)
    return split, net, history


def test_a_small_network_learns_digits_without_labels(small_run):
    split, net, history = small_run
    result = evaluate_diehl_cook(net, split.x_test, split.y_test, seed=5)
    assert result["accuracy"] > 0.5  # 30 neurons, one short epoch; chance is 10%
    assert history[0]["labelled_neurons"] >= 20
    assert float(net.weight.min()) >= 0 and float(net.weight.max()) <= net.config.w_max
    torch.testing.assert_close(net.weight.sum(1), torch.full((30,), net.norm), rtol=1e-4, atol=1e-4)


def test_model_file_round_trip_reproduces_the_accuracy(small_run, tmp_path):
    split, net, _ = small_run
    save_diehl_cook(tmp_path / "m.safetensors", net)
    back = load_diehl_cook(tmp_path / "m.safetensors")
    assert back.config == net.config
    a = evaluate_diehl_cook(net, split.x_test, split.y_test, seed=3)
    b = evaluate_diehl_cook(back, split.x_test, split.y_test, seed=3)
    assert a == b


def test_cli_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--learning",
                "stdp",
                "--neurons",
                "10",
                "--timesteps",
                "10",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for name in ("model.safetensors", "config.json", "metrics.json", "receptive_fields.png", "confusion.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test_accuracy"] == metrics["test_accuracy"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "conv"], "--learning stdp: does not take --model"),
        (["--lr", "0.1", "--readout", "max"], "does not take --lr, --readout"),
        (["--dataset", "uea:BasicMotions"], "--dataset: --learning stdp takes images"),
        (["--neurons", "0"], "n_neurons: expected an integer >= 1, got 0"),
        (["--batch-size", "-2"], "batch_size: expected an integer >= 1, got -2"),
    ],
)
def test_cli_refuses_what_stdp_does_not_support(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main(["train", "--learning", "stdp", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_trains_on_idx_images_of_28x28(tmp_path, capsys):
    from formats import make_idx_folder

    data = tmp_path / "mnist"
    make_idx_folder(data, n_train=60, n_test=20, size=28)
    out = tmp_path / "run"
    argv = ["train", "--learning", "stdp", "--dataset", f"idx:{data}", "--neurons", "16", "--timesteps", "5"]
    assert main([*argv, "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_config"]["input_shape"] == [1, 28, 28]
    assert load_diehl_cook(out / "model.safetensors").weight.shape == (16, 784)
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert "matches metrics.json" in capsys.readouterr().out
