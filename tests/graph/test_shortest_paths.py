"""Shortest paths by spikes against scipy.sparse.csgraph.dijkstra (an independent implementation): exact distances on
random graphs of several densities, directed and undirected, with unreachable vertices, ties and zero weights, and on
grids with obstacles; every returned path a valid shortest path; the spike semantics against the simulator's own
delay buffer; the error bound of scaled non-integer weights; refused inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from spikeforge.graph import MAX_DELAY, Graph, shortest_paths

# (vertices, arcs per vertex) x direction x weight range x seed: 6 x 2 x 3 x 5 = 180 random graphs
SIZES = [(1, 0.0), (2, 1.0), (12, 0.6), (40, 1.5), (80, 4.0), (150, 12.0)]
WEIGHTS = [(1, 3), (1, 100), (0, 4)]  # many ties; few ties; zero weights (delivered within the step)
SEEDS = range(5)
CASES = list(itertools.product(SIZES, (True, False), WEIGHTS, SEEDS))
_seen = {"unreachable": 0, "ties": 0, "zero": 0, "graphs": 0}


def random_matrix(rng: np.random.Generator, n: int, per_vertex: float, low: int, high: int) -> sp.csr_array:
    """A random simple digraph (no duplicate entries, self-loops allowed) as a csr_array of integer weights."""
    m = round(n * per_vertex)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    keep = np.unique(src * n + dst, return_index=True)[1]
    w = rng.integers(low, high + 1, m).astype(np.float64)
    return sp.csr_array((w[keep], (src[keep], dst[keep])), shape=(n, n))


def arc_weight(matrix: sp.csr_array, u: int, v: int, directed: bool) -> float:
    """The weight of the lightest arc u -> v (u - v both ways for undirected), inf if none: explicit zeros count."""
    best = np.inf
    for a, b in [(u, v)] if directed else [(u, v), (v, u)]:
        row = slice(matrix.indptr[a], matrix.indptr[a + 1])
        hit = matrix.indices[row] == b
        if hit.any():
            best = min(best, float(matrix.data[row][hit].min()))
    return best


def check_tree(result, matrix: sp.csr_array, reference: np.ndarray, source: int, directed: bool) -> int:
    """Every reached vertex: its predecessor arc closes a shortest path, and path() is a valid shortest path of
    exactly the reference distance. Returns the number of vertices with more than one shortest predecessor (ties)."""
    ties = 0
    dense = matrix.toarray()
    present = sp.csr_array((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape).toarray() > 0
    if not directed:
        present = present | present.T
    for v in np.flatnonzero(np.isfinite(reference)):
        if v == source:
            assert result.predecessor[v] == -1
            assert result.path(v) == [source]
            continue
        p = int(result.predecessor[v])
        assert reference[p] + arc_weight(matrix, p, v, directed) == reference[v]
        path = result.path(int(v))
        assert path[0] == source and path[-1] == v
        assert sum(arc_weight(matrix, a, b, directed) for a, b in itertools.pairwise(path)) == reference[v]
        tight = [
            u
            for u in np.flatnonzero(present[:, v])
            if np.isfinite(reference[u]) and reference[u] + arc_weight(matrix, int(u), int(v), directed) == reference[v]
        ]
        ties += len(tight) > 1
    del dense
    return ties


@pytest.mark.parametrize(("size", "directed", "weights", "seed"), CASES)
def test_distances_and_paths_equal_dijkstra(size, directed, weights, seed):
    n, per_vertex = size
    rng = np.random.default_rng([n, seed, int(directed), *weights])
    matrix = random_matrix(rng, n, per_vertex, *weights)
    graph = Graph.from_scipy(matrix, directed=directed)
    for source in sorted({0, n // 2, n - 1}):
        reference = dijkstra(matrix, directed=directed, indices=source)
        result = shortest_paths(graph, source)
        np.testing.assert_array_equal(result.distance, reference)  # exact, inf for unreachable
        np.testing.assert_array_equal(result.steps, np.where(np.isfinite(reference), reference, -1))
        assert result.spikes == int(np.isfinite(reference).sum()) and result.complete
        fan_out = np.diff(graph.indptr)
        assert result.synaptic_events == int(fan_out[np.isfinite(reference)].sum())
        _seen["ties"] += check_tree(result, matrix, reference, source, directed)
        _seen["unreachable"] += int((~np.isfinite(reference)).sum())
    _seen["zero"] += int((matrix.data == 0).sum())
    _seen["graphs"] += 1


def test_the_random_graphs_cover_unreachable_vertices_ties_and_zero_weights():
    """Runs after the parametrized test (file order): the cases really exercised what they claim."""
    if _seen["graphs"] < len(CASES):
        pytest.skip("run together with test_distances_and_paths_equal_dijkstra")
    assert _seen["unreachable"] > 100 and _seen["ties"] > 100 and _seen["zero"] > 100


def grid_with_obstacles(rng: np.random.Generator, k: int, blocked: float, high: int) -> sp.csr_array:
    """A k x k 4-neighbour grid, a fraction of the cells blocked (no edge in or out), random weights 1..high."""
    cell = np.arange(k * k).reshape(k, k)
    open_ = rng.random((k, k)) >= blocked
    open_[0, :] = open_[:, 0] = True  # corridors from the source corner, so the search reaches the open cells
    pairs = [(cell[:, :-1], cell[:, 1:]), (cell[:-1, :], cell[1:, :])]
    src = np.concatenate([a.ravel() for a, _ in pairs])
    dst = np.concatenate([b.ravel() for _, b in pairs])
    keep = open_.ravel()[src] & open_.ravel()[dst]
    src, dst = src[keep], dst[keep]
    w = rng.integers(1, high + 1, src.size).astype(np.float64)
    return sp.csr_array((w, (src, dst)), shape=(k * k, k * k))  # one direction; undirected below


@pytest.mark.parametrize(("k", "blocked", "high", "seed"), [(30, 0.3, 9, 0), (60, 0.25, 1, 1), (45, 0.35, 20, 2)])
def test_grid_with_obstacles_equals_dijkstra(k, blocked, high, seed):
    rng = np.random.default_rng(seed)
    matrix = grid_with_obstacles(rng, k, blocked, high)
    graph = Graph.from_scipy(matrix, directed=False)
    reference = dijkstra(matrix, directed=False, indices=0)
    result = shortest_paths(graph, 0)
    np.testing.assert_array_equal(result.distance, reference)
    assert (~np.isfinite(reference)).sum() > 0  # the obstacles cut some cells off
    check_tree(result, matrix, reference, 0, directed=False)
    # stopping at the farthest reachable cell: its distance and path are final, farther cells are not searched
    target = int(np.flatnonzero(np.isfinite(reference))[np.argsort(reference[np.isfinite(reference)])[-5]])
    stopped = shortest_paths(graph, 0, target=target)
    assert stopped.distance[target] == reference[target] and not stopped.complete
    fired = stopped.steps >= 0
    np.testing.assert_array_equal(stopped.distance[fired], reference[fired])
    assert (reference[fired] <= reference[target]).all()
    assert fired.sum() < np.isfinite(reference).sum()
    path = stopped.path(target)
    assert sum(arc_weight(matrix, a, b, False) for a, b in itertools.pairwise(path)) == reference[target]


def test_target_stops_the_wave_at_its_step():
    rng = np.random.default_rng(7)
    matrix = random_matrix(rng, 300, 5.0, 1, 50)
    reference = dijkstra(matrix, indices=3)
    target = int(np.argsort(np.where(np.isfinite(reference), reference, -1))[-40])
    r = shortest_paths(matrix, 3, target=target)  # a scipy matrix directly
    assert r.target == target and r.distance[target] == reference[target]
    fired = r.steps >= 0
    assert (reference[fired] <= reference[target]).all()
    np.testing.assert_array_equal(r.distance[fired], reference[fired])
    assert np.isinf(r.distance[~fired]).all() and (reference[~fired] >= reference[target]).all()
    # the source as target stops at once
    same = shortest_paths(matrix, 3, target=3)
    assert same.spikes == 1 and same.synaptic_events == 0 and same.path(3) == [3]


def test_first_spike_times_equal_the_simulators_delay_buffer():
    """The same network run clock-driven through spikeforge.sim.DelayBuffer (the library's delay convention: sent at
    t, delivered at t + d), each neuron firing once at its first input: identical first-spike times."""
    import torch

    from spikeforge.sim import DelayBuffer
    from spikeforge.sim._connectivity import Synapses, merge

    rng = np.random.default_rng(3)
    n = 60
    matrix = random_matrix(rng, n, 3.0, 1, 6)
    coo = matrix.tocoo()
    syn = Synapses(
        torch.as_tensor(coo.row, dtype=torch.int64),
        torch.as_tensor(coo.col, dtype=torch.int64),
        torch.ones(coo.nnz),
        torch.as_tensor(coo.data, dtype=torch.int64),
        torch.zeros(coo.nnz, dtype=torch.int64),
    )
    buf = DelayBuffer(merge([syn], n))
    first = torch.full((n,), -1, dtype=torch.int64)
    first[0] = 0
    buf.push(torch.tensor([0]), step=0)
    for t in range(1, 6 * n + 1):
        arrived = buf.pop(t)[0] > 0
        new = arrived & (first < 0)
        first[new] = t
        buf.push(new.nonzero().flatten(), step=t)
    result = shortest_paths(Graph.from_scipy(matrix), 0)
    np.testing.assert_array_equal(result.steps, first.numpy())


def test_parallel_edges_and_self_loops():
    """A spike takes the fastest of parallel synapses; a self-synapse reaches a neuron that has fired (no effect)."""
    src = [0, 0, 0, 1, 1, 2, 2]
    dst = [1, 1, 0, 2, 1, 2, 3]
    w = [5, 2, 1, 3, 0, 7, 1]
    r = shortest_paths(Graph.from_edges(src, dst, w), 0)
    assert r.distance.tolist() == [0.0, 2.0, 5.0, 6.0]
    assert r.path(3) == [0, 1, 2, 3]
    assert r.synaptic_events == 7  # every synapse of the 4 neurons, self-loops included
    without = Graph.from_edges([0, 0, 1, 2], [1, 1, 2, 3], [5, 2, 3, 1])
    assert shortest_paths(without, 0).distance.tolist() == r.distance.tolist()


def test_zero_weights_cascade_within_a_step():
    g = Graph.from_edges([0, 1, 2, 0, 3], [1, 2, 3, 3, 4], [0, 0, 0, 5, 2])
    r = shortest_paths(g, 0)
    assert r.distance.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0]
    assert r.path(4) == [0, 1, 2, 3, 4]
    # step 0 cascades through the zero delays; at step 2 the last neuron fires, so the spike 0 -> 3 still in flight
    # (due at 5, for a neuron that fired at 0) is never simulated
    assert r.active_steps == 1 and r.synaptic_events == 5
    r2 = shortest_paths(Graph.from_edges([0, 1, 2, 0, 3, 5], [1, 2, 3, 3, 4, 0], [0, 0, 0, 5, 2, 1]), 0)
    assert r2.active_steps == 2 and r2.steps.tolist() == [0, 0, 0, 0, 2, -1]  # 5 is unreachable: the run goes on
    all_zero = Graph.from_edges([0, 1], [1, 2], [0, 0])
    assert shortest_paths(all_zero, 0).distance.tolist() == [0.0, 0.0, 0.0]


def test_graph_without_edges_and_isolated_vertices():
    g = Graph.from_edges([], [], n=4)
    r = shortest_paths(g, 2)
    assert r.distance.tolist() == [np.inf, np.inf, 0.0, np.inf] and r.spikes == 1 and r.path(0) == []
    assert r.to_dict()["distance"] == {"2": 0.0}


def test_large_delays_skip_empty_steps():
    """Time steps without arrivals are skipped: a path of 4 arcs of weight 10^5 costs 4 active steps."""
    g = Graph.from_edges([0, 1, 2, 3, 0], [1, 2, 3, 4, 4], [100_000, 100_000, 100_000, 100_000, 450_000])
    r = shortest_paths(g, 0)
    assert r.distance[4] == 400_000 and r.active_steps <= 6 and r.time_steps == 400_000


@pytest.mark.parametrize("seed", range(6))
def test_scaled_non_integer_weights_stay_within_the_bound(seed):
    rng = np.random.default_rng(seed)
    n = 120
    m = 700
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = np.unique(src * n + dst, return_index=True)[1]
    w = rng.uniform(0.05, 3.0, m)[keep]
    matrix = sp.csr_array((w, (src[keep], dst[keep])), shape=(n, n))
    reference = dijkstra(matrix, indices=0)
    for scale in (1.0, 4.0, 50.0):
        r = shortest_paths(Graph.from_scipy(matrix), 0, scale=scale)
        reached = np.isfinite(reference)
        np.testing.assert_array_equal(r.steps >= 0, reached)
        d, ref, bound = r.distance[reached], reference[reached], r.max_excess[reached]
        assert (d >= ref - 1e-9).all()  # a real path: never shorter than the shortest
        assert (d - ref <= bound + 1e-9).all()
        for v in np.flatnonzero(reached)[:30]:  # distance is the true length of the path returned
            path = r.path(int(v))
            length = sum(arc_weight(matrix, a, b, True) for a, b in itertools.pairwise(path))
            assert length == pytest.approx(r.distance[v], abs=1e-9)
        if scale == 50.0:
            assert np.abs(d - ref).max() < 0.05  # fine delays: nearly exact
    exact = shortest_paths(Graph.from_edges([0, 1], [1, 2], [0.5, 1.5]), 0, scale=2)
    assert exact.distance.tolist() == [0.0, 0.5, 2.0] and exact.max_excess.tolist() == [0.0, 0.0, 0.0]


def test_networkx_input():
    nx = pytest.importorskip("networkx")
    G = nx.gnm_random_graph(80, 300, seed=4, directed=True)
    rng = np.random.default_rng(0)
    for u, v in G.edges():
        G[u][v]["weight"] = int(rng.integers(1, 20))
    r = shortest_paths(G, 0)
    lengths = nx.single_source_dijkstra_path_length(G, 0)
    assert {v: r.distance[v] for v in lengths} == {v: float(d) for v, d in lengths.items()}
    named = nx.relabel_nodes(G, {v: f"v{v}" for v in G.nodes})
    rn = shortest_paths(named, "v0", target="v5")
    assert rn.path("v5")[0] == "v0" and rn.distance[rn.target] == r.distance[5]
    undirected = nx.Graph([("a", "b", {"weight": 2}), ("b", "c", {"weight": 2}), ("a", "c", {"weight": 5})])
    ru = shortest_paths(undirected, "c")
    assert ru.path("a") == ["c", "b", "a"] and ru.distance.tolist() == [4.0, 2.0, 0.0]


# ----------------------------------------------------------------------------------------------- refused inputs


def test_non_integer_weights_without_scale_are_refused():
    with pytest.raises(ValueError, match=r"not all integers \(arc 1 has weight 0.5\).*scale=S"):
        shortest_paths(Graph.from_edges([0, 1], [1, 2], [1, 0.5]), 0)


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_bad_scale_is_refused(scale):
    with pytest.raises(ValueError, match="scale: expected a positive"):
        shortest_paths(Graph.from_edges([0], [1], [1.5]), 0, scale=scale)


def test_delays_past_the_limit_are_refused_with_the_scale_to_use():
    g = Graph.from_edges([0], [1], [3 * MAX_DELAY])
    with pytest.raises(ValueError, match=r"past the limit of .* steps.*scale=S < 1"):
        shortest_paths(g, 0)
    assert shortest_paths(g, 0, scale=0.001).distance[1] == 3 * MAX_DELAY
    spread = Graph.from_edges(np.zeros(5000, int), np.arange(1, 5001), np.arange(1, 5001) * 37)
    with pytest.raises(ValueError, match=r"calendar of .* cells, past the limit"):
        shortest_paths(spread, 0)


def test_source_and_target_not_in_the_graph():
    g = Graph.from_edges([0, 1], [1, 2], [1, 1])
    with pytest.raises(ValueError, match=r"source: expected a vertex index in \[0, 3\), got 7"):
        shortest_paths(g, 7)
    with pytest.raises(ValueError, match="target: expected a vertex index"):
        shortest_paths(g, 0, target="a")
    with pytest.raises(ValueError, match="source: the graph is empty"):
        shortest_paths(Graph.from_edges([], []), 0)
    with pytest.raises(ValueError, match=r"graph: expected a spikeforge\.graph\.Graph, a scipy\.sparse matrix"):
        shortest_paths(np.eye(3), 0)
