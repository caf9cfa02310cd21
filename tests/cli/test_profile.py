import json

import pytest
import torch

from formats import make_idx_folder
from spikeforge.cli import main
from spikeforge.cli._rundir import write_json
from spikeforge.data import load_idx
from spikeforge.interop import save_model
from spikeforge.learning import TrainConfig
from spikeforge.models import build_model, resolve_model_config


@pytest.fixture
def run_folder(tmp_path):
    """A run folder as `spikeforge train` writes it, with untrained weights (profiling needs no training)."""
    torch.manual_seed(0)
    data = make_idx_folder(tmp_path / "idx", n_train=40, n_test=10)
    cfg = resolve_model_config(
        {"model": "mlp", "hidden": [16], "input_shape": [1, 8, 8], "n_classes": 4, "backend": "torch"}
    )
    model = build_model(cfg)
    with torch.no_grad():
        model[1].weight.mul_(3.0)  # make the hidden layer fire
    train = TrainConfig(epochs=1, timesteps=6, encoding="rate", batch_size=4)
    out = tmp_path / "runs" / "bars"
    out.mkdir(parents=True)
    save_model(out / "model.safetensors", model, cfg)
    write_json(out / "config.json", {"dataset": f"idx:{data}", "model_config": cfg, "train": train.to_dict()})
    return out, data, model, train


def reference_counts(model, data, train, n):
    """Encode the first ``n`` test images as the run does and count with closed forms per layer."""
    from spikeforge.learning import encode_batch

    x_test = load_idx(data).x_test
    gen = torch.Generator().manual_seed(train.eval_seed)
    inputs, hidden = 0.0, 0.0
    with torch.no_grad():
        for lo in range(0, n, train.batch_size):
            x_seq = encode_batch(x_test[lo : lo + train.batch_size], train, gen)
            assert set(x_seq.unique().tolist()) <= {0.0, 1.0}  # rate coding: spikes, so additions only
            z, _ = model[2](model[1](x_seq.flatten(2)))
            inputs += float(x_seq.sum())
            hidden += float(z.sum())
    return {"acs": (inputs * 16 + hidden * 4) / n, "spikes": hidden / n, "rate": hidden / (n * 6 * 16)}


@pytest.mark.parametrize(("batches", "samples"), [(None, 10), (1, 4)])
def test_profile_json_matches_closed_form_counts(run_folder, capsys, batches, samples):
    out, data, model, train = run_folder
    argv = ["profile", str(out), "--json"] + (["--batches", str(batches)] if batches else [])
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    ref = reference_counts(model, data, train, samples)
    assert ref["spikes"] > 0
    per = result["per_sample"]
    assert result["samples"] == samples and result["timesteps"] == 6
    assert per["acs"] == pytest.approx(ref["acs"]) and per["macs"] == 0
    assert per["spikes"] == pytest.approx(ref["spikes"])
    assert per["ann_macs"] == 64 * 16 + 16 * 4
    assert per["membrane_updates"] == 6 * (16 + 4)
    assert result["neuron_layers"]["2"]["firing_rate_per_step"] == pytest.approx(ref["rate"])
    assert result["energy_model"]["add"] == 0.9


def test_profile_prints_a_table_with_an_energy_estimate(run_folder, capsys, tmp_path):
    out = run_folder[0]
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"add": 0.5, "mul": 1.0, "memory_read": 0}))
    assert main(["profile", str(out), "--energy", str(table)]) == 0
    printed = capsys.readouterr().out
    assert "1: EventLinear(64->16)" in printed and "2: LIF(16)" in printed  # the builders' linear synapses
    assert "ESTIMATE" in printed and "user table" in printed


def test_profile_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["profile", str(tmp_path)]) == 2
    assert "has no config.json" in capsys.readouterr().err


def test_profile_rejects_a_bad_batch_count(run_folder, capsys):
    assert main(["profile", str(run_folder[0]), "--batches", "0"]) == 2
    assert "--batches: expected a positive number of batches, got 0" in capsys.readouterr().err


def test_train_summary_and_metrics_carry_the_profile(tmp_path, capsys):
    """`spikeforge train` stores the same efficiency report that `spikeforge profile` prints, and shows it."""
    data = make_idx_folder(tmp_path / "idx", n_train=40, n_test=10)
    out = tmp_path / "runs" / "small"
    argv = [
        "train",
        "--dataset",
        f"idx:{data}",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--timesteps",
        "6",
        "--encoding",
        "rate",
        "--batch-size",
        "8",
        "--backend",
        "torch",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert "synaptic operations per sample" in summary and "ESTIMATE" in summary
    stored = json.loads((out / "metrics.json").read_text())["efficiency"]
    assert main(["profile", str(out), "--json"]) == 0
    profiled = json.loads(capsys.readouterr().out)
    assert stored["per_sample"] == pytest.approx(profiled["per_sample"])
    assert stored["per_sample"]["acs"] > 0 and stored["per_sample"]["macs"] == 0  # rate input: additions only


def test_profile_of_a_series_run(tmp_path, capsys):
    """A time-series run profiles with the series loader; its ANN counterpart runs at every step."""
    pytest.importorskip("aeon")
    out = tmp_path / "bm"
    argv = [
        "train",
        "--dataset",
        "uea:BasicMotions",
        "--model",
        "recurrent",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--backend",
        "torch",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["profile", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 40 and result["timesteps"] == 100 and result["ann_passes"] == "per_step"
    first = result["synaptic_layers"]["0"]
    assert first["ann_macs"] == pytest.approx(first["macs"] if first["macs"] else 100 * 6 * 8)
    assert "1.recurrent" in result["synaptic_layers"]
