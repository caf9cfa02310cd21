"""Encoders (values -> spikes over time) and decoders (outputs over time -> class scores)."""

from ._decode import DECODERS, decode, first_spike, max_membrane, mean_membrane, spike_count
from ._rate import direct, latency, poisson, rate

ENCODERS = {"rate": rate, "poisson": poisson, "latency": latency, "direct": direct}


def encode(x, timesteps: int, how: str, **kwargs):
    """Apply the encoder named ``how`` (``rate``, ``poisson``, ``latency``, ``direct``)."""
    if how not in ENCODERS:
        raise ValueError(f"encoding: expected one of {sorted(ENCODERS)}, got {how!r}")
    return ENCODERS[how](x, timesteps, **kwargs)


__all__ = [
    "DECODERS",
    "ENCODERS",
    "decode",
    "direct",
    "encode",
    "first_spike",
    "latency",
    "max_membrane",
    "mean_membrane",
    "poisson",
    "rate",
    "spike_count",
]
