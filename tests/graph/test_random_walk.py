"""Random walks by spikes against linear algebra: visit frequencies within a stated total-variation distance of the
stationary distribution (solved with scipy.linalg, or the closed form of undirected graphs), mean hitting times within
a stated number of standard errors of the exact expectation (a linear solve, with its variance from the second
moment), and the walk's rules (weights, dead ends, seeds)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from spikeforge.graph import MAX_VISIT_BITS, Graph, random_walk

#: the stated bound: TV(visit frequency, stationary) over walkers x (steps - burn_in) = 400 x 2950 samples, n = 25
#: vertices (measured 0.0010-0.0017 over the seeds below: a margin of 3x)
TV_BOUND = 0.005


def strongly_connected(rng: np.random.Generator, n: int, extra: int) -> sp.csr_array:
    """A ring (strongly connected) plus random chords and a few self-loops (aperiodic), weights in [0.5, 3]."""
    src = np.concatenate([np.arange(n), rng.integers(0, n, extra), [0, 3]])
    dst = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, extra), [0, 3]])
    w = rng.uniform(0.5, 3.0, src.size)
    return sp.csr_array((w, (src, dst)), shape=(n, n))  # duplicates summed: the chain's W


def transition(matrix: sp.csr_array, weighted: bool = True) -> np.ndarray:
    dense = matrix.toarray() if weighted else (matrix.toarray() > 0).astype(float)
    return dense / dense.sum(axis=1, keepdims=True)


def stationary(P: np.ndarray) -> np.ndarray:
    """pi P = pi, sum(pi) = 1: one equation of (P^T - I) pi = 0 replaced by the normalisation."""
    n = P.shape[0]
    A = P.T - np.eye(n)
    A[-1] = 1.0
    b = np.zeros(n)
    b[-1] = 1.0
    return scipy.linalg.solve(A, b)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("weighted", [True, False])
def test_visit_frequency_converges_to_the_stationary_distribution(seed, weighted):
    rng = np.random.default_rng(seed)
    matrix = strongly_connected(rng, 25, 40)
    pi = stationary(transition(matrix, weighted))
    graph = Graph.from_edges(*matrix.tocoo().coords, matrix.tocoo().data, n=25)
    r = random_walk(graph, 0, 3000, walkers=400, burn_in=50, seed=seed, weighted=weighted)
    tv = 0.5 * np.abs(r.frequency - pi).sum()
    assert tv < TV_BOUND, tv
    assert r.total_variation(pi) == pytest.approx(tv)
    assert r.visits.sum() == 400 * 2950 and r.frequency.sum() == pytest.approx(1.0)


def test_undirected_walk_visits_in_proportion_to_weighted_degree():
    """Closed form: on an undirected connected non-bipartite graph, pi_v = (weighted degree of v) / (2 x total)."""
    rng = np.random.default_rng(11)
    n = 30
    src = np.concatenate([np.arange(n), rng.integers(0, n, 50)])
    dst = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, 50)])
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = rng.uniform(0.2, 2.0, src.size)
    g = Graph.from_edges(src, dst, w, n=n, directed=False)
    strength = np.bincount(src, w, n) + np.bincount(dst, w, n)
    r = random_walk(g, 5, 3000, walkers=400, burn_in=50, seed=3)
    assert r.total_variation(strength / strength.sum()) < TV_BOUND


def exact_hitting(P: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of T_v = min{k >= 0: X_k = v} from ``start``, for every v, by linear solves:
    (I - Q) h = 1 and (I - Q) m2 = 1 + 2 Q h, Q = P without v's row and column."""
    n = P.shape[0]
    mean, std = np.zeros(n), np.zeros(n)
    for v in range(n):
        if v == start:
            continue
        rest = [u for u in range(n) if u != v]
        Q = P[np.ix_(rest, rest)]
        A = np.eye(n - 1) - Q
        h = scipy.linalg.solve(A, np.ones(n - 1))
        m2 = scipy.linalg.solve(A, 1 + 2 * Q @ h)
        i = rest.index(start)
        mean[v], std[v] = h[i], np.sqrt(m2[i] - h[i] ** 2)
    return mean, std


def test_hitting_times_match_the_exact_expectation():
    rng = np.random.default_rng(5)
    matrix = strongly_connected(rng, 8, 6)
    P = transition(matrix)
    mean, std = exact_hitting(P, 2)
    g = Graph.from_scipy(matrix)
    walkers = 4000
    r = random_walk(g, 2, 3000, walkers=walkers, seed=9)
    assert (r.reached == walkers).all()  # 3000 steps: every walker reached every vertex (no truncation bias)
    assert r.hitting_time[2] == 0.0
    z = np.abs(r.hitting_time - mean) / np.where(std > 0, std / np.sqrt(walkers), 1)
    assert z.max() < 4.5, (r.hitting_time, mean)


