"""``--device``: where a command puts its model, data and neuron state."""

from __future__ import annotations

import argparse
import os

__all__ = ["add_device_argument", "parse_device"]

CHOICES = "cpu, cuda, cuda:N or auto"


def add_device_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        help=f"{CHOICES} (default auto: the GPU when CUDA is available, else the CPU); the fused kernels are chosen "
        "for the device",
    )


def parse_device(text: str | None, *, distributed: bool = False):
    """The ``torch.device`` that ``--device`` names; under torchrun, ``cuda`` / ``auto`` mean this process's GPU
    (``cuda:LOCAL_RANK``)."""
    import torch

    text = "auto" if text is None else str(text).strip()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"--device: expected {CHOICES}, got {text!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device: expected {CHOICES}, got {text!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"--device: {text!r} asked for, but CUDA is not available here (torch {torch.__version__})"
            )
        if device.index is None and distributed:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device: {text!r}, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
