"""Time-series classification data: UEA/UCR ``.ts`` files, read into padded, time-first tensors.

A ``.ts`` file has ``@key value`` header lines (``@classLabel true a b c``, ``@equalLength false`` ...), then after
``@data`` one case per line: the channels separated by ``:``, the values of a channel by ``,``, and the class label
last. ``?`` (or ``NaN``) marks a missing value.

What this reader does with irregular files (nothing is dropped or filled silently):

- **variable length** (cases of different lengths, every channel of a case the same length): padded with zeros at
  the end to the longest case; ``lengths`` records the valid steps, and readouts ignore the padding.
- **ragged channels** (channels of one case with different lengths): refused with the file, line and lengths.
- **missing values**: ``missing="error"`` (the default) refuses the file naming the first one; ``"interpolate"``
  fills each gap linearly within its channel (the nearest observed value at the ends); a channel with no observed
  value is refused either way.
- **time stamps** (``(t, v)`` pairs): refused.

Normalisation (per-channel mean and standard deviation over the valid steps) is fit on the training part only and
applied unchanged to the validation and test parts.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

__all__ = ["SeriesSplit", "TSFile", "load_ts_pair", "load_uea", "read_ts", "uea_datasets"]

Missing = Literal["error", "interpolate"]


@dataclass
class TSFile:
    """The contents of one ``.ts`` file: ``series[n]`` is a ``[T_n, C]`` float64 array (NaN where missing)."""

    series: list[np.ndarray]
    labels: list[str]
    class_names: list[str]
    header: dict[str, str] = field(default_factory=dict)


def _parse_value(token: str, path: Path, line_no: int) -> float:
    token = token.strip()
    if token in ("?", "") or token.lower() == "nan":
        return float("nan")
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{path}:{line_no}: expected a number or '?', got {token!r}") from None
    if math.isinf(value):
        raise ValueError(f"{path}:{line_no}: expected a finite number or '?', got {token!r} (infinite)")
    return value


def read_ts(path: str | Path) -> TSFile:
    """Parse one ``.ts`` file (see the module docstring for the format); values stay as read (NaN = missing).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy_TRAIN.ts"
    >>> _ = p.write_text("@classLabel true a b\\n@data\\n1,2,3:4,5,6:a\\n7,8:9,10:b\\n")
    >>> f = read_ts(p)
    >>> [s.shape for s in f.series], f.labels, f.class_names
    ([(3, 2), (2, 2)], ['a', 'b'], ['a', 'b'])
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"ts file {path}: is a directory; expected a .ts file")
    if not path.is_file():
        raise FileNotFoundError(f"ts file {path}: not found")
    header: dict[str, str] = {}
    class_names: list[str] = []
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(
                        f"{path}:{line_no}: expected a '@key value' header line or '@data', got {line[:40]!r}"
                    )
                key, _, value = line[1:].partition(" ")
                key = key.lower()
                if key == "data":
                    in_data = True
                    continue
                header[key] = value.strip()
                if key == "classlabel":
                    words = value.split()
                    if not words or words[0].lower() != "true":
                        raise ValueError(
                            f"{path}:{line_no}: '@classLabel false' files have no class labels; a "
                            "classification .ts file declares '@classLabel true <labels...>'"
                        )
                    class_names = words[1:]
                if key == "timestamps" and value.strip().lower() == "true":
                    raise ValueError(
                        f"{path}: time-stamped series ('@timeStamps true') are not supported; "
                        "resample them to a regular grid first"
                    )
                continue
            if "(" in line:
                raise ValueError(f"{path}:{line_no}: time-stamped '(t,v)' values are not supported")
            *channels, label = line.split(":")
            if not channels:
                raise ValueError(f"{path}:{line_no}: expected 'values:...:label', got one field {line[:40]!r}")
            rows = [[_parse_value(v, path, line_no) for v in ch.split(",")] for ch in channels]
            lengths = {len(r) for r in rows}
            if len(lengths) > 1:
                raise ValueError(
                    f"{path}:{line_no}: ragged case: its channels have different lengths "
                    f"{[len(r) for r in rows]}; every channel of a case must have the same length"
                )
            if series and len(rows) != series[0].shape[1]:
                raise ValueError(f"{path}:{line_no}: {len(rows)} channels, but the first case has {series[0].shape[1]}")
            series.append(np.asarray(rows, dtype=np.float64).T)
            labels.append(label.strip())
    if not in_data:
        raise ValueError(f"{path}: no '@data' line; not a .ts file")
    if "classlabel" not in header and "targetlabel" in header:
        raise ValueError(
            f"{path}: a regression file ('@targetLabel'); expected a classification file "
            "with '@classLabel true <labels...>'"
        )
    if not series:
        raise ValueError(f"{path}: no cases after '@data'")
    if not class_names:
        class_names = sorted(set(labels))
    unknown = sorted(set(labels) - set(class_names))
    if unknown:
        raise ValueError(f"{path}: labels {unknown[:5]} are not among the declared classes {class_names}")
    return TSFile(series, labels, class_names, header)


