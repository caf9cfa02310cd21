"""Shortest paths by spikes (spikeforge.graph.shortest_paths) against scipy.sparse.csgraph.dijkstra.

    python benchmarks/graph_paths.py [--sizes 1e3,1e4,1e5,1e6] [--repeats 7] [--out FILE.json]

Graphs: random directed graphs with about 8 arcs per vertex and integer weights uniform in 1..100 (G(n, m) with
m arcs drawn uniformly, duplicates merged), and 4-neighbour grids with weights 1..10 (both arc directions), of about
the same number of arcs. One source (vertex 0), all vertices searched. Times are medians over --repeats calls,
spikeforge and scipy interleaved, each call the full public function (argument checks and result arrays included;
the graph built once beforehand for both). Distances are checked to agree exactly.

Operation counts: ``spikes x fan-out`` is what a neuromorphic chip would deliver (every synapse of every neuron
that fired); a binary-heap Dijkstra (counted by a plain-Python instrumented run) scans the same arcs, relaxes
(improves) fewer and pops the vertices one by one, where the spike wave needs one time step per unit of distance.

Results go to stdout (a markdown table); --out also writes them as JSON.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from _machine import cpu_model


def random_graph(m: int, degree: int, high: int, seed: int):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n = max(2, m // degree)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.integers(1, high + 1, m).astype(np.float64)
    keep = np.unique(src * n + dst, return_index=True)[1]  # one arc per ordered pair (scipy would sum duplicates)
    return sp.csr_array((w[keep], (src[keep], dst[keep])), shape=(n, n))


def grid_graph(m: int, high: int, seed: int):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    k = max(2, round((m / 4) ** 0.5))
    cell = np.arange(k * k).reshape(k, k)
    a = np.concatenate([cell[:, :-1].ravel(), cell[:-1, :].ravel()])
    b = np.concatenate([cell[:, 1:].ravel(), cell[1:, :].ravel()])
    w = rng.integers(1, high + 1, a.size).astype(np.float64)
    return sp.csr_array((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(k * k, k * k))


def dijkstra_counts(matrix, source: int) -> dict:
    """A plain binary-heap Dijkstra, counting arcs scanned, improving relaxations (heap pushes) and pops."""
    indptr, indices, data = matrix.indptr.tolist(), matrix.indices.tolist(), matrix.data.tolist()
    dist = [float("inf")] * matrix.shape[0]
    done = [False] * matrix.shape[0]
    dist[source] = 0.0
    heap = [(0.0, source)]
    scanned = improved = pops = 0
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        pops += 1
        for k in range(indptr[u], indptr[u + 1]):
            scanned += 1
            v, nd = indices[k], d + data[k]
            if nd < dist[v]:
                dist[v] = nd
                improved += 1
                heapq.heappush(heap, (nd, v))
    return {"arcs_scanned": scanned, "improving_relaxations": improved, "heap_pops": pops}


def measure(name: str, matrix, repeats: int) -> dict:
    from scipy.sparse.csgraph import dijkstra

    from spikeforge.graph import Graph, shortest_paths

    graph = Graph.from_scipy(matrix)
    result = shortest_paths(graph, 0)
    reference = dijkstra(matrix, directed=True, indices=0)
    if not np.array_equal(result.distance, reference):
        raise SystemExit(f"{name}: distances differ from scipy's dijkstra")
    ours, theirs = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        shortest_paths(graph, 0)
        t1 = time.perf_counter()
        dijkstra(matrix, directed=True, indices=0)
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    row = {
        "graph": name,
        "vertices": graph.n_vertices,
        "arcs": graph.n_arcs,
        "reached": result.spikes,
        "time_steps": result.time_steps,
        "active_steps": result.active_steps,
        "spikes": result.spikes,
        "spikes_x_fan_out": result.synaptic_events,
        "events_delivered": result.events_delivered,
        **dijkstra_counts(matrix, 0),
        "spikeforge_ms": 1e3 * statistics.median(ours),
        "scipy_ms": 1e3 * statistics.median(theirs),
    }
    row["ratio"] = row["spikeforge_ms"] / row["scipy_ms"]
    return row


def machine() -> dict:
    import scipy

    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": 1,  # numpy's and scipy's calls here are single-threaded
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def table(rows: list[dict]) -> str:
    head = (
        "| graph | vertices | arcs | time steps (active) | spikes | spikes x fan-out | Dijkstra arcs scanned / "
        "improving relaxations / pops | spikeforge ms | scipy ms | ratio |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['graph']} | {r['vertices']:,} | {r['arcs']:,} | {r['time_steps']:,} ({r['active_steps']:,}) | "
            f"{r['spikes']:,} | {r['spikes_x_fan_out']:,} | {r['arcs_scanned']:,} / {r['improving_relaxations']:,} / "
            f"{r['heap_pops']:,} | {r['spikeforge_ms']:.2f} | {r['scipy_ms']:.2f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="arc counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per graph (median)")
    parser.add_argument("--no-grid", action="store_true", help="random graphs only")
    parser.add_argument("--out", help="also write the rows and the machine as JSON")
    args = parser.parse_args()
    before = machine()
    rows = []
    for size in (int(float(s)) for s in args.sizes.split(",")):
        rows.append(measure("random, 8 arcs/vertex, w 1..100", random_graph(size, 8, 100, seed=size), args.repeats))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        if not args.no_grid:
            rows.append(measure("grid, 4-neighbour, w 1..10", grid_graph(size, 10, seed=size), args.repeats))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    info = {**before, "load_average_after": os.getloadavg(), "repeats": args.repeats}
    print()
    print(table(rows))
    print(
        f"\n{info['cpu']}, {info['logical_cpus']} logical CPUs, {info['threads']} thread, load average "
        f"{info['load_average'][0]:.2f} before / {info['load_average_after'][0]:.2f} after; numpy {info['numpy']}, "
        f"scipy {info['scipy']}, median of {args.repeats}"
    )
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
