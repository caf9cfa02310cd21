r"""Event-driven spike propagation through a delay ring buffer.

A spike of neuron :math:`j` emitted at step :math:`t` reaches every synapse :math:`s` in row :math:`j` and adds its
weight to the input of channel :math:`c_s` of neuron :math:`i_s` at step :math:`t + d_s`:

.. math::
    x_{c,i}(t') = \sum_{j} \sum_{s \in \mathrm{row}(j),\, c_s = c,\, i_s = i} w_s\, z_j(t' - d_s)

The pending input lives in a ring buffer ``[L, C, N]`` with :math:`L = \max_s d_s + 1` slots; slot
:math:`t \bmod L` holds what arrives at step :math:`t`. Each step reads and clears its own slot, then scatters the
rows of the neurons that fired into slots :math:`(t + d_s) \bmod L` with one ``index_add_``. The work per step is
proportional to the number of spikes times their fan-out, independent of the neurons that stayed silent.
"""

from __future__ import annotations

import torch

from ._connectivity import Connectivity

__all__ = ["DelayBuffer", "gather_rows"]


def gather_rows(indptr: torch.Tensor, rows: torch.Tensor, *, dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """Concatenated synapse indices of CSR ``rows``: ``cat([arange(indptr[r], indptr[r+1]) for r in rows])``.

    ``dtype`` int32 halves the memory traffic where the synapse count fits.

    >>> gather_rows(torch.tensor([0, 2, 2, 5]), torch.tensor([2, 0])).tolist()
    [2, 3, 4, 0, 1]
    """
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return torch.zeros(0, dtype=dtype, device=indptr.device)
    # position k of the output belongs to row r(k); its index is starts[r] + (k - first output position of r)
    first = torch.cumsum(counts, 0) - counts
    idx = torch.repeat_interleave((starts - first).to(dtype), counts, output_size=total)
    idx += torch.arange(total, dtype=dtype, device=indptr.device)
    return idx


class DelayBuffer:
    """Ring buffer of pending synaptic input for a :class:`~spikeforge.sim.Connectivity`, updated in place.

    This is the one stateful object of the network simulator: it owns its buffer, and :meth:`push` /
    :meth:`pop` mutate it, which keeps the per-step cost at O(spikes x fan-out) instead of copying ``[L, C, N]``.

    Delay convention: the library's one, that of :func:`spikeforge.synapses.channel_delay` /
    :class:`~spikeforge.synapses.ChannelDelay`: what is pushed at step ``t`` through a synapse of delay ``d`` is
    popped at step ``t + d``. The input of step ``t`` is ``channel_delay`` applied per synapse to the presynaptic
    spike trains, weighted and summed onto ``(channel, post)`` (a test checks this); the buffer computes it one step
    at a time, touching only the synapses of the neurons that fired. Delays here are at least 1 step (the buffer
    and the connectivity builders refuse 0): a spike exists only after its step's update, so it can reach a neuron
    no earlier than the next step, whereas ``ChannelDelay`` also allows ``d = 0`` between layers.

    Args:
        conn: the synapse table (its ``max_delay`` sets the number of slots).
        dtype: buffer dtype. Default float32.

    >>> from spikeforge.sim._connectivity import Synapses, merge
    >>> one = Synapses(torch.tensor([0]), torch.tensor([1]), torch.tensor([2.0]), torch.tensor([3]), torch.tensor([0]))
    >>> buf = DelayBuffer(merge([one], 2))
    >>> buf.push(torch.tensor([0]), step=0)  # one synaptic event scheduled
    1
    >>> [buf.pop(t)[0, 1].item() for t in range(1, 5)]
    [0.0, 0.0, 2.0, 0.0]
    """

    def __init__(self, conn: Connectivity, *, dtype: torch.dtype = torch.float32) -> None:
        if conn.nnz and int(conn.delay.min()) < 1:
            # a delay-0 synapse would land in the slot of the step that just used its input: t + L, not t
            raise ValueError(
                f"conn: expected delays of at least 1 time step, got {int(conn.delay.min())}; a spike reaches "
                "its targets no earlier than the step after it"
            )
        self.conn = conn
        self.slots = conn.max_delay + 1
        self.n = conn.n_post
        self.buffer = torch.zeros(self.slots, conn.n_channels, conn.n_post, dtype=dtype)
        self._flat = self.buffer.view(-1)
        self._views = list(self.buffer.unbind(0))  # one [C, N] view per slot
        self._slot_size = conn.n_channels * conn.n_post
        self._ring = self.slots * self._slot_size
        # int32 indices where they fit: half the memory traffic of the gathers
        small = self._ring < 2**31 - 1 and conn.nnz < 2**31 - 1
        self._itype = torch.int32 if small else torch.int64
        # per-synapse flat offset within one slot, and the delay folded in when every delay is equal
        self._target = (conn.channel * conn.n_post + conn.post).to(self._itype).contiguous()
        self._weight = conn.weight.to(dtype).contiguous()
        delays = conn.delay
        self._uniform = int(delays[0]) if conn.nnz and bool((delays == delays[0]).all()) else None
        self._delay_offset = (delays * self._slot_size).to(self._itype).contiguous()
        self._rows = conn.indptr.tolist()
        # rows pushed per block: about 2^20 synapses, so the temporaries stay cache-sized in bursts of spikes
        self._block = max(1, (1 << 20) * max(1, conn.n_pre) // max(1, conn.nnz))
        self._row_views: tuple[list, list, list | None] | None = None

    def _push_rows(self, spikes: list[int], step: int) -> int:
        """:meth:`push` for a list of neuron ids, with pre-sliced rows: the same ``index_add_`` (same synapses in the
        same order), fewer small ops when a few neurons fire."""
        if len(spikes) > 8:
            return self.push(torch.tensor(spikes, dtype=torch.int64), step=step)
        if self._row_views is None:
            rows = self._rows
            spans = [(rows[j], rows[j + 1]) for j in range(len(rows) - 1)]
            self._row_views = (
                [self._target[a:b] for a, b in spans],
                [self._weight[a:b] for a, b in spans],
                None if self._uniform is not None else [self._delay_offset[a:b] for a, b in spans],
            )
            self._slot_flat = [view.view(-1) for view in self._views]
        targets, weights, offsets = self._row_views
        if len(spikes) == 1:
            j = spikes[0]
            target, weight = targets[j], weights[j]
            offset = None if offsets is None else offsets[j]
        else:
            target = torch.cat([targets[j] for j in spikes])
            weight = torch.cat([weights[j] for j in spikes])
            offset = None if offsets is None else torch.cat([offsets[j] for j in spikes])
        count = target.numel()
        if count == 0:
            return 0
        if offset is None:
            self._slot_flat[(step + self._uniform) % self.slots].index_add_(0, target, weight)
        else:
            target = target + offset
            target += (step % self.slots) * self._slot_size
            target %= self._ring
            self._flat.index_add_(0, target, weight)
        return count

    def peek(self, step: int) -> torch.Tensor:
        """Input arriving at ``step``, ``[C, N]``, as a view into the buffer: valid until :meth:`clear`."""
        return self._views[step % self.slots]

    def clear(self, step: int) -> None:
        """Zero the slot of ``step`` once its input has been used."""
        self._views[step % self.slots].zero_()

    def pop(self, step: int) -> torch.Tensor:
        """Input arriving at ``step``, ``[C, N]`` (a copy); the slot is cleared for reuse."""
        slot = self.buffer[step % self.slots]
        out = slot.clone()
        slot.zero_()
        return out

    def _synapses_of(self, spikes: torch.Tensor):
        """Targets, weights and (non-uniform) delay offsets of the outgoing synapses of ``spikes``."""
        uniform = self._uniform is not None
        if spikes.numel() <= 8:
            # a few rows: slicing them is cheaper than the vectorised gather
            spans = [(self._rows[j], self._rows[j + 1]) for j in spikes.tolist()]

            def pieces(values: torch.Tensor) -> torch.Tensor:
                return torch.cat([values[a:b] for a, b in spans])

            return pieces(self._target), pieces(self._weight), None if uniform else pieces(self._delay_offset)
        idx = gather_rows(self.conn.indptr, spikes, dtype=self._itype)
        return (
            self._target.index_select(0, idx),
            self._weight.index_select(0, idx),
            None if uniform else self._delay_offset.index_select(0, idx),
        )

    def push(self, spikes: torch.Tensor, *, step: int) -> int:
        """Schedule the synapses of the neurons ``spikes`` (int64 ids) fired at ``step``; returns events delivered."""
        if spikes.numel() == 0:
            return 0
        if spikes.numel() > self._block:
            return sum(self.push(spikes[i : i + self._block], step=step) for i in range(0, spikes.numel(), self._block))
        target, weight, offset = self._synapses_of(spikes)
        if target.numel() == 0:
            return 0
        if offset is None:
            base = ((step + self._uniform) % self.slots) * self._slot_size
            self._flat[base : base + self._slot_size].index_add_(0, target, weight)
        else:
            target += offset
            target += (step % self.slots) * self._slot_size
            target %= self._ring
            self._flat.index_add_(0, target, weight)
        return int(target.numel())
