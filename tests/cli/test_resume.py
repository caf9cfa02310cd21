"""Checkpoints and resume: a training run killed with SIGKILL mid-epoch and resumed ends with the same bytes as one
that never stopped; checkpoints are verified; the per-epoch log is written as the run goes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from spikeforge.cli import main
from spikeforge.cli._rundir import MARKER, partial_dir
from spikeforge.learning import Checkpointer, TrainConfig, fit
from spikeforge.learning.supervised._checkpoint import CheckpointError

TRAIN = ["train", "--dataset", "digits", "--epochs", "3", "--hidden", "48", "--timesteps", "24", "--backend", "torch"]


def _spikeforge(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = "import sys, torch; torch.set_num_threads(1); from spikeforge.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _metrics_without_times(path: Path) -> dict:
    metrics = json.loads(path.read_text())
    for key in ("train_seconds", "wall_seconds"):
        metrics.pop(key)
    for row in metrics["history"]:
        row.pop("seconds")
    return metrics


def test_kill_9_mid_epoch_then_resume_gives_byte_identical_model(tmp_path):
    whole = _spikeforge([*TRAIN, "--out", "whole", "--quiet"], tmp_path)
    killed = _spikeforge([*TRAIN, "--out", "killed", "--checkpoint-every", "4", "--quiet"], tmp_path)
    checkpoints = partial_dir(tmp_path / "killed") / "checkpoints"
    deadline = time.monotonic() + 120
    while not (checkpoints.is_dir() and any(p.suffix == ".sha256" for p in checkpoints.iterdir())):
        assert killed.poll() is None, killed.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)  # in the first epoch (19 steps): a mid-epoch checkpoint at step 4 or 8 ...
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    newest = sorted(p.name for p in checkpoints.iterdir() if p.suffix == ".sha256")[-1]
    assert int(newest[5:14]) % 19 != 0, "the run was to be killed mid-epoch"
    assert not (tmp_path / "killed").exists()
    # a plain run to the same folder is refused and names both ways out; nothing is touched
    resumed_by_mistake = main([*TRAIN, "--out", str(tmp_path / "killed")])
    assert resumed_by_mistake == 2 and checkpoints.is_dir()
    resumed = _spikeforge(["train", "--resume", "killed", "--quiet"], tmp_path)
    assert resumed.wait() == 0, resumed.stderr.read().decode()
    assert whole.wait() == 0, whole.stderr.read().decode()
    a, b = tmp_path / "whole", tmp_path / "killed"
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert _metrics_without_times(a / "metrics.json") == _metrics_without_times(b / "metrics.json")
    assert [r.split(",")[:6] for r in (a / "log.csv").read_text().splitlines()] == [
        r.split(",")[:6] for r in (b / "log.csv").read_text().splitlines()
    ]
    assert not partial_dir(b).exists() and not (b / "checkpoints").exists()
    assert json.loads((b / MARKER).read_text())["status"] == "complete"


def _tiny_split(n: int = 40):
    g = torch.Generator().manual_seed(0)
    from spikeforge.data import Split

    x, y = torch.rand(n, 1, 4, 4, generator=g), torch.randint(0, 3, (n,), generator=g)
    return Split("tiny", x, y, x[:8], y[:8], x[:8], y[:8], n_classes=3)


def _tiny_model():
    from spikeforge.models import build_model, resolve_model_config

    torch.manual_seed(0)
    return build_model(resolve_model_config({"model": "mlp", "hidden": [8], "input_shape": [1, 4, 4], "n_classes": 3}))


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one_with_a_warning(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=8, timesteps=4)
    split = _tiny_split()
    fit(_tiny_model(), split, cfg, checkpoints=Checkpointer(tmp_path, every=3, keep=3))
    files = sorted(tmp_path.glob("ckpt-*.safetensors"))
    assert len(files) == 3
    data = files[-1].read_bytes()
    files[-1].write_bytes(data[: len(data) // 2])  # truncated
    with pytest.warns(RuntimeWarning, match="checksum mismatch"):
        state, _, _ = Checkpointer(tmp_path).load()
    assert state.step == int(files[-2].name[5:14])
    for f in files:
        f.with_suffix(".sha256").unlink()
    with pytest.raises(CheckpointError, match="without its checksum"):
        Checkpointer(tmp_path).load()


def test_resume_refuses_other_training_settings(tmp_path):
    split = _tiny_split()
    fit(_tiny_model(), split, TrainConfig(epochs=1, batch_size=8, timesteps=4), checkpoints=Checkpointer(tmp_path))
    with pytest.raises(CheckpointError, match="lr"):
        fit(
            _tiny_model(),
            split,
            TrainConfig(epochs=1, batch_size=8, timesteps=4, lr=0.1),
            checkpoints=Checkpointer(tmp_path),
            resume=True,
        )


def test_log_csv_and_tensorboard_are_written_as_the_run_goes(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "2", "--out", str(out), "--tensorboard", "--quiet"]) == 0
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,train_loss") and [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("val_accuracy")] == [1, 2]


def test_progress_is_one_line_per_epoch_when_not_a_terminal(tmp_path):
    run = _spikeforge([*TRAIN, "--epochs", "2", "--out", "run"], tmp_path)
    out, err = run.communicate()
    assert run.returncode == 0, err.decode()
    lines = [line for line in out.decode().splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
