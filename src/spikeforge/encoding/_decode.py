"""Decoders: outputs over time ``[T, B, C]`` -> per-class scores ``[B, C]`` (higher is more likely).

:data:`DECODERS` is the one list of decoder (read-out) names: :func:`decode`, the training configuration's
``readout`` (:class:`~spikeforge.learning.TrainConfig`, :func:`~spikeforge.learning.scores`) and the ``--readout``
choices of ``spikeforge train`` all read it.
"""

from __future__ import annotations

import torch

__all__ = [
    "DECODERS",
    "decode",
    "first_spike",
    "last_step",
    "max_membrane",
    "mean_membrane",
    "reads_spikes",
    "spike_count",
]


def _check_seq(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a sequence [T, B, ...], got {got}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one time step (T >= 1), got shape {tuple(x.shape)}")


def spike_count(z_seq: torch.Tensor) -> torch.Tensor:
    """Number of spikes per output over time."""
    _check_seq("z_seq", z_seq)
    return z_seq.sum(0)


def mean_membrane(v_seq: torch.Tensor) -> torch.Tensor:
    """Membrane averaged over time."""
    _check_seq("v_seq", v_seq)
    return v_seq.mean(0)


def max_membrane(v_seq: torch.Tensor) -> torch.Tensor:
    """Maximum membrane over time."""
    _check_seq("v_seq", v_seq)
    return v_seq.amax(0)


def first_spike(z_seq: torch.Tensor) -> torch.Tensor:
    """Scores from spike latency: ``-(time of first spike)``, ``-T`` where an output never fires.

    >>> import torch
    >>> z = torch.tensor([[[0., 0.]], [[1., 0.]], [[1., 1.]]])
    >>> first_spike(z).tolist()
    [[-1.0, -2.0]]
    """
    _check_seq("z_seq", z_seq)
    t = z_seq.shape[0]
    steps = torch.arange(t, device=z_seq.device, dtype=z_seq.dtype).view(-1, *([1] * (z_seq.dim() - 1)))
    first = torch.where(z_seq > 0, steps, torch.full_like(z_seq, float(t))).amin(0)
    return -first


def last_step(v_seq: torch.Tensor) -> torch.Tensor:
    """The output at the last step."""
    _check_seq("v_seq", v_seq)
    return v_seq[-1]


#: decoder name -> ``fn(out_seq[T, B, ...]) -> scores[B, ...]``; the order is the one shown in help and errors
DECODERS = {"max": max_membrane, "mean": mean_membrane, "count": spike_count, "first": first_spike, "last": last_step}


def reads_spikes(how: str) -> bool:
    """True when the decoder named ``how`` counts or times spikes (an output without spikes gives it nothing).

    >>> [name for name in DECODERS if reads_spikes(name)]
    ['count', 'first']
    """
    return DECODERS.get(how) in (spike_count, first_spike)


def decode(out_seq: torch.Tensor, how: str) -> torch.Tensor:
    """Apply the decoder named ``how`` (one of :data:`DECODERS`)."""
    if how not in DECODERS:
        raise ValueError(f"decoder: expected one of {sorted(DECODERS)}, got {how!r}")
    return DECODERS[how](out_seq)
