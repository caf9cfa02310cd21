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

__all__ = ["ModelFileError", "load_model", "read_model_file", "save_model"]

FORMAT = "spikeforge-model"
VERSION = "1"
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+ / torch.save zip archive


class ModelFileError(ValueError):
    """A model file that cannot be loaded safely (wrong format, truncated, inconsistent with its config)."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    from .._files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_model(path: str | Path, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model``'s state dict and its (JSON-able) ``config`` to a safetensors file, atomically."""
    from safetensors.torch import save

    path = Path(path)
    try:
        meta = json.dumps(config, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"config: must hold JSON values only ({err})") from None
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic_write_bytes(path, save(tensors, metadata={"format": FORMAT, "version": VERSION, "config": meta}))
    return path


def read_model_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Parse a model file into ``(state_dict, config)``; raises :class:`ModelFileError` with the reason."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path}: not found")
    data = path.read_bytes()
    # a safetensors header length can begin with 0x80 too (640 bytes is b"\x80\x02..."): its JSON header starts
    # at byte 8 with "{", which a pickle never has there (protocol 4+ frame length; protocol 2-3 opcodes)
    looks_safetensors = data[8:9] == b"{" and not any(data[5:8])
    if not looks_safetensors and (data[:1] in _PICKLE_MAGIC or data[:4] == _PICKLE_MAGIC[1]):
        raise ModelFileError(
            f"model file {path}: holds a pickle/torch.save payload, which could run code on load;"
            " spikeforge reads safetensors files only (nothing was executed)"
        )
    if len(data) < 8:
        raise ModelFileError(f"model file {path}: {len(data)} bytes is too short to be a safetensors file")
    header_len = int.from_bytes(data[:8], "little")
    if header_len <= 0 or 8 + header_len > len(data):
        raise ModelFileError(
            f"model file {path}: truncated or not safetensors (header of {header_len} bytes, file of {len(data)})"
        )
    try:
        header = json.loads(data[8 : 8 + header_len])
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"model file {path}: truncated or corrupt ({err})") from None
    meta = header.get("__metadata__") or {}
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
    model.load_state_dict(tensors)
    model.eval()
    return model, config
