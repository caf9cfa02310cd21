"""Encoders (values -> spikes over time) and decoders (outputs over time -> class scores)."""

from ._audio import (
    AudioToSpikes,
    band_centres,
    erb_rate_to_hz,
    filter_bank,
    hz_to_erb_rate,
    hz_to_mel,
    log_band_energies,
    mel_to_hz,
    read_wav,
)
from ._decode import DECODERS, decode, first_spike, max_membrane, mean_membrane, spike_count
from ._rate import direct, latency, poisson, rate
from ._signal import (
    delta,
    delta_decode,
    level_crossing,
    level_crossing_decode,
    population,
    population_decode,
    receptive_fields,
    step_forward,
    step_forward_decode,
)

ENCODERS = {"rate": rate, "poisson": poisson, "latency": latency, "direct": direct}


def encode(x, timesteps: int, how: str, **kwargs):
    """Apply the encoder named ``how`` (``rate``, ``poisson``, ``latency``, ``direct``)."""
    if how not in ENCODERS:
        raise ValueError(f"encoding: expected one of {sorted(ENCODERS)}, got {how!r}")
    return ENCODERS[how](x, timesteps, **kwargs)


__all__ = [
    "DECODERS",
    "ENCODERS",
    "AudioToSpikes",
    "band_centres",
    "decode",
    "delta",
    "delta_decode",
    "direct",
    "encode",
    "erb_rate_to_hz",
    "filter_bank",
    "first_spike",
    "hz_to_erb_rate",
    "hz_to_mel",
    "latency",
    "level_crossing",
    "level_crossing_decode",
    "log_band_energies",
    "max_membrane",
    "mean_membrane",
    "mel_to_hz",
    "poisson",
    "population",
    "population_decode",
    "rate",
    "read_wav",
    "receptive_fields",
    "spike_count",
    "step_forward",
    "step_forward_decode",
]
