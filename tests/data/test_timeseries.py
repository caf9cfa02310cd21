"""UEA/UCR .ts reader and series splits: padding, masks, missing values, train-only normalisation."""

import numpy as np
import pytest
import torch

from spikeforge.data import load_series, load_ts_pair, load_uea, read_ts, uea_datasets


def write_ts(path, cases, labels, *, classes=None, extra_header=""):
    """``cases[n]`` is a list of channels, each a list of numbers or '?' strings."""
    classes = classes or sorted(set(labels))
    lines = [
        "# written by a test",
        "@problemName toy",
        extra_header,
        "@univariate false",
        f"@classLabel true {' '.join(classes)}",
        "@data",
    ]
    for channels, label in zip(cases, labels):
        lines.append(":".join(",".join(str(v) for v in ch) for ch in channels) + f":{label}")
    path.write_text("\n".join(line for line in lines if line) + "\n")
    return path


def random_cases(rng, n, lengths, channels=2, offset=0.0):
    cases = []
    for k in range(n):
        t = lengths[k % len(lengths)]
        cases.append([list(np.round(rng.normal(offset + c, 1.0 + c, size=t), 4)) for c in range(channels)])
    return cases


def test_equal_length_file_reads_values_labels_and_class_order(tmp_path):
    cases = [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]
    f = read_ts(write_ts(tmp_path / "a_TRAIN.ts", cases, ["up", "down"], classes=["up", "down"]))
    assert f.class_names == ["up", "down"]  # header order, not sorted
    assert f.labels == ["up", "down"]
    np.testing.assert_array_equal(f.series[1], np.array([[7, 10], [8, 11], [9, 12]], dtype=float))


def test_variable_length_series_are_padded_with_lengths_and_zero_padding(tmp_path):
    rng = np.random.default_rng(0)
    train = random_cases(rng, 20, [5, 9, 7])
    test = random_cases(rng, 6, [3, 11])
    tr = write_ts(tmp_path / "v_TRAIN.ts", train, ["a", "b"] * 10, extra_header="@equalLength false")
    te = write_ts(tmp_path / "v_TEST.ts", test, ["a", "b"] * 3, extra_header="@equalLength false")
    s = load_ts_pair(tr, te, val_fraction=0.2)
    assert s.x_train.shape == (11, 16, 2) and s.x_test.shape == (11, 6, 2)  # padded to the longest case anywhere
    assert s.len_test.tolist() == [3, 11, 3, 11, 3, 11]
    for n, case in enumerate(test):
        raw = np.array(case, dtype=float).T
        t = len(raw)
        np.testing.assert_allclose(
            s.x_test[:t, n].numpy(), (raw - s.mean.numpy()) / s.std.numpy(), rtol=1e-5, atol=1e-5
        )
        assert (s.x_test[t:, n] == 0).all()


def test_normalisation_is_fit_on_the_training_part_only(tmp_path):
    rng = np.random.default_rng(1)
    train = random_cases(rng, 30, [12, 8], offset=5.0)
    labels = ["a", "b", "c"] * 10
    tr = write_ts(tmp_path / "n_TRAIN.ts", train, labels)
    te1 = write_ts(tmp_path / "n_TEST.ts", random_cases(rng, 6, [12]), labels[:6])
    s1 = load_ts_pair(tr, te1, split_seed=3)
    # statistics from the training part's valid steps, computed here with numpy from the file's values
    val_raw = [s1.x_val[: s1.len_val[k], k].numpy() * s1.std.numpy() + s1.mean.numpy() for k in range(len(s1.y_val))]

    def in_val(case):
        return any(v.shape == case.shape and np.abs(v - case).max() < 1e-3 for v in val_raw)

    fit_raw = [c for c in (np.array(c, dtype=float).T for c in train) if not in_val(c)]
    assert len(fit_raw) == len(s1.y_train) == 24
    observed = np.concatenate(fit_raw)
    np.testing.assert_allclose(s1.mean.numpy(), observed.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s1.std.numpy(), observed.std(0), rtol=1e-5)
    # wildly different test values leave the statistics (and the training tensors) unchanged
    te2 = write_ts(tmp_path / "m_TEST.ts", random_cases(rng, 6, [12], offset=1000.0), labels[:6])
    s2 = load_ts_pair(tr, te2, split_seed=3)
    torch.testing.assert_close(s2.mean, s1.mean)
    torch.testing.assert_close(s2.x_train, s1.x_train)
    assert float(s2.x_test.mean()) > 50  # test values are transformed, not re-normalised


def test_validation_split_is_stratified_seeded_and_disjoint(tmp_path):
    rng = np.random.default_rng(2)
    labels = ["a"] * 20 + ["b"] * 10
    tr = write_ts(tmp_path / "s_TRAIN.ts", random_cases(rng, 30, [6]), labels)
    te = write_ts(tmp_path / "s_TEST.ts", random_cases(rng, 4, [6]), ["b", "a", "a", "b"])
    s = load_ts_pair(tr, te, split_seed=0, val_fraction=0.2)
    assert sorted(s.y_val.tolist()) == [0, 0, 0, 0, 1, 1]  # 20% of each class
    assert len(s.y_train) == 24
    assert s.y_test.tolist() == [1, 0, 0, 1]  # test part untouched, in file order
    again = load_ts_pair(tr, te, split_seed=0, val_fraction=0.2)
    torch.testing.assert_close(again.x_val, s.x_val)
    other = load_ts_pair(tr, te, split_seed=1, val_fraction=0.2)
    assert not torch.equal(other.x_val, s.x_val)


