"""Fused kernels on CUDA GPUs, written in Triton (``_triton_lif.py``), imported only when a CUDA tensor asks for
them, so Triton is never needed on machines without a GPU. The same tensor interface as :mod:`.cpu`."""

from __future__ import annotations

import importlib.util

import torch

from ._settings import Settings

__all__ = ["available", "lif"]


def available() -> bool:
    """CUDA present and Triton importable (checked without importing it)."""
    return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None


def lif(x_seq: torch.Tensor, v0: torch.Tensor, beta, threshold, settings: Settings):
    """As :func:`spikeforge.kernels.cpu.lif` (exact storage), for CUDA tensors; built-in surrogates only."""
    from . import _triton_lif

    if settings.custom is not None:
        raise ValueError(
            f"settings: the Triton kernel evaluates the built-in surrogates only, got the user-defined "
            f"{settings.custom!r}; run it on the CPU kernels or the torch reference"
        )
    return _triton_lif.lif(x_seq, v0, beta, threshold, settings)
