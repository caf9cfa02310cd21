"""`spikeforge deploy-check RUN --target ...` on a digits MLP run: a verdict, a core count and the integer twin's
accuracy for every target."""

import json

import pytest
import torch

from spikeforge.cli import main
from spikeforge.cli._deploy import input_grid
from spikeforge.cli._rundir import write_json
from spikeforge.interop import TARGETS, save_model
from spikeforge.learning import TrainConfig
from spikeforge.models import build_model, resolve_model_config


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    torch.manual_seed(0)
    cfg = resolve_model_config(
        {"model": "mlp", "input_shape": [1, 8, 8], "n_classes": 10, "hidden": [24], "backend": "torch"}
    )
    out = tmp_path_factory.mktemp("runs") / "digits"
    out.mkdir()
    save_model(out / "model.safetensors", build_model(cfg), cfg)
    train = TrainConfig(timesteps=4, batch_size=256)
    write_json(out / "config.json", {"dataset": "digits", "model_config": cfg, "train": train.to_dict()})
    return out


def test_every_target_gets_a_verdict_cores_and_twin_accuracy(digits_run, capsys):
    assert main(["deploy-check", str(digits_run), "--json"]) == 0
    reports = {r["target"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(reports) == list(TARGETS)
    for r in reports.values():
        assert isinstance(r["fits"], bool) and r["cores"] >= 1
        assert 0.0 <= r["twin_accuracy"] <= 1.0 and 0.0 <= r["float_accuracy"] <= 1.0
    assert reports["loihi2"]["fits"] and reports["loihi2"]["cores"] == 2
    assert not reports["xylo"]["fits"] and any("64 > 16" in c for c in reports["xylo"]["changes"])
    assert not reports["akida"]["fits"]  # LIF neurons: Akida 1.0 runs quantised ReLU layers
    assert main(["deploy-check", str(digits_run), "--target", "speck"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("speck (") and "core(s)" in printed and "integer twin (8-bit weights" in printed


def test_input_grid_finds_the_digits_step_and_falls_back_to_the_range():
    assert input_grid(torch.tensor([0.0, 1 / 16, 15 / 16, 1.0])) == 1 / 16
    assert input_grid(torch.tensor([0.0, 0.3, -0.7])) == pytest.approx(0.7 / 127)
