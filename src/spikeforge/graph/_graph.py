r"""Weighted graphs as synapse tables: compressed sparse rows of outgoing edges, read from an edge list (CSV), a
``scipy.sparse`` adjacency matrix or a networkx graph.

A :class:`Graph` with :math:`n` vertices and :math:`m` arcs is the connectivity of a network of :math:`n` neurons: the
arcs of vertex :math:`u` are the synapses of neuron :math:`u`, stored by source (CSR), so propagating a spike is a
gather of its row. ``indptr`` ``[n + 1]`` (int64), ``indices`` ``[m]`` (int32, or int64 past :math:`2^{31}`
vertices) and ``weight`` ``[m]`` (float64, finite and :math:`\ge 0`); the arcs of vertex ``u`` are
``indptr[u]:indptr[u + 1]``, in input order. An undirected graph stores each edge as two arcs (a self-loop once).
Parallel arcs and self-loops are kept: a spike takes the fastest of parallel synapses, a random walk picks among
them by weight, and a self-synapse reaches a neuron that has just fired (see the algorithms for what that means).

Negative weights are refused here, for every algorithm: a spike cannot arrive before it is sent, and transition
probabilities cannot be negative (shortest paths with negative weights need Bellman-Ford,
``scipy.sparse.csgraph.bellman_ford``).

Vertices have names. A graph built from arrays or a ``scipy.sparse`` matrix has none: vertex ``i`` is the integer
``i``. A graph read from a CSV file or a networkx graph keeps ``labels`` (the file's strings, the networkx nodes), and
the algorithms then take and return those labels; an ``int`` also finds the string label of the same text, so vertex
``3`` of a file is ``3`` or ``"3"``.
"""

from __future__ import annotations

import csv
import math
import operator
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Graph", "as_graph", "read_edge_list"]

#: accepted header lines of an edge list (lower case): the first two fields
_HEADERS = {("src", "dst"), ("source", "target"), ("from", "to"), ("u", "v")}


def _index_dtype(n: int) -> type:
    return np.int32 if n < 2**31 - 1 else np.int64


def _ints(values: Any, name: str) -> np.ndarray:
    """A 1-D int64 array from ``values`` (numpy, torch, lists), refusing non-integers by name."""
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of vertex indices, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name}: expected integer vertex indices, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: expected integer vertex indices, got {arr[i].item()!r} at position {i}")
    return arr.astype(np.int64)


def _check_weights(weight: np.ndarray, src: np.ndarray, dst: np.ndarray, where: str) -> None:
    """Refuse NaN, infinite and negative weights, naming the first offending edge and the reason."""
    bad = ~np.isfinite(weight)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: edge {i} ({int(src[i])} -> {int(dst[i])}) has weight {float(weight[i])!r}; expected a finite number "
            "(leave a missing edge out instead of giving it an infinite weight)"
        )
    neg = weight < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(
            f"{where}: edge {i} ({int(src[i])} -> {int(dst[i])}) has negative weight {float(weight[i])!r}; expected "
            "weights >= 0: a weight is a spike's delay, and a spike cannot arrive before it is sent (random walks "
            "need non-negative transition weights too). Shortest paths with negative weights need Bellman-Ford "
            "(scipy.sparse.csgraph.bellman_ford)"
        )