def test_missing_values_are_refused_by_default_and_interpolated_on_request(tmp_path):
    cases = [[[1, "?", 3, "?"], [0, 0, 0, 0]], [[1, 2, 3, 4], [5, 6, 7, 8]]] * 3
    tr = write_ts(tmp_path / "q_TRAIN.ts", cases, ["a", "b"] * 3)
    te = write_ts(tmp_path / "q_TEST.ts", [[["?", 2, 4, 6], [1, 1, 1, 1]]], ["a"])
    with pytest.raises(ValueError, match=r"q_TRAIN.ts: case 0 channel 0 step 1 is missing .*missing='interpolate'"):
        load_ts_pair(tr, te)
    s = load_ts_pair(tr, te, missing="interpolate", val_fraction=0.34)
    raw = s.x_test[:, 0, 0] * s.std[0] + s.mean[0]
    torch.testing.assert_close(raw, torch.tensor([2.0, 2.0, 4.0, 6.0]))  # leading gap: nearest observed value
    f = read_ts(tr)
    assert np.isnan(f.series[0][1, 0]) and np.isnan(f.series[0][3, 0])  # read as NaN, filled only on request
    # a channel with nothing observed cannot be interpolated
    bad = write_ts(tmp_path / "r_TEST.ts", [[["?", "?"], [1, 1]]], ["a"])
    with pytest.raises(ValueError, match="channel 0 has no observed value"):
        load_ts_pair(tr, bad, missing="interpolate")


def test_ragged_channels_and_other_bad_files_are_refused_with_the_line(tmp_path):
    ragged = write_ts(tmp_path / "g_TRAIN.ts", [[[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 5]]], ["a", "b"])
    with pytest.raises(
        ValueError,
        match=r"g_TRAIN.ts:\d+: ragged case: its channels have different lengths "
        r"\[3, 2\]",
    ):
        read_ts(ragged)
    stamps = tmp_path / "t_TRAIN.ts"
    stamps.write_text("@timeStamps true\n@classLabel true a\n@data\n(0,1),(1,2):a\n")
    with pytest.raises(ValueError, match="time-stamped"):
        read_ts(stamps)
    word = write_ts(tmp_path / "w_TRAIN.ts", [[[1, "x", 3]]], ["a"])
    with pytest.raises(ValueError, match=r"expected a number or '\?', got 'x'"):
        read_ts(word)
    channels = write_ts(tmp_path / "c_TRAIN.ts", [[[1, 2]], [[1, 2], [3, 4]]], ["a", "b"])
    with pytest.raises(ValueError, match="2 channels, but the first case has 1"):
        read_ts(channels)
    regression = tmp_path / "reg_TRAIN.ts"
    regression.write_text("@targetLabel true\n@data\n1,2,3:0.5\n")
    with pytest.raises(ValueError, match="regression file"):
        read_ts(regression)
    with pytest.raises(FileNotFoundError, match=r"expected the pair nope_TRAIN\.ts and nope_TEST\.ts"):
        load_series(str(tmp_path / "nope_TRAIN.ts"))


def test_path_spec_finds_the_pair_from_either_file(tmp_path):
    rng = np.random.default_rng(3)
    write_ts(tmp_path / "p_TRAIN.ts", random_cases(rng, 10, [4]), ["a", "b"] * 5)
    write_ts(tmp_path / "p_TEST.ts", random_cases(rng, 4, [4]), ["a", "b"] * 2)
    a = load_series(str(tmp_path / "p_TRAIN.ts"))
    b = load_series(str(tmp_path / "p_TEST.ts"))
    torch.testing.assert_close(a.x_test, b.x_test)
    assert a.name == "p" and a.n_classes == 2 and a.input_shape == (2,)


def test_aeon_shipped_sets_load_with_their_published_sizes():
    pytest.importorskip("aeon")
    names = uea_datasets()
    assert {"BasicMotions", "JapaneseVowels", "GunPoint"} <= set(names)
    bm = load_uea("BasicMotions")
    assert bm.x_train.shape == (100, 32, 6) and len(bm.y_val) == 8 and bm.x_test.shape == (100, 40, 6)
    assert bm.n_classes == 4 and bm.class_names == ["Standing", "Running", "Walking", "Badminton"]
    jv = load_uea("JapaneseVowels")
    assert len(jv.y_train) + len(jv.y_val) == 270 and len(jv.y_test) == 370 and jv.input_shape == (12,)
    assert int(jv.len_test.min()) >= 7 and int(jv.len_test.max()) <= 29 and jv.x_test.shape[0] == 29
    with pytest.raises(ValueError, match="not shipped with aeon here; available"):
        load_uea("NoSuchSet")
