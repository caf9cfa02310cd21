"""Audio front end: ``.wav`` or waveform -> filter-bank energies on a mel or ERB-rate scale -> log -> up/down spikes.

The pipeline of :class:`AudioToSpikes`:

1. :func:`read_wav` (scipy) scales integer PCM to [-1, 1], averages channels to mono and checks the sample rate.
2. Frames: a Hann window of length ``window`` (s) ending at every multiple of ``dt`` (s): frame ``t`` covers the
   samples before ``(t + 1) * dt`` (causal; zero padding before the start), ``T = floor(duration / dt)`` frames.
3. Power spectrum, normalised so that the bins sum to the frame's mean square (a full-scale sine is -3 dB), then
   triangular filters whose edges are evenly spaced on the mel or ERB-rate scale (:func:`filter_bank`).
4. Log compression: ``10 log10(E + 10^(floor_db / 10))`` dB re full scale, so silence sits at ``floor_db``.
5. Per band, :func:`~spikeforge.encoding.delta` (reference starts at ``floor_db`` and moves ``threshold`` dB per
   spike) or :func:`~spikeforge.encoding.level_crossing` (levels every ``threshold`` dB from ``floor_db``).
"""

from __future__ import annotations

import math
import os
from typing import Literal

import numpy as np
import torch

from ..neurons._base import check_finite
from ..units import check_dt, ms
from ._signal import delta, level_crossing

__all__ = [
    "AudioToSpikes",
    "band_centres",
    "erb_rate_to_hz",
    "filter_bank",
    "hz_to_erb_rate",
    "hz_to_mel",
    "log_band_energies",
    "mel_to_hz",
    "read_wav",
]

Scale = Literal["mel", "erb"]


