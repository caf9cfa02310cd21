"""SHD/SSC HDF5 reader: files built here in the published layout; binning checked against exact references."""

import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
import torch

from spikeforge.data import (
    SHD_FILES,
    SSC_FILES,
    HeidelbergSpikes,
    bin_spikes,
    collate_spikes,
    load_shd,
    load_ssc,
)

h5py = pytest.importorskip("h5py")

from formats import write_heidelberg  # noqa: E402


def random_samples(n, *, n_classes=4, n_channels=700, seed=0, max_time=1.2):
    """``n`` samples of float16 spike times (s) and uint16 units, some spikes sharing a bin and channel."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        m = int(rng.integers(1, 300))
        t = np.sort(rng.uniform(0, max_time, m)).astype(np.float16)
        u = rng.integers(0, n_channels, m).astype(np.uint16)
        samples.append((np.concatenate([t, t[:5]]), np.concatenate([u, u[:5]])))  # repeats: counts of 2
    labels = (np.arange(n) % n_classes).astype(np.uint16)
    return samples, labels


def reference_counts(times, units, *, dt_text, n_steps, n_channels=700):
    """Explicit per-spike loop in exact rational arithmetic: spike at t goes to floor(t / dt), dt as written."""
    dt = Fraction(dt_text)
    out = np.zeros((n_steps, n_channels))
    for t, u in zip(times, units):
        k = math.floor(Fraction(float(t)) / dt)
        if k < n_steps:
            out[k, int(u)] += 1
    return out


@pytest.mark.parametrize("dt_text", ["0.001", "0.004", "0.01"])
def test_binning_matches_an_exact_per_spike_loop(dt_text):
    samples, _ = random_samples(6, seed=int(float(dt_text) * 1000))
    n_steps = round(1.0 / float(dt_text))  # crops the spikes after 1 s
    for t, u in samples:
        x = bin_spikes(t, u, dt=float(dt_text), n_channels=700, duration=1.0)
        assert x.dtype == torch.float32 and x.shape == (n_steps, 700)
        np.testing.assert_array_equal(x.numpy(), reference_counts(t, u, dt_text=dt_text, n_steps=n_steps))


def test_binning_agrees_with_numpy_histogram_per_channel():
    (t, u), *_ = random_samples(1, seed=3)[0]
    dt, n_steps = 0.005, 200
    edges = np.arange(n_steps + 1) * dt
    x = bin_spikes(t, u, dt=dt, n_channels=700, n_steps=n_steps).numpy()
    t64 = t.astype(np.float64)
    for c in np.unique(u)[:40]:
        sel = t64[(u == c) & (t64 < edges[-1])]
        np.testing.assert_array_equal(x[:, c], np.histogram(sel, bins=edges)[0])


def test_float64_times_on_the_edges_k_dt_land_in_step_k():
    # t / dt rounds below k for many k (0.29 / 0.01 = 28.999999999999996): edges are the values k * dt, as in
    # numpy.histogram with edges arange(T + 1) * dt
    for dt in (0.001, 0.003, 0.007, 0.01):
        edges = np.arange(301) * dt
        x = bin_spikes(edges[:300], np.zeros(300, np.int64), dt=dt, n_channels=1, n_steps=300)
        np.testing.assert_array_equal(x[:, 0].numpy(), np.histogram(edges[:300], bins=edges)[0])
        assert bool((x == 1).all())


def test_spikes_on_a_bin_edge_open_the_next_bin():
    # 0.125 s is exactly representable in float16 and is 25 steps of 5 ms: the spike belongs to step 25
    x = bin_spikes(np.array([0.125, 0.25, 0.0], np.float16), [0, 1, 2], dt=0.005, n_channels=3, n_steps=60)
    assert x[25, 0] == 1 and x[24, 0] == 0 and x[50, 1] == 1 and x[0, 2] == 1 and x.sum() == 3


def test_pooling_and_binary_clip():
    (t, u), *_ = random_samples(1, seed=4)[0]
    ref = reference_counts(t, u, dt_text="0.01", n_steps=100)
    pooled = bin_spikes(t, u, dt=0.01, n_channels=700, n_steps=100, pool=5)
    assert pooled.shape == (100, 140)
    np.testing.assert_array_equal(pooled.numpy(), ref.reshape(100, 140, 5).sum(-1))
    binary = bin_spikes(t, u, dt=0.01, n_channels=700, n_steps=100, pool=5, binary=True)
    np.testing.assert_array_equal(binary.numpy(), np.minimum(ref.reshape(100, 140, 5).sum(-1), 1))
    assert ref.max() >= 2 and binary.max() == 1  # the repeated spikes were really clipped
    with pytest.raises(ValueError, match="pool: expected a positive int that divides n_channels=700"):
        bin_spikes(t, u, dt=0.01, n_channels=700, pool=3)


def test_dataset_reads_each_sample_exactly_and_batches_time_first(tmp_path):
    samples, labels = random_samples(12)
    path = write_heidelberg(tmp_path / "shd_train.h5", samples, labels)
    ds = HeidelbergSpikes(path, dt=0.01, duration=1.0)
    assert len(ds) == 12 and ds.n_classes == 4 and ds.class_names == ["word0", "word1", "word2", "word3"]
    assert ds.labels.tolist() == labels.tolist() and ds.speakers.tolist() == [i % 3 for i in range(12)]
    for i in (0, 5, 11):
        x, y = ds[i]
        assert y == labels[i]
        np.testing.assert_array_equal(x.numpy(), reference_counts(*samples[i], dt_text="0.01", n_steps=100))
    loader = torch.utils.data.DataLoader(ds, batch_size=5, collate_fn=collate_spikes)
    x, y, lengths, mask = next(iter(loader))
    assert x.shape == (100, 5, 700) and y.tolist() == labels[:5].tolist()
    assert lengths.tolist() == [100] * 5 and bool(mask.all())
    np.testing.assert_array_equal(x[:, 3].numpy(), ds[3][0].numpy())
    ds.close()


def test_variable_length_samples_are_padded_and_masked(tmp_path):
    samples = [
        (np.array([0.0, 0.0315], np.float16), np.array([1, 2], np.uint16)),
        (np.array([0.0905], np.float16), np.array([699], np.uint16)),
    ]
    ds = HeidelbergSpikes(write_heidelberg(tmp_path / "s.h5", samples, [0, 1]), dt=0.01)
    assert ds[0][0].shape == (4, 700) and ds[1][0].shape == (10, 700)  # ends at each sample's last spike
    batch = collate_spikes([ds[0], ds[1]])
    assert batch.x.shape == (10, 2, 700) and batch.lengths.tolist() == [4, 10]
    assert batch.mask[:, 0].tolist() == [True] * 4 + [False] * 6 and float(batch.x[4:, 0].abs().sum()) == 0
    assert batch.x[3, 0, 2] == 1 and batch.x[9, 1, 699] == 1


def test_dataset_survives_pickling_for_loader_workers(tmp_path):
    samples, labels = random_samples(4)
    ds = HeidelbergSpikes(write_heidelberg(tmp_path / "a.h5", samples, labels), dt=0.004, n_steps=50, pool=7)
    first = ds[1][0]  # opens the file in this process
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[1][0], first) and first.shape == (50, 100)


def test_load_shd_carves_a_stratified_seeded_validation_split(tmp_path):
    samples, labels = random_samples(60, seed=1)
    write_heidelberg(tmp_path / SHD_FILES["train"], samples, labels)
    write_heidelberg(tmp_path / SHD_FILES["test"], samples[:8], labels[:8])
    split = load_shd(tmp_path, dt=0.01, duration=1.0, pool=5, val_fraction=0.2, split_seed=7)
    assert split.n_classes == 4 and split.n_features == 140 and len(split.test) == 8
    tr, va = split.train.indices, split.val.indices
    assert len(np.intersect1d(tr, va)) == 0 and sorted(np.concatenate([tr, va]).tolist()) == list(range(60))
    assert np.bincount(split.val.labels.numpy()).tolist() == [3, 3, 3, 3]  # 20% of each class of 15
    again = load_shd(tmp_path, dt=0.01, duration=1.0, pool=5, val_fraction=0.2, split_seed=7)
    other = load_shd(tmp_path, dt=0.01, duration=1.0, pool=5, val_fraction=0.2, split_seed=8)
    assert again.val.indices.tolist() == va.tolist() and other.val.indices.tolist() != va.tolist()
    x, y = split.val[0]
    j = int(va[0])
    assert y == labels[j] and x.shape == (100, 140)
    np.testing.assert_array_equal(
        x.numpy(), reference_counts(*samples[j], dt_text="0.01", n_steps=100).reshape(100, 140, 5).sum(-1)
    )
    assert load_shd(tmp_path, dt=0.01, val_fraction=0.0).val is None


def test_load_ssc_uses_its_three_files(tmp_path):
    for part, n in (("train", 9), ("valid", 5), ("test", 6)):
        samples, labels = random_samples(n, seed=n)
        write_heidelberg(tmp_path / SSC_FILES[part], samples, labels)
    split = load_ssc(tmp_path, dt=0.02, n_steps=30)
    assert (len(split.train), len(split.val), len(split.test)) == (9, 5, 6)
    assert split.val[0][0].shape == (30, 700)


def test_missing_file_says_where_the_data_comes_from(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Cramer et al. 2020") as err:
        load_shd(tmp_path, dt=0.01)
    assert str(tmp_path / "shd_train.h5") in str(err.value) and "Zenke lab" in str(err.value)
    (tmp_path / "ssc_train.h5.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"ssc_train.h5.gz is there: gunzip it first"):
        load_ssc(tmp_path, dt=0.01)
    with pytest.raises(FileNotFoundError, match="Heidelberg spiking data sets"):
        HeidelbergSpikes(tmp_path / "nope.h5", dt=0.01)


@pytest.mark.parametrize("key", ["spikes/times", "spikes/units", "labels"])
def test_missing_key_is_named_with_the_file(tmp_path, key):
    samples, labels = random_samples(3)
    path = write_heidelberg(tmp_path / "broken.h5", samples, labels, drop=(key,))
    with pytest.raises(ValueError, match=f"broken.h5: missing key '{key}'"):
        HeidelbergSpikes(path, dt=0.01)


def test_row_count_mismatch_and_non_hdf5_are_errors(tmp_path):
    samples, labels = random_samples(5)
    path = write_heidelberg(tmp_path / "rows.h5", samples, labels[:4])
    with pytest.raises(ValueError, match=r"row counts differ .*labels: 4"):
        HeidelbergSpikes(path, dt=0.01)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="cannot read as HDF5"):
        HeidelbergSpikes(tmp_path / "text.h5", dt=0.01)
    bad = [(np.array([0.1, 0.2], np.float16), np.array([3], np.uint16))]
    ds = HeidelbergSpikes(write_heidelberg(tmp_path / "row.h5", bad, [0]), dt=0.01)
    with pytest.raises(ValueError, match=r"row.h5 sample 0: times and units: .* 2 times and 1 units"):
        ds[0]


def test_invalid_spikes_raise_with_the_sample_or_are_dropped_on_request(tmp_path):
    good = (np.array([0.011, 0.05], np.float32), np.array([1, 2], np.uint16))
    samples = [
        good,
        good,
        good,
        (np.array([0.011, 0.02, 0.05], np.float32), np.array([1, 700, 2], np.uint16)),  # unit out of range
        (np.array([0.011, np.nan, 0.05], np.float32), np.array([1, 5, 2], np.uint16)),
        (np.array([0.011, -0.001, 0.05], np.float32), np.array([1, 5, 2], np.uint16)),
    ]
    path = write_heidelberg(tmp_path / "bad.h5", samples, [0] * 6, times_dtype=np.float32)
    strict = HeidelbergSpikes(path, dt=0.01, n_steps=10)
    with pytest.raises(ValueError, match=r"bad.h5 sample 3: units: expected channels in \[0, 700\), got 700"):
        strict[3]
    with pytest.raises(ValueError, match=r"bad.h5 sample 4: times: expected finite times >= 0 s, got nan"):
        strict[4]
    with pytest.raises(ValueError, match=r"sample 5: times: .* got -0.001"):
        strict[5]
    lenient = HeidelbergSpikes(path, dt=0.01, n_steps=10, on_invalid="drop")
    expected = reference_counts(*good, dt_text="0.01", n_steps=10)
    for i in (3, 4, 5):  # the bad spike is gone, the rest is binned as usual
        np.testing.assert_array_equal(lenient[i][0].numpy(), expected)


def test_argument_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="give duration or n_steps, not both"):
        bin_spikes([0.1], [0], dt=0.01, n_channels=2, duration=1.0, n_steps=4)
    with pytest.raises(ValueError, match="dt: expected a positive"):
        bin_spikes([0.1], [0], dt=-0.01, n_channels=2)
    with pytest.raises(ValueError, match="on_invalid: expected 'raise' or 'drop'"):
        bin_spikes([0.1], [0], dt=0.01, n_channels=2, on_invalid="skip")
    with pytest.raises(ValueError, match="val_fraction: expected a fraction in"):
        samples, labels = random_samples(4)
        write_heidelberg(tmp_path / SHD_FILES["train"], samples, labels)
        write_heidelberg(tmp_path / SHD_FILES["test"], samples, labels)
        load_shd(tmp_path, dt=0.01, val_fraction=1.5)
    with pytest.raises(ValueError, match="batch: sample 1 has shape"):
        collate_spikes([(torch.zeros(3, 4), 0), (torch.zeros(3, 5), 1)])


def test_a_small_spiking_network_learns_from_the_loader(tmp_path):
    """The loader feeds a spikeforge network: 4 classes that differ only in which quarter of the channels is busy,
    on a background of random spikes; chance is 25%, a LIF layer trained for a few epochs gets the test split."""
    from spikeforge.neurons import LIF
    from spikeforge.nn import Lift, SequentialState

    rng = np.random.default_rng(0)

    def make(n):
        samples, labels = [], np.arange(n) % 4
        for c in labels:
            noise_t, noise_u = rng.uniform(0, 0.5, 150), rng.integers(0, 700, 150)
            sig_t, sig_u = rng.uniform(0, 0.5, 150), rng.integers(175 * c, 175 * (c + 1), 150)
            samples.append((np.concatenate([noise_t, sig_t]).astype(np.float16), np.concatenate([noise_u, sig_u])))
        return samples, labels

    write_heidelberg(tmp_path / SHD_FILES["train"], *make(96))
    write_heidelberg(tmp_path / SHD_FILES["test"], *make(40))
    split = load_shd(tmp_path, dt=0.02, duration=0.5, pool=5, val_fraction=0.0)
    torch.manual_seed(0)
    model = SequentialState(Lift(torch.nn.Linear(140, 32)), LIF(), Lift(torch.nn.Linear(32, 4)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train = torch.utils.data.DataLoader(split.train, batch_size=16, shuffle=True, collate_fn=collate_spikes)
    for _ in range(6):
        for x, y, _, _ in train:
            out, _ = model(x)
            loss = torch.nn.functional.cross_entropy(out.mean(0), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    x, y, _, _ = collate_spikes([split.test[i] for i in range(len(split.test))])
    assert x.shape == (25, 40, 140)
    with torch.no_grad():
        accuracy = (model(x)[0].mean(0).argmax(1) == y).float().mean().item()
    assert accuracy >= 0.9
