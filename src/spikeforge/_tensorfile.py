"""safetensors files, written byte-deterministically and durably, read without unpickling anything (private).

The same tensors and metadata always give the same bytes: the JSON header is written with sorted keys (safetensors
itself keeps metadata in a hash map, whose order changes from run to run), so runs can be compared by hash.
:func:`write` is atomic and durable: a temporary file beside the target, flushed to disk (``fsync``), renamed onto
it, and the folder synced; a crash leaves the old file or the new one, never half of one. Reading parses the JSON
header and raw tensor bytes only; a pickle or ``torch.save`` payload is refused without being run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

__all__ = ["TensorFileError", "decode", "encode", "read", "sha256", "write"]

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+ / torch.save zip archive


class TensorFileError(ValueError):
    """A tensor file that cannot be read safely (a pickle, truncated, corrupt)."""


def encode(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors bytes of ``tensors`` (moved to the CPU, made contiguous) with a key-sorted header."""
    from safetensors.torch import save

    data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # tensor data starts 8-byte aligned, as safetensors writes it
    return len(header).to_bytes(8, "little") + header + data[8 + n :]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temporary file, fsync, rename, folder fsync)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # mkstemp makes it private
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def decode(data: bytes, *, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of safetensors bytes; ``what`` names the file in errors (:class:`TensorFileError`)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    # a safetensors header length can begin with 0x80 too (640 bytes is b"\x80\x02..."): its JSON header starts
    # at byte 8 with "{", which a pickle never has there (protocol 4+ frame length; protocol 2-3 opcodes)
    looks_safetensors = data[8:9] == b"{" and not any(data[5:8])
    if not looks_safetensors and (data[:1] in _PICKLE_MAGIC or data[:4] == _PICKLE_MAGIC[1]):
        raise TensorFileError(
            f"{what}: holds a pickle/torch.save payload, which could run code on load;"
            " spikeforge reads safetensors files only (nothing was executed)"
        )
    if len(data) < 8:
        raise TensorFileError(f"{what}: {len(data)} bytes is too short to be a safetensors file")
    header_len = int.from_bytes(data[:8], "little")
    if header_len <= 0 or 8 + header_len > len(data):
        raise TensorFileError(
            f"{what}: truncated or not safetensors (header of {header_len} bytes, file of {len(data)})"
        )
    try:
        header = json.loads(data[8 : 8 + header_len])
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise TensorFileError(f"{what}: truncated or corrupt ({err})") from None
    if not isinstance(header, dict):
        raise TensorFileError(f"{what}: not safetensors (its header is not a JSON object)")
    meta = header.get("__metadata__") or {}
    return tensors, meta if isinstance(meta, dict) else {}


def read(path: str | Path, *, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """:func:`decode` of the file at ``path`` (FileNotFoundError, naming ``what``, when it is missing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: not found")
    return decode(path.read_bytes(), what=what)
