"""Spike-time data sets: the Heidelberg SHD/SSC HDF5 files, binned one sample at a time to ``[T, C]`` tensors.

The Spiking Heidelberg Digits (SHD, 20 classes, 8156 train / 2264 test) and Spiking Speech Commands (SSC, 35 classes,
train / valid / test) of Cramer et al. (2020, IEEE TNNLS) store, per sample, the spike times (seconds, float16) and
the input channel (0..699) of 700 cochlea-model channels. A spike at time ``t`` lands in step ``k`` with
``k * dt <= t < (k + 1) * dt``, counted once per spike; steps start at ``t = 0`` (the start of the recording).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from ..units import check_dt

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
OnInvalid = Literal["raise", "drop"]


def steps_for(dt: float, duration: float | None, n_steps: int | None) -> int | None:
    """Number of steps a fixed window holds (``ceil(duration / dt)``, ``n_steps``) or ``None`` for no window."""
    if duration is not None and n_steps is not None:
        raise ValueError(f"give duration or n_steps, not both (got duration={duration!r}, n_steps={n_steps!r})")
    if n_steps is not None:
        if not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps <= 0:
            raise ValueError(f"n_steps: expected a positive int, got {n_steps!r}")
        return n_steps
    if duration is not None:
        if not isinstance(duration, int | float) or not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"duration: expected a positive number of seconds, got {duration!r}")
        ratio = duration / dt
        return max(1, round(ratio) if abs(ratio - round(ratio)) < 1e-9 * max(1.0, ratio) else math.ceil(ratio))
    return None


def time_bins(t: np.ndarray, dt: float) -> np.ndarray:
    """Step index ``k`` with ``k * dt <= t < (k + 1) * dt`` for times ``t`` (s, float64), exact at the bin edges."""
    k = np.floor(t / dt)
    k += (k + 1) * dt <= t  # t / dt rounded down across an edge
    k -= k * dt > t  # ... or up
    return k.astype(np.int64)


def check_on_invalid(on_invalid: str) -> None:
    if on_invalid not in ("raise", "drop"):
        raise ValueError(f"on_invalid: expected 'raise' or 'drop', got {on_invalid!r}")


def bin_spikes(
    times: Any,
    units: Any,
    *,
    dt: float,
    n_channels: int,
    duration: float | None = None,
    n_steps: int | None = None,
    pool: int = 1,
    binary: bool = False,
    on_invalid: OnInvalid = "raise",
    dtype: torch.dtype = torch.float32,
    where: str = "",
) -> torch.Tensor:
    """Bin spike times (s) and channel indices into a time-first count tensor ``[T, n_channels // pool]``.

    Args:
        times: spike times in seconds, shape ``[N]`` (any float dtype; float16 is widened to float64 first).
        units: channel of each spike, integers in ``[0, n_channels)``, shape ``[N]``.
        dt: step length in seconds.
        n_channels: number of input channels (700 for SHD/SSC).
        duration: window length in seconds (``ceil(duration / dt)`` steps); spikes after it are cropped.
        n_steps: window length in steps (instead of ``duration``). With neither, ``T`` ends at the last spike.
        pool: sum groups of ``pool`` neighbouring channels (700 -> 140 with ``pool=5``); must divide ``n_channels``.
        binary: clip counts to 1 (a step holds "spike" or "no spike").
        on_invalid: ``"raise"`` a ``ValueError`` for NaN/infinite/negative times or channels out of range, or
            ``"drop"`` those spikes silently.
        dtype: floating dtype of the result.
        where: prefix for error messages (file and sample).

    Returns:
        ``[T, n_channels // pool]`` tensor of spike counts (or 0/1 with ``binary``).

    >>> bin_spikes([0.0, 0.0004, 0.0025], [1, 1, 3], dt=1e-3, n_channels=4).tolist()
    [[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    """
    dt = check_dt(dt)
    check_on_invalid(on_invalid)
    if not isinstance(pool, int) or pool <= 0 or n_channels % pool:
        raise ValueError(f"pool: expected a positive int that divides n_channels={n_channels}, got {pool!r}")
    window = steps_for(dt, duration, n_steps)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    c = np.asarray(units).reshape(-1)
    if len(t) != len(c):
        raise ValueError(f"{where}times and units: expected one unit per spike, got {len(t)} times and {len(c)} units")
    if c.dtype.kind not in "iub":
        raise TypeError(f"{where}units: expected integer channel indices, got dtype {c.dtype}")
    c = c.astype(np.int64)
    bad_t = ~np.isfinite(t) | (t < 0)
    bad_c = (c < 0) | (c >= n_channels)
    if bad_t.any() or bad_c.any():
        if on_invalid == "raise":
            if bad_t.any():
                i = int(np.flatnonzero(bad_t)[0])
                raise ValueError(
                    f"{where}times: expected finite times >= 0 s, got {float(t[i])!r} at spike {i} "
                    f"({int(bad_t.sum())} bad); pass on_invalid='drop' to skip such spikes"
                )
            i = int(np.flatnonzero(bad_c)[0])
            raise ValueError(
                f"{where}units: expected channels in [0, {n_channels}), got {int(c[i])} at spike {i} "
                f"({int(bad_c.sum())} bad); pass on_invalid='drop' to skip such spikes"
            )
        keep = ~(bad_t | bad_c)
        t, c = t[keep], c[keep]
    k = time_bins(t, dt)
    n_t = window if window is not None else max(1, int(k.max()) + 1 if len(k) else 1)
    inside = k < n_t
    width = n_channels // pool
    flat = k[inside] * width + c[inside] // pool
    counts = np.bincount(flat, minlength=n_t * width).reshape(n_t, width)
    if binary:
        counts = np.minimum(counts, 1)
    return torch.from_numpy(counts).to(dtype)


class SpikeBatch(NamedTuple):
    """A padded batch: ``x`` ``[T, B, *features]``, labels ``y`` ``[B]``, ``lengths`` ``[B]``, ``mask`` ``[T, B]``."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor


def collate_spikes(batch: Sequence[tuple[torch.Tensor, int]]) -> SpikeBatch:
    """Stack ``(x [T_i, *features], label)`` samples time-first, padding with zeros after each sample's end.

    ``lengths[b]`` is ``T_b`` and ``mask[t, b]`` is ``t < T_b``. Use it as ``DataLoader(..., collate_fn=collate_spikes)``.

    >>> import torch
    >>> b = collate_spikes([(torch.ones(2, 3), 0), (torch.ones(4, 3), 5)])
    >>> tuple(b.x.shape), b.y.tolist(), b.lengths.tolist(), b.mask[:, 0].tolist()
    ((4, 2, 3), [0, 5], [2, 4], [True, True, False, False])
    """
    if len(batch) == 0:
        raise ValueError("batch: expected at least one (x, label) sample, got an empty batch")
    xs = [x for x, _ in batch]
    features = xs[0].shape[1:]
    for i, x in enumerate(xs):
        if x.dim() < 1 or x.shape[1:] != features:
            raise ValueError(
                f"batch: sample {i} has shape {tuple(x.shape)}, expected [T, {', '.join(map(str, features))}]"
                " like sample 0 (time first, same features)"
            )
    lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.int64)
    out = xs[0].new_zeros((int(lengths.max()), len(xs), *features))
    for b, x in enumerate(xs):
        out[: x.shape[0], b] = x
    y = torch.tensor([int(label) for _, label in batch], dtype=torch.int64)
    mask = torch.arange(out.shape[0])[:, None] < lengths[None, :]
    return SpikeBatch(out, y, lengths, mask)


def _missing(path: Path) -> FileNotFoundError:
    hint = f" ({path.name}.gz is there: gunzip it first)" if path.with_name(path.name + ".gz").is_file() else ""
    return FileNotFoundError(f"{path}: file not found{hint}. {_SOURCE}")


class HeidelbergSpikes(torch.utils.data.Dataset):
    """One SHD/SSC HDF5 file as a data set of ``(x [T, C], label)`` pairs, binned when a sample is read.

    Only the labels are read up front; spikes are read and binned per sample (a whole SHD file would not fit
    densely). The file is opened lazily in each process, so ``DataLoader`` workers are safe.

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
        self.pool, self.binary, self.n_channels, self.on_invalid, self.dtype = (
            pool,
            binary,
            n_channels,
            on_invalid,
            dtype,
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
                rows = {key: len(f[key]) for key in _KEYS}
                labels = np.asarray(f["labels"][()])
                names = (
                    [k.decode() if isinstance(k, bytes) else str(k) for k in f["extra/keys"][()]]
                    if "extra/keys" in f
                    else None
                )
                speakers = np.asarray(f["extra/speaker"][()]) if "extra/speaker" in f else None
        except OSError as err:
            raise ValueError(f"{self.path}: cannot read as HDF5 ({err})") from None
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

    def _handle(self) -> Any:
        if self._file is None or self._pid != os.getpid():
            import h5py

            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file

    def close(self) -> None:
        """Close the HDF5 handle of this process (it reopens on the next access)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None, "_pid": None}

    def events(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw ``(times [s] float64, units int64)`` of exposed sample ``i``."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        j = int(self.indices[i])
        f = self._handle()
        return np.asarray(f["spikes/times"][j], dtype=np.float64), np.asarray(f["spikes/units"][j]).astype(np.int64)

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
    keep, held = stratified_holdout(full._labels_all, val_fraction, split_seed)
    val = full.subset(held) if len(held) else None
    n_classes = max(full.n_classes, test.n_classes)
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
    n_classes = max(p.n_classes for p in parts.values())
    return SpikeSplit(
        f"ssc:{folder}", parts["train"], parts["valid"], parts["test"], n_classes, parts["train"].n_features
    )
