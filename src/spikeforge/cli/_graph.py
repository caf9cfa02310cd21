"""`spikeforge graph shortest-path|random-walk EDGES.csv`: graph algorithms computed by spikes.

Examples::

    spikeforge graph shortest-path edges.csv --source a --target z
    spikeforge graph shortest-path roads.csv --source 0 --undirected --scale 10 --out paths.json
    spikeforge graph random-walk edges.csv --start a --steps 1000 --walkers 100 --seed 0 --json

EDGES.csv holds one edge per line, ``src,dst,weight`` (or ``src,dst``), with an optional header line; vertices are
named by their text (:func:`spikeforge.graph.read_edge_list`). Each command prints a summary; ``--json`` prints the
full result as JSON instead, ``--out FILE.json`` writes it (atomically: nothing is left at FILE.json on failure).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run_random_walk", "run_shortest_path"]

#: vertices listed in a summary
_SHOWN = 10


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``graph`` command (subcommands ``shortest-path`` and ``random-walk``) to an argparse ``subparsers``."""
    p = sub.add_parser(
        "graph",
        help="graph algorithms computed by spikes: shortest paths, random walks",
        description="Graph algorithms run as event-driven spiking networks (one neuron per vertex, one synapse per "
        "edge) on a CSV edge list src,dst,weight.",
    )
    algorithms = p.add_subparsers(dest="algorithm", metavar="ALGORITHM", required=True)

    sp = algorithms.add_parser(
        "shortest-path",
        help="distances and shortest paths from a source: first-spike times of a wave of delayed spikes",
        description="Single-source shortest paths: synapse delays are the edge weights (whole time steps, or "
        "round(scale x weight)), every neuron fires once at its first input spike, and its first-spike time is its "
        "distance from the source.",
    )
    _common(sp)
    sp.add_argument("--source", required=True, help="the start vertex (its name in EDGES.csv)")
    sp.add_argument("--target", help="stop once this vertex is reached, and print the path to it")
    sp.add_argument(
        "--scale",
        type=float,
        help="time steps per weight unit for non-integer weights: delays round(SCALE x weight); the error bound is "
        "reported (default: integer weights only)",
    )
    sp.set_defaults(func=run_shortest_path)

    rw = algorithms.add_parser(
        "random-walk",
        help="random walks: spikes passed on through one synapse drawn by weight; visit frequencies, hitting times",
        description="Random walks as wandering spikes: each step the neuron holding a walker's spike passes it on "
        "through one synapse drawn with probability weight / (sum of the row's weights). Visit frequencies estimate "
        "the stationary distribution; first visits give hitting times.",
    )
    _common(rw)
    rw.add_argument("--start", required=True, help="the start vertex of every walker (its name in EDGES.csv)")
    rw.add_argument("--steps", type=int, required=True, help="steps per walker")
    rw.add_argument("--walkers", type=int, default=1, help="independent walkers (default 1)")
    rw.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rw.add_argument("--burn-in", type=int, default=0, help="steps not counted in the visit frequencies (default 0)")
    rw.add_argument("--unweighted", action="store_true", help="draw each step's edge uniformly, ignoring weights")
    rw.add_argument(
        "--dead-end",
        choices=("stay", "error"),
        default="stay",
        help="a walker at a vertex without outgoing edges stays there (default) or stops the run with an error",
    )
    rw.set_defaults(func=run_random_walk)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("edges", metavar="EDGES.csv", help="edge list: src,dst,weight per line (header optional)")
    p.add_argument("--undirected", action="store_true", help="read every line as an undirected edge")
    p.add_argument("--out", metavar="FILE.json", help="write the full result (every vertex) as JSON")
    p.add_argument("--json", action="store_true", help="print the full result as JSON instead of the summary")


def _check_out(out: str | None) -> Path | None:
    """Refuse an unusable --out before any work is done."""
    if out is None:
        return None
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"--out: {path} is a directory; expected a file name such as result.json")
    return path


