r"""Sparse random connectivity stored by presynaptic neuron (CSR), with per-synapse weight, delay and channel.

A network's synapses form one table sorted by presynaptic neuron. Row ``j`` (``indptr[j]:indptr[j+1]``) lists the
outgoing synapses of neuron ``j``: postsynaptic neuron, weight, transmission delay in whole time steps and the
receptor channel it feeds (e.g. 0 = excitatory, 1 = inhibitory). Propagating a spike is then a gather of the rows of
the neurons that fired, so the cost follows the number of spikes times the fan-out, not the number of neurons squared.

Two random rules build the rows:

- **fixed in-degree**: every postsynaptic neuron draws exactly ``k`` distinct presynaptic partners (Brunel 2000);
- **fixed probability**: every ordered pair is connected independently with probability ``p`` (Vogels & Abbott 2005),
  so the in-degree is binomial, :math:`k_i \sim \mathrm{Binomial}(N_{pre}, p)`.

Dale's law (every neuron makes only excitatory or only inhibitory synapses) holds by construction when each
projection leaves a single-sign population; :func:`check_dale` verifies it on a finished table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Connectivity", "Synapses", "check_dale", "fixed_indegree", "fixed_probability", "merge"]


@dataclass(frozen=True)
class Synapses:
    """An unsorted list of synapses (coordinate format); :func:`merge` turns a few of them into a :class:`Connectivity`.

    ``pre``/``post`` are global neuron indices (int64), ``weight`` float, ``delay`` whole steps (int64, >= 1),
    ``channel`` the receptor channel index (int64).
    """

    pre: torch.Tensor
    post: torch.Tensor
    weight: torch.Tensor
    delay: torch.Tensor
    channel: torch.Tensor

    def __len__(self) -> int:
        return int(self.pre.numel())


@dataclass(frozen=True)
class Connectivity:
    """Synapses of a network sorted by presynaptic neuron (compressed sparse rows).

    Attributes:
        indptr: ``[n_pre + 1]`` int64; the synapses of neuron ``j`` are ``indptr[j]:indptr[j + 1]``.
        post: ``[nnz]`` int64 postsynaptic neuron of each synapse.
        weight: ``[nnz]`` float weight (units of the receiving channel: mV jump, or conductance / leak conductance).
        delay: ``[nnz]`` int64 transmission delay in time steps (>= 1).
        channel: ``[nnz]`` int64 receptor channel index.
        n_pre, n_post, n_channels: sizes.
    """

    indptr: torch.Tensor
    post: torch.Tensor
    weight: torch.Tensor
    delay: torch.Tensor
    channel: torch.Tensor
    n_pre: int
    n_post: int
    n_channels: int = 1

    @property
    def nnz(self) -> int:
        """Number of synapses."""
        return int(self.post.numel())

    @property
    def pre(self) -> torch.Tensor:
        """``[nnz]`` presynaptic neuron of each synapse (expanded from ``indptr``)."""
        return torch.repeat_interleave(torch.arange(self.n_pre), self.out_degree())

    def out_degree(self) -> torch.Tensor:
        """``[n_pre]`` number of outgoing synapses per neuron."""
        return self.indptr[1:] - self.indptr[:-1]

    def in_degree(self, channel: int | None = None) -> torch.Tensor:
        """``[n_post]`` number of incoming synapses per neuron (of one channel, or all)."""
        post = self.post if channel is None else self.post[self.channel == channel]
        return torch.bincount(post, minlength=self.n_post)

    @property
    def max_delay(self) -> int:
        """Longest delay in steps (1 for an empty table)."""
        return int(self.delay.max()) if self.nnz else 1

    def to_dense(self, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Dense weights ``[n_channels, max_delay, n_pre, n_post]`` (index ``delay - 1``); multapses add up.

        Meant for checks on small networks: memory grows with ``n_pre * n_post``.
        """
        dense = torch.zeros(self.n_channels, self.max_delay, self.n_pre, self.n_post, dtype=dtype)
        dense.index_put_((self.channel, self.delay - 1, self.pre, self.post), self.weight.to(dtype), accumulate=True)
        return dense


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return value


