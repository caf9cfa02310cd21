import struct

import numpy as np
import pytest

from formats import make_idx_folder
from spikeforge.data import IDX_FILES, load_digits, load_idx, read_idx


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    make_idx_folder(tmp_path, gz=gz)
    split = load_idx(tmp_path)
    assert split.x_train.shape[1:] == (1, 8, 8) and len(split.x_train) + len(split.x_val) == 60
    assert len(split.x_test) == 20 and split.n_classes == 4
    assert float(split.x_train.max()) == 1.0 and float(split.x_train.min()) >= 0.0
    name = IDX_FILES["test_labels"] + (".gz" if gz else "")
    assert read_idx(tmp_path / name).tolist() == [i % 4 for i in range(20)]


def test_idx_errors_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder not found"):
        load_idx(tmp_path / "nope")
    make_idx_folder(tmp_path)
    (tmp_path / IDX_FILES["test_labels"]).unlink()
    with pytest.raises(FileNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load_idx(tmp_path)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 8, 8) + b"\x00" * 5)
    with pytest.raises(ValueError, match="header promises 640 bytes"):
        read_idx(bad)
    bad.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)


def test_digits_split_is_stratified_and_fixed():
    a, b = load_digits(), load_digits()
    assert (a.y_test == b.y_test).all()
    counts = np.bincount(a.y_test.numpy())
    totals = counts + np.bincount(a.y_train.numpy()) + np.bincount(a.y_val.numpy())
    assert np.all(np.abs(counts - 0.25 * totals) <= 1)  # each class keeps its share of the test split
    assert len(a.x_train) + len(a.x_val) + len(a.x_test) == 1797