def _emit(args: argparse.Namespace, result: dict[str, Any], summary: list[str]) -> None:
    """Write ``--out`` atomically, then print the JSON (``--json``) or the summary."""
    from .._files import atomic_path

    path = _check_out(args.out)
    if path is not None:
        with atomic_path(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print("\n".join(summary))
        if path is not None:
            print(f"wrote {path}")


def _number(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else "unreachable"


def _route(path: list) -> str:
    names = [str(v) for v in path]
    if len(names) > 2 * _SHOWN:
        names = [*names[:_SHOWN], f"... ({len(path) - 2 * _SHOWN} more)", *names[-_SHOWN:]]
    return " -> ".join(names)


def run_shortest_path(args: argparse.Namespace) -> int:
    """``spikeforge graph shortest-path``: read the edges, run :func:`spikeforge.graph.shortest_paths`, report."""
    from ..graph import read_edge_list, shortest_paths

    _check_out(args.out)
    graph = read_edge_list(args.edges, directed=not args.undirected)
    result = shortest_paths(graph, args.source, target=args.target, scale=args.scale)
    data = {"command": "graph shortest-path", "edges": str(args.edges), **result.to_dict()}
    kind = "directed" if graph.directed else "undirected"
    lines = [
        f"shortest paths from {args.source!r} by spikes: {result.spikes} of {graph.n_vertices} vertices reached "
        f"({kind}, {graph.n_arcs} arcs{'' if result.complete else '; stopped at the target'})",
        f"  time steps {result.time_steps} (active {result.active_steps}), spikes {result.spikes}, synaptic events "
        f"(spikes x fan-out) {result.synaptic_events}",
    ]
    if result.scale is not None:
        excess = data.get("max_excess", 0.0)
        lines.append(
            f"  delays round({result.scale:g} x weight) steps: every path is at most {excess:.4g} longer than the "
            "shortest (bound)"
        )
    if result.target is not None:
        path = result.path(graph.name(result.target))
        d = float(result.distance[result.target])
        lines.append(
            f"  to {args.target!r}: distance {_number(d)}"
            + (f", path {_route(path)} ({len(path) - 1} edges)" if path else " (no path)")
        )
    else:
        reached = (result.steps >= 0).nonzero()[0]
        far = int(reached[result.distance[reached].argmax()])
        lines.append(f"  farthest: {graph.name(far)!r} at {_number(float(result.distance[far]))}")
        if graph.n_vertices - result.spikes:
            lines.append(f"  unreachable: {graph.n_vertices - result.spikes} vertices")
    _emit(args, data, lines)
    return 0


def run_random_walk(args: argparse.Namespace) -> int:
    """``spikeforge graph random-walk``: read the edges, run :func:`spikeforge.graph.random_walk`, report."""
    from ..graph import random_walk, read_edge_list

    _check_out(args.out)
    graph = read_edge_list(args.edges, directed=not args.undirected)
    result = random_walk(
        graph,
        args.start,
        args.steps,
        walkers=args.walkers,
        weighted=not args.unweighted,
        burn_in=args.burn_in,
        seed=args.seed,
        dead_end=args.dead_end,
    )
    data = {"command": "graph random-walk", "edges": str(args.edges), **result.to_dict()}
    visited = int((result.visits > 0).sum())
    lines = [
        f"random walks from {args.start!r}: {result.walkers} walkers x {result.steps} steps "
        f"({'weighted' if result.weighted else 'uniform'}, seed {result.seed}, burn-in {result.burn_in}): "
        f"{visited} of {graph.n_vertices} vertices visited, {result.spikes} spike transmissions",
        f"  {'vertex':>12}  {'frequency':>9}  {'visits':>9}  {'hitting time':>12}  {'reached':>7}",
    ]
    order = result.visits.argsort(kind="stable")[::-1][:_SHOWN]
    for v in order.tolist():
        if result.visits[v] == 0:
            break
        reached = int(result.reached[v])
        hit = f"{result.hitting_time[v]:.2f}" if reached else "-"
        lines.append(
            f"  {graph.name(v)!s:>12}  {result.frequency[v]:9.4f}  {int(result.visits[v]):9d}  {hit:>12}  {reached:>7}"
        )
    if visited > _SHOWN:
        lines.append(f"  ... {visited - _SHOWN} more vertices (--json or --out for all)")
    _emit(args, data, lines)
    return 0
