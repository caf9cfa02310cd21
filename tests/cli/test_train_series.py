"""`spikeforge train` / `evaluate` on time series: a .ts pair written here, run folder, reproducible evaluation."""

import json

import numpy as np
import pytest

from spikeforge.cli import main

FILES = {"model.safetensors", "config.json", "metrics.json", "log.csv", "raster.png", "curves.png", ".spikeforge-run"}


def write_ts(path, series, labels, classes):
    lines = [
        "@problemName waves",
        "@univariate false",
        "@equalLength false",
        f"@classLabel true {' '.join(classes)}",
        "@data",
    ]
    for s, label in zip(series, labels):
        lines.append(":".join(",".join(f"{v:.4f}" for v in ch) for ch in s.T) + f":{label}")
    path.write_text("\n".join(lines) + "\n")


def make_waves(folder, *, n_train=48, n_test=24, seed=0):
    """Variable-length 2-channel noisy series; channel 0 rises (class "up"), falls ("down") or peaks mid-way."""
    rng = np.random.default_rng(seed)
    classes = ["up", "down", "peak"]
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in (("TRAIN", n_train), ("TEST", n_test)):
        labels = [classes[k % 3] for k in range(n)]
        series = []
        for k in range(n):
            t = np.arange(rng.integers(20, 31))
            ramp = t / len(t)
            wave = [2 * ramp - 1, 1 - 2 * ramp, 1 - 4 * np.abs(ramp - 0.5)][k % 3]
            series.append(np.stack([wave, rng.normal(0, 0.3, len(t))], 1) + rng.normal(0, 0.1, (len(t), 2)))
        write_ts(folder / f"waves_{part}.ts", series, labels, classes)
    return folder / "waves_TRAIN.ts"


@pytest.mark.parametrize(("model", "readout"), [("recurrent", "mean"), ("gru", "max")])
def test_train_on_a_ts_pair_writes_run_folder_and_evaluate_reproduces(tmp_path, capsys, model, readout):
    data = make_waves(tmp_path / "data")
    out = tmp_path / "runs" / model
    argv = [
        "train",
        "--dataset",
        str(data),
        "--model",
        model,
        "--epochs",
        "20",
        "--hidden",
        "32",
        "--batch-size",
        "8",
        "--lr",
        "0.01",
        "--weight-decay",
        "0",
        "--readout",
        readout,
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    assert {p.name for p in out.iterdir()} == FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.9, metrics["test_accuracy"]  # three shapes are easy to tell apart
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (38, 10, 24)
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["timesteps"] == 30 and config["model_config"]["input_shape"] == [2]
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "38/10/24" in printed
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == metrics["test_accuracy"]


def test_delay_model_trains_from_the_cli(tmp_path):
    data = make_waves(tmp_path / "data", n_train=24, n_test=9)
    out = tmp_path / "delay"
    assert (
        main(
            [
                "train",
                "--dataset",
                str(data),
                "--model",
                "delay",
                "--epochs",
                "2",
                "--hidden",
                "8",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads((out / "config.json").read_text())["model_config"]["max_delay"] == 10
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["firing_rate_per_step"]) == {"1"}
    # the accuracy once the learned delays are rounded to whole steps, beside the soft-kernel accuracy
    assert 0.0 <= metrics["test_accuracy_rounded_delays"] <= 1.0


def test_spike_count_readout_uses_a_spiking_output_layer(tmp_path):
    data = make_waves(tmp_path / "data", n_train=24, n_test=9)
    out = tmp_path / "count"
    assert (
        main(
            [
                "train",
                "--dataset",
                str(data),
                "--model",
                "mlp",
                "--neuron",
                "alif",
                "--readout",
                "count",
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["model_config"]["output"] == "lif" and config["model_config"]["neuron"] == "alif"
    assert set(json.loads((out / "metrics.json").read_text())["firing_rate_per_step"]) == {"2", "4"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "conv"], "--model: 'conv' takes images"),
        (["--model", "gru", "--readout", "count"], "--readout: the gru baseline has no spikes"),
        (["--encoding", "rate"], "--encoding: time series are fed directly as input current"),
    ],
)
def test_bad_series_options_fail_before_anything_is_written(tmp_path, capsys, argv, message):
    data = make_waves(tmp_path / "data", n_train=6, n_test=3)
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(data), *argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sequence_models_refuse_image_data(capsys, tmp_path):
    assert main(["train", "--model", "recurrent", "--out", str(tmp_path / "r")]) == 2
    assert "--model: 'recurrent' takes time series" in capsys.readouterr().err


def test_missing_values_in_a_ts_file_give_a_clear_error(tmp_path, capsys):
    folder = make_waves(tmp_path / "data", n_train=6, n_test=3).parent
    text = (folder / "waves_TEST.ts").read_text().splitlines()
    text[-1] = "?," + text[-1].split(",", 1)[1]
    (folder / "waves_TEST.ts").write_text("\n".join(text) + "\n")
    assert main(["train", "--dataset", str(folder / "waves_TRAIN.ts"), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "waves_TEST.ts: case 2 channel 0 step 0 is missing" in err and "missing='interpolate'" in err


def test_series_defaults_apply_only_where_nothing_was_set(tmp_path):
    from spikeforge.cli import build_parser
    from spikeforge.cli._train import resolve_config

    data = make_waves(tmp_path / "data", n_train=6, n_test=3)
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("epochs: 7\n")
    args = build_parser().parse_args(["train", "--dataset", str(data), "--config", str(cfg_file), "--lr", "0.5"])
    config = resolve_config(args)
    assert (config["train"]["epochs"], config["train"]["lr"], config["train"]["batch_size"]) == (7, 0.5, 16)
    assert config["model_config"]["tau_mem"]["dist"] == "log_uniform" and config["model_config"]["hidden"] == [64]
    gru = resolve_config(build_parser().parse_args(["train", "--dataset", str(data), "--model", "gru"]))
    assert gru["train"]["readout"] == "max" and gru["model_config"]["learn"] == []
    digits = resolve_config(build_parser().parse_args(["train"]))
    assert digits["train"]["epochs"] == 40 and digits["model_config"]["hidden"] == [256]  # images: unchanged
