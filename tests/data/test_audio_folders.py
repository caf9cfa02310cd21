"""`audio:DIR` data sets: class folders of .wav files (built here from tones and chirps), splits, cache, errors."""

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from spikeforge.data import audio_files, dataset_kind, describe_datasets, is_series, load_audio, load_split
from spikeforge.encoding import AudioToSpikes

RATE = 16000


def tone(freq, seconds=0.2, rate=RATE, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def chirp(f0, f1, seconds=0.2, rate=RATE, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))


def write(path, x, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, np.round(np.clip(x, -1, 1) * 32767).astype(np.int16))


def corpus(root, n=10, *, parts=None):
    """Classes low (400 Hz tone), high (3 kHz tone) and sweep (300 Hz -> 4 kHz chirp), lengths 0.10..0.28 s."""
    makers = {"low": lambda s: tone(400, s), "high": lambda s: tone(3000, s), "sweep": lambda s: chirp(300, 4000, s)}
    for part, count in parts.items() if parts else [("", n)]:
        for name, make in makers.items():
            for k in range(count):
                write(root / part / name / f"{k:02d}.wav", make(0.1 + 0.02 * k))
    return root


FRONT = AudioToSpikes(RATE, dt=0.01, n_bands=8, threshold=3.0)


def test_spec_form_is_listed_and_is_a_series():
    assert dataset_kind("audio:some/dir") == "audio" and is_series("audio:x")
    assert "'audio:DIR'" in describe_datasets()


def test_pool_layout_gives_a_stratified_seeded_split(tmp_path):
    root = corpus(tmp_path / "c", n=10)
    s = load_audio(root, transform=FRONT, split_seed=3)
    assert s.class_names == ["high", "low", "sweep"] and s.n_classes == 3
    for y in (s.y_train, s.y_val, s.y_test):  # 2 of 10 per class for testing, then 1 of the other 8 for validation
        assert torch.bincount(y, minlength=3).tolist() == [len(y) // 3] * 3
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (21, 3, 6)
    again = load_audio(root, transform=FRONT, split_seed=3)
    other = load_audio(root, transform=FRONT, split_seed=4)
    assert torch.equal(again.x_test, s.x_test) and torch.equal(again.len_test, s.len_test)
    assert not (torch.equal(other.len_test, s.len_test) and torch.equal(other.len_val, s.len_val))


def test_features_are_the_front_end_output_zero_padded(tmp_path):
    root = corpus(tmp_path / "c", parts={"train": 4, "test": 2})
    s = load_audio(root, transform=FRONT, val_fraction=0.25)
    _, parts = audio_files(root)
    assert len(s.y_test) == 6 and len(s.y_val) == 3  # test/ as given; one of four per class held out
    for n, (path, label) in enumerate(parts["test"]):
        z = FRONT(path)
        assert int(s.y_test[n]) == label and int(s.len_test[n]) == len(z)
        assert torch.equal(s.x_test[: len(z), n], z) and not s.x_test[len(z) :, n].any()
    # a 3 kHz tone fires in a higher band than a 400 Hz one (band centres from the mel formula)
    up = FRONT.n_bands
    high, low = s.x_test[:, s.y_test == 0, :up].sum((0, 1)), s.x_test[:, s.y_test == 1, :up].sum((0, 1))
    centres = FRONT.centres
    assert abs(float(centres[int(high.argmax())]) - 3000) < abs(float(centres[int(low.argmax())]) - 3000)


def test_cache_is_reused_and_invalidated_when_a_file_changes(tmp_path):
    root = corpus(tmp_path / "c", n=4)
    calls = []

    def counted(path):
        calls.append(path)
        return FRONT(path)

    first = load_audio(root, transform=counted, key=repr(FRONT), cache=tmp_path / "cache")
    assert len(calls) == 12 and len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    second = load_audio(root, transform=counted, key=repr(FRONT), cache=tmp_path / "cache")
    assert len(calls) == 12  # read from the cache, the front end not run again
    for a, b in zip(first.part("train") + first.part("test"), second.part("train") + second.part("test")):
        assert torch.equal(a, b)
    write(root / "low" / "00.wav", tone(400, 0.3))  # another length: another key
    load_audio(root, transform=counted, key=repr(FRONT), cache=tmp_path / "cache")
    assert len(calls) == 24


def test_other_sample_rate_is_refused_unless_resampling_is_asked(tmp_path):
    root = corpus(tmp_path / "c", n=3)
    write(root / "low" / "22k.wav", tone(400, 0.2, rate=22050), rate=22050)
    with pytest.raises(ValueError, match="22050 Hz, expected 16000 Hz"):
        load_audio(root, transform=FRONT)
    resampling = AudioToSpikes(RATE, dt=0.01, n_bands=8, threshold=3.0, resample=True)
    s = load_audio(root, transform=resampling, test_fraction=0.3)
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 10


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda r: (r / "a").mkdir(parents=True), "holds no .wav file"),
        (lambda r: r.mkdir(), "has no class sub-folders"),
        (lambda r: (corpus(r, parts={"train": 2, "test": 1}), (r / "test" / "extra").mkdir()), "that .* lacks"),
    ],
)
def test_bad_layouts_are_named(tmp_path, make, match):
    root = tmp_path / "c"
    make(root)
    with pytest.raises(ValueError, match=match):
        load_audio(root, transform=FRONT)


def test_missing_folder_and_missing_front_end_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_audio(tmp_path / "nowhere", transform=FRONT)
    with pytest.raises(ValueError, match="needs a front end"):
        load_split(f"audio:{corpus(tmp_path / 'c', n=2)}")
    with pytest.raises(ValueError, match="test_fraction: expected a share"):
        load_audio(tmp_path / "c", transform=FRONT, test_fraction=1.5)


def _corpus_builder():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "spoken_digits.py"
    spec = importlib.util.spec_from_file_location("spoken_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spoken_digit_corpus_plan_is_seeded_and_noise_has_the_stated_snr():
    sd = _corpus_builder()
    assert sd.plan(3, 4, 2) == sd.plan(3, 4, 2) and sd.plan(3, 4, 2) != sd.plan(4, 4, 2)
    items = sd.plan(0, 4, 2)
    test_voices = {i["voice"].split("+")[1] for i in items if i["part"] == "test"}
    assert test_voices <= set(sd.TEST_VARIANTS) and not test_voices & set(sd.TRAIN_VARIANTS)  # unseen voices
    x = np.concatenate([np.zeros(4000), tone(500, 1.0), np.zeros(4000)])  # a word between two silences
    noisy = sd.add_noise(x, 10.0, np.random.default_rng(0))
    noise = noisy - x
    loud = np.abs(x) >= 0.5 * 10 ** (-40 / 20)
    snr = 10 * np.log10(np.mean(x[loud] ** 2) / np.mean(noise**2))
    assert abs(snr - 10.0) < 0.1  # 24000 Gaussian samples: the power is within ~1% of its target
    assert sd.add_noise(x, float("inf"), np.random.default_rng(0)) is x
