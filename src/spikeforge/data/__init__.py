"""Datasets as tensors; readers for real file formats. Optional dependencies are imported when used."""

from ._audio import audio_files, load_audio
from ._events import AUDIO_EVENT_DTYPE, DVS_EVENT_DTYPE, EventDataset, events_to_tensor
from ._images import IDX_FILES, Split, load_digits, load_idx, read_idx
from ._specs import (
    DATASET_SPECS,
    SPIKE_CORPORA,
    DatasetSpec,
    dataset_kind,
    dataset_slug,
    describe_datasets,
    is_series,
    is_spike_corpus,
    load_dataset,
    load_series,
    load_spike_series,
    load_split,
)
from ._spikes import (
    SHD_FILES,
    SSC_FILES,
    HeidelbergSpikes,
    SpikeBatch,
    SpikeSplit,
    bin_spikes,
    collate_spikes,
    load_shd,
    load_ssc,
)
from ._timeseries import SeriesSplit, TSFile, load_ts_pair, load_uea, read_ts, uea_datasets
from ._yinyang import YinYangSplit, load_yinyang, yinyang_points, yinyang_spike_times

__all__ = ["IDX_FILES", "Split", "load_dataset", "load_digits", "load_idx", "read_idx"]
# spike data: SHD/SSC files and tonic-layout event streams
__all__ += ["AUDIO_EVENT_DTYPE", "DVS_EVENT_DTYPE", "SHD_FILES", "SSC_FILES", "EventDataset", "HeidelbergSpikes"]
__all__ += ["SpikeBatch", "SpikeSplit", "bin_spikes", "collate_spikes", "events_to_tensor", "load_shd", "load_ssc"]
# time series: UEA/UCR .ts files
__all__ += ["SeriesSplit", "TSFile", "load_series", "load_ts_pair", "load_uea", "read_ts", "uea_datasets"]
# SHD / SSC as in-memory series splits for the training pipeline
__all__ += ["SPIKE_CORPORA", "is_spike_corpus", "load_spike_series"]
# data set specs (the strings that name a data set, listed in DATASET_SPECS) -> splits
__all__ += ["DATASET_SPECS", "DatasetSpec", "dataset_kind", "dataset_slug", "describe_datasets", "is_series"]
__all__ += ["load_split"]
# folders of .wav recordings, one sub-folder per class, through an audio front end
__all__ += ["audio_files", "load_audio"]
# the Yin-Yang data set (generated from a seed), as spike latencies
__all__ += ["YinYangSplit", "load_yinyang", "yinyang_points", "yinyang_spike_times"]