def _fill_missing(series: list[np.ndarray], missing: Missing, path: Path) -> list[np.ndarray]:
    out = []
    for n, s in enumerate(series):
        nan = np.isnan(s)
        if not nan.any():
            out.append(s)
            continue
        if missing == "error":
            t, c = np.argwhere(nan)[0]
            raise ValueError(
                f"{path}: case {n} channel {c} step {t} is missing ('?' or NaN; {int(nan.sum())} "
                "missing values in this case); pass missing='interpolate' to fill gaps linearly"
            )
        s = s.copy()
        steps = np.arange(len(s))
        for c in range(s.shape[1]):
            ok = ~nan[:, c]
            if not ok.any():
                raise ValueError(f"{path}: case {n} channel {c} has no observed value; nothing to interpolate from")
            s[:, c] = np.interp(steps, steps[ok], s[ok, c])
        out.append(s)
    return out


@dataclass
class SeriesSplit:
    """Train/validation/test parts of a series data set as padded, time-first tensors.

    ``x_*`` are ``[T, N, C]`` float32 (normalised, zero after each series' end), ``len_*`` the valid steps
    ``[N]`` (int64), ``y_*`` the labels ``[N]``. ``mean``/``std`` are the per-channel statistics fit on the
    training part.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    len_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    len_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    len_test: torch.Tensor
    n_classes: int
    class_names: list[str]
    mean: torch.Tensor
    std: torch.Tensor

    time_first = True

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (int(self.x_train.shape[-1]),)

    def part(self, which: Literal["train", "val", "test"]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, y, lengths)`` of one part."""
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}"), getattr(self, f"len_{which}")


