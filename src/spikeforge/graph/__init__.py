r"""Graph algorithms computed by spikes: shortest paths as first-spike times, random walks as wandering spikes.

A graph is a network: one neuron per vertex, one synapse per arc (:class:`Graph`, stored by source like the
simulator's synapse tables). Two algorithms run on it as event-driven spiking networks:

- :func:`shortest_paths`: every synapse delays a spike by its arc's (integer) weight and every neuron fires once,
  at its first input spike; a wave of spikes from the source then reaches each vertex at exactly its shortest-path
  distance, and the synapse that carried the first spike is the last arc of a shortest path. Simulated with a
  calendar queue over integer time steps, vectorised per step (Dial's bucket algorithm with spikes in the buckets).
- :func:`random_walk`: a walker is a spike that each neuron passes on through one synapse drawn by its weight; visit
  counts (spike counts) estimate the chain's stationary distribution, first-spike times are hitting times.

Inputs: :func:`read_edge_list` (CSV ``src,dst,weight``), a ``scipy.sparse`` matrix or a networkx graph (optional:
``pip install spikeforge[graph]``). The command line: ``spikeforge graph shortest-path`` / ``random-walk``.

>>> from spikeforge.graph import Graph, shortest_paths
>>> g = Graph.from_edges([0, 1, 0], [1, 2, 2], [2, 2, 5])
>>> shortest_paths(g, 0).distance.tolist()
[0.0, 2.0, 4.0]
"""

from ._graph import Graph, as_graph, read_edge_list
from ._paths import MAX_DELAY, MAX_TABLE, ShortestPaths, shortest_paths
from ._walks import MAX_VISIT_BITS, RandomWalks, random_walk

__all__ = [
    "MAX_DELAY",
    "MAX_TABLE",
    "MAX_VISIT_BITS",
    "Graph",
    "RandomWalks",
    "ShortestPaths",
    "as_graph",
    "random_walk",
    "read_edge_list",
    "shortest_paths",
]