def hz_to_mel(f: float | torch.Tensor) -> torch.Tensor:
    """Mel scale (O'Shaughnessy, 1987): ``2595 log10(1 + f / 700)``, ``f`` in Hz.

    >>> round(float(hz_to_mel(1000.0)))
    1000
    """
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: float | torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`: ``700 (10^(m / 2595) - 1)`` Hz."""
    return 700.0 * (10.0 ** (torch.as_tensor(m, dtype=torch.float64) / 2595.0) - 1.0)


def hz_to_erb_rate(f: float | torch.Tensor) -> torch.Tensor:
    """ERB-rate scale (Glasberg & Moore, 1990): ``21.4 log10(1 + 0.00437 f)`` ERBs, ``f`` in Hz.

    >>> round(float(hz_to_erb_rate(1000.0)), 2)
    15.62
    """
    return 21.4 * torch.log10(1.0 + 0.00437 * torch.as_tensor(f, dtype=torch.float64))


def erb_rate_to_hz(e: float | torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_erb_rate`: ``(10^(e / 21.4) - 1) / 0.00437`` Hz."""
    return (10.0 ** (torch.as_tensor(e, dtype=torch.float64) / 21.4) - 1.0) / 0.00437


_SCALES = {"mel": (hz_to_mel, mel_to_hz), "erb": (hz_to_erb_rate, erb_rate_to_hz)}


def _edges(n_bands: int, scale: str, f_min: float, f_max: float) -> torch.Tensor:
    if not isinstance(n_bands, int) or isinstance(n_bands, bool) or n_bands < 1:
        raise ValueError(f"n_bands: expected a positive int, got {n_bands!r}")
    if scale not in _SCALES:
        raise ValueError(f"scale: expected 'mel' or 'erb', got {scale!r}")
    if not (0 <= f_min < f_max):
        raise ValueError(f"f_min, f_max: expected 0 <= f_min < f_max (Hz), got f_min={f_min!r}, f_max={f_max!r}")
    to_scale, to_hz = _SCALES[scale]
    lo, hi = float(to_scale(f_min)), float(to_scale(f_max))
    return to_hz(torch.linspace(lo, hi, n_bands + 2, dtype=torch.float64))


def band_centres(n_bands: int, *, scale: Scale = "mel", f_min: float = 50.0, f_max: float = 8000.0) -> torch.Tensor:
    """Centre frequencies (Hz, float64) of the :func:`filter_bank` bands: ``n_bands + 2`` points evenly spaced on
    the scale from ``f_min`` to ``f_max``, without the two ends.

    >>> [round(f) for f in band_centres(3, f_min=0.0, f_max=3000.0).tolist()]
    [361, 909, 1740]
    """
    return _edges(n_bands, scale, float(f_min), float(f_max))[1:-1]


def filter_bank(
    n_bands: int,
    *,
    sample_rate: int,
    n_fft: int,
    scale: Scale = "mel",
    f_min: float = 50.0,
    f_max: float | None = None,
) -> torch.Tensor:
    """Triangular filters over the ``n_fft // 2 + 1`` bins of a real FFT.

    Band ``b`` rises linearly from edge ``b`` to its centre (edge ``b + 1``, weight 1) and falls to edge
    ``b + 2`` (weights computed in Hz at each bin frequency), so a tone between two centres is shared between the
    two bands in proportion to its distance from each. Raises if a band is narrower than the bin spacing (use a
    longer ``n_fft``, fewer bands or a higher ``f_min``).

    Shape:
        ``[n_bands, n_fft // 2 + 1]``, float64.
    """
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if f_max > sample_rate / 2:
        raise ValueError(f"f_max: expected at most the Nyquist frequency {sample_rate / 2} Hz, got {f_max!r}")
    edges = _edges(n_bands, scale, float(f_min), f_max)
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    weights = torch.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)).clamp_min(0.0)
    empty = (weights.sum(1) == 0).nonzero().flatten()
    if len(empty):
        raise ValueError(
            f"n_fft: {n_fft} bins at {sample_rate} Hz leave band {int(empty[0])} (centre "
            f"{float(mid[empty[0]]):.1f} Hz) empty; use a longer n_fft, fewer bands or a higher f_min"
        )
    return weights


def read_wav(
    path: str | os.PathLike, sample_rate: int | None = None, *, resample: bool = False
) -> tuple[torch.Tensor, int]:
    """Read a ``.wav`` file as a mono float32 waveform in [-1, 1] and its sample rate.

    Integer PCM is scaled by its full scale (uint8: ``(x - 128) / 128``; int16: ``/ 2**15``; int32, which also
    holds scipy's 24-bit data: ``/ 2**31``); float files are returned as stored. Multi-channel audio becomes mono
    by averaging the channels.

    Args:
        path: the file.
        sample_rate: expected rate in Hz, or ``None`` to accept any. A file at another rate raises a
            ``ValueError`` naming both rates, unless ``resample=True``.
        resample: resample a mismatched file to ``sample_rate`` with a polyphase filter
            (``scipy.signal.resample_poly``).

    Returns:
        ``(waveform [N], rate)``; ``rate`` is ``sample_rate`` after resampling.
    """

    from scipy.io import wavfile

    name = os.fspath(path)
    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory; expected a .wav file")
    if not os.path.isfile(name):
        raise FileNotFoundError(f"wav file {name}: not found")
    try:
        rate, data = wavfile.read(name)
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as err:  # scipy's parser fails on a malformed file in many ways (even UnboundLocalError)
        raise ValueError(f"{name}: not a readable .wav file ({type(err).__name__}: {err})") from None
    if not isinstance(rate, int | np.integer) or rate <= 0:
        raise ValueError(f"{name}: sample rate {rate!r} Hz in the header; expected a positive rate")
    if data.ndim not in (1, 2):
        raise ValueError(f"{name}: expected samples [N] or [N, channels], got shape {data.shape}")
    if data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    elif data.dtype in (np.int16, np.int32, np.int64):
        x = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype in (np.float32, np.float64):
        x = data.astype(np.float64)
    else:
        raise ValueError(f"{name}: unsupported sample format {data.dtype}")
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] else np.zeros(len(x))
    if not np.isfinite(x).all():
        bad = x[~np.isfinite(x)][0]
        raise ValueError(
            f"{name}: holds {int((~np.isfinite(x)).sum())} non-finite samples (the first is {bad!r}); "
            "expected finite samples"
        )
    if sample_rate is not None and rate != sample_rate:
        if not resample:
            raise ValueError(
                f"{os.fspath(path)}: sample rate {rate} Hz, expected {sample_rate} Hz; pass resample=True to "
                "resample it, or set sample_rate to the file's rate"
            )
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate), int(rate))
        x = resample_poly(x, int(sample_rate) // g, int(rate) // g)
        rate = sample_rate
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(rate)


def _check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise ValueError(f"sample_rate: expected a positive int (Hz), got {sample_rate!r}")
    return sample_rate


def _frame_sizes(sample_rate: int, dt: float, window: float) -> tuple[float, int, int]:
    hop = check_dt(dt) * sample_rate
    if hop < 1:
        raise ValueError(f"dt: expected at least one sample (1/{sample_rate} s), got {dt!r} s")
    n_win = round(float(window) * sample_rate)
    if n_win < 2:
        raise ValueError(f"window: expected at least two samples ({2 / sample_rate:.3g} s), got {window!r} s")
    return hop, n_win, 1 << (n_win - 1).bit_length()


def _fft_size(n_fft: int, sample_rate: int, n_bands: int, scale: str, f_min: float, f_max: float) -> int:
    """Zero-pad the FFT until the bin spacing is at most half the narrowest gap between band edges."""
    gap = float(_edges(n_bands, scale, f_min, f_max).diff().min())
    while sample_rate / n_fft > gap / 2 and n_fft < 2**18:
        n_fft *= 2
    return n_fft


def _energies(x: torch.Tensor, hop: float, n_win: int, n_fft: int, weights: torch.Tensor) -> torch.Tensor:
    n_frames = math.floor(x.shape[0] / hop + 1e-9)
    ends = torch.round((torch.arange(n_frames, dtype=torch.float64) + 1) * hop).long()
    padded = torch.cat([x.new_zeros(n_win), x])
    frames = padded[ends[:, None] + torch.arange(n_win)]  # padded index of sample ends - n_win + j
    w = torch.hann_window(n_win, periodic=True, dtype=x.dtype)
    power = torch.fft.rfft(frames * w, n=n_fft).abs().square()
    power[:, 1 : (n_fft + 1) // 2] *= 2  # one-sided spectrum: the negative frequencies' share
    power /= n_fft * w.square().sum()  # Parseval: the bins sum to the windowed mean square
    return power @ weights.to(x.dtype).T


def _check_waveform(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 1:
        raise ValueError(
            f"waveform: expected a mono float waveform [N] (mix down first, e.g. x.mean(0)), got "
            f"{getattr(x, 'dtype', type(x).__name__)} of shape {tuple(getattr(x, 'shape', ()))}"
        )
    if not torch.isfinite(x).all():
        check_finite("waveform", x)
    return x


def log_band_energies(
    waveform: torch.Tensor,
    sample_rate: int,
    *,
    dt: float = 1 * ms,
    n_bands: int = 32,
    scale: Scale = "mel",
    f_min: float = 50.0,
    f_max: float | None = None,
    window: float = 25 * ms,
    floor_db: float = -80.0,
) -> torch.Tensor:
    """Filter-bank energies every ``dt`` seconds, in dB re full scale: ``10 log10(E + 10^(floor_db / 10))``.

    See the module docstring for the framing and normalisation. Silence gives ``floor_db`` (to float rounding).

    Shape:
        ``waveform``: ``[N]`` -> ``[T, n_bands]``, ``T = floor(N / (dt * sample_rate))``.

    >>> import math, torch
    >>> t = torch.arange(16000) / 16000
    >>> level = log_band_energies(torch.sin(2 * math.pi * 1000 * t), 16000, n_bands=16)
    >>> tuple(level.shape), int(level[-1].argmax()), round(float(level[-1].max()), 1)
    ((1000, 16), 5, -4.8)
    """
    _check_waveform(waveform)
    rate = _check_rate(sample_rate)
    f_max = rate / 2 if f_max is None else float(f_max)
    hop, n_win, n_fft = _frame_sizes(rate, dt, window)
    n_fft = _fft_size(n_fft, rate, n_bands, scale, float(f_min), f_max)
    weights = filter_bank(n_bands, sample_rate=rate, n_fft=n_fft, scale=scale, f_min=f_min, f_max=f_max)
    energy = _energies(waveform, hop, n_win, n_fft, weights)
    return 10.0 * torch.log10(energy + 10.0 ** (floor_db / 10.0))


class AudioToSpikes:
    """Dataset transform: a wav path or a mono waveform -> up/down spikes per frequency band, ``[T, 2 * n_bands]``.

    Runs :func:`log_band_energies` and then, per band, :func:`~spikeforge.encoding.delta` (``method="delta"``:
    a spike each time the level has moved ``threshold`` dB from the tracked reference, which starts at
    ``floor_db``) or :func:`~spikeforge.encoding.level_crossing` (``method="level"``: a spike each time the level
    crosses a multiple of ``threshold`` dB above ``floor_db``). Either way silence gives no spikes and
    :meth:`decode` recovers the band levels within ``threshold`` dB (``threshold / 2`` for ``"level"``) where
    they change by less than ``threshold`` per step. Spikes are binary, so a sudden onset is followed one
    ``threshold`` per step: a sound starting at -20 dB out of silence takes 60 steps (60 ms at the defaults) to be
    fully reported, and :meth:`decode` lags it meanwhile.

    Args:
        sample_rate: rate (Hz) that waveforms are given at and that wav files must have.
        dt: frame step = spike time step (s).
        n_bands: number of bands; ``scale``: ``"mel"`` or ``"erb"``; ``f_min``, ``f_max``: frequency range (Hz,
            ``f_max`` defaults to the Nyquist frequency).
        window: analysis window length (s).
        threshold: dB per spike (> 0).
        floor_db: level of silence (dB re full scale); quieter sounds are compressed towards it.
        method: ``"delta"`` or ``"level"``.
        resample: resample wav files at another rate instead of raising (see :func:`read_wav`).

    Shape:
        output ``[T, 2 * n_bands]``, the waveform's dtype (float32 from a wav file): channels ``0 .. n_bands - 1`` are the up spikes of each band (low to
        high frequency, centres in :attr:`centres`), channels ``n_bands .. 2 n_bands - 1`` the down spikes.

    >>> import math, torch
    >>> to_spikes = AudioToSpikes(n_bands=16)
    >>> t = torch.arange(8000) / 16000
    >>> z = to_spikes(0.5 * torch.sin(2 * math.pi * 1000 * t))
    >>> tuple(z.shape), int(z[:, :16].sum(0).argmax()), round(float(to_spikes.centres[5]))
    ((500, 32), 5, 1081)
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        dt: float = 1 * ms,
        n_bands: int = 32,
        scale: Scale = "mel",
        f_min: float = 50.0,
        f_max: float | None = None,
        window: float = 25 * ms,
        threshold: float = 1.0,
        floor_db: float = -80.0,
        method: Literal["delta", "level"] = "delta",
        resample: bool = False,
    ) -> None:
        self.sample_rate = _check_rate(sample_rate)
        if method not in ("delta", "level"):
            raise ValueError(f"method: expected 'delta' or 'level', got {method!r}")
        if not (isinstance(threshold, int | float) and threshold > 0 and math.isfinite(threshold)):
            raise ValueError(f"threshold: expected a positive number of dB per spike, got {threshold!r}")
        if not (isinstance(floor_db, int | float) and math.isfinite(floor_db)):
            raise ValueError(f"floor_db: expected a finite level in dB, got {floor_db!r}")
        self.dt, self.n_bands, self.scale, self.window = check_dt(dt), n_bands, scale, float(window)
        self.f_min = float(f_min)
        self.f_max = sample_rate / 2 if f_max is None else float(f_max)
        self.threshold, self.floor_db, self.method, self.resample = float(threshold), float(floor_db), method, resample
        self._hop, self._n_win, n_fft = _frame_sizes(sample_rate, self.dt, self.window)
        self._n_fft = _fft_size(n_fft, sample_rate, n_bands, scale, self.f_min, self.f_max)
        self._weights = filter_bank(
            n_bands, sample_rate=sample_rate, n_fft=self._n_fft, scale=scale, f_min=self.f_min, f_max=self.f_max
        ).float()
        self.centres = band_centres(n_bands, scale=scale, f_min=self.f_min, f_max=self.f_max)
        # the level of a silent frame, computed as levels() computes it, so silence never fires a spike
        self._silence = float(self._log(torch.zeros(1)))

    def _log(self, energy: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(energy + 10.0 ** (self.floor_db / 10.0))

    def levels(self, x: torch.Tensor | str | os.PathLike) -> torch.Tensor:
        """Band levels in dB, ``[T, n_bands]``, before spike encoding."""
        if isinstance(x, str | os.PathLike):
            x, _ = read_wav(x, self.sample_rate, resample=self.resample)
        x = _check_waveform(x)
        return self._log(_energies(x, self._hop, self._n_win, self._n_fft, self._weights.to(x.dtype)))

    def __call__(self, x: torch.Tensor | str | os.PathLike) -> torch.Tensor:
        levels = self.levels(x)
        if self.method == "delta":
            z = delta(levels, self.threshold, initial=self._silence)
        else:
            z = level_crossing(levels, self.threshold, offset=self._silence, initial=self._silence)
        return z.movedim(-1, 1).reshape(levels.shape[0], 2 * self.n_bands)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Band levels (dB) reconstructed from spikes ``[T, 2 * n_bands]`` -> ``[T, n_bands]``."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != 2 * self.n_bands:
            raise ValueError(f"z: expected spikes [T, {2 * self.n_bands}], got {getattr(z, 'shape', type(z).__name__)}")
        from ._signal import delta_decode, level_crossing_decode

        pairs = z.float().reshape(z.shape[0], 2, self.n_bands).movedim(1, -1)
        if self.method == "delta":
            return delta_decode(pairs, self.threshold, initial=self._silence)
        return level_crossing_decode(pairs, self.threshold, initial=self._silence, offset=self._silence)

    def __repr__(self) -> str:
        return (
            f"AudioToSpikes(sample_rate={self.sample_rate}, dt={self.dt / ms:g} ms, n_bands={self.n_bands}, "
            f"scale={self.scale!r}, f_min={self.f_min:g}, f_max={self.f_max:g}, window={self.window / ms:g} ms, "
            f"threshold={self.threshold:g} dB, floor_db={self.floor_db:g}, method={self.method!r})"
        )
