"""Spike-time data sets: the Heidelberg SHD/SSC HDF5 files, binned one sample at a time to ``[T, C]`` tensors.

The Spiking Heidelberg Digits (SHD, 20 classes, 8156 train / 2264 test) and Spiking Speech Commands (SSC, 35 classes,
train / valid / test) of Cramer et al. (2020, IEEE TNNLS) store, per sample, the spike times (seconds, float16) and
the input channel (0..699) of 700 cochlea-model channels. A spike at time ``t`` lands in step ``k`` with
``k * dt <= t < (k + 1) * dt``, counted once per spike; steps start at ``t = 0`` (the start of the recording).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..units import check_dt
from ._binning import OnInvalid, SpikeBatch, bin_spikes, check_on_invalid, collate_spikes, steps_for

__all__ = [
    "SHD_FILES",
    "SSC_FILES",
    "HeidelbergSpikes",
    "SpikeBatch",
    "SpikeSplit",
    "bin_spikes",
    "collate_spikes",
    "load_shd",
    "load_ssc",
]

SHD_FILES = {"train": "shd_train.h5", "test": "shd_test.h5"}
SSC_FILES = {"train": "ssc_train.h5", "valid": "ssc_valid.h5", "test": "ssc_test.h5"}
_KEYS = ("spikes/times", "spikes/units", "labels")
_SOURCE = (
    "SHD and SSC are the Heidelberg spiking data sets of Cramer et al. 2020 (IEEE TNNLS), published by the Zenke lab "
    "on its 'Heidelberg spiking data sets' page; spikeforge does not download them: fetch shd_train.h5.gz / "
    "shd_test.h5.gz (or ssc_{train,valid,test}.h5.gz) yourself, gunzip them and pass their folder"
)


def _missing(path: Path) -> FileNotFoundError:
    hint = f" ({path.name}.gz is there: gunzip it first)" if path.with_name(path.name + ".gz").is_file() else ""
    return FileNotFoundError(f"{path}: file not found{hint}. {_SOURCE}")


class HeidelbergSpikes(torch.utils.data.Dataset):
    """One SHD/SSC HDF5 file as a data set of ``(x [T, C], label)`` pairs, binned when a sample is read.

    Only the labels are read up front; spikes are read and binned per sample (SHD's training set as dense float32
    over 1 s would take 2.3 GB at 10 ms steps, 23 GB at 1 ms). The file is opened lazily once per process, so
    ``DataLoader`` workers are safe.

    Args:
        path: an ``shd_*.h5`` / ``ssc_*.h5`` file (keys ``spikes/times``, ``spikes/units``, ``labels``).
        dt: step length in seconds (e.g. ``10 * ms``).
        duration: window in seconds; spikes after it are cropped. ``n_steps``: the same in steps. With neither,
            each sample ends at its last spike and :func:`collate_spikes` pads the batch.
        pool: sum groups of ``pool`` neighbouring channels (``pool=5``: 700 -> 140).
        binary: clip counts to 1.
        n_channels: channels in the file (700).
        indices: the file's samples this data set exposes (a split); all by default.
        on_invalid: ``"raise"`` on NaN/negative times or units outside ``[0, n_channels)`` (naming the sample), or
            ``"drop"`` such spikes.
        dtype: floating dtype of ``x``.

    Example (with the SHD files in ``data/``)::

        train = HeidelbergSpikes("data/shd_train.h5", dt=10 * ms, duration=1.0, pool=5)
        loader = DataLoader(train, batch_size=64, shuffle=True, collate_fn=collate_spikes)
        x, y, lengths, mask = next(iter(loader))  # x: [100, 64, 140]
    """

    def __init__(
        self,
        path: str | Path,
        *,
        dt: float,
        duration: float | None = None,
        n_steps: int | None = None,
        pool: int = 1,
        binary: bool = False,
        n_channels: int = 700,
        indices: Sequence[int] | np.ndarray | None = None,
        on_invalid: OnInvalid = "raise",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        import h5py

        self.path = Path(path)
        self.dt = check_dt(dt)
        self.n_steps = steps_for(self.dt, duration, n_steps)
        check_on_invalid(on_invalid)
        if not isinstance(pool, int) or pool <= 0 or n_channels % pool:
            raise ValueError(f"pool: expected a positive int that divides n_channels={n_channels}, got {pool!r}")
        self.pool, self.binary, self.n_channels = pool, binary, n_channels
        self.on_invalid, self.dtype = on_invalid, dtype
        if self.path.is_dir():
            raise ValueError(
                f"{self.path}: is a directory; expected an SHD/SSC .h5 file (load_shd/load_ssc take the folder)"
            )
        if not self.path.is_file():
            raise _missing(self.path)
        try:
            with h5py.File(self.path, "r") as f:
                for key in _KEYS:
                    if key not in f:
                        raise ValueError(
                            f"{self.path}: missing key {key!r}; an SHD/SSC file holds "
                            f"{', '.join(_KEYS)} (found: {', '.join(_walk(f))})"
                        )
                    if not isinstance(f[key], h5py.Dataset) or f[key].ndim != 1:
                        what = f"shape {f[key].shape}" if isinstance(f[key], h5py.Dataset) else "a group"
                        raise ValueError(f"{self.path}: {key}: expected a 1-D dataset, one row per sample; got {what}")
                for key in _KEYS[:2]:
                    if h5py.check_vlen_dtype(f[key].dtype) is None:
                        raise ValueError(
                            f"{self.path}: {key}: expected variable-length rows (one array per sample), "
                            f"got dtype {f[key].dtype}"
                        )
                rows = {key: len(f[key]) for key in _KEYS}
                labels = np.asarray(f["labels"][()])
                names = _optional(f, "extra/keys", rows["labels"], self.path)
                if names is not None:
                    names = [k.decode(errors="replace") if isinstance(k, bytes) else str(k) for k in names]
                speakers = _optional(f, "extra/speaker", rows["labels"], self.path, integers=True)
        except (OSError, KeyError, RuntimeError, TypeError) as err:  # h5py on a corrupt or foreign file
            raise ValueError(f"{self.path}: cannot read as HDF5 ({type(err).__name__}: {err})") from None
        if len(set(rows.values())) != 1:
            raise ValueError(
                f"{self.path}: row counts differ ({', '.join(f'{k}: {n}' for k, n in rows.items())}); "
                "expected one row of times, one of units and one label per sample"
            )
        if labels.ndim != 1 or labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
            raise ValueError(
                f"{self.path}: labels: expected a 1-D array of class indices >= 0, "
                f"got dtype {labels.dtype} and shape {labels.shape}"
            )
        n = len(labels)
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n):
            raise ValueError(
                f"indices: expected sample indices in [0, {n}) for {self.path}, "
                f"got range [{self.indices.min()}, {self.indices.max()}]"
            )
        if names is not None and labels.size and int(labels.max()) >= len(names):
            raise ValueError(
                f"{self.path}: labels: {int(labels.max())} is not a class of the file's extra/keys "
                f"({len(names)} classes, 0..{len(names) - 1})"
            )
        self.n_classes = int(labels.max()) + 1 if n else 0
        self.class_names: list[str] | None = names
        self._labels_all = labels.astype(np.int64)
        self._speakers_all = speakers
        self._file: Any = None
        self._pid: int | None = None

    @property
    def labels(self) -> torch.Tensor:
        """Labels of the exposed samples, ``[N]`` int64 (read without touching the spikes)."""
        return torch.from_numpy(self._labels_all[self.indices])

    @property
    def speakers(self) -> torch.Tensor | None:
        """Speaker id of each exposed sample (``extra/speaker``), or ``None`` where the file has none."""
        if self._speakers_all is None:
            return None
        return torch.from_numpy(self._speakers_all[self.indices].astype(np.int64))

    @property
    def n_features(self) -> int:
        return self.n_channels // self.pool

    def subset(self, indices: Sequence[int] | np.ndarray) -> HeidelbergSpikes:
        """The same file and binning over ``indices`` (positions in this data set)."""
        new = object.__new__(HeidelbergSpikes)
        new.__dict__.update(self.__getstate__())
        new.indices = self.indices[np.asarray(indices, dtype=np.int64)]
        return new

    def __len__(self) -> int:
        return len(self.indices)

    def _handle(self) -> tuple[Any, Any]:
        """This process's ``(spikes/times, spikes/units)`` datasets (the file opens once per process)."""
        if self._file is None or self._pid != os.getpid():
            import h5py

            f = h5py.File(self.path, "r")
            self._file, self._pid = (f, f["spikes/times"], f["spikes/units"]), os.getpid()
        return self._file[1], self._file[2]

    def close(self) -> None:
        """Close the HDF5 handle of this process (it reopens on the next access)."""
        if self._file is not None and self._pid == os.getpid():
            self._file[0].close()
        self._file = self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None, "_pid": None}

    def events(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw ``(times [s] float64, units int64)`` of exposed sample ``i``."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        j = int(self.indices[i])
        try:
            times, units = self._handle()
            t, u = np.asarray(times[j], dtype=np.float64), np.asarray(units[j])
        except (OSError, KeyError, RuntimeError, TypeError, ValueError) as err:  # a corrupt file, read lazily
            raise ValueError(f"{self.path}: sample {j}: cannot read its spikes ({type(err).__name__}: {err})") from None
        if u.dtype.kind not in "iu":
            raise ValueError(f"{self.path}: sample {j}: spikes/units: expected integer channels, got dtype {u.dtype}")
        return t, u.astype(np.int64)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        times, units = self.events(i)
        x = bin_spikes(
            times,
            units,
            dt=self.dt,
            n_channels=self.n_channels,
            n_steps=self.n_steps,
            pool=self.pool,
            binary=self.binary,
            on_invalid=self.on_invalid,
            dtype=self.dtype,
            where=f"{self.path.name} sample {int(self.indices[i])}: ",
        )
        return x, int(self._labels_all[self.indices[i]])

    def __repr__(self) -> str:
        window = f"n_steps={self.n_steps}" if self.n_steps is not None else "n_steps=per sample"
        return (
            f"HeidelbergSpikes({str(self.path)!r}, {len(self)} samples, dt={self.dt * 1e3:g} ms, {window}, "
            f"features={self.n_features}, binary={self.binary})"
        )


def _optional(f: Any, key: str, n: int, path: Path, *, integers: bool = False) -> np.ndarray | None:
    """An optional per-sample array (``extra/keys`` is per class, so only its rank is checked)."""
    if key not in f:
        return None
    value = np.asarray(f[key][()])
    if value.ndim != 1 or (integers and (value.dtype.kind not in "iu" or len(value) != n)):
        raise ValueError(
            f"{path}: {key}: expected a 1-D array{f' of {n} integers' if integers else ''}, got dtype {value.dtype} "
            f"and shape {value.shape}"
        )
    return value


def _walk(f: Any) -> list[str]:
    found: list[str] = []
    f.visit(found.append)
    return found


@dataclass
class SpikeSplit:
    """Train / validation / test data sets of one spike corpus (``val`` is ``None`` when none was asked for)."""

    name: str
    train: HeidelbergSpikes
    val: HeidelbergSpikes | None
    test: HeidelbergSpikes
    n_classes: int
    n_features: int


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split positions ``0..N-1`` into (keep, held out): ``round(fraction * n_c)`` of each class ``c`` held out,
    chosen by a ``numpy`` generator seeded with ``seed``; both parts sorted."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction: expected a fraction in [0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed)
    held = [
        rng.permutation(np.flatnonzero(labels == c))[: round(fraction * int((labels == c).sum()))]
        for c in np.unique(labels)
    ]
    out = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), out), out


