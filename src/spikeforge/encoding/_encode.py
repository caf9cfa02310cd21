"""The encoder registry: values in [0, 1] -> network input ``[T, B, ...]``, by name.

:data:`ENCODERS` is the one list of encoder names: :func:`encode`, the training configuration
(:class:`~spikeforge.learning.TrainConfig`) and the ``--encoding`` choices of ``spikeforge train`` all read it.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from ._rate import direct, latency, poisson, rate

__all__ = ["ENCODERS", "encode", "encode_batch"]

#: encoder name -> ``fn(x, timesteps, **kwargs)``; the order is the one shown in help and error messages
ENCODERS = {"direct": direct, "rate": rate, "poisson": poisson, "latency": latency}

#: the encoders that draw random numbers (they take a ``generator``)
_STOCHASTIC = (rate, poisson)
#: the peak rate (Hz) of the ``poisson`` encoder in the training pipeline
_PIPELINE_MAX_RATE = 500.0


def encode(x, timesteps: int, how: str, **kwargs):
    """Apply the encoder named ``how`` (one of :data:`ENCODERS`: ``direct``, ``rate``, ``poisson``, ``latency``)."""
    if how not in ENCODERS:
        raise ValueError(f"encoding: expected one of {sorted(ENCODERS)}, got {how!r}")
    return ENCODERS[how](x, timesteps, **kwargs)


class _EncodingConfig(Protocol):
    encoding: str
    timesteps: int


def encode_batch(x: torch.Tensor, cfg: _EncodingConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images ``[B, ...]`` in [0, 1] -> network input ``[T, B, ...]`` as the training pipeline feeds them.

    ``cfg`` names the encoder and the number of steps (``cfg.encoding``, ``cfg.timesteps``: a
    :class:`~spikeforge.learning.TrainConfig`). Stochastic encoders draw from ``generator``; ``poisson`` fires at up
    to 500 Hz.

    >>> import torch
    >>> from types import SimpleNamespace
    >>> tuple(encode_batch(torch.rand(2, 3), SimpleNamespace(encoding="direct", timesteps=5)).shape)
    (5, 2, 3)
    """
    fn = ENCODERS.get(cfg.encoding)
    kwargs: dict[str, Any] = {}
    if fn in _STOCHASTIC:
        kwargs["generator"] = generator
    if fn is poisson:
        kwargs["max_rate"] = _PIPELINE_MAX_RATE
    return encode(x, cfg.timesteps, cfg.encoding, **kwargs)