@dataclass(frozen=True, eq=False)
class Graph:
    """A weighted graph stored by source vertex (CSR), read-only.

    Build one with :meth:`from_edges`, :meth:`from_scipy`, :meth:`from_networkx` or :func:`read_edge_list`; the
    algorithms also accept a ``scipy.sparse`` matrix or a networkx graph directly (:func:`as_graph`).

    Attributes:
        indptr: ``[n + 1]`` int64 row pointers: the arcs of vertex ``u`` are ``indptr[u]:indptr[u + 1]``.
        indices: ``[m]`` target vertex of each arc (int32, int64 for :math:`2^{31}` vertices or more).
        weight: ``[m]`` float64 arc weights, finite and :math:`\\ge 0`.
        directed: False when every edge was stored as two arcs.
        labels: the vertex names (a tuple of length ``n``) or None (vertex ``i`` is ``i``).

    >>> g = Graph.from_edges([0, 0, 1], [1, 2, 2], [4.0, 1.0, 2.0])
    >>> g.n_vertices, g.n_arcs, g.out_degree().tolist()
    (3, 3, [2, 1, 0])
    >>> Graph.from_edges([0], [1], directed=False).n_arcs  # an undirected edge is two arcs
    2
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    directed: bool = True
    labels: tuple | None = None
    _lookup: dict = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        indptr = np.asarray(self.indptr)
        n = indptr.size - 1
        if indptr.ndim != 1 or n < 0 or indptr[0] != 0 or (n and bool((np.diff(indptr) < 0).any())):
            raise ValueError("indptr: expected a non-decreasing 1-D int array starting at 0 (CSR row pointers)")
        m = int(indptr[-1])
        if np.shape(self.indices) != (m,) or np.shape(self.weight) != (m,):
            raise ValueError(
                f"indices, weight: expected {m} entries each (indptr[-1]), got {np.shape(self.indices)} and "
                f"{np.shape(self.weight)}"
            )
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"labels: expected {n} vertex names, got {len(self.labels)}")
        indices = np.asarray(self.indices).astype(_index_dtype(n), copy=False)
        if m and (int(indices.min()) < 0 or int(indices.max()) >= n):
            raise ValueError(f"indices: expected target vertices in [0, {n}), got values outside")
        weight = np.asarray(self.weight, dtype=np.float64)
        if m and not (np.isfinite(weight).all() and weight.min() >= 0):
            _check_weights(weight, np.repeat(np.arange(n), np.diff(indptr)), indices, "weight")
        for name, value in (("indptr", indptr.astype(np.int64, copy=False)), ("indices", indices), ("weight", weight)):
            value = value.copy() if value is getattr(self, name) else value  # never alias (or freeze) the caller's
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_edges(
        cls,
        src: Any,
        dst: Any,
        weight: Any = None,
        *,
        n: int | None = None,
        directed: bool = True,
        labels: Sequence | None = None,
    ) -> Graph:
        """A graph from parallel arrays of edges ``src[k] -> dst[k]`` with ``weight[k]`` (default 1).

        Args:
            src, dst: ``[E]`` vertex indices in ``[0, n)`` (numpy, torch or lists of ints).
            weight: ``[E]`` finite weights ``>= 0``, or None for 1 each.
            n: the number of vertices (default ``max(src, dst) + 1``; 0 for no edges). Vertices without edges are
                isolated.
            directed: False stores each edge in both directions (a self-loop once).
            labels: optional vertex names, one per vertex.
        """
        src = _ints(src, "src")
        dst = _ints(dst, "dst")
        if src.size != dst.size:
            raise ValueError(f"src, dst: expected the same number of edges, got {src.size} and {dst.size}")
        if weight is None:
            w = np.ones(src.size, np.float64)
        else:
            if hasattr(weight, "detach"):
                weight = weight.detach().cpu().numpy()
            try:
                w = np.asarray(weight, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"weight: expected numbers, got {np.asarray(weight).dtype}") from None
            if w.shape != src.shape:
                raise ValueError(f"weight: expected {src.size} weights (one per edge), got shape {w.shape}")
        top = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
        if n is None:
            n = top if labels is None else len(labels)
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n: expected a number of vertices >= 0, got {n}")
        low = int(min(src.min(initial=0), dst.min(initial=0)))
        if low < 0 or top > n:
            bad = low if low < 0 else top - 1
            raise ValueError(f"src, dst: expected vertex indices in [0, {n}), got {bad}")
        _check_weights(w, src, dst, "weight")
        if not directed:
            back = src != dst
            src, dst, w = (
                np.concatenate([src, dst[back]]),
                np.concatenate([dst, src[back]]),
                np.concatenate([w, w[back]]),
            )
        order = np.argsort(src, kind="stable")
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return cls(indptr, dst[order], w[order], directed=directed, labels=None if labels is None else tuple(labels))

    @classmethod
    def from_scipy(cls, matrix: Any, *, directed: bool = True) -> Graph:
        """A graph from a square ``scipy.sparse`` adjacency matrix: stored entry ``[i, j]`` is an edge ``i -> j``.

        As ``scipy.sparse.csgraph`` reads it: explicit zeros are edges of weight 0 and duplicate entries are summed
        (the matrix's value). ``directed=False`` makes every stored entry an undirected edge; where both ``[i, j]``
        and ``[j, i]`` are stored, the edge takes the smaller value, as ``csgraph``'s ``directed=False`` does.
        """
        import scipy.sparse

        if not scipy.sparse.issparse(matrix):
            raise ValueError(f"matrix: expected a scipy.sparse matrix or array, got {type(matrix).__name__}")
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix: expected a square adjacency matrix, got shape {matrix.shape}")
        csr = scipy.sparse.csr_array(matrix, copy=True)
        csr.sum_duplicates()
        n = csr.shape[0]
        if not np.issubdtype(csr.dtype, np.number) or np.issubdtype(csr.dtype, np.complexfloating):
            raise ValueError(f"matrix: expected real weights, got dtype {csr.dtype}")
        coo = csr.tocoo()
        src, dst, w = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)
        _check_weights(w, src, dst, "matrix")
        if directed:
            return cls.from_edges(src, dst, w, n=n)
        # both arcs of every stored entry, the smaller weight where [i, j] and [j, i] are both stored
        u = np.concatenate([src, dst])
        v = np.concatenate([dst, src])
        w = np.concatenate([w, w])
        order = np.lexsort((w, v, u))
        u, v, w = u[order], v[order], w[order]
        first = np.ones(u.size, bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        g = cls.from_edges(u[first], v[first], w[first], n=n)
        object.__setattr__(g, "directed", False)
        return g

    @classmethod
    def from_networkx(cls, graph: Any, *, weight: str | None = "weight") -> Graph:
        """A graph from a networkx ``Graph``/``DiGraph``/``MultiGraph``/``MultiDiGraph`` (networkx is optional:
        ``pip install spikeforge[graph]``).

        Vertices keep their networkx nodes as ``labels`` (in ``graph.nodes`` order); ``weight`` names the edge
        attribute to read (missing: 1), None makes every edge weigh 1. Parallel edges of a multigraph are kept.
        """
        nodes = list(graph.nodes())
        index = {node: i for i, node in enumerate(nodes)}
        src, dst, w = [], [], []
        edges = ((u, v, 1.0) for u, v in graph.edges()) if weight is None else graph.edges(data=weight, default=1)
        for u, v, value in edges:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"graph: edge {u!r} -> {v!r} has {weight}={value!r}; expected a number") from None
            src.append(index[u])
            dst.append(index[v])
            w.append(value)
        return cls.from_edges(
            np.asarray(src, np.int64),
            np.asarray(dst, np.int64),
            np.asarray(w, np.float64),
            n=len(nodes),
            directed=bool(graph.is_directed()),
            labels=nodes,
        )

    # ---------------------------------------------------------------- shape and names

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``n``."""
        return int(self.indptr.size - 1)

    @property
    def n_arcs(self) -> int:
        """Number of stored arcs ``m`` (twice the edges of an undirected graph, less its self-loops)."""
        return int(self.indices.size)

    def out_degree(self) -> np.ndarray:
        """``[n]`` int64 number of outgoing arcs of each vertex (the fan-out of its neuron)."""
        return np.diff(self.indptr)

    def sources(self) -> np.ndarray:
        """``[m]`` int64 source vertex of each arc (expanded from ``indptr``)."""
        return np.repeat(np.arange(self.n_vertices, dtype=np.int64), self.out_degree())

    def vertex(self, key: Any, *, name: str = "vertex") -> int:
        """The index of vertex ``key``: a label when the graph has labels (an ``int`` also finds the label of the
        same text), else an index in ``[0, n)``. Anything else raises a ValueError naming ``name``."""
        n = self.n_vertices
        if n == 0:
            raise ValueError(f"{name}: the graph is empty (no vertices), so {key!r} is not one of them")
        if self.labels is None:
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
                raise ValueError(f"{name}: expected a vertex index (an int in [0, {n})), got {key!r}")
            if not 0 <= int(key) < n:
                raise ValueError(f"{name}: expected a vertex index in [0, {n}), got {int(key)}")
            return int(key)
        if self._lookup is None:
            object.__setattr__(self, "_lookup", {label: i for i, label in enumerate(self.labels)})
        lookup = self._lookup
        if isinstance(key, Hashable) and key in lookup:
            return lookup[key]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and str(int(key)) in lookup:
            return lookup[str(int(key))]
        shown = ", ".join(repr(label) for label in self.labels[:5]) + (", ..." if n > 5 else "")
        raise ValueError(f"{name}: {key!r} is not a vertex of the graph ({n} vertices: {shown})")

    def name(self, index: int) -> Any:
        """The name of vertex ``index``: its label, or the index itself when the graph has no labels."""
        return int(index) if self.labels is None else self.labels[int(index)]

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        return f"Graph({kind}, {self.n_vertices} vertices, {self.n_arcs} arcs)"


def as_graph(graph: Any, *, directed: bool | None = None) -> Graph:
    """``graph`` as a :class:`Graph`: a Graph as is, a ``scipy.sparse`` matrix through :meth:`Graph.from_scipy`
    (``directed`` default True, as ``scipy.sparse.csgraph``), a networkx graph through :meth:`Graph.from_networkx`.

    ``directed`` may only confirm what a Graph or a networkx graph already is.
    """
    if isinstance(graph, Graph):
        found = graph.directed
    else:
        module = type(graph).__module__ or ""
        if module.startswith("scipy.sparse"):
            return Graph.from_scipy(graph, directed=True if directed is None else bool(directed))
        if module.startswith("networkx"):
            graph = Graph.from_networkx(graph)
            found = graph.directed
        else:
            raise ValueError(
                f"graph: expected a spikeforge.graph.Graph, a scipy.sparse matrix or a networkx graph, got "
                f"{type(graph).__name__} (edge arrays: Graph.from_edges(src, dst, weight); a CSV file: read_edge_list)"
            )
    if directed is not None and bool(directed) != found:
        raise ValueError(
            f"directed: the graph is already {'directed' if found else 'undirected'}; got directed={directed} (build "
            "the Graph with the direction you want)"
        )
    return graph


def read_edge_list(path: str | Path, *, directed: bool = True) -> Graph:
    """Read a CSV edge list, one edge per line: ``src,dst,weight`` (or ``src,dst`` for weight 1 on every line).

    Vertices are named by the text of their fields (surrounding spaces stripped) and numbered in order of first
    appearance; the graph keeps the names as ``labels``. Blank lines and lines starting with ``#`` are skipped. An
    optional first line is a header: ``src,dst[,weight]`` (also ``source,target``, ``from,to``, ``u,v``), or any
    3-field line whose third field is not a number. Fields may be quoted (the ``csv`` module's dialect). The first
    edge fixes the number of fields (2 or 3); every line must then have it.

    Refused with the file and the line number: a line with another number of fields, an empty vertex name, a weight
    that is not a finite number, a negative weight. A file without edges gives the empty graph (0 vertices), which
    the algorithms refuse.

    Args:
        path: the CSV file (UTF-8; a byte-order mark is ignored).
        directed: False reads every line as an undirected edge (two arcs).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"edge list: {path} not found" + (" (it is a directory)" if path.is_dir() else ""))
    index: dict[str, int] = {}
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    fields_per_line = 0
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            for row in reader:
                line = reader.line_num
                fields = [part.strip() for part in row]
                if not fields or (len(fields) == 1 and not fields[0]) or fields[0].startswith("#"):
                    continue
                if not fields_per_line:
                    if len(fields) not in (2, 3):
                        raise ValueError(
                            f"{path}: line {line}: expected src,dst,weight or src,dst, got {len(fields)} fields: "
                            f"{','.join(row)!r}"
                        )
                    fields_per_line = len(fields)
                    head = (fields[0].lower(), fields[1].lower())
                    if head in _HEADERS or (len(fields) == 3 and not _is_number(fields[2])):
                        continue
                if len(fields) != fields_per_line:
                    want = "src,dst,weight" if fields_per_line == 3 else "src,dst"
                    raise ValueError(
                        f"{path}: line {line}: expected {fields_per_line} fields ({want}, as the first line), got "
                        f"{len(fields)}: {','.join(row)!r}"
                    )
                if not fields[0] or not fields[1]:
                    raise ValueError(f"{path}: line {line}: empty vertex name in {','.join(row)!r}")
                if fields_per_line == 3:
                    try:
                        value = float(fields[2])
                    except ValueError:
                        raise ValueError(
                            f"{path}: line {line}: weight {fields[2]!r} is not a number (expected src,dst,weight)"
                        ) from None
                    if not math.isfinite(value):
                        raise ValueError(f"{path}: line {line}: weight {fields[2]!r} is not finite")
                    if value < 0:
                        raise ValueError(
                            f"{path}: line {line}: weight {fields[2]} is negative; expected weights >= 0 (a weight "
                            "is a spike's delay, and a spike cannot arrive before it is sent; negative weights need "
                            "Bellman-Ford, scipy.sparse.csgraph.bellman_ford)"
                        )
                else:
                    value = 1.0
                src.append(index.setdefault(fields[0], len(index)))
                dst.append(index.setdefault(fields[1], len(index)))
                weights.append(value)
        except csv.Error as err:
            raise ValueError(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 text ({err})") from None
    return Graph.from_edges(
        np.asarray(src, np.int64),
        np.asarray(dst, np.int64),
        np.asarray(weights, np.float64),
        n=len(index),
        directed=directed,
        labels=list(index),
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