def _check_classes(train: HeidelbergSpikes, others: dict[str, HeidelbergSpikes]) -> int:
    """The number of classes ``K``: the training labels must be ``0 .. K-1``, each present, and the other parts'
    labels among them (a stray label would otherwise add classes that are never trained)."""
    present = np.unique(train._labels_all)
    if not present.size:
        raise ValueError(f"{train.path}: holds no samples")
    n_classes = int(present.max()) + 1
    if len(present) != n_classes:
        absent = sorted(set(range(n_classes)) - set(present.tolist()))
        raise ValueError(
            f"{train.path}: labels: expected the classes 0..K-1, each present; got labels up to {n_classes - 1} "
            f"with {len(absent)} never used (the first: {absent[:5]})"
        )
    for part, data in others.items():
        stray = sorted(set(np.unique(data._labels_all).tolist()) - set(present.tolist()))
        if stray:
            raise ValueError(
                f"{data.path}: {part} labels {stray[:5]} do not occur in the training labels (0..{n_classes - 1})"
            )
    return n_classes


def _files(folder: str | Path, names: dict[str, str]) -> dict[str, Path]:
    folder = Path(folder)
    paths = {part: folder / name for part, name in names.items()}
    for path in paths.values():
        if not path.is_file():
            raise _missing(path)
    return paths