def test_weights_choose_the_synapse_and_zero_weights_are_never_taken():
    g = Graph.from_edges([0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0], [1.0, 3.0, 0.0, 1.0, 1.0, 1.0])
    r = random_walk(g, 0, 2000, walkers=200, seed=0)
    assert r.visits[3] == 0 and r.reached[3] == 0 and np.isnan(r.hitting_time[3])
    # stationary: 0 half the time, then 1 w.p. 1/4, 2 w.p. 3/4
    assert r.total_variation([0.5, 0.125, 0.375, 0.0]) < 0.01
    uniform = random_walk(g, 0, 2000, walkers=200, seed=0, weighted=False)
    assert uniform.total_variation([0.5, 1 / 6, 1 / 6, 1 / 6]) < 0.01


def test_dead_ends_stay_or_raise():
    chain = Graph.from_edges([0, 1], [1, 2])
    r = random_walk(chain, 0, 10, walkers=3, seed=0)
    assert r.visits.tolist() == [0, 3, 27] and r.final.tolist() == [2, 2, 2]
    assert r.hitting_time.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="walker 0 reached vertex 2 at step 2, which has no outgoing arc"):
        random_walk(chain, 0, 10, seed=0, dead_end="error")
    with pytest.raises(ValueError, match="start: vertex 2 is a dead end"):
        random_walk(chain, 2, 10, dead_end="error")
    zero_row = Graph.from_edges([0, 1], [1, 0], [1.0, 0.0])  # vertex 1 has an arc, but of weight 0
    assert random_walk(zero_row, 0, 5, seed=0).final.tolist() == [1]
    assert random_walk(zero_row, 0, 4, seed=0, weighted=False).visits.tolist() == [2, 2]
    lonely = Graph.from_edges([], [], n=2)
    assert random_walk(lonely, 1, 4).visits.tolist() == [0, 4]


def test_seeds_reproduce_and_differ():
    rng = np.random.default_rng(0)
    g = Graph.from_scipy(strongly_connected(rng, 20, 30))
    a = random_walk(g, 0, 300, walkers=50, seed=7)
    b = random_walk(g, 0, 300, walkers=50, seed=7)
    c = random_walk(g, 0, 300, walkers=50, seed=8)
    assert np.array_equal(a.visits, b.visits) and np.array_equal(a.final, b.final)
    assert np.array_equal(a.hitting_time, b.hitting_time, equal_nan=True)
    assert not np.array_equal(a.visits, c.visits)
    d = random_walk(g, 0, 300, walkers=50, seed=np.random.default_rng(7), hitting_times=False)
    assert np.array_equal(a.visits, d.visits) and d.hitting_time is None and d.seed is None
    assert d.to_dict()["visits"] == a.to_dict()["visits"]


def test_burn_in_counts_only_the_later_steps():
    ring = Graph.from_edges([0, 1, 2], [1, 2, 0])
    r = random_walk(ring, 0, 7, walkers=2, burn_in=3, seed=0)  # steps 4..7 visit 1, 2, 0, 1
    assert r.visits.tolist() == [2, 4, 2] and r.frequency.tolist() == [0.25, 0.5, 0.25]


def test_networkx_and_labels():
    nx = pytest.importorskip("networkx")
    G = nx.cycle_graph(["a", "b", "c", "d"])
    r = random_walk(G, "a", 1000, walkers=20, seed=1)
    assert r.total_variation([0.25] * 4) < 0.05
    data = r.to_dict()
    assert data["start"] == "a" and set(data["visits"]) == {"a", "b", "c", "d"}
    assert data["hitting_time"]["a"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps: expected an integer >= 1, got 0"),
        ({"steps": 2.5}, "steps: expected an integer >= 1, got 2.5"),
        ({"walkers": 0}, "walkers: expected an integer >= 1, got 0"),
        ({"burn_in": 10}, "burn_in: expected fewer than steps=10 steps, got 10"),
        ({"seed": -1}, "seed: expected an integer >= 0, got -1"),
        ({"dead_end": "bounce"}, r"dead_end: expected one of \['stay', 'error'\], got 'bounce'"),
        ({"start": 9}, r"start: expected a vertex index in \[0, 3\), got 9"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, message):
    ring = Graph.from_edges([0, 1, 2], [1, 2, 0])
    args = {"start": 0, "steps": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        random_walk(ring, args.pop("start"), args.pop("steps"), **args)


def test_first_visit_record_past_the_limit_is_refused():
    big = Graph.from_edges([], [], n=2**20)
    walkers = MAX_VISIT_BITS // 2**20 + 1
    with pytest.raises(ValueError, match=r"first-visit bits, past the limit.*hitting_times=False"):
        random_walk(big, 0, 1, walkers=walkers)
    assert random_walk(big, 0, 1, walkers=walkers, hitting_times=False).visits[0] == walkers
    with pytest.raises(ValueError, match="start: the graph is empty"):
        random_walk(Graph.from_edges([], []), 0, 1)
