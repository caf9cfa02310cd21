"""`spikeforge train --dataset audio:DIR` and `spikeforge evaluate --latency` on a corpus of tones and chirps built
here."""

import json
import re

import numpy as np
import pytest
from scipy.io import wavfile

from spikeforge.cli import main

RATE = 16000


def _write(path, x, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, np.round(np.clip(x, -1, 1) * 32767).astype(np.int16))


def tones_and_chirps(root, n=16, seed=0):
    """Three classes of 0.25-0.35 s sounds in noise: a 500 Hz tone, a 3 kHz tone, a rising 300 Hz -> 4 kHz chirp."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        for name in ("low", "high", "up"):
            seconds = rng.uniform(0.25, 0.35)
            t = np.arange(int(seconds * RATE)) / RATE
            phase = {"low": 500 * t, "high": 3000 * t, "up": 300 * t + 3700 * t**2 / (2 * seconds)}[name]
            x = rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * phase) + rng.normal(0, 0.01, len(t))
            _write(root / name / f"{k:02d}.wav", x)
    return root


def _train(tmp_path, *extra):
    data = tones_and_chirps(tmp_path / "sounds")
    out = tmp_path / "runs" / "tones"
    argv = [
        "train",
        "--dataset",
        f"audio:{data}",
        "--epochs",
        "8",
        "--hidden",
        "16",
        "--batch-size",
        "4",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main([*argv, *extra]) == 0
    return data, out


def test_train_on_wav_folders_caches_features_beside_the_run_and_evaluate_reproduces(tmp_path, capsys):
    _, out = _train(tmp_path, "--config", str(_config(tmp_path, {"audio": {"n_bands": 12}, "backend": "torch"})))
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["model_config"]["model"] == "recurrent" and config["model_config"]["dt"] == 0.01  # audio defaults
    assert config["audio"]["n_bands"] == 12 and config["audio"]["sample_rate"] == RATE
    assert config["model_config"]["input_shape"] == [24]  # up and down spikes of 12 bands
    assert metrics["test_accuracy"] >= 0.85  # 8 test sounds in three easy classes
    cached = list((tmp_path / "runs" / ".audio-features").glob("*.safetensors"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    capsys.readouterr()
    assert main(["evaluate", str(out), "--latency", "--json", "--margins", "0.5,0.9"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] == metrics["test_accuracy"]
    lat = result["latency"]
    assert lat["steps"][-1] == config["train"]["timesteps"] and lat["accuracy"][-1] == metrics["test_accuracy"]
    assert [e["threshold"] for e in lat["early_exit"]] == [0.5, 0.9]
    assert all(1 <= e["mean_steps"] <= lat["steps"][-1] for e in lat["early_exit"])
    assert cached[0].stat().st_mtime_ns == stamp  # evaluate read the cached features
    # every command that reads a run loads the data the way train did (front end and cache)
    assert main(["profile", str(out), "--json"]) == 0
    assert main(["report", str(out), "--out", str(tmp_path / "report.html")]) == 0
    assert main(["deploy-check", str(out), "--target", "loihi2", "--json"]) == 0
    assert cached[0].stat().st_mtime_ns == stamp


def _config(tmp_path, options):
    path = tmp_path / "audio.json"
    path.write_text(json.dumps(options))
    return path


def test_gru_baseline_and_rate_penalty_train_by_the_same_command(tmp_path):
    _, out = _train(tmp_path, "--model", "gru")
    config = json.loads((out / "config.json").read_text())
    assert config["model_config"]["model"] == "gru" and "audio" in config
    cfg = _config(tmp_path, {"backend": "torch"})
    assert main(["train", "--dataset", f"audio:{tmp_path / 'sounds'}", "--epochs", "3", "--hidden", "16",
                 "--rate-penalty", "0.5", "--config", str(cfg), "--out", str(tmp_path / "runs" / "p"), "--quiet"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "runs" / "p" / "config.json").read_text())["train"]["rate_penalty"] == 0.5


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"audio": {"bands": 8}}, r"audio: unknown option\(s\) \['bands'\]"),
        ({"audio": {"method": "pcm"}}, "method: expected 'delta' or 'level'"),
        ({"audio": [1, 2]}, "audio: expected a mapping"),
        ({"rate_penalty": -1}, "rate_penalty: expected a number >= 0"),
    ],
)
def test_bad_audio_options_are_refused_before_any_work(tmp_path, capsys, options, match):
    data = tones_and_chirps(tmp_path / "sounds", n=2)
    out = tmp_path / "runs" / "bad"
    argv = ["train", "--dataset", f"audio:{data}", "--config", str(_config(tmp_path, options)), "--out", str(out)]
    assert main(argv) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not out.exists() and not (tmp_path / "runs" / ".audio-features").exists()


def test_another_sample_rate_is_refused_unless_resample_is_set(tmp_path, capsys):
    data = tones_and_chirps(tmp_path / "sounds", n=4)
    t = np.arange(int(0.3 * 22050)) / 22050
    _write(data / "low" / "z.wav", 0.5 * np.sin(2 * np.pi * 500 * t), rate=22050)
    argv = ["train", "--dataset", f"audio:{data}", "--epochs", "1", "--hidden", "8", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "runs" / "a")]) == 2
    assert "sample rate 22050 Hz, expected 16000 Hz" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "a").exists()
    cfg = _config(tmp_path, {"audio": {"resample": True}, "backend": "torch"})
    assert main([*argv, "--config", str(cfg), "--out", str(tmp_path / "runs" / "b")]) == 0
