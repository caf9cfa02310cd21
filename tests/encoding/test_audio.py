"""Audio front end: scale formulas, filter-bank levels against closed forms, tones, silence, wav files, rates."""

import math
import pickle

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from spikeforge import encoding as enc

SR = 16000
SCALE_FORMULAS = {  # the published formulas, written out independently of the library
    "mel": (lambda f: 2595 * np.log10(1 + f / 700), lambda m: 700 * (10 ** (m / 2595) - 1)),
    "erb": (lambda f: 21.4 * np.log10(1 + 0.00437 * f), lambda e: (10 ** (e / 21.4) - 1) / 0.00437),
}


def expected_centres(n_bands, scale, f_min, f_max):
    to_scale, to_hz = SCALE_FORMULAS[scale]
    return to_hz(np.linspace(to_scale(f_min), to_scale(f_max), n_bands + 2))[1:-1]


def tone(freq, *, seconds=0.3, amplitude=0.3, rate=SR, ramp=0.01):
    """A sine with a raised-cosine onset (no click), float32."""
    t = np.arange(round(seconds * rate)) / rate
    x = amplitude * np.sin(2 * np.pi * freq * t)
    n = round(ramp * rate)
    x[:n] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    return x


def test_scale_formulas_and_band_centres():
    f = np.array([0.0, 100.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(enc.hz_to_mel(torch.from_numpy(f)).numpy(), SCALE_FORMULAS["mel"][0](f), rtol=1e-12)
    np.testing.assert_allclose(enc.hz_to_erb_rate(torch.from_numpy(f)).numpy(), SCALE_FORMULAS["erb"][0](f), rtol=1e-12)
    np.testing.assert_allclose(enc.mel_to_hz(enc.hz_to_mel(torch.from_numpy(f))).numpy(), f, atol=1e-9)
    np.testing.assert_allclose(enc.erb_rate_to_hz(enc.hz_to_erb_rate(torch.from_numpy(f))).numpy(), f, atol=1e-9)
    assert float(enc.hz_to_erb_rate(1000.0)) == pytest.approx(15.62, abs=0.01)  # Glasberg & Moore's table value
    for scale in ("mel", "erb"):
        np.testing.assert_allclose(
            enc.band_centres(20, scale=scale, f_min=80.0, f_max=7000.0).numpy(),
            expected_centres(20, scale, 80.0, 7000.0),
            rtol=1e-10,
        )


@pytest.mark.parametrize("scale", ["mel", "erb"])
def test_filter_bank_triangles_share_their_edges(scale):
    weights = enc.filter_bank(24, sample_rate=SR, n_fft=4096, scale=scale, f_min=100.0, f_max=7500.0)
    assert weights.shape == (24, 2049)
    freqs = np.arange(2049) * SR / 4096
    centres = expected_centres(24, scale, 100.0, 7500.0)
    inside = (freqs >= centres[0]) & (freqs <= centres[-1])
    np.testing.assert_allclose(weights.sum(0).numpy()[inside], 1.0, atol=1e-12)  # partition of unity
    assert np.all(weights.numpy()[:, (freqs < 100.0) | (freqs > 7500.0)] == 0)
    assert np.all(np.abs(freqs[weights.argmax(1).numpy()] - centres) <= SR / 4096)  # peak: a bin beside the centre


@pytest.mark.parametrize("scale", ["mel", "erb"])
def test_a_tone_level_matches_the_triangle_weight_and_its_spikes_sit_in_the_nearest_band(scale):
    to_spikes = enc.AudioToSpikes(SR, n_bands=32, scale=scale, threshold=1.0, floor_db=-80.0)
    centres = expected_centres(32, scale, 50.0, SR / 2)
    np.testing.assert_allclose(to_spikes.centres.numpy(), centres, rtol=1e-10)
    for k in (4, 12, 20, 27):
        for position in (0.3, 0.7):  # 30% / 70% of the way from centre k to centre k + 1
            freq = centres[k] + position * (centres[k + 1] - centres[k])
            nearest = int(np.abs(centres - freq).argmin())
            z = to_spikes(torch.from_numpy(tone(freq)).float())
            assert z.shape == (round(0.3 / 1e-3), 64)
            up = z[:, :32].sum(0)
            assert int(up.argmax()) == nearest, (scale, freq)
            assert up[nearest - 1 : nearest + 2].sum() > 0.5 * up.sum()
            if centres[k + 1] - centres[k] > 250:  # bands much wider than the 25 ms window's main lobe
                # a sine of amplitude A has mean square A^2 / 2; band k takes the fraction given by its triangle
                weight = (centres[k + 1] - freq) / (centres[k + 1] - centres[k])
                level = 10 * np.log10(0.3**2 / 2 * weight)
                measured = to_spikes.levels(torch.from_numpy(tone(freq)).float())[-1, k].item()
                assert measured == pytest.approx(level, abs=0.05)
                # the delta reference climbed from -80 dB in 1 dB steps and now sits within 1 dB below the level
                net = (z[:, k] - z[:, 32 + k]).sum().item()
                assert net == math.floor(level + 80.0)


@pytest.mark.parametrize("method", ["delta", "level"])
def test_silence_gives_no_spikes_and_sits_at_the_floor(method):
    to_spikes = enc.AudioToSpikes(SR, method=method, floor_db=-70.0)
    silence = torch.zeros(SR // 2)
    assert to_spikes(silence).sum() == 0
    assert torch.all(to_spikes.levels(silence) == to_spikes.levels(silence)[0, 0])
    assert to_spikes.levels(silence)[0, 0].item() == pytest.approx(-70.0, abs=1e-4)
    quiet = torch.from_numpy(tone(1000.0, amplitude=1e-6)).float()  # -123 dB: far below the floor
    assert to_spikes(quiet).sum() == 0


@pytest.mark.parametrize(("method", "bound"), [("delta", 1.0), ("level", 0.5)])
def test_decode_recovers_the_band_levels_once_they_settle(method, bound):
    to_spikes = enc.AudioToSpikes(SR, n_bands=16, method=method, threshold=2.0 * bound)
    x = torch.from_numpy(tone(1500.0) + tone(300.0, amplitude=0.05)).float()
    levels, z = to_spikes.levels(x), to_spikes(x)
    error = (to_spikes.decode(z) - levels)[-100:].abs()  # the last 100 ms, steady
    assert error.max() <= 2.0 * bound + 1e-4


@pytest.mark.parametrize(
    ("dtype", "scale", "tolerance"),
    [(np.int16, 2**15, 1 / 2**15), (np.int32, 2**31, 1e-7), (np.float32, None, 0.0), (np.uint8, None, 1 / 128)],
)
def test_wav_round_trip(tmp_path, dtype, scale, tolerance):
    x = tone(440.0, seconds=0.1, amplitude=0.5)
    if dtype is np.uint8:
        stored = np.round(x * 128 + 128).clip(0, 255).astype(np.uint8)
    elif scale is not None:
        stored = np.round(x * scale).astype(dtype)
    else:
        stored = x.astype(dtype)
    path = tmp_path / "tone.wav"
    wavfile.write(path, SR, stored)
    waveform, rate = enc.read_wav(path)
    assert rate == SR and waveform.dtype == torch.float32 and waveform.shape == (len(x),)
    assert np.abs(waveform.numpy() - x).max() <= tolerance + 1e-7


def test_stereo_becomes_the_mean_of_its_channels(tmp_path):
    left = tone(440.0, seconds=0.05)
    right = tone(880.0, seconds=0.05, amplitude=0.1)
    wavfile.write(tmp_path / "stereo.wav", SR, np.stack([left, right], 1).astype(np.float32))
    waveform, _ = enc.read_wav(tmp_path / "stereo.wav")
    np.testing.assert_allclose(waveform.numpy(), (left + right) / 2, atol=1e-7)


def test_a_path_and_its_waveform_give_the_same_spikes(tmp_path):
    x = tone(2000.0, seconds=0.2)
    wavfile.write(tmp_path / "a.wav", SR, x.astype(np.float32))
    to_spikes = enc.AudioToSpikes(SR, n_bands=20, scale="erb")
    assert torch.equal(to_spikes(tmp_path / "a.wav"), to_spikes(torch.from_numpy(x).float()))
    assert torch.equal(to_spikes(str(tmp_path / "a.wav")), to_spikes(torch.from_numpy(x).float()))


def test_wrong_sample_rate_raises_unless_asked_to_resample(tmp_path):
    path = tmp_path / "eight_k.wav"
    wavfile.write(path, 8000, tone(1000.0, seconds=0.25, rate=8000).astype(np.float32))
    with pytest.raises(ValueError, match=r"eight_k\.wav: sample rate 8000 Hz, expected 16000 Hz; pass resample=True"):
        enc.AudioToSpikes(16000)(path)
    with pytest.raises(ValueError, match="8000 Hz, expected 16000 Hz"):
        enc.read_wav(path, 16000)
    waveform, rate = enc.read_wav(path, 16000, resample=True)
    assert rate == 16000 and waveform.shape == (4000,)
    # the resampled signal is the same sine sampled at 16 kHz (away from the filter's edge transients)
    reference = tone(1000.0, seconds=0.25, rate=16000)
    np.testing.assert_allclose(waveform.numpy()[400:-400], reference[400:-400], atol=2e-3)
    spikes = enc.AudioToSpikes(16000, n_bands=32, resample=True)(path)
    centres = expected_centres(32, "mel", 50.0, 8000.0)
    assert int(spikes[:, :32].sum(0).argmax()) == int(np.abs(centres - 1000.0).argmin())


def test_frames_follow_dt_at_any_rate():
    rate = 44100
    x = torch.from_numpy(tone(3000.0, seconds=0.5, rate=rate)).float()
    for dt in (1e-3, 2.5e-3, 10e-3):
        z = enc.AudioToSpikes(rate, dt=dt, n_bands=16)(x)
        assert z.shape == (math.floor(0.5 / dt + 1e-9), 32)
    # causal frames: nothing before the sound starts
    delayed = torch.cat([torch.zeros(rate // 10), x])
    z = enc.AudioToSpikes(rate, dt=1e-3, n_bands=16)(delayed)
    assert z[:100].sum() == 0 and z[100:].sum() > 0


def test_works_as_a_dataset_transform(tmp_path):
    paths = []
    for i, freq in enumerate((500.0, 1000.0, 3000.0)):
        paths.append(tmp_path / f"{i}.wav")
        wavfile.write(paths[-1], SR, (tone(freq, seconds=0.1) * 2**15).astype(np.int16))
    transform = pickle.loads(pickle.dumps(enc.AudioToSpikes(SR, n_bands=24)))  # DataLoader workers pickle it

    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return transform(paths[i]), i

    batch, labels = next(iter(torch.utils.data.DataLoader(Clips(), batch_size=3)))
    assert batch.shape == (3, 100, 48) and labels.tolist() == [0, 1, 2]
    peaks = batch[:, :, :24].sum(1).argmax(1)
    assert peaks.tolist() == sorted(peaks.tolist()) and len(set(peaks.tolist())) == 3  # higher tone, higher band
    assert "n_bands=24" in repr(transform) and "threshold=1 dB" in repr(transform)


def test_bad_arguments_explain_themselves():
    with pytest.raises(ValueError, match=r"waveform: expected a mono float waveform \[N\].*x\.mean\(0\)"):
        enc.AudioToSpikes(SR)(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="waveform: expected a mono float waveform"):
        enc.AudioToSpikes(SR)(torch.zeros(100, dtype=torch.int16))
    with pytest.raises(ValueError, match="method: expected 'delta' or 'level'"):
        enc.AudioToSpikes(SR, method="sigma-delta")
    with pytest.raises(ValueError, match="scale: expected 'mel' or 'erb'"):
        enc.AudioToSpikes(SR, scale="bark")
    with pytest.raises(ValueError, match=r"f_max: expected at most the Nyquist frequency 8000\.0 Hz"):
        enc.AudioToSpikes(SR, f_max=9000.0)
    with pytest.raises(ValueError, match="threshold: expected a positive number of dB"):
        enc.AudioToSpikes(SR, threshold=0)
    with pytest.raises(ValueError, match="dt: expected at least one sample"):
        enc.AudioToSpikes(SR, dt=1e-5)
    with pytest.raises(ValueError, match="n_fft: 64 bins at 16000 Hz leave band 0"):
        enc.filter_bank(64, sample_rate=SR, n_fft=64, f_min=0.0)
    with pytest.raises(ValueError, match="sample_rate: expected a positive int"):
        enc.AudioToSpikes(16000.0)
