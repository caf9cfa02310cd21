"""Graph inputs: CSV edge lists (header, comments, quoting, every malformed line named by its number), arrays,
scipy.sparse matrices (csgraph's reading of explicit zeros, duplicates and directed=False), networkx graphs, and the
refusals (negative weights with the reason, vertices not in the graph, empty graphs)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from spikeforge.graph import Graph, as_graph, read_edge_list, shortest_paths


def write(tmp_path, text: str, name: str = "edges.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_header_comments_and_blank_lines(tmp_path):
    path = write(tmp_path, '# a road map\nsrc,dst,weight\n\na,b,2\n b , c ,3\n"x,y",a,1\n# end\n')
    g = read_edge_list(path)
    assert g.labels == ("a", "b", "c", "x,y") and g.n_arcs == 3 and g.directed
    r = shortest_paths(g, "x,y")
    assert r.path("c") == ["x,y", "a", "b", "c"] and r.distance[g.vertex("c")] == 6.0


@pytest.mark.parametrize("header", ["", "source,target\n", "from,to\n", "SRC,DST\n"])
def test_csv_two_columns_means_weight_one(tmp_path, header):
    g = read_edge_list(write(tmp_path, header + "1,2\n2,3\n1,3\n"))
    assert g.weight.tolist() == [1.0, 1.0, 1.0] and g.labels == ("1", "2", "3")
    assert shortest_paths(g, 1).distance.tolist() == [0.0, 1.0, 1.0]  # an int finds the label "1"


def test_csv_header_detected_by_a_non_numeric_weight_and_bom(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes("\ufeffstart,end,cost\n0,1,5\n".encode())
    g = read_edge_list(path, directed=False)
    assert g.labels == ("0", "1") and g.n_arcs == 2 and not g.directed


def test_csv_without_edges_is_the_empty_graph(tmp_path):
    g = read_edge_list(write(tmp_path, "src,dst,weight\n# nothing\n"))
    assert g.n_vertices == 0
    with pytest.raises(ValueError, match="source: the graph is empty"):
        shortest_paths(g, "a")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,1\nb,c\n", r"line 2: expected 3 fields \(src,dst,weight, as the first line\), got 2: 'b,c'"),
        ("a,b\nb,c,4\n", r"line 2: expected 2 fields \(src,dst, as the first line\), got 3"),
        ("src,dst,weight\na,b,1\n\nb,c,x\n", r"line 4: weight 'x' is not a number"),
        ("a,b,1\nb,c,-2\n", r"line 2: weight -2 is negative; expected weights >= 0 .*Bellman-Ford"),
        ("a,b,nan\n", r"line 1: weight 'nan' is not finite"),
        ("a,b,1\nb,c,inf\n", r"line 2: weight 'inf' is not finite"),
        ("a,b,1\n,c,1\n", r"line 2: empty vertex name"),
        ("a,b,1,7\n", r"line 1: expected src,dst,weight or src,dst, got 4 fields"),
        ("a\n", r"line 1: expected src,dst,weight or src,dst, got 1 fields"),
        ('a,b,1\n"b,c,1\n', r"line 3: not valid CSV|line 2: expected 3 fields"),
    ],
)
def test_malformed_csv_lines_are_named_by_number(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as err:
        read_edge_list(path)
    assert str(path) in str(err.value)


def test_csv_missing_file_directory_and_binary(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"edge list: .*nope\.csv not found"):
        read_edge_list(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="it is a directory"):
        read_edge_list(tmp_path)
    path = tmp_path / "bin.csv"
    path.write_bytes(b"a,b,1\n\xff\xfe,c,2\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_edge_list(path)


def test_from_edges_validation():
    with pytest.raises(ValueError, match="src, dst: expected the same number of edges, got 2 and 1"):
        Graph.from_edges([0, 1], [1])
    with pytest.raises(ValueError, match=r"src, dst: expected vertex indices in \[0, 2\), got 5"):
        Graph.from_edges([0, 1], [1, 5], n=2)
    with pytest.raises(ValueError, match=r"src, dst: expected vertex indices in \[0, 3\), got -1"):
        Graph.from_edges([0, -1], [1, 2])
    with pytest.raises(ValueError, match=r"src: expected integer vertex indices, got 0\.5 at position 1"):
        Graph.from_edges([0, 0.5], [1, 2])
    with pytest.raises(ValueError, match=r"weight: expected 2 weights \(one per edge\), got shape \(3,\)"):
        Graph.from_edges([0, 1], [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match=r"edge 1 \(1 -> 2\) has negative weight -3.0; expected weights >= 0"):
        Graph.from_edges([0, 1], [1, 2], [1, -3])
    with pytest.raises(ValueError, match="Bellman-Ford"):
        Graph.from_edges([0, 1], [1, 2], [1, -3])
    with pytest.raises(ValueError, match=r"edge 0 \(0 -> 1\) has weight inf; expected a finite number"):
        Graph.from_edges([0], [1], [np.inf])
    with pytest.raises(ValueError, match="src: expected a 1-D sequence"):
        Graph.from_edges([[0, 1]], [[1, 2]])


def test_graph_is_read_only_and_does_not_alias_the_callers_arrays():
    torch = pytest.importorskip("torch")
    src, dst, w = np.array([0, 1]), np.array([1, 2]), np.array([1.0, 2.0])
    g = Graph.from_edges(src, dst, w)
    w[0] = 99.0
    assert g.weight.tolist() == [1.0, 2.0] and w.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        g.weight[0] = 5.0
    t = Graph.from_edges(torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([1.0, 2.0]))
    assert t.indices.tolist() == [1, 2] and repr(t) == "Graph(directed, 3 vertices, 2 arcs)"


def test_scipy_reads_as_csgraph_does():
    # explicit zero = edge of weight 0, duplicates summed, directed=False takes the smaller of [i, j] and [j, i]
    entries = (np.array([0, 1, 1, 2, 3]), np.array([1, 2, 2, 1, 0]))
    coo = sp.coo_array((np.array([0.0, 2.0, 3.0, 9.0, 4.0]), entries), shape=(4, 4))
    m = sp.csr_array((np.array([0.0, 5.0, 9.0, 4.0]), (np.array([0, 1, 2, 3]), np.array([1, 2, 1, 0]))), shape=(4, 4))
    for directed in (True, False):
        g = Graph.from_scipy(coo, directed=directed)
        for s in range(4):
            np.testing.assert_array_equal(shortest_paths(g, s).distance, dijkstra(m, directed=directed, indices=s))
    undirected = Graph.from_scipy(coo, directed=False)  # 3 edges: 0-1 (0), 1-2 (min(2 + 3, 9)), 0-3 (4)
    assert undirected.n_arcs == 6 and sorted(undirected.weight.tolist()) == [0.0, 0.0, 4.0, 4.0, 5.0, 5.0]
    with pytest.raises(ValueError, match=r"matrix: expected a square adjacency matrix, got shape \(2, 3\)"):
        Graph.from_scipy(sp.csr_array(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"matrix: edge 0 .* negative weight -1\.0"):
        Graph.from_scipy(sp.csr_array(np.array([[0.0, -1.0], [0.0, 0.0]])))
    original = sp.csr_array((np.array([1.0, 1.0]), np.array([1, 1]), np.array([0, 2, 2])), shape=(2, 2))
    assert Graph.from_scipy(original).weight.tolist() == [2.0]  # duplicates summed...
    assert original.nnz == 2  # ...in a copy: the caller's matrix is left alone


def test_as_graph_direction_and_types():
    g = Graph.from_edges([0], [1])
    assert as_graph(g) is g and as_graph(g, directed=True) is g
    with pytest.raises(ValueError, match="directed: the graph is already directed; got directed=False"):
        as_graph(g, directed=False)
    assert not as_graph(sp.csr_array(np.array([[0, 1], [0, 0]])), directed=False).directed
    with pytest.raises(ValueError, match="got list"):
        as_graph([[0, 1]])


def test_networkx_conversion():
    nx = pytest.importorskip("networkx")
    G = nx.MultiDiGraph()
    G.add_edge("a", "b", cost=3)
    G.add_edge("a", "b", cost=1)
    G.add_edge("b", "c")
    G.add_node("lonely")
    g = Graph.from_networkx(G, weight="cost")
    assert g.labels == ("a", "b", "lonely", "c") or g.labels == ("a", "b", "c", "lonely")
    assert g.n_arcs == 3 and sorted(g.weight.tolist()) == [1.0, 1.0, 3.0]
    r = shortest_paths(G, "a")
    assert r.distance[g.vertex("c")] == 2.0 and np.isinf(r.distance[g.vertex("lonely")])  # weight attribute default
    assert Graph.from_networkx(G, weight=None).weight.tolist() == [1.0, 1.0, 1.0]
    bad = nx.DiGraph([(0, 1, {"weight": "heavy"})])
    with pytest.raises(ValueError, match="graph: edge 0 -> 1 has weight='heavy'; expected a number"):
        Graph.from_networkx(bad)
    neg = nx.Graph([(0, 1, {"weight": -1})])
    with pytest.raises(ValueError, match="negative weight"):
        shortest_paths(neg, 0)
    with pytest.raises(ValueError, match=r"source: 'z' is not a vertex of the graph \(4 vertices: 'a', 'b'"):
        shortest_paths(G, "z")
    with pytest.raises(ValueError, match="source: the graph is empty"):
        shortest_paths(nx.Graph(), 0)


def test_vertex_lookup_rules():
    plain = Graph.from_edges([0], [1])
    assert plain.vertex(np.int64(1)) == 1 and plain.name(1) == 1
    for bad in ("1", 1.0, True):
        with pytest.raises(ValueError, match=r"vertex: expected a vertex index \(an int in \[0, 2\)\)"):
            plain.vertex(bad)
    named = Graph.from_edges([0], [1], labels=["7", "x"])
    assert named.vertex("7") == 0 and named.vertex(7) == 0 and named.vertex("x") == 1
    with pytest.raises(ValueError, match=r"vertex: 1 is not a vertex of the graph \(2 vertices: '7', 'x'\)"):
        named.vertex(1)
    with pytest.raises(ValueError, match="vertex: \\[1\\] is not a vertex"):
        named.vertex([1])
    with pytest.raises(ValueError, match="labels: expected 3 vertex names, got 2"):
        Graph.from_edges([0], [2], labels=["a", "b"], n=3)
