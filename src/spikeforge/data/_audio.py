"""Folders of ``.wav`` recordings, one sub-folder per class, as a time-first :class:`SeriesSplit` of features.

Layouts (the class-folder layout of torchaudio / Keras audio folders)::

    DIR/<class>/*.wav                      one pool: a stratified, seeded train / validation / test split
    DIR/train/<class>/*.wav                given parts: the validation part is a stratified, seeded share of
    DIR/test/<class>/*.wav                 train/; the classes are the sub-folders of train/

Every file is turned into features ``[T_n, C]`` by ``transform`` (the command line passes
:class:`spikeforge.encoding.AudioToSpikes`; this module does not import it, since data and encoding sit on the same
layer), padded with zeros to the longest file, and fed as it is (``mean`` 0, ``std`` 1: spikes need no scaling).

The features are computed once: with ``cache``, they are stored as a safetensors file named by the SHA-256 of the
file list (relative paths, sizes, modification times), the ``key`` that describes the transform and the split
settings; a later load with the same inputs reads it instead of running the front end again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from ._timeseries import SeriesSplit

__all__ = ["AUDIO_CACHE_FORMAT", "audio_files", "load_audio"]

#: version of the cache file's layout, part of its key
AUDIO_CACHE_FORMAT = 1


def _classes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _wavs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav")


def audio_files(folder: str | os.PathLike) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The class names and the ``(file, label)`` pairs of each given part (``"train"`` and ``"test"`` when the
    folder has both sub-trees, else ``"all"``), files in sorted order.

    Raises a ``ValueError`` naming the folder when a class has no ``.wav`` file, when there are no class folders,
    or when test/ holds a class that train/ lacks.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"audio: {root} is not a folder; expected DIR/<class>/*.wav or DIR/train, DIR/test")
    split = (root / "train").is_dir() and (root / "test").is_dir()
    base = root / "train" if split else root
    names = _classes(base)
    if not names:
        raise ValueError(f"audio: {base} has no class sub-folders; expected {base}/<class>/*.wav")
    parts: dict[str, list[tuple[Path, int]]] = {}
    for part in ("train", "test") if split else ("all",):
        where = root / part if split else root
        extra = sorted(set(_classes(where)) - set(names))
        if extra:
            raise ValueError(f"audio: {where} has classes {extra} that {base} lacks; expected the same class folders")
        parts[part] = []
        for label, name in enumerate(names):
            wavs = _wavs(where / name) if (where / name).is_dir() else []
            if not wavs and part != "test":
                raise ValueError(f"audio: {where / name} holds no .wav file; expected at least one per class")
            parts[part] += [(w, label) for w in wavs]
    return names, parts


def _stratified(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(kept, held_out)``: ``round(fraction * n_c)`` samples of each class held out (at least one where
    the class has two or more), drawn with a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    kept, held = [], []
    for c in torch.unique(labels).tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = min(max(round(fraction * len(idx)), 1 if len(idx) > 1 else 0), len(idx) - 1) if fraction > 0 else 0
        held.append(idx[:k])
        kept.append(idx[k:])
    return torch.cat(kept).sort().values, torch.cat(held).sort().values


def _key(root: Path, parts: dict, key: str, settings: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": AUDIO_CACHE_FORMAT, "transform": key, **settings}, sort_keys=True).encode())
    for part, files in parts.items():
        for path, label in files:
            st = path.stat()
            h.update(f"{part}\0{path.relative_to(root)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _features(files: list[tuple[Path, int]], transform: Callable) -> tuple[list[torch.Tensor], torch.Tensor]:
    feats = []
    for path, _ in files:
        z = transform(path)
        if not isinstance(z, torch.Tensor) or z.dim() != 2:
            raise ValueError(f"transform: expected features [T, C] for {path}, got {getattr(z, 'shape', type(z))}")
        if z.shape[0] < 1:
            raise ValueError(f"audio: {path} is shorter than one frame of the front end; expected a longer file")
        feats.append(z.float())
    return feats, torch.tensor([label for _, label in files], dtype=torch.long)


def _pad(feats: list[torch.Tensor], steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.zeros(steps, len(feats), feats[0].shape[1]) if feats else torch.zeros(steps, 0, 0)
    for n, f in enumerate(feats):
        x[: len(f), n] = f
    return x, torch.tensor([len(f) for f in feats], dtype=torch.long)


def load_audio(
    folder: str | os.PathLike,
    *,
    transform: Callable | None = None,
    key: str | None = None,
    split_seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    cache: str | os.PathLike | None = None,
    name: str | None = None,
) -> SeriesSplit:
    """Read a class-folder corpus of ``.wav`` files (layouts in the module docstring) as a :class:`SeriesSplit`.

    Args:
        folder: the corpus folder.
        transform: ``path -> features [T, C]`` (e.g. ``AudioToSpikes(...)``); required.
        key: a string that determines the transform's output (default ``repr(transform)``), part of the cache key.
        split_seed: seed of the stratified validation (and, without train/ and test/, test) split.
        val_fraction: share of each training class held out for validation.
        test_fraction: share of each class held out for testing when the folder has no train/ and test/.
        cache: folder for the cached features (created if missing); ``None`` computes them every time.
        name: the split's name (default ``"audio:" + folder``).

    Returns:
        A :class:`SeriesSplit` with ``x_*`` ``[T, N, C]`` float32, ``T`` the longest file's number of frames.
    """
    if transform is None:
        raise ValueError("transform: expected the audio front end (path -> features [T, C]), e.g. AudioToSpikes()")
    for arg, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not (isinstance(value, int | float) and 0 <= value < 1):
            raise ValueError(f"{arg}: expected a share in [0, 1), got {value!r}")
    root = Path(folder)
    names, parts = audio_files(root)
    settings = {"split_seed": split_seed, "val_fraction": val_fraction, "test_fraction": test_fraction}
    path = None
    if cache is not None:
        path = Path(cache) / f"audio-{_key(root, parts, key or repr(transform), settings)[:32]}.safetensors"
        if path.is_file():
            return _from_cache(path, name or f"audio:{folder}", names)
    if "all" in parts:
        feats, labels = _features(parts["all"], transform)
        rest, test = _stratified(labels, test_fraction, split_seed)
        train, val = _stratified(labels[rest], val_fraction, split_seed + 1)
        train, val = rest[train], rest[val]
    else:
        f_tr, y_tr = _features(parts["train"], transform)
        f_te, y_te = _features(parts["test"], transform)
        if not f_te:
            raise ValueError(f"audio: {root / 'test'} holds no .wav file; expected a test part")
        feats, labels = f_tr + f_te, torch.cat([y_tr, y_te])
        train, val = _stratified(y_tr, val_fraction, split_seed)
        test = torch.arange(len(f_tr), len(feats))
    channels = {int(f.shape[1]) for f in feats}
    if len(channels) != 1:
        raise ValueError(f"transform: expected the same number of channels for every file, got {sorted(channels)}")
    steps = max(len(f) for f in feats)
    x, lengths = _pad(feats, steps)
    tensors = {
        "x": x,
        "y": labels,
        "lengths": lengths,
        "train": train,
        "val": val,
        "test": test,
    }
    if path is not None:
        from .. import _tensorfile

        path.parent.mkdir(parents=True, exist_ok=True)
        small = bool((x == x.round()).all() and x.min() >= 0 and x.max() <= 255)  # spike counts: one byte each
        stored = tensors | {"x": x.to(torch.uint8)} if small else tensors
        _tensorfile.write(path, _tensorfile.encode(stored, {"classes": json.dumps(names)}))
    return _split(tensors, name or f"audio:{folder}", names)


def _from_cache(path: Path, name: str, names: list[str]) -> SeriesSplit:
    from .. import _tensorfile

    tensors, meta = _tensorfile.read(path, what="audio feature cache")
    if json.loads(meta.get("classes", "null")) != names:
        raise ValueError(f"audio: the feature cache {path} lists other classes; delete it to recompute")
    return _split(tensors | {"x": tensors["x"].float()}, name, names)


def _split(t: dict[str, torch.Tensor], name: str, names: list[str]) -> SeriesSplit:
    x, y, lengths = t["x"], t["y"], t["lengths"]
    parts = []
    for which in ("train", "val", "test"):
        idx = t[which]
        parts += [x[:, idx].contiguous(), y[idx], lengths[idx]]
    channels = x.shape[-1]
    return SeriesSplit(name, *parts, len(names), list(names), torch.zeros(channels), torch.ones(channels))