def _delays(delay: int | torch.Tensor, n: int) -> torch.Tensor:
    d = torch.as_tensor(delay, dtype=torch.int64)
    if d.dim() == 0:
        d = d.expand(n)
    if d.numel() != n:
        raise ValueError(f"delay: expected one integer step count or one per synapse ({n}), got {d.numel()} values")
    if n and int(d.min()) < 1:
        raise ValueError(
            f"delay: expected delays of at least 1 time step, got {int(d.min())}; "
            "round the delay to steps with round(delay / dt) and use dt <= delay"
        )
    return d.contiguous()


def _finish(pre, post, weight, delay, channel) -> Synapses:
    n = pre.numel()
    w = torch.as_tensor(weight, dtype=torch.get_default_dtype())
    w = w.expand(n).clone() if w.dim() == 0 else w
    if w.numel() != n:
        raise ValueError(f"weight: expected a number or one value per synapse ({n}), got {w.numel()} values")
    if w.numel() and not torch.isfinite(w).all():
        raise ValueError(f"weight: expected finite values, got {w[~torch.isfinite(w)][0].item()}")
    return Synapses(
        pre=pre, post=post, weight=w, delay=_delays(delay, n), channel=torch.full((n,), int(channel), dtype=torch.int64)
    )


def fixed_indegree(
    pre: range | slice,
    post: range | slice,
    k: int,
    *,
    weight: float | torch.Tensor = 1.0,
    delay: int | torch.Tensor = 1,
    channel: int = 0,
    autapses: bool = False,
    generator: torch.Generator | None = None,
    chunk: int = 256,
) -> Synapses:
    """Each neuron of ``post`` receives exactly ``k`` synapses from distinct, randomly chosen neurons of ``pre``.

    Args:
        pre, post: global index ranges of the source and target populations (``range(0, 800)``).
        k: in-degree per target neuron; at most ``len(pre)`` (one less where the ranges overlap and ``autapses``
            is False).
        weight: one number, or one per synapse (ordered target by target).
        delay: transmission delay in whole steps (>= 1), one or one per synapse.
        channel: receptor channel the synapses feed.
        autapses: allow a neuron to connect to itself where ``pre`` and ``post`` overlap. Default False.
        generator: random generator (seeded for reproducible networks).
        chunk: target neurons drawn per batch (memory ``chunk * len(pre)``).

    Returns:
        :class:`Synapses` with ``len(post) * k`` entries.
    """
    pre, post = _as_range("pre", pre), _as_range("post", post)
    k = _check_count("k", k)
    n_pre = len(pre)
    overlap = not autapses and pre.start < post.stop and post.start < pre.stop
    available = n_pre - (1 if overlap else 0)
    if k > available:
        raise ValueError(
            f"k: expected at most {available} distinct sources per target "
            f"(population of {n_pre}{', no autapses' if overlap else ''}), got {k}"
        )
    sources = []
    for first in range(post.start, post.stop, chunk):
        targets = torch.arange(first, min(first + chunk, post.stop))
        keys = torch.rand(len(targets), n_pre, generator=generator)
        if overlap:
            own = targets - pre.start
            inside = (own >= 0) & (own < n_pre)
            keys[torch.nonzero(inside).squeeze(1), own[inside]] = -1.0  # never among the k largest
        sources.append(keys.topk(k, dim=1, sorted=False).indices + pre.start)
    src = torch.cat(sources).reshape(-1) if sources else torch.zeros(0, dtype=torch.int64)
    dst = torch.arange(post.start, post.stop).repeat_interleave(k)
    return _finish(src, dst, weight, delay, channel)


def fixed_probability(
    pre: range | slice,
    post: range | slice,
    p: float,
    *,
    weight: float | torch.Tensor = 1.0,
    delay: int | torch.Tensor = 1,
    channel: int = 0,
    autapses: bool = False,
    generator: torch.Generator | None = None,
    chunk: int = 512,
) -> Synapses:
    """Connect every ordered pair (source in ``pre``, target in ``post``) independently with probability ``p``.

    Args: as :func:`fixed_indegree`, with ``p`` in [0, 1] instead of ``k``; ``weight`` given per synapse is ordered
    source by source. Memory per batch: ``chunk * len(post)``.
    """
    pre, post = _as_range("pre", pre), _as_range("post", post)
    if not isinstance(p, int | float) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a connection probability in [0, 1], got {p!r}")
    srcs, dsts = [], []
    targets = torch.arange(post.start, post.stop)
    for first in range(pre.start, pre.stop, chunk):
        sources = torch.arange(first, min(first + chunk, pre.stop))
        mask = torch.rand(len(sources), len(targets), generator=generator) < p
        if not autapses:
            mask &= sources[:, None] != targets[None, :]
        rows, cols = torch.nonzero(mask, as_tuple=True)
        srcs.append(sources[rows])
        dsts.append(targets[cols])
    src = torch.cat(srcs) if srcs else torch.zeros(0, dtype=torch.int64)
    dst = torch.cat(dsts) if dsts else torch.zeros(0, dtype=torch.int64)
    return _finish(src, dst, weight, delay, channel)