def _pad(series: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((length, len(series), series[0].shape[1]), dtype=np.float64)
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    for n, s in enumerate(series):
        x[: len(s), n] = s
    return x, lengths


def _normalise(x: np.ndarray, lengths: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    valid = np.arange(x.shape[0])[:, None] < lengths[None, :]
    return np.where(valid[..., None], (x - mean) / std, 0.0)


def load_ts_pair(
    train: str | Path,
    test: str | Path,
    *,
    name: str | None = None,
    split_seed: int = 0,
    val_fraction: float = 0.2,
    missing: Missing = "error",
) -> SeriesSplit:
    """Load a ``_TRAIN.ts`` / ``_TEST.ts`` pair. A stratified ``val_fraction`` of the training file (fixed by
    ``split_seed``) becomes the validation part; the test file is the test part, untouched."""
    if missing not in ("error", "interpolate"):
        raise ValueError(f"missing: expected 'error' or 'interpolate', got {missing!r}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction: expected a fraction in (0, 1), got {val_fraction!r}")
    tr, te = read_ts(train), read_ts(test)
    classes = tr.class_names if set(te.labels) <= set(tr.class_names) else sorted(set(tr.labels) | set(te.labels))
    if tr.series[0].shape[1] != te.series[0].shape[1]:
        raise ValueError(f"{test}: {te.series[0].shape[1]} channels, but {train} has {tr.series[0].shape[1]}")
    xs_tr = _fill_missing(tr.series, missing, Path(train))
    xs_te = _fill_missing(te.series, missing, Path(test))
    index = {c: k for k, c in enumerate(classes)}
    y_tr = np.array([index[lab] for lab in tr.labels], dtype=np.int64)
    y_te = np.array([index[lab] for lab in te.labels], dtype=np.int64)

    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y_tr))
    n_val = max(round(val_fraction * len(idx)), 1)
    stratify = y_tr if np.bincount(y_tr).min() >= 2 and n_val >= len(np.unique(y_tr)) else None
    fit_idx, val_idx = train_test_split(idx, test_size=n_val, stratify=stratify, random_state=split_seed)
    fit_idx, val_idx = np.sort(fit_idx), np.sort(val_idx)

    length = max(len(s) for s in xs_tr + xs_te)
    x_fit, l_fit = _pad([xs_tr[i] for i in fit_idx], length)
    x_val, l_val = _pad([xs_tr[i] for i in val_idx], length)
    x_test, l_test = _pad(xs_te, length)
    observed = np.concatenate([xs_tr[i] for i in fit_idx], axis=0)  # valid steps of the training part only
    mean = observed.mean(0)
    std = observed.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    t = lambda a, dtype=torch.float32: torch.from_numpy(np.ascontiguousarray(a)).to(dtype)  # noqa: E731
    return SeriesSplit(
        name or Path(train).stem.removesuffix("_TRAIN"),
        t(_normalise(x_fit, l_fit, mean, std)),
        t(y_tr[fit_idx], torch.int64),
        t(l_fit, torch.int64),
        t(_normalise(x_val, l_val, mean, std)),
        t(y_tr[val_idx], torch.int64),
        t(l_val, torch.int64),
        t(_normalise(x_test, l_test, mean, std)),
        t(y_te, torch.int64),
        t(l_test, torch.int64),
        len(classes),
        list(classes),
        t(mean),
        t(std),
    )


def _aeon_data_dir() -> Path:
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "dataset uea:NAME: needs the 'aeon' package (pip install 'spikeforge[timeseries]'), "
            "which ships the data sets; or pass a path to a NAME_TRAIN.ts file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _is_classification(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.lower().split()
            if words[:1] == ["@data"]:
                return False
            if words[:2] == ["@classlabel", "true"]:
                return True
    return False


def uea_datasets() -> list[str]:
    """Names of the classification sets (a ``NAME_TRAIN.ts`` / ``NAME_TEST.ts`` pair) shipped inside aeon."""
    root = _aeon_data_dir()
    return sorted(
        d.name
        for d in root.iterdir()
        if (d / f"{d.name}_TRAIN.ts").is_file()
        and (d / f"{d.name}_TEST.ts").is_file()
        and d.name != "UnitTest"
        and _is_classification(d / f"{d.name}_TRAIN.ts")
    )


def load_uea(name: str, *, split_seed: int = 0, val_fraction: float = 0.2, missing: Missing = "error") -> SeriesSplit:
    """A UEA/UCR classification set that the ``aeon`` package ships in its install (no download)."""
    folder = _aeon_data_dir() / name
    train, test = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
    if not (train.is_file() and test.is_file()):
        raise ValueError(f"dataset uea:{name}: not shipped with aeon here; available: {uea_datasets()}")
    return load_ts_pair(train, test, name=name, split_seed=split_seed, val_fraction=val_fraction, missing=missing)


def _pair_from_path(path: Path) -> tuple[Path, Path]:
    stem = str(path)
    for suffix in ("_TRAIN.ts", "_TEST.ts", "_TRAIN", "_TEST", ".ts"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    train, test = Path(stem + "_TRAIN.ts"), Path(stem + "_TEST.ts")
    if not (train.is_file() and test.is_file()):
        raise FileNotFoundError(f"dataset {path}: expected the pair {train.name} and {test.name} in {train.parent}")
    return train, test
