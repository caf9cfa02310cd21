"""Data set specs: the strings that name a data set (``digits``, ``idx:PATH``, ``uea:NAME``, ``PATH_TRAIN.ts``,
``shd:DIR``, ``ssc:DIR``, ``audio:DIR``), resolved to a loaded split.

:data:`DATASET_SPECS` is the one table of spec forms: :func:`load_split` and the narrower loaders resolve specs
with it, and the ``--dataset`` help and error messages of the command line are written from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._audio import load_audio
from ._images import Split, load_digits, load_idx
from ._spike_series import spike_series
from ._spikes import load_shd, load_ssc
from ._timeseries import Missing, SeriesSplit, _pair_from_path, load_ts_pair, load_uea
from ._yinyang import load_yinyang

__all__ = [
    "DATASET_SPECS",
    "SPIKE_CORPORA",
    "DatasetSpec",
    "dataset_kind",
    "dataset_slug",
    "describe_datasets",
    "is_series",
    "is_spike_corpus",
    "load_dataset",
    "load_series",
    "load_spike_series",
    "load_split",
]

Kind = Literal["images", "series", "spikes", "audio"]


@dataclass(frozen=True)
class DatasetSpec:
    """One form of data set spec: how it is written, what it names and how it is read.

    ``syntax`` is ``"name"`` (the spec is the table key itself), ``"prefix"`` (``KEY:ARGUMENT``) or ``"path"`` (a
    file path that ``is_path`` recognises; tried after every name and prefix). ``kind`` is ``"images"`` (a
    :class:`Split` of samples encoded over time), ``"series"`` (a padded, time-first :class:`SeriesSplit`) or
    ``"spikes"`` (spike files binned to the network's step into a :class:`SeriesSplit`) or ``"audio"`` (``.wav``
    folders turned into features by a front end that the caller passes, see :func:`load_audio`). ``read`` is the loader
    that takes the argument. ``official_val``: the data set ships its own validation part (else one is held out of
    the training part, seeded by ``split_seed``).
    """

    form: str
    note: str
    kind: Kind
    read: Callable[..., Any]
    syntax: Literal["name", "prefix", "path"] = "prefix"
    is_path: Callable[[str], bool] | None = None
    official_val: bool = False


def _load_ts_path(path: str, *, split_seed: int = 0, missing: Missing = "error") -> SeriesSplit:
    train, test = _pair_from_path(Path(path))
    return load_ts_pair(train, test, split_seed=split_seed, missing=missing)


def _is_ts_path(spec: str) -> bool:
    return spec.endswith(".ts") or Path(spec + "_TRAIN.ts").is_file()


#: spec key -> :class:`DatasetSpec`, in the order help and error messages list them
DATASET_SPECS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec("'digits'", "bundled with scikit-learn", "images", load_digits, syntax="name"),
    "idx": DatasetSpec("'idx:PATH'", "MNIST-format folder", "images", load_idx),
    "uea": DatasetSpec("'uea:NAME'", "a time-series set shipped with aeon", "series", load_uea),
    "ts": DatasetSpec(
        "a NAME_TRAIN.ts path", "with NAME_TEST.ts beside it", "series", _load_ts_path, "path", _is_ts_path
    ),
    "shd": DatasetSpec("'shd:DIR'", "Spiking Heidelberg Digits HDF5 files", "spikes", load_shd),
    "ssc": DatasetSpec("'ssc:DIR'", "Spiking Speech Commands HDF5 files", "spikes", load_ssc, official_val=True),
    "audio": DatasetSpec("'audio:DIR'", "a sub-folder of .wav files per class", "audio", load_audio),
    "yinyang": DatasetSpec("'yinyang'", "generated points as spike latencies", "series", load_yinyang, "name"),
}

#: spike-corpus spec prefix -> reader of its HDF5 files (both read the Zenke lab's files from a folder)
SPIKE_CORPORA = {key: spec.read for key, spec in DATASET_SPECS.items() if spec.kind == "spikes"}


def _argument(key: str, entry: DatasetSpec, spec: str) -> str | None:
    """The part of ``spec`` that ``entry`` reads (``""`` for a bare name), or ``None`` when ``spec`` is not of
    this form."""
    if entry.syntax == "name":
        return "" if spec == key else None
    if entry.syntax == "prefix":
        head, sep, rest = spec.partition(":")
        return rest if sep and head == key and rest.strip() else None  # 'idx:' names no folder
    return spec if entry.is_path is not None and entry.is_path(spec) else None


def _find(spec: str, kinds: Iterable[str] | None = None) -> tuple[DatasetSpec, str] | None:
    entries = [(k, e) for k, e in DATASET_SPECS.items() if kinds is None or e.kind in kinds]
    for key, entry in sorted(entries, key=lambda item: item[1].syntax == "path"):  # paths last
        arg = _argument(key, entry, spec)
        if arg is not None:
            return entry, arg
    return None


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def describe_datasets(*, notes: bool = False, kinds: Iterable[str] | None = None) -> str:
    """The spec forms as a phrase, for help and error messages; ``notes`` adds what each names.

    >>> describe_datasets()
    "'digits', 'idx:PATH', 'uea:NAME', a NAME_TRAIN.ts path, 'shd:DIR', 'ssc:DIR', 'audio:DIR' or 'yinyang'"
    >>> describe_datasets(kinds=["images"], notes=True)
    "'digits' (bundled with scikit-learn) or 'idx:PATH' (MNIST-format folder)"
    """
    entries = [e for e in DATASET_SPECS.values() if kinds is None or e.kind in kinds]
    return _or([f"{e.form} ({e.note})" if notes else e.form for e in entries])


def dataset_kind(spec: str) -> Kind | None:
    """``"images"``, ``"series"``, ``"spikes"`` or ``"audio"`` (see :class:`DatasetSpec`) for a valid spec form,
    else ``None``.

    Only the form is checked, not whether the data exist.

    >>> dataset_kind("digits"), dataset_kind("uea:BasicMotions"), dataset_kind("shd:data/shd"), dataset_kind("cifar")
    ('images', 'series', 'spikes', None)
    """
    found = _find(spec)
    return None if found is None else found[0].kind


def is_series(spec: str) -> bool:
    """True for time-series specs: ``uea:NAME``, a path to a ``.ts`` file (or the prefix of a pair), ``shd:DIR``,
    ``ssc:DIR``, ``audio:DIR``."""
    return dataset_kind(spec) in ("series", "spikes", "audio")


def is_spike_corpus(spec: str) -> bool:
    """True for ``shd:FOLDER`` and ``ssc:FOLDER``."""
    return dataset_kind(spec) == "spikes"


def dataset_slug(spec: str) -> str:
    """A short name of the data set for file names: the last path part without ``.ts`` / ``_TRAIN`` / ``_TEST``.

    >>> dataset_slug("digits"), dataset_slug("idx:data/mnist/"), dataset_slug("data/Waves_TRAIN.ts")
    ('digits', 'mnist', 'Waves')
    """
    slug = spec.split(":", 1)[-1].rstrip("/").split("/")[-1] or "data"
    return slug.removesuffix(".ts").removesuffix("_TRAIN").removesuffix("_TEST")


def load_dataset(spec: str, *, split_seed: int = 0) -> Split:
    """``digits`` or ``idx:PATH``."""
    found = _find(spec, kinds=["images"])
    if found is None:
        raise ValueError(f"dataset: expected {describe_datasets(kinds=['images'])}, got {spec!r}")
    entry, arg = found
    return entry.read(*([arg] if entry.syntax != "name" else []), split_seed=split_seed)


def load_series(spec: str, *, split_seed: int = 0, missing: Missing = "error") -> SeriesSplit:
    """``uea:NAME`` or a path to a ``NAME_TRAIN.ts`` / ``NAME_TEST.ts`` file (or their common prefix)."""
    found = _find(spec, kinds=["series"])
    if found is None:  # anything else is taken as a path, so that a missing pair is named in the error
        found = next(e for e in DATASET_SPECS.values() if e.kind == "series" and e.syntax == "path"), spec
    entry, arg = found
    return entry.read(arg, split_seed=split_seed, missing=missing)


def load_spike_series(
    spec: str, *, dt: float = 0.01, duration: float = 1.0, pool: int = 5, split_seed: int = 0, val_fraction: float = 0.1
) -> SeriesSplit:
    """Load ``shd:FOLDER`` or ``ssc:FOLDER`` as a :class:`SeriesSplit` of binned spike counts.

    Each sample is binned to ``dt`` over a fixed window, so every series has the same number of steps; spike counts
    are fed as they are (no normalisation: ``mean`` 0, ``std`` 1).

    Args:
        spec: ``"shd:FOLDER"`` (``shd_train.h5``, ``shd_test.h5``) or ``"ssc:FOLDER"`` (``ssc_{train,valid,test}.h5``).
        dt: bin width (s), the network's time step. Default 10 ms.
        duration: window (s) from the start of each recording; later spikes are dropped. Default 1 s.
        pool: sum groups of ``pool`` neighbouring channels (700 -> 140 at the default 5).
        split_seed: seed of SHD's stratified validation split (SSC has an official one).
        val_fraction: share of each SHD training class held out for validation.

    Returns:
        A :class:`SeriesSplit` with ``x_*`` ``[T, N, 700 // pool]`` float32 counts and all lengths ``T``.
    """
    found = _find(spec, kinds=["spikes"])
    if found is None or not found[1]:
        raise ValueError(f"dataset: expected {describe_datasets(kinds=['spikes'])}, got {spec!r}")
    entry, folder = found
    held_out = {} if entry.official_val else {"val_fraction": val_fraction, "split_seed": split_seed}
    corpus = entry.read(Path(folder), dt=dt, duration=duration, pool=pool, **held_out)
    return spike_series(spec, corpus, val_fraction=val_fraction)


def load_split(
    spec: str,
    *,
    split_seed: int = 0,
    dt: float = 0.01,
    audio: Callable | None = None,
    cache: str | Path | None = None,
) -> Split | SeriesSplit:
    """Load the data set that ``spec`` names (one of :data:`DATASET_SPECS`): ``digits``, ``idx:PATH``,
    ``uea:NAME``, a ``.ts`` path, ``shd:DIR`` / ``ssc:DIR`` (spike files binned to ``dt``, the network's time
    step), or ``audio:DIR`` (``.wav`` files turned into features ``[T, C]`` by ``audio``, e.g.
    ``AudioToSpikes(dt=dt)``, cached in the folder ``cache`` when given; see :func:`load_audio`).

    Returns:
        A :class:`Split` of images or a :class:`SeriesSplit` of padded, time-first series (``time_first``).
    """
    kind = dataset_kind(spec)
    if kind is None:
        raise ValueError(f"dataset: expected {describe_datasets()}, got {spec!r}")
    if kind == "spikes":
        return load_spike_series(spec, dt=dt, split_seed=split_seed)
    if kind == "audio":
        folder = _find(spec, kinds=["audio"])[1]
        if audio is None:
            raise ValueError(f"audio: {spec!r} needs a front end (path -> features [T, C]), e.g. AudioToSpikes(dt=dt)")
        return load_audio(folder, transform=audio, split_seed=split_seed, cache=cache, name=spec)
    if kind == "series":
        return load_series(spec, split_seed=split_seed)
    return load_dataset(spec, split_seed=split_seed)
