"""`spikeforge graph shortest-path|random-walk EDGES.csv`: summaries, --json, --out (atomic), and errors that name the
line, the vertex or the argument (exit status 2, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from spikeforge.cli import main

EDGES = "src,dst,weight\na,b,4\na,c,1\nc,b,2\nb,d,1\nc,d,5\nd,e,3\nz,a,1\n"


@pytest.fixture
def edges(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text(EDGES)
    return path


def test_shortest_path_summary_and_json_file(edges, tmp_path, capsys):
    out = tmp_path / "res" / "paths.json"
    assert main(["graph", "shortest-path", str(edges), "--source", "a", "--target", "e", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "shortest paths from 'a' by spikes" in text and "to 'e': distance 7" in text
    assert "path a -> c -> b -> d -> e (4 edges)" in text and f"wrote {out}" in text
    data = json.loads(out.read_text())
    assert data["command"] == "graph shortest-path" and data["source"] == "a" and data["target"] == "e"
    assert data["distance_to_target"] == 7.0 and data["path"] == ["a", "c", "b", "d", "e"]
    assert data["distance"] == {"a": 0.0, "b": 3.0, "c": 1.0, "d": 4.0, "e": 7.0}
    assert data["predecessor"]["b"] == "c" and data["predecessor"]["a"] is None
    assert data["spikes"] == 5 and data["synaptic_events"] == 6  # e's spike is not propagated: the run stops
    assert [p.name for p in out.parent.iterdir()] == ["paths.json"]  # no temporary file left


def test_shortest_path_json_to_stdout_matches_scipy(edges, capsys):
    assert main(["graph", "shortest-path", str(edges), "--source", "z", "--json", "--undirected"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = ["a", "b", "c", "d", "e", "z"]
    index = {name: i for i, name in enumerate(names)}
    rows = [line.split(",") for line in EDGES.splitlines()[1:]]
    src = [index[r[0]] for r in rows]
    dst = [index[r[1]] for r in rows]
    matrix = sp.csr_array(([float(r[2]) for r in rows], (src, dst)), shape=(6, 6))
    reference = dijkstra(matrix, directed=False, indices=index["z"])
    assert data["distance"] == {name: reference[i] for name, i in index.items()}
    assert data["directed"] is False and data["complete"] is True


def test_shortest_path_summary_without_target_and_unreachable(edges, capsys):
    assert main(["graph", "shortest-path", str(edges), "--source", "b"]) == 0
    text = capsys.readouterr().out
    assert "3 of 6 vertices reached" in text and "farthest: 'e' at 4" in text and "unreachable: 3 vertices" in text


def test_shortest_path_with_scale(tmp_path, capsys):
    path = tmp_path / "f.csv"
    path.write_text("0,1,0.25\n1,2,0.5\n0,2,0.8\n")
    assert main(["graph", "shortest-path", str(path), "--source", "0", "--scale", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 4 steps per unit: 0 -> 2 takes round(3.2) = 3 steps, as 0 -> 1 -> 2 (1 + 2): either is found, within the bound
    assert data["scale"] == 4.0 and data["max_excess"] == pytest.approx((1 + 2) * 0.2 / 4)
    assert 0.75 <= data["distance"]["2"] <= 0.75 + data["max_excess"]


def test_random_walk_summary_and_json(edges, tmp_path, capsys):
    out = tmp_path / "walk.json"
    argv = ["graph", "random-walk", str(edges), "--start", "a", "--steps", "50", "--walkers", "20", "--seed", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "random walks from 'a': 20 walkers x 50 steps (weighted, seed 3, burn-in 0)" in text
    assert "hitting time" in text and f"wrote {out}" in text
    data = json.loads(out.read_text())
    assert data["visits"]["e"] == 20 * 50 - sum(v for k, v in data["visits"].items() if k != "e")
    assert data["hitting_time"]["a"] == 0.0 and "z" not in data["visits"]  # e is a dead end: walkers stay there
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == data  # the same seed, the same result


def test_random_walk_dead_end_error_and_unweighted(edges, capsys):
    argv = ["graph", "random-walk", str(edges), "--start", "a", "--steps", "50"]
    assert main([*argv, "--dead-end", "error"]) == 2
    assert "reached vertex 'e' at step" in capsys.readouterr().err
    assert main([*argv, "--unweighted", "--json", "--walkers", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["weighted"] is False


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        ("a,b,1\nb,c\n", ["--source", "a"], "line 2: expected 3 fields"),
        ("a,b,1\nb,c,-1\n", ["--source", "a"], "line 2: weight -1 is negative"),
        ("a,b,1\n", ["--source", "q"], "source: 'q' is not a vertex of the graph (2 vertices: 'a', 'b')"),
        ("a,b,1\n", ["--source", "a", "--target", "q"], "target: 'q' is not a vertex"),
        ("src,dst,weight\n", ["--source", "a"], "source: the graph is empty"),
        ("a,b,1.5\n", ["--source", "a"], "weights are not all integers"),
        ("a,b,1\n", ["--source", "a", "--scale", "-2"], "scale: expected a positive"),
        ("a,a,1\n", ["--source", "a", "--target", "a"], None),  # a self-loop: documented, no effect
    ],
)
def test_shortest_path_errors_exit_2_and_write_nothing(tmp_path, capsys, text, argv, message):
    path = tmp_path / "e.csv"
    path.write_text(text)
    out = tmp_path / "out.json"
    status = main(["graph", "shortest-path", str(path), *argv, "--out", str(out)])
    if message is None:
        assert status == 0 and json.loads(out.read_text())["distance"] == {"a": 0.0}
        return
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeforge graph: error: ") and message in err
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "a", "--steps", "0"], "steps: expected an integer >= 1, got 0"),
        (["--start", "a", "--steps", "5", "--walkers", "0"], "walkers: expected an integer >= 1, got 0"),
        (["--start", "a", "--steps", "5", "--burn-in", "5"], "burn_in: expected fewer than steps=5"),
        (["--start", "a", "--steps", "5", "--seed", "-3"], "seed: expected an integer >= 0, got -3"),
        (["--start", "nope", "--steps", "5"], "start: 'nope' is not a vertex"),
    ],
)
def test_random_walk_errors(edges, capsys, argv, message):
    assert main(["graph", "random-walk", str(edges), *argv]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_and_out_directory(edges, tmp_path, capsys):
    assert main(["graph", "shortest-path", str(tmp_path / "none.csv"), "--source", "a"]) == 2
    assert "none.csv not found" in capsys.readouterr().err
    assert main(["graph", "shortest-path", str(edges), "--source", "a", "--out", str(tmp_path)]) == 2
    assert "--out: " in capsys.readouterr().err


def test_a_failed_write_leaves_no_file(edges, tmp_path, monkeypatch, capsys):
    out = tmp_path / "paths.json"
    out.write_text("old")

    def boom(*args, **kwargs):
        raise ValueError("disk full")

    monkeypatch.setattr(json, "dumps", boom)
    assert main(["graph", "shortest-path", str(edges), "--source", "a", "--out", str(out)]) == 2
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["edges.csv", "paths.json"]


def test_large_csv_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n, m = 2000, 12000
    src, dst, w = rng.integers(0, n, m), rng.integers(0, n, m), rng.integers(1, 30, m)
    path = tmp_path / "big.csv"
    path.write_text("".join(f"v{a},v{b},{c}\n" for a, b, c in zip(src, dst, w)))
    assert main(["graph", "shortest-path", str(path), "--source", f"v{src[0]}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    best: dict[tuple[int, int], float] = {}  # parallel lines: the spike takes the lightest (scipy would sum them)
    for a, b, c in zip(src.tolist(), dst.tolist(), w.tolist()):
        best[a, b] = min(best.get((a, b), np.inf), c)
    keys = np.array(list(best))
    matrix = sp.csr_array((np.array(list(best.values()), float), (keys[:, 0], keys[:, 1])), shape=(n, n))
    reference = dijkstra(matrix, indices=int(src[0]))
    got = {int(k[1:]): v for k, v in data["distance"].items()}
    assert got == {i: reference[i] for i in np.flatnonzero(np.isfinite(reference)).tolist()}
