r"""Random walks and Markov-chain sampling with stochastic spiking neurons.

**The network.** One neuron per vertex, one synapse per arc. A walker is one spike in flight: at every time step the
neuron that holds it passes it on through exactly **one** of its synapses, drawn with probability

.. math::
    P_{uv} = \frac{w_{uv}}{\sum_x w_{ux}} \quad (\text{or } 1/\deg u \text{ with } \texttt{weighted=False}),

a stochastic winner-take-all over the neuron's fan-out (parallel arcs add up; a self-loop keeps the spike in place). The spike's position :math:`X_k` after
:math:`k` steps is then the Markov chain with transition matrix :math:`P` started at ``start``; ``walkers``
independent spikes run side by side, vectorised over the walkers (one ``searchsorted`` per step into the per-row
cumulative weights, offset by the row index so one sorted array serves every row).

**What is counted.** ``visits[v]`` is the spike count of neuron :math:`v` over steps ``burn_in + 1 .. steps`` summed
over walkers, and ``frequency = visits / (walkers x (steps - burn_in))``. For an irreducible aperiodic chain the
frequency converges to the stationary distribution :math:`\pi` (:math:`\pi P = \pi`, :math:`\sum \pi = 1`); the
``burn_in`` steps drop the start's transient. ``hitting_time[v]`` is the first-spike time of neuron :math:`v`,
:math:`T_v = \min\{k \ge 0 : X_k = v\}` (so :math:`T_{start} = 0`), averaged over the walkers that reached :math:`v`
within ``steps`` (``reached[v]`` of them; the mean is biased low when some did not, NaN when none did).

**Dead ends** (no outgoing arc, or all of weight 0): ``dead_end="stay"`` keeps the spike there (an absorbing state: it
keeps being counted at that vertex), ``"error"`` raises when a walker arrives at one.

**Cost.** :math:`O(\text{steps} \times \text{walkers} \times \log m)` in vectorised numpy (one pass per step), and
``walkers x n`` bits for the first-visit record (``hitting_times=True``). Probabilities are resolved to about
:math:`n \cdot 2^{-52}` (the row index and the cumulative fraction share one float64).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._graph import Graph, as_graph
from ._paths import _jsonable

__all__ = ["MAX_VISIT_BITS", "RandomWalks", "random_walk"]

#: the largest first-visit record (walkers x vertices bits, 256 MiB) ``hitting_times=True`` accepts
MAX_VISIT_BITS = 2**31
_DEAD_ENDS = ("stay", "error")


@dataclass(frozen=True, eq=False)
class RandomWalks:
    """What :func:`random_walk` returns. Arrays ``[n]`` are indexed by vertex index.

    Attributes:
        start: the start vertex index; steps, walkers, burn_in, weighted, seed: the arguments.
        visits: int64 spike count per neuron over steps ``burn_in + 1 .. steps``, all walkers.
        frequency: float64 ``visits / (walkers x (steps - burn_in))``: the empirical distribution.
        hitting_time: float64 mean first-visit step over the walkers that reached each vertex (0 at ``start``, NaN
            where none did); None with ``hitting_times=False``.
        reached: int64 walkers that reached each vertex within ``steps``; None with ``hitting_times=False``.
        final: int64 ``[walkers]`` vertex of each walker after the last step.
        spikes: ``walkers x steps`` spike transmissions (one synapse each, against a fan-out of synapses per spike
            for a neuron that broadcasts).
    """

    start: int
    steps: int
    walkers: int
    burn_in: int
    weighted: bool
    seed: int | None
    visits: np.ndarray
    frequency: np.ndarray
    hitting_time: np.ndarray | None
    reached: np.ndarray | None
    final: np.ndarray
    spikes: int
    graph: Graph = field(repr=False)

    def total_variation(self, p: Any) -> float:
        """Total-variation distance :math:`\\frac12 \\sum_v |f_v - p_v|` between ``frequency`` and a distribution
        ``p`` ``[n]`` (e.g. the stationary one)."""
        p = np.asarray(p, dtype=np.float64)
        if p.shape != self.frequency.shape:
            raise ValueError(f"p: expected a distribution over {self.frequency.size} vertices, got shape {p.shape}")
        return float(0.5 * np.abs(self.frequency - p).sum())

    def to_dict(self, *, vertices: bool = True) -> dict[str, Any]:
        """A JSON-ready summary; with ``vertices``, visits, frequency, hitting time and reach of every vertex that
        some walker reached, keyed by name (``str`` of the label)."""
        g = self.graph
        out: dict[str, Any] = {
            "n_vertices": g.n_vertices,
            "n_arcs": g.n_arcs,
            "directed": g.directed,
            "start": _jsonable(g.name(self.start)),
            "steps": self.steps,
            "walkers": self.walkers,
            "burn_in": self.burn_in,
            "weighted": self.weighted,
            "seed": self.seed,
            "spikes": self.spikes,
            "vertices_visited": int((self.visits > 0).sum()),
        }
        if vertices:
            seen = self.visits > 0 if self.reached is None else (self.visits > 0) | (self.reached > 0)
            idx = np.flatnonzero(seen).tolist()
            names = [str(g.name(v)) for v in idx]
            out["visits"] = dict(zip(names, self.visits[idx].tolist()))
            out["frequency"] = dict(zip(names, self.frequency[idx].tolist()))
            if self.reached is not None and self.hitting_time is not None:
                hit = [None if r == 0 else h for h, r in zip(self.hitting_time[idx].tolist(), self.reached[idx])]
                out["hitting_time"] = dict(zip(names, hit))
                out["reached"] = dict(zip(names, self.reached[idx].tolist()))
        return out


def _count(value: Any, name: str, *, low: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}") from None
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value}")
    return value


def random_walk(
    graph: Any,
    start: Any,
    steps: int,
    *,
    walkers: int = 1,
    weighted: bool = True,
    burn_in: int = 0,
    seed: int | np.random.Generator | None = None,
    hitting_times: bool = True,
    dead_end: str = "stay",
    directed: bool | None = None,
) -> RandomWalks:
    """Run ``walkers`` random walks of ``steps`` steps from ``start``, each a spike that every neuron passes on through
    one synapse drawn by its weight (module docstring: the chain, what is counted, dead ends, cost).

    Args:
        graph: a :class:`Graph`, a ``scipy.sparse`` adjacency matrix or a networkx graph (:func:`as_graph`).
        start: the start vertex (a label when the graph has labels, else an index).
        steps: transitions per walker (>= 1).
        walkers: independent walkers (>= 1).
        weighted: True draws arcs with probability proportional to their weight, False uniformly over the arcs.
        burn_in: steps not counted in ``visits`` (0 <= burn_in < steps); hitting times count from step 0.
        seed: an int (reproducible), a ``numpy.random.Generator``, or None (fresh entropy).
        hitting_times: False skips the first-visit record (``walkers x n`` bits).
        dead_end: ``"stay"`` or ``"error"`` (module docstring).
        directed: for a ``scipy.sparse`` matrix, as in ``scipy.sparse.csgraph``; otherwise only confirms.

    >>> from spikeforge.graph import Graph
    >>> ring = Graph.from_edges([0, 1, 2], [1, 2, 0])
    >>> r = random_walk(ring, 0, 6, walkers=2, seed=0)
    >>> r.visits.tolist(), r.hitting_time.tolist(), r.final.tolist()
    ([4, 4, 4], [0.0, 1.0, 2.0], [0, 0])
    """
    g = as_graph(graph, directed=directed)
    s = g.vertex(start, name="start")
    steps = _count(steps, "steps", low=1)
    walkers = _count(walkers, "walkers", low=1)
    burn_in = _count(burn_in, "burn_in", low=0)
    if burn_in >= steps:
        raise ValueError(f"burn_in: expected fewer than steps={steps} steps, got {burn_in}")
    if dead_end not in _DEAD_ENDS:
        raise ValueError(f"dead_end: expected one of {list(_DEAD_ENDS)}, got {dead_end!r}")
    n, m = g.n_vertices, g.n_arcs
    if hitting_times and walkers * n > MAX_VISIT_BITS:
        raise ValueError(
            f"walkers: {walkers} walkers x {n} vertices = {walkers * n:,} first-visit bits, past the limit of "
            f"{MAX_VISIT_BITS:,}; use fewer walkers (and more steps) or hitting_times=False"
        )
    if isinstance(seed, np.random.Generator):
        rng, seed_out = seed, None
    elif seed is None:
        rng, seed_out = np.random.default_rng(), None
    else:
        seed_out = _count(seed, "seed", low=0)
        rng = np.random.default_rng(seed_out)

    degree = g.out_degree()
    row = g.sources()
    row_start = g.indptr[:-1]
    if weighted:
        w = g.weight
        cum = np.cumsum(w)
        before = np.concatenate([[0.0], cum])[row_start]  # cumulative weight before each row
        total = np.zeros(n)
        nonempty = degree > 0
        total[nonempty] = cum[g.indptr[1:][nonempty] - 1] - before[nonempty]
        live = total > 0
        frac = np.zeros(m)
        ok = live[row]
        frac[ok] = (cum[ok] - before[row[ok]]) / total[row[ok]]  # the last arc of a row: exactly 1
        key = row + frac  # non-decreasing: row r's keys lie in [r, r + 1]
        last = np.full(n, -1, np.int64)  # the last arc of positive weight in each row (a rounding guard)
        positive = np.flatnonzero(w > 0)
        np.maximum.at(last, row[positive], positive)
    else:
        live = degree > 0
        last = g.indptr[1:] - 1
    dead = ~live
    targets = g.indices.astype(np.int64)
    any_dead = bool(dead.any())
    if dead_end == "error" and dead[s]:
        raise ValueError(f"start: vertex {g.name(s)!r} is a dead end (no outgoing arc of positive weight)")

    pos = np.full(walkers, s, np.int64)
    visits = np.zeros(n, np.int64)
    if hitting_times:
        bits = np.zeros((walkers * n + 7) // 8, np.uint8)
        base = np.arange(walkers, dtype=np.int64) * n
        first_sum = np.zeros(n, np.float64)
        reached = np.zeros(n, np.int64)
        key0 = base + s
        np.bitwise_or.at(bits, key0 >> 3, (1 << (key0 & 7)).astype(np.uint8))
        reached[s] = walkers
    block = max(1, min(steps, (1 << 20) // walkers))
    record = np.empty((block, walkers), np.int64)
    step = 0
    while step < steps:
        rows = min(block, steps - step)
        draws = rng.random((rows, walkers))
        for i in range(rows):
            step += 1
            u = draws[i]
            if weighted:
                arc = key.searchsorted(pos + u, side="right")
            else:
                arc = row_start[pos] + (u * degree[pos]).astype(np.int64)
            np.minimum(arc, last[pos], out=arc)
            if any_dead:
                stuck = dead[pos]
                nxt = targets[np.where(stuck, 0, arc)] if m else pos
                nxt = np.where(stuck, pos, nxt)
            else:
                nxt = targets[arc]
            if dead_end == "error" and any_dead:
                arrived = dead[nxt]
                if arrived.any():
                    who = int(np.flatnonzero(arrived)[0])
                    raise ValueError(
                        f"dead_end='error': walker {who} reached vertex {g.name(int(nxt[who]))!r} at step {step}, "
                        "which has no outgoing arc of positive weight (dead_end='stay' keeps it there)"
                    )
            pos = nxt
            record[i] = pos
            if hitting_times:
                code = base + pos
                byte = code >> 3
                bit = (1 << (code & 7)).astype(np.uint8)
                new = (bits[byte] & bit) == 0
                if new.any():
                    np.bitwise_or.at(bits, byte[new], bit[new])
                    fresh = pos[new]
                    np.add.at(first_sum, fresh, float(step))
                    np.add.at(reached, fresh, 1)
        counted = record[max(0, burn_in - (step - rows)) : rows]
        if counted.size:
            visits += np.bincount(counted.ravel(), minlength=n)
    hitting = None
    if hitting_times:
        with np.errstate(invalid="ignore", divide="ignore"):
            hitting = np.where(reached > 0, first_sum / np.maximum(reached, 1), np.nan)
    return RandomWalks(
        start=s,
        steps=steps,
        walkers=walkers,
        burn_in=burn_in,
        weighted=bool(weighted),
        seed=seed_out,
        visits=visits,
        frequency=visits / float(walkers * (steps - burn_in)),
        hitting_time=hitting,
        reached=reached if hitting_times else None,
        final=pos.copy(),
        spikes=walkers * steps,
        graph=g,
    )
