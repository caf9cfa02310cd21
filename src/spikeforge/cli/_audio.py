"""The audio front end of `spikeforge train --dataset audio:DIR` and `spikeforge evaluate`: its options (the
``audio`` config key), the default audio model, and where the features are cached.

The front end is :class:`spikeforge.encoding.AudioToSpikes` with its frame step set to the network's ``dt``, so one
frame is one simulation step. Its features are computed once per corpus and settings and kept beside the run
folder, in ``<parent of the run>/.audio-features/`` (see :func:`spikeforge.data.load_audio`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["AUDIO_FRONTEND", "AUDIO_MODEL_DEFAULTS", "audio_options", "feature_cache", "split_options"]

#: the ``audio`` config key: options of AudioToSpikes (all but ``dt``, which is the model's ``dt``)
AUDIO_FRONTEND: dict[str, Any] = {
    "sample_rate": 16000,
    "n_bands": 32,
    "scale": "mel",
    "f_min": 50.0,
    "f_max": None,
    "window": 0.025,
    "threshold": 2.0,
    "floor_db": -80.0,
    "method": "delta",
    "resample": False,
}

#: the default audio model, where neither the config file nor a flag sets the option: a recurrent LIF layer of 128
#: with heterogeneous, learned membrane time constants on 10 ms frames, read out by the mean membrane
AUDIO_MODEL_DEFAULTS: dict[str, Any] = {
    "model": "recurrent",
    "dt": 0.01,
    "hidden": [128],
    "epochs": 30,
    "batch_size": 32,
    "lr": 0.01,
    "weight_decay": 0.0,
    "readout": "mean",
    "tau_out": 0.05,
    "tau_mem": {"dist": "log_uniform", "low": 0.005, "high": 0.1},
    "learn": ["tau_mem"],
}


def audio_options(value: Any) -> dict[str, Any]:
    """The ``audio`` config value (``None`` or a mapping of some options) completed with :data:`AUDIO_FRONTEND`;
    unknown options and values the front end refuses are named."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError(f"audio: expected a mapping of front-end options {sorted(AUDIO_FRONTEND)}, got {value!r}")
    unknown = sorted(set(value) - set(AUDIO_FRONTEND))
    if unknown:
        raise ValueError(f"audio: unknown option(s) {unknown}; known: {sorted(AUDIO_FRONTEND)}")
    return {**AUDIO_FRONTEND, **value}


def frontend(options: dict[str, Any], dt: float):
    """:class:`AudioToSpikes` with ``options`` and frame step ``dt`` (s)."""
    from ..encoding import AudioToSpikes

    return AudioToSpikes(dt=dt, **audio_options(options))


def feature_cache(run: Path) -> Path:
    """Where the features of a run's audio corpus are cached: beside the run folder."""
    return Path(run).resolve().parent / ".audio-features"


def split_options(spec: str, config: dict[str, Any], run: Path) -> dict[str, Any]:
    """Keyword arguments of :func:`spikeforge.data.load_split` for data set ``spec`` read with a run's config: the
    front end and its cache for an ``audio:DIR`` data set, nothing otherwise."""
    from ..data import dataset_kind

    if dataset_kind(str(spec)) != "audio":
        return {}
    return {
        "audio": frontend(config.get("audio"), config["model_config"]["dt"]),
        "cache": feature_cache(run),
    }