def _as_range(name: str, value: range | slice) -> range:
    if isinstance(value, slice):
        if value.start is None or value.stop is None or value.step not in (None, 1):
            raise ValueError(f"{name}: expected a slice with explicit start and stop and step 1, got {value!r}")
        value = range(value.start, value.stop)
    if not isinstance(value, range) or value.step != 1 or value.start < 0:
        raise TypeError(f"{name}: expected a contiguous range of neuron indices such as range(0, 800), got {value!r}")
    return value


def merge(parts: list[Synapses], n_neurons: int, *, n_channels: int = 1) -> Connectivity:
    """Sort the synapses of ``parts`` by presynaptic neuron into one :class:`Connectivity` over ``n_neurons``."""
    if not parts:
        empty = torch.zeros(0, dtype=torch.int64)
        return Connectivity(
            torch.zeros(n_neurons + 1, dtype=torch.int64),
            empty,
            empty.float(),
            empty,
            empty,
            n_neurons,
            n_neurons,
            n_channels,
        )
    pre = torch.cat([s.pre for s in parts])
    post = torch.cat([s.post for s in parts])
    for name, idx in (("pre", pre), ("post", post)):
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n_neurons):
            raise ValueError(
                f"{name}: neuron indices must lie in [0, {n_neurons}), got [{int(idx.min())}, {int(idx.max())}]"
            )
    channel = torch.cat([s.channel for s in parts])
    if channel.numel() and int(channel.max()) >= n_channels:
        raise ValueError(f"channel: the neuron model has {n_channels} channel(s), got index {int(channel.max())}")
    order = torch.argsort(pre, stable=True)
    counts = torch.bincount(pre, minlength=n_neurons)
    indptr = torch.zeros(n_neurons + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=indptr[1:])

    def sort(values: torch.Tensor) -> torch.Tensor:
        return values.index_select(0, order)  # several times faster than values[order] on large tables

    return Connectivity(
        indptr=indptr,
        post=sort(post),
        weight=sort(torch.cat([s.weight for s in parts])),
        delay=sort(torch.cat([s.delay for s in parts])),
        channel=sort(channel),
        n_pre=n_neurons,
        n_post=n_neurons,
        n_channels=n_channels,
    )


def check_dale(
    conn: Connectivity, excitatory: torch.Tensor, *, exc: tuple[int, int] = (0, 1), inh: tuple[int, int] = (0, -1)
) -> None:
    """Raise ``ValueError`` unless every synapse obeys Dale's law for its presynaptic neuron's type.

    Args:
        conn: the synapse table.
        excitatory: ``[n_pre]`` bool, True for excitatory neurons.
        exc: ``(channel, sign)`` every excitatory synapse must have: it feeds ``channel`` and its weight has the
            given sign (+1: weight >= 0, -1: weight <= 0). Default ``(0, +1)``.
        inh: the same for inhibitory synapses. Default ``(0, -1)`` (one signed channel, as in Brunel's network);
            a conductance-based network uses ``(1, +1)`` (the inhibitory channel carries the sign), a current-based
            one with two channels ``(1, -1)``.
    """

    def ok(spec: tuple[int, int]) -> torch.Tensor:
        channel, sign = spec
        return (conn.channel == channel) & (conn.weight * sign >= 0)

    exc_syn = excitatory[conn.pre]
    bad = torch.where(exc_syn, ~ok(exc), ~ok(inh))
    if bad.any():
        j = int(torch.nonzero(bad)[0])
        kind = "excitatory" if bool(exc_syn[j]) else "inhibitory"
        spec = exc if bool(exc_syn[j]) else inh
        raise ValueError(
            f"Dale's law: synapse {j} from {kind} neuron {int(conn.pre[j])} has weight "
            f"{float(conn.weight[j]):g} on channel {int(conn.channel[j])}; expected channel {spec[0]} "
            f"and weight {'>= 0' if spec[1] > 0 else '<= 0'}"
        )
