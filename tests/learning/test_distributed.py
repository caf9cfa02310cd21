"""Data-parallel training (DistributedDataParallel over gloo): N processes with a global batch B take the same
steps as one process with batch B, a checkpoint resumes under another number of processes, and
`torchrun -m spikeforge train` writes one run folder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from spikeforge.data import Split
from spikeforge.learning import Checkpointer, Distributed, TrainConfig, fit
from spikeforge.models import build_model, resolve_model_config

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs gloo")

CFG = {"epochs": 2, "batch_size": 20, "timesteps": 6, "encoding": "rate", "seed": 3}  # rate: random draws too


def _split() -> Split:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(70, 1, 4, 4, generator=g, dtype=torch.float64)  # 70 = 3 full batches of 20 and one of 10
    y = (x.flatten(1).mean(1) > 0.5).long() + (x[:, 0, 0, 0] > 0.5).long()
    return Split("tiny", x, y, x[:20], y[:20], x[:20], y[:20], n_classes=3)


def _model():
    torch.manual_seed(0)
    config = {"model": "mlp", "hidden": [12], "input_shape": [1, 4, 4], "n_classes": 3}
    return build_model(resolve_model_config(config)).double()


class _Stop(Exception):
    pass


def _worker(rank: int, world: int, folder: str, stop_at: int | None) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        model, steps = _model(), []

        def on_batch(b, loss, acc):
            steps.append(b)
            if stop_at is not None and len(steps) == stop_at:
                raise _Stop  # every process stops at the same step, as a killed job would

        checkpoints = Checkpointer(os.path.join(folder, "ckpt"), every=3)
        try:
            fit(
                model,
                _split(),
                TrainConfig(**CFG),
                on_batch=on_batch,
                checkpoints=checkpoints,
                distributed=Distributed(rank, world),
            )
        except _Stop:
            return
        if rank == 0:
            torch.save(model.state_dict(), os.path.join(folder, "weights.pt"))  # test-only exchange file
    finally:
        Distributed(rank, world).close()  # all leave together (gloo aborts a process whose peer left early)


def _relative(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max() / a[k].abs().max().clamp(min=1e-300)) for k in a)


def test_two_processes_equal_one_with_the_same_global_batch(tmp_path):
    reference = _model()
    fit(reference, _split(), TrainConfig(**CFG))
    mp.spawn(_worker, args=(2, str(tmp_path), None), nprocs=2)
    got = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert _relative(reference.state_dict(), got) <= 1e-10  # float64: equal up to summation order


def test_a_checkpoint_of_two_processes_resumes_in_one(tmp_path):
    reference = _model()
    fit(reference, _split(), TrainConfig(**CFG))
    mp.spawn(_worker, args=(2, str(tmp_path), 6), nprocs=2)  # stopped in the second epoch (4 steps each)
    checkpoints = Checkpointer(tmp_path / "ckpt")
    assert checkpoints.latest().name == "ckpt-000000004.safetensors"  # written by rank 0 only (epoch 1 end)
    resumed = _model()
    fit(resumed, _split(), TrainConfig(**CFG), checkpoints=checkpoints, resume=True)
    assert _relative(reference.state_dict(), resumed.state_dict()) <= 1e-10


def test_torchrun_trains_one_run_folder_that_agrees_with_one_process(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    train = ["train", "--dataset", "digits", "--epochs", "1", "--hidden", "32", "--timesteps", "8", "--quiet"]
    train += ["--dtype", "float64"]  # the bar: every weight within 1e-5 relative (float32: see the README)
    one = subprocess.run(
        [sys.executable, "-m", "spikeforge", *train, "--out", "one"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "spikeforge",
            *train,
            "--out",
            "two",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # rank 1 wrote nothing
    from spikeforge.interop import read_model_file

    a, _ = read_model_file(tmp_path / "one" / "model.safetensors")
    b, _ = read_model_file(tmp_path / "two" / "model.safetensors")
    assert _relative(a, b) <= 1e-5  # measured 9e-15
    import json

    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["environment"]["processes"] == 2
