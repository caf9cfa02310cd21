r"""Single-source shortest paths computed by a wave of spikes through delayed synapses.

**The network.** One neuron per vertex and one synapse per arc :math:`u \to v`, whose transmission delay is the
arc's weight in whole time steps, :math:`d_{uv} = w_{uv}` (integer weights) or :math:`d_{uv} = \mathrm{round}(s\,
w_{uv})` (``scale`` :math:`s` steps per weight unit). Every neuron fires once, at the first step a spike reaches it,
and stays silent afterwards (its threshold is one input spike, its refractory period infinite). The source fires at
:math:`t = 0`. Then neuron :math:`v` first fires at

.. math::
    t_v = \min_{u \to v} \left( t_u + d_{uv} \right), \qquad t_{\mathrm{source}} = 0,

which is the Bellman equation of shortest paths: the first-spike time **is** the distance (in delay units), and the
synapse that delivered the first spike is the last arc of a shortest path, so the predecessors form a shortest-path
tree. Time does the work of Dijkstra's priority queue: spikes arrive in order of path length.

**The simulation** is event-driven over integer time, a calendar (bucket) queue: pending spikes in flight are arc
ids in a pool, written when their presynaptic neuron fires, grouped by delay, and a table of ``[L, D]`` runs
(:math:`L` = the largest delay + 1 time slots used as a ring, :math:`D` distinct delays) says which run of the pool
arrives at which future step. Each step :math:`t` that has spikes arriving:

1. *deliver*: read the runs of slot :math:`t \bmod L`; drop spikes whose target has already fired; of the rest, one
   spike per target (any one: all arrive at :math:`t`) makes it fire at :math:`t` and its arc is the predecessor;
2. *propagate*: gather the fan-out (CSR rows) of the neurons that fired, drop synapses onto neurons that have
   already fired (their spike could never be first), sort the rest by delay (a radix sort of the delay rank), append
   them to the pool and record each delay's run in slot :math:`(t + d) \bmod L`. Zero-delay synapses are delivered
   within step :math:`t` (a cascade inside the step);
3. jump to the next step with spikes arriving (empty steps are skipped).

All of it is vectorised numpy over the spikes of one step; nothing loops in Python per arc or per vertex.

**Cost.** Each neuron fires at most once, so each arc is gathered once and enters the pool at most once: :math:`O(m)`
event work plus :math:`O(D)` per active step for the calendar row, :math:`O(n + m + L D)` memory. The number of
active steps is at most the largest finite distance + 1 (in delay units): this is Dial's bucket algorithm with spikes
in the buckets, so it suits small integer weights (the neuromorphic hardware's delays) and slows down with the range
of distances, where Dijkstra (:math:`O(m + n \log n)`) does not. The operation count of a neuromorphic chip is
``spikes`` :math:`\times` fan-out (``synaptic_events``); a binary-heap Dijkstra relaxes the same arcs, but it pops
the :math:`n` vertices one after another, whereas the spikes of one time step are processed together.

**Exactness.** With integer weights the distances are exact. With ``scale`` :math:`s` each arc's delay is off by at
most :math:`\varepsilon = \max |s w - \mathrm{round}(s w)| \le 1/2` step, and the path found for :math:`v` (of
:math:`h'` arcs) is at most

.. math::
    \Delta_v = \varepsilon\, (h' + h^*) / s

longer than a true shortest path (of :math:`h^*` arcs: :math:`h^* \le n - 1`, and :math:`h^* \le \mathrm{dist}/
w_{\min}` when every weight is positive). Proof: with rounded length :math:`R(P)` and true length :math:`W(P)`,
:math:`|R(P) - s W(P)| \le \varepsilon h(P)`; the path found minimises :math:`R`, so :math:`s W(P') \le R(P') +
\varepsilon h' \le R(P^*) + \varepsilon h' \le s W(P^*) + \varepsilon (h^* + h')`. ``distance`` then reports the
true length (the sum of the original weights) of the path found, and ``max_excess`` the bound :math:`\Delta_v`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._graph import Graph, as_graph

__all__ = ["MAX_DELAY", "MAX_TABLE", "ShortestPaths", "shortest_paths"]

#: the largest synaptic delay (in steps) a run accepts; larger weights need a smaller ``scale``
MAX_DELAY = 2**20
#: the most cells of the calendar table, (largest delay + 1) x (number of distinct delays)
MAX_TABLE = 2**23


@dataclass(frozen=True, eq=False)
class ShortestPaths:
    """What :func:`shortest_paths` returns. Arrays are indexed by vertex index (``[n]``).

    Attributes:
        source, target: vertex indices (``target`` None when the run went on until no spike was left).
        distance: float64 shortest distance in the weights' units; ``inf`` for vertices no spike reached (unreachable,
            or not reached before the run stopped at ``target``). With ``scale``: the true length of the path found
            (at most ``max_excess`` longer than the shortest).
        steps: int64 first-spike time of each neuron in time steps (-1: never fired). Equals ``distance`` for integer
            weights.
        predecessor: int64 the vertex whose spike made each neuron fire first (-1 for the source and for vertices
            never reached): a shortest-path tree.
        max_excess: float64 bound on ``distance`` minus the true shortest distance (0 for integer weights, NaN where
            unreached).
        scale: steps per weight unit, or None (integer weights used as delays).
        complete: False when the run stopped at ``target`` (vertices farther than it were not searched).
        spikes: neurons that fired (vertices reached).
        synaptic_events: the neuromorphic operation count, ``spikes x fan-out``: the synapses of every neuron whose
            spike was propagated (the spikes of the step that reached ``target`` are not).
        events_delivered: spikes taken out of the queue (synapses onto neurons that had already fired when the spike
            was sent are never queued).
        active_steps: time steps that had spikes arriving (the calendar's non-empty buckets).
        time_steps: the time of the last spike (the network's latency).
    """

    source: int
    target: int | None
    distance: np.ndarray
    steps: np.ndarray
    predecessor: np.ndarray
    max_excess: np.ndarray
    scale: float | None
    complete: bool
    spikes: int
    synaptic_events: int
    events_delivered: int
    active_steps: int
    time_steps: int
    graph: Graph = field(repr=False)

    def path(self, vertex: Any) -> list:
        """The path the spikes took from the source to ``vertex`` (a shortest path), as vertex names (labels, or
        indices for a graph without labels); ``[]`` when no spike reached ``vertex``."""
        v = self.graph.vertex(vertex, name="vertex")
        if self.steps[v] < 0:
            return []
        out = [v]
        while out[-1] != self.source:
            out.append(int(self.predecessor[out[-1]]))
        return [self.graph.name(u) for u in reversed(out)]

    def to_dict(self, *, vertices: bool = True) -> dict[str, Any]:
        """A JSON-ready summary; with ``vertices``, the distance and predecessor of every reached vertex, keyed by
        name (``str`` of the label), and the path to ``target``."""
        g = self.graph
        out: dict[str, Any] = {
            "n_vertices": g.n_vertices,
            "n_arcs": g.n_arcs,
            "directed": g.directed,
            "source": _jsonable(g.name(self.source)),
            "target": None if self.target is None else _jsonable(g.name(self.target)),
            "scale": self.scale,
            "reached": self.spikes,
            "complete": self.complete,
            "time_steps": self.time_steps,
            "active_steps": self.active_steps,
            "spikes": self.spikes,
            "synaptic_events": self.synaptic_events,
            "events_delivered": self.events_delivered,
        }
        if self.target is not None:
            d = float(self.distance[self.target])
            out["distance_to_target"] = d if math.isfinite(d) else None
            out["path"] = [_jsonable(u) for u in self.path(g.name(self.target))]
        if self.scale is not None:
            excess = self.max_excess[self.steps >= 0]
            out["max_excess"] = float(excess.max()) if excess.size else 0.0
        if vertices:
            reached = np.flatnonzero(self.steps >= 0)
            names = [str(g.name(v)) for v in reached.tolist()]
            pred = self.predecessor[reached].tolist()
            out["distance"] = dict(zip(names, self.distance[reached].tolist()))
            out["predecessor"] = {name: None if p < 0 else str(g.name(p)) for name, p in zip(names, pred)}
        return out


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) or value is None else str(value)


def _delays(weight: np.ndarray, scale: float | None) -> tuple[np.ndarray, float]:
    """Integer delays (int32) from weights, and the largest rounding error in steps (0 when exact)."""
    top = float(weight.max()) * (1.0 if scale is None else scale) if weight.size else 0.0
    if top > MAX_DELAY:
        hint = f"pass scale <= {MAX_DELAY / float(weight.max()):.3g}" if scale is not None else "pass scale=S < 1"
        raise ValueError(
            f"graph: the largest weight is {top:g} steps as a delay, past the limit of {MAX_DELAY} steps (the spike "
            f"wave runs one time step per unit of distance); {hint} to coarsen the delays"
        )
    if scale is None:
        delay = weight.astype(np.int32)
        integral = delay == weight
        if not integral.all():
            i = int(np.flatnonzero(~integral)[0])
            raise ValueError(
                f"graph: weights are not all integers (arc {i} has weight {float(weight[i])!r}); a weight is a spike "
                "delay in whole time steps. Pass scale=S to use round(S x weight) steps per arc (the paths found are "
                "then at most ~ hops / S longer than the shortest, a bound reported as max_excess), e.g. scale=100"
            )
        return delay, 0.0
    scaled = weight * scale
    delay = np.rint(scaled).astype(np.int32)
    return delay, float(np.abs(scaled - delay).max()) if scaled.size else 0.0


def _ranks(delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct delays (ascending) and each arc's rank among them, in the smallest unsigned dtype (so that
    numpy's stable argsort is a radix sort)."""
    if delay.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint8)
    present = np.bincount(delay) > 0
    values = np.flatnonzero(present)
    rank_type = np.uint8 if values.size <= 256 else (np.uint16 if values.size <= 65536 else np.int64)
    lut = np.zeros(present.size, rank_type)
    lut[values] = np.arange(values.size)
    return values, lut[delay]


def _spike_wave(indptr: np.ndarray, indices: np.ndarray, delay: np.ndarray, source: int, target: int) -> dict:
    """The event-driven simulation (module docstring); ``target`` -1 runs until no spike is left."""
    n = indptr.size - 1
    m = indices.size
    itype = np.int32 if max(n, m) < 2**31 - 1 else np.int64
    values, rank = _ranks(delay)
    n_delays = values.size
    slots = int(values[-1]) + 1 if n_delays else 1
    if slots * n_delays > MAX_TABLE:
        raise ValueError(
            f"graph: {n_delays} distinct delays up to {slots - 1} steps need a calendar of {slots} x {n_delays} "
            f"cells, past the limit of {MAX_TABLE}; pass a smaller scale (fewer, shorter delays)"
        )
    zero_delay = bool(n_delays) and values[0] == 0
    every = np.arange(n_delays)
    row_start = indptr.astype(itype)
    row_end = row_start[1:]
    run_start = np.zeros((slots, n_delays), itype)  # [arrival slot, delay rank] -> run of the pool
    run_end = np.zeros((slots, n_delays), itype)
    arriving = np.zeros(slots, np.int64)  # spikes in flight per arrival slot
    pool = np.empty(m, itype)  # arc ids of the spikes in flight, each arc at most once
    filled = 0
    silent = np.ones(n, bool)  # not fired yet
    fire_time = np.full(n, -1, np.int64)
    pred_arc = np.full(n, -1, np.int64)
    mark = np.empty(n, itype)
    count = np.arange(max(n, m, 1), dtype=itype)
    in_flight = 0
    spikes = synaptic = delivered = active = 0
    batches: list[np.ndarray] = [np.array([source], dtype=itype)]
    fire = batches[0]
    silent[source] = False
    fire_time[source] = 0
    t = 0
    done = False

    def settle(arcs: np.ndarray) -> np.ndarray:
        """Fire, at ``t``, the silent targets of ``arcs`` (one arc each: its predecessor)."""
        nonlocal delivered
        delivered += arcs.size
        targets = indices[arcs]
        keep = silent[targets]
        arcs, targets = arcs[keep], targets[keep]
        k = targets.size
        if k == 0:
            return targets
        ids = count[:k]
        mark[targets] = ids  # one surviving write per target
        first = mark[targets] == ids
        fired = targets[first]
        pred_arc[fired] = arcs[first]
        silent[fired] = False
        fire_time[fired] = t
        batches.append(fired)
        return fired

    while True:
        sent: list[np.ndarray] = []  # the synapses to queue from step t (every wave of its zero-delay cascade)
        while fire.size:  # propagate the spikes of step t
            spikes += fire.size
            if target >= 0 and not silent[target]:
                done = True
                break
            if fire.size == 1:
                a, b = int(row_start[fire[0]]), int(row_end[fire[0]])
                total = b - a
            else:
                starts = row_start[fire]
                fan_out = row_end[fire] - starts
                ends = fan_out.cumsum()
                total = int(ends[-1])
            synaptic += total
            if spikes == n:  # every neuron has fired: the spikes in flight can only reach refractory ones
                break
            if fire.size == 1:
                arcs = count[a:b]
            else:
                arcs = (starts - (ends - fan_out)).repeat(fan_out)
                arcs += count[:total]
            if total:
                arcs = arcs[silent[indices[arcs]]]
            if not zero_delay:
                sent.append(arcs)
                break
            now = rank[arcs] == 0  # delay 0: delivered within step t, and those neurons propagate in turn
            sent.append(arcs[~now])
            fire = settle(arcs[now])
        arcs = sent[0] if len(sent) == 1 else np.concatenate(sent) if sent else count[:0]
        if arcs.size and not done and spikes < n:  # queue them, grouped by delay: one run per (arrival slot, delay)
            ranks = rank[arcs]
            arcs = arcs[ranks.argsort(kind="stable") if arcs.size > 4096 else ranks.argsort()]
            per_delay = np.bincount(ranks, minlength=n_delays)
            k = arcs.size
            pool[filled : filled + k] = arcs
            ends = per_delay.cumsum()
            ends += filled
            arrive = values + t  # every delay's cell, empty runs too: a cell's previous run was read long ago
            arrive %= slots
            run_start[arrive, every] = ends - per_delay
            run_end[arrive, every] = ends
            arriving[arrive] += per_delay
            filled += k
            in_flight += k
        if done or in_flight == 0 or spikes == n:
            break
        t += 1
        slot = t % slots
        if arriving[slot] == 0:
            pending = arriving.nonzero()[0]
            t += int(((pending - slot) % slots).min())
            slot = t % slots
        active += 1
        # deliver: the runs that arrive at t (one per delay that has spikes due now), read, then cleared
        lo, hi = run_start[slot], run_end[slot]
        used = (hi != lo).nonzero()[0]
        total = int(arriving[slot])
        arriving[slot] = 0
        in_flight -= total
        if used.size == 1:
            j = int(used[0])
            arcs = pool[lo[j] : hi[j]]
        elif used.size <= 16:  # a few runs: slicing beats the vectorised gather
            arcs = np.concatenate([pool[a:b] for a, b in zip(lo[used].tolist(), hi[used].tolist())])
        else:
            first, size = lo[used], hi[used] - lo[used]
            cum = size.cumsum()
            index = (first - (cum - size)).repeat(size)
            index += count[:total]
            arcs = pool[index]
        lo[:] = 0
        hi[:] = 0
        fire = settle(arcs)
    return {
        "fire_time": fire_time,
        "pred_arc": pred_arc,
        "batches": batches,
        "complete": not done,
        "spikes": spikes,
        "synaptic_events": synaptic,
        "events_delivered": delivered,
        "active_steps": active,
        "time_steps": int(fire_time.max()),
    }


def shortest_paths(
    graph: Any, source: Any, *, target: Any = None, scale: float | None = None, directed: bool | None = None
) -> ShortestPaths:
    """Distances and a shortest-path tree from ``source``, computed as first-spike times of a wave of spikes through
    synapses whose delays are the edge weights (module docstring: the network, the event-driven simulation, its
    cost and the error bound with ``scale``).

    Args:
        graph: a :class:`Graph`, a ``scipy.sparse`` adjacency matrix or a networkx graph (:func:`as_graph`).
        source: the start vertex: a label when the graph has labels, else an index.
        target: stop once this vertex has fired (its distance and path are then final, and so are those of every
            vertex that fired); None runs until no spike is left.
        scale: None takes the weights as delays and refuses non-integer ones; ``S > 0`` uses ``round(S x weight)``
            steps per arc (the paths found are then at most ``max_excess`` longer than the shortest).
        directed: for a ``scipy.sparse`` matrix, as in ``scipy.sparse.csgraph`` (default True); otherwise only
            confirms the graph's own direction.

    Self-loops never change a result (the synapse reaches a neuron that has just fired); zero weights are delivered
    within the same time step. Negative weights are refused when the graph is built.

    >>> from spikeforge.graph import Graph
    >>> g = Graph.from_edges([0, 0, 1, 2], [1, 2, 3, 3], [4, 1, 1, 5])
    >>> r = shortest_paths(g, 0)
    >>> r.distance.tolist(), r.predecessor.tolist(), r.path(3)
    ([0.0, 4.0, 1.0, 5.0], [-1, 0, 0, 1], [0, 1, 3])
    """
    g = as_graph(graph, directed=directed)
    s = g.vertex(source, name="source")
    tgt = None if target is None else g.vertex(target, name="target")
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
            raise ValueError(f"scale: expected a positive number of steps per weight unit, got {scale!r}")
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale: expected a positive finite number of steps per weight unit, got {scale!r}")
    delay, error = _delays(g.weight, scale)
    run = _spike_wave(g.indptr, g.indices, delay, s, -1 if tgt is None else tgt)
    fire_time, pred_arc = run["fire_time"], run["pred_arc"]
    n = g.n_vertices
    reached = fire_time >= 0
    predecessor = np.full(n, -1, np.int64)
    has_pred = pred_arc >= 0
    sources = np.repeat(np.arange(n, dtype=g.indices.dtype), np.diff(g.indptr))  # the presynaptic vertex per arc
    predecessor[has_pred] = sources[pred_arc[has_pred]]
    max_excess = np.where(reached, 0.0, np.nan)
    if scale is None:
        distance = np.where(reached, fire_time.astype(np.float64), np.inf)
    else:
        # the true length (original weights) and arc count of the path found, batch by batch in firing order
        distance = np.full(n, np.inf)
        hops = np.zeros(n, np.int64)
        distance[s] = 0.0
        for fired in run["batches"][1:]:
            before = predecessor[fired]
            distance[fired] = distance[before] + g.weight[pred_arc[fired]]
            hops[fired] = hops[before] + 1
        if error > 0:
            positive = g.weight[g.weight > 0]
            h_star = np.full(n, float(max(n - 1, 0)))
            if positive.size == g.weight.size and positive.size:
                h_star = np.minimum(h_star, np.floor(distance / positive.min() + 1e-9))
            max_excess[reached] = error * (hops[reached] + h_star[reached]) / scale
    return ShortestPaths(
        source=s,
        target=tgt,
        distance=distance,
        steps=fire_time,
        predecessor=predecessor,
        max_excess=max_excess,
        scale=scale,
        complete=run["complete"],
        spikes=run["spikes"],
        synaptic_events=run["synaptic_events"],
        events_delivered=run["events_delivered"],
        active_steps=run["active_steps"],
        time_steps=run["time_steps"],
        graph=g,
    )
