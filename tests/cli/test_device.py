"""--device: parsed with the argument named in every error; the CPU path end to end."""

from __future__ import annotations

import pytest
import torch

from spikeforge.cli import main
from spikeforge.cli._device import parse_device


def test_auto_is_the_gpu_when_there_is_one_else_the_cpu():
    assert parse_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert parse_device(None) == parse_device("auto")
    assert parse_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("text", ["tpu", "gpu", "", "cuda:x", "mps"])
def test_unknown_devices_are_refused_by_name(text):
    with pytest.raises(ValueError, match=r"--device: expected cpu, cuda, cuda:N or auto"):
        parse_device(text)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_says_so():
    with pytest.raises(ValueError, match="CUDA is not available here"):
        parse_device("cuda:0")


def test_train_and_evaluate_on_the_named_device(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "digits", "--epochs", "1", "--hidden", "16", "--timesteps", "4", "--quiet"]
    assert main([*args, "--out", str(out), "--device", "cpu"]) == 0
    assert main(["evaluate", str(out), "--device", "cpu"]) == 0
    assert "matches metrics.json" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--device", "tpu"]) == 2
    assert "--device: expected" in capsys.readouterr().err
