"""Class scores from a network's output sequence, with the read-outs of :data:`spikeforge.encoding.DECODERS`."""

from __future__ import annotations

import torch

from ...encoding import DECODERS, decode, first_spike, last_step, max_membrane, mean_membrane, spike_count

__all__ = ["scores"]


def scores(out_seq: torch.Tensor, readout: str, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Class scores ``[B, C]`` from the output sequence ``[T, B, C]`` with the readout named ``readout``.

    ``lengths[B]`` (valid steps per sample) restricts every readout to the steps ``t < lengths[b]``: the maximum
    or mean over valid steps, the last valid step, spikes counted (or first spike) within them. Padded steps
    never change a score.

    >>> import torch
    >>> out = torch.tensor([[[1.0]], [[3.0]], [[9.0]]])  # T=3, B=1, C=1; step 2 is padding
    >>> scores(out, "max", torch.tensor([2])).item(), scores(out, "mean", torch.tensor([2])).item()
    (3.0, 2.0)
    >>> scores(out, "last", torch.tensor([2])).item()
    3.0
    """
    if lengths is None:
        return decode(out_seq, readout)
    t, b = out_seq.shape[:2]
    lengths = torch.as_tensor(lengths, device=out_seq.device)
    if lengths.shape != (b,) or int(lengths.min()) < 1 or int(lengths.max()) > t:
        raise ValueError(f"lengths: expected {b} valid-step counts in [1, {t}], got {lengths.tolist()[:8]}")
    valid = torch.arange(t, device=out_seq.device)[:, None] < lengths[None, :]
    valid = valid.view(t, b, *([1] * (out_seq.dim() - 2)))
    decoder = DECODERS.get(readout)
    if decoder is max_membrane:
        return max_membrane(out_seq.masked_fill(~valid, float("-inf")))
    if decoder is mean_membrane:
        return spike_count(out_seq * valid) / lengths.view(b, *([1] * (out_seq.dim() - 2))).to(out_seq.dtype)
    if decoder is spike_count:
        return spike_count(out_seq * valid)
    if decoder is first_spike:
        return first_spike(out_seq * valid)
    if decoder is last_step:
        index = (lengths - 1).view(1, b, *([1] * (out_seq.dim() - 2))).expand(1, *out_seq.shape[1:])
        return out_seq.gather(0, index)[0]
    if decoder is None:
        raise ValueError(f"readout: expected one of {', '.join(DECODERS)}; got {readout!r}")
    raise ValueError(f"readout: {readout!r} has no form that skips padded steps")
