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
from ._decode import DECODERS, decode, first_spike, last_step, max_membrane, mean_membrane, reads_spikes, spike_count
from ._encode import ENCODERS, encode, encode_batch
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
    "encode_batch",
    "erb_rate_to_hz",
    "filter_bank",
    "first_spike",
    "hz_to_erb_rate",
    "hz_to_mel",
    "last_step",
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
    "reads_spikes",
    "receptive_fields",
    "spike_count",
    "step_forward",
    "step_forward_decode",
]
