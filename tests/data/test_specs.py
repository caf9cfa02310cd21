"""Data set specs: one table (DATASET_SPECS) resolves specs and writes the messages that list them."""

import pytest

from spikeforge.data import (
    DATASET_SPECS,
    SPIKE_CORPORA,
    Split,
    dataset_kind,
    dataset_slug,
    describe_datasets,
    is_series,
    is_spike_corpus,
    load_dataset,
    load_shd,
    load_spike_series,
    load_split,
    load_ssc,
)


def test_every_form_is_listed_once_in_table_order():
    assert list(DATASET_SPECS) == ["digits", "idx", "uea", "ts", "shd", "ssc", "audio", "yinyang"]
    assert describe_datasets() == (
        "'digits', 'idx:PATH', 'uea:NAME', a NAME_TRAIN.ts path, 'shd:DIR', 'ssc:DIR', 'audio:DIR' or 'yinyang'"
    )
    assert describe_datasets(kinds=["images"]) == "'digits' or 'idx:PATH'"
    assert SPIKE_CORPORA == {"shd": load_shd, "ssc": load_ssc}


def test_kinds_of_specs(tmp_path):
    (tmp_path / "w_TRAIN.ts").write_text("")
    kinds = {
        "digits": "images",
        "idx:data/mnist": "images",
        "uea:BasicMotions": "series",
        "x/Waves_TRAIN.ts": "series",
        str(tmp_path / "w"): "series",  # the common prefix of an existing pair
        "shd:data/shd": "spikes",
        "ssc:data/ssc": "spikes",
        "audio:data/digits": "audio",
        "cifar": None,
        "digits2": None,
        str(tmp_path / "v"): None,
    }
    assert {spec: dataset_kind(spec) for spec in kinds} == kinds
    assert [is_series(s) for s in ("digits", "uea:X", "a.ts", "shd:d")] == [False, True, True, True]
    assert [is_spike_corpus(s) for s in ("shd:d", "ssc:d", "uea:d", "shd")] == [True, True, False, False]


def test_unknown_specs_are_refused_with_the_forms():
    with pytest.raises(ValueError, match=r"dataset: expected 'digits', 'idx:PATH', .*'audio:DIR'.*, got 'cifar'"):
        load_split("cifar")
    with pytest.raises(ValueError, match=r"dataset: expected 'digits' or 'idx:PATH', got 'uea:X'"):
        load_dataset("uea:X")
    with pytest.raises(ValueError, match=r"dataset: expected 'shd:DIR' or 'ssc:DIR', got 'shd:'"):
        load_spike_series("shd:")


def test_load_split_reads_the_bundled_digits():
    split = load_split("digits")
    assert isinstance(split, Split) and split.n_classes == 10
    assert len(load_split("digits", split_seed=1).y_train) == len(split.y_train)


def test_slug_names_the_data_set():
    assert dataset_slug("uea:BasicMotions") == "BasicMotions"
    assert dataset_slug("shd:/data/shd/") == "shd"
    assert dataset_slug("runs/Waves_TEST.ts") == "Waves"