def load_shd(
    folder: str | Path,
    *,
    dt: float,
    duration: float | None = None,
    n_steps: int | None = None,
    pool: int = 1,
    binary: bool = False,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    on_invalid: OnInvalid = "raise",
    dtype: torch.dtype = torch.float32,
) -> SpikeSplit:
    """Spiking Heidelberg Digits from ``folder/shd_train.h5`` and ``folder/shd_test.h5``.

    SHD has no official validation split: a stratified ``val_fraction`` of each training class (seeded by
    ``split_seed``, not the training seed) becomes ``val``; the test file is only binned, nothing is fitted on
    it. The other arguments are those of :class:`HeidelbergSpikes`. Missing files raise ``FileNotFoundError``
    saying where SHD comes from.
    """
    paths = _files(folder, SHD_FILES)
    kw = dict(dt=dt, duration=duration, n_steps=n_steps, pool=pool, binary=binary, on_invalid=on_invalid, dtype=dtype)
    full = HeidelbergSpikes(paths["train"], **kw)
    test = HeidelbergSpikes(paths["test"], **kw)
    n_classes = _check_classes(full, {"test": test})
    keep, held = stratified_holdout(full._labels_all, val_fraction, split_seed)
    val = full.subset(held) if len(held) else None
    return SpikeSplit(f"shd:{folder}", full.subset(keep), val, test, n_classes, full.n_features)


def load_ssc(
    folder: str | Path,
    *,
    dt: float,
    duration: float | None = None,
    n_steps: int | None = None,
    pool: int = 1,
    binary: bool = False,
    on_invalid: OnInvalid = "raise",
    dtype: torch.dtype = torch.float32,
) -> SpikeSplit:
    """Spiking Speech Commands from ``folder/ssc_{train,valid,test}.h5`` (its official three splits).

    The arguments are those of :class:`HeidelbergSpikes`; missing files raise ``FileNotFoundError`` saying where
    SSC comes from.
    """
    paths = _files(folder, SSC_FILES)
    kw = dict(dt=dt, duration=duration, n_steps=n_steps, pool=pool, binary=binary, on_invalid=on_invalid, dtype=dtype)
    parts = {part: HeidelbergSpikes(path, **kw) for part, path in paths.items()}
    n_classes = _check_classes(parts["train"], {"valid": parts["valid"], "test": parts["test"]})
    return SpikeSplit(
        f"ssc:{folder}", parts["train"], parts["valid"], parts["test"], n_classes, parts["train"].n_features
    )
