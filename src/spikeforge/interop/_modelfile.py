"""Model files that never execute code on load: safetensors weights with the model config as JSON metadata.

A file written by :func:`save_model` holds every tensor of the state dict plus, in the safetensors header, the
JSON config that :func:`spikeforge.models.build_model` turns back into the network. Loading parses a JSON header
and raw tensor bytes only: no pickle is involved, so a malicious file cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._tensorfile import TensorFileError, encode, read, write

__all__ = ["ModelFileError", "load_model", "read_model_file", "save_model"]

FORMAT = "spikeforge-model"
VERSION = "1"


class ModelFileError(TensorFileError):
    """A model file that cannot be loaded safely (wrong format, truncated, inconsistent with its config)."""


def save_model(path: str | Path, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model``'s state dict and its (JSON-able) ``config`` to a safetensors file, atomically; the same
    model and config always give the same bytes."""
    path = Path(path)
    try:
        meta = json.dumps(config, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"config: must hold JSON values only ({err})") from None
    write(path, encode(model.state_dict(), {"format": FORMAT, "version": VERSION, "config": meta}))
    return path


def read_model_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Parse a model file into ``(state_dict, config)``; raises :class:`ModelFileError` with the reason."""
    path = Path(path)
    try:
        tensors, meta = read(path, what=f"model file {path}")
    except TensorFileError as err:
        raise ModelFileError(str(err)) from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(
            f"model file {path}: a safetensors file without spikeforge metadata "
            f"(format={meta.get('format')!r}); write it with spikeforge.interop.save_model"
        )
    try:
        config = json.loads(meta["config"])
    except (KeyError, json.JSONDecodeError) as err:
        raise ModelFileError(f"model file {path}: config metadata missing or not JSON ({err})") from None
    return tensors, config


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network stored in ``path``; returns ``(model, config)``. The model is in eval mode."""
    from ..models import build_model

    tensors, config = read_model_file(path)
    try:
        model = build_model(config)
    except (ValueError, KeyError, TypeError) as err:
        raise ModelFileError(f"model file {path}: its config does not describe a buildable model ({err})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)} vs config {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}")
        if wrong:
            parts.append(f"shape mismatch {wrong[:5]}")
        raise ModelFileError(f"model file {path}: tensors do not match the config ({'; '.join(parts)})")
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            kind = "NaN" if bool(torch.isnan(tensor).any()) else "inf"
            raise ModelFileError(f"model file {path}: tensor {name!r} holds {kind} values; the model cannot be used")
    model.load_state_dict(tensors)
    model.eval()
    return model, config
