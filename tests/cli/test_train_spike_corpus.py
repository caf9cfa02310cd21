"""`spikeforge train --dataset shd:DIR`: SHD-layout files written here, trained, evaluated and profiled."""

import json

import numpy as np
import pytest

from formats import write_heidelberg
from spikeforge.cli import main

pytest.importorskip("h5py")


def write_shd_folder(folder, *, n_train=96, n_test=48, seed=0):
    """Four classes told apart by which 50-channel block fires (80 spikes, times uniform in [0, 0.5) s,
    plus 10 background spikes anywhere)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)

    def samples(n):
        out, labels = [], []
        for i in range(n):
            c = i % 4
            units = np.concatenate([rng.integers(50 * c, 50 * c + 50, 80), rng.integers(0, 700, 10)])
            times = rng.uniform(0, 0.5, len(units))
            order = np.argsort(times)
            out.append((times[order], units[order]))
            labels.append(c)
        return out, labels

    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        write_heidelberg(folder / name, *samples(n))
    return folder


def test_train_evaluate_and_profile_on_shd_files(tmp_path, capsys):
    data = write_shd_folder(tmp_path / "shd")
    out = tmp_path / "runs" / "shd"
    argv = [
        "train",
        "--dataset",
        f"shd:{data}",
        "--model",
        "mlp",
        "--hidden",
        "32",
        "--epochs",
        "15",
        "--batch-size",
        "16",
        "--backend",
        "torch",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["model_config"]["dt"] == 0.01  # 10 ms bins, the network's time step
    assert config["model_config"]["input_shape"] == [140]  # 700 channels pooled by 5
    assert config["train"]["timesteps"] == 100  # a 1 s window
    assert metrics["n_test"] == 48
    assert metrics["test_accuracy"] >= 0.9  # chance is 25%
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == metrics["test_accuracy"]
    assert main(["profile", str(out), "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["ann_passes"] == "per_step" and profile["per_sample"]["acs"] > 0  # spike input: additions


def test_missing_shd_folder_says_where_the_data_comes_from(tmp_path, capsys):
    argv = ["train", "--dataset", f"shd:{tmp_path / 'nowhere'}", "--out", str(tmp_path / "r"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "shd_train.h5" in err and "Heidelberg" in err
    assert not (tmp_path / "r").exists()
