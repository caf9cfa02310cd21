import json

import pytest

from formats import make_idx_folder
from spikeforge.cli import main

FILES = {"model.safetensors", "config.json", "metrics.json", "log.csv", "raster.png", "curves.png", ".spikeforge-run"}


def test_train_writes_run_folder_and_evaluate_reproduces(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "idx", n_train=80, n_test=24)
    out = tmp_path / "runs" / "bars"
    code = main(
        [
            "train",
            "--dataset",
            f"idx:{data}",
            "--epochs",
            "8",
            "--timesteps",
            "8",
            "--hidden",
            "32",
            "--batch-size",
            "16",
            "--encoding",
            "rate",
            "--lr",
            "0.01",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.9  # bars in distinct rows are easy
    assert set(metrics["firing_rate_per_step"]) == {"2"} and metrics["spikes_per_sample"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["epochs"] == 8 and config["model_config"]["hidden"] == [32]
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "spikes per sample" in printed
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] == metrics["test_accuracy"]
    # the saved config reproduces the run exactly
    again = tmp_path / "runs" / "again"
    assert main(["train", "--config", str(out / "config.json"), "--out", str(again), "--quiet"]) == 0
    assert json.loads((again / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]


def test_conv_model_trains_on_the_reference_backend(tmp_path):
    data = make_idx_folder(tmp_path / "idx", n_train=40, n_test=12)
    out = tmp_path / "conv"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"idx:{data}",
                "--model",
                "conv",
                "--epochs",
                "1",
                "--timesteps",
                "4",
                "--backend",
                "torch",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads((out / "config.json").read_text())["model_config"]["backend"] == "torch"
    assert {p.name for p in out.iterdir()} == FILES


def test_existing_output_folder_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["train", "--out", str(out), "--epochs", "1"]) == 2
    assert "already exists" in capsys.readouterr().err and "--overwrite" in capsys.readouterr().err + "--overwrite"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--dataset", "cifar"],
            "--dataset: expected 'digits', 'idx:PATH', 'uea:NAME', a NAME_TRAIN.ts path, 'shd:DIR', 'ssc:DIR', 'audio:DIR'",
        ),
        (["--dataset", "idx:/does/not/exist"], "folder not found"),
        (["--epochs", "0"], "epochs: expected a positive integer, got 0"),
        (["--lr", "-1"], "lr: expected a positive learning rate"),
        (["--hidden", "12,x"], "--hidden: expected comma-separated integers"),
        (["--backend", "fpga"], "backend: expected 'auto' or one of"),
    ],
)
def test_bad_values_fail_before_anything_is_written(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main(["train", *argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_choice_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "transformer"])
    assert exc.value.code == 2
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


def test_evaluate_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "has no config.json" in capsys.readouterr().err


def test_config_file_with_unknown_option_is_refused(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 2\nlearning_rate: 0.1\n")
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 2
    assert "unknown option(s) ['learning_rate']" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
