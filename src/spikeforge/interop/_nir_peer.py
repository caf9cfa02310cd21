r"""Run a NIR graph in snnTorch and record its spikes: ``python -m spikeforge.interop._nir_peer GRAPH INPUTS OUT``.

This runs inside the benchmark environment that has snnTorch (the drift check of ``spikeforge export --check``
starts it as a separate process, so spikeforge itself never imports a peer). ``INPUTS`` is a ``.npz`` of batches
``x_<b>`` (``[T, B, ...]``); ``OUT`` gets a ``.npz`` with ``spikes_<b>_<i>`` (``[T, B, N]``, one per spiking node in
graph order), ``built`` (how many of the graph's nodes snnTorch could build) and ``skipped`` (the first node type it
could not).

snnTorch 1.0.0's ``import_from_nir`` fails on every recurrent graph under nirtorch 2.6 (an ``AttributeError`` inside
nirtorch's state construction, for graphs snnTorch wrote itself too), so this runner takes snnTorch's own two
steps without nirtorch's executor: ``_replace_rnn_subgraph_with_nirgraph`` (which finds the ``LIF <-> Linear`` cycle)
and ``_nir_to_snntorch_module`` per node (``RLeaky`` for the cycle, ``Leaky`` / ``Synaptic`` / ``Linear`` ...),
chained in graph order and stepped one time step at a time, one sample at a time (snnTorch maps NIR's
``Flatten(start_dim=0)`` to ``torch.nn.Flatten(0)``, which would fold a batch in). It stops before the first node type snnTorch has no
module for (``LI``, ``Delay``, ...): the spikes of the layers before it are still compared.
"""

from __future__ import annotations

import contextlib
import io
import sys

__all__ = ["main", "run_snntorch"]


def run_snntorch(graph, x):
    """``(spike arrays per spiking node, nodes built, first unsupported node type or "")`` for inputs ``x``."""
    import numpy as np
    import snntorch as snn
    import torch
    from snntorch import import_nir as sn

    with contextlib.redirect_stdout(io.StringIO()):
        graph = sn._replace_rnn_subgraph_with_nirgraph(graph)
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    start = next(n for n, node in graph.nodes.items() if type(node).__name__ == "Input")
    modules, skipped, name = [], "", start
    while True:
        nxt = succ.get(name, [])
        if len(nxt) != 1:  # parallel branches (per-synapse delay groups): no chain to follow
            skipped = f"the parallel branches after node {name!r} (snnTorch reads chains)" if nxt else ""
            break
        name = nxt[0]
        node = graph.nodes[name]
        if type(node).__name__ == "Output":
            break
        with contextlib.redirect_stdout(io.StringIO()):
            module = sn._nir_to_snntorch_module(node, init_hidden=True)
        if module is None:
            skipped = f"node {name!r} ({type(node).__name__}: snnTorch has no module for it)"
            break
        modules.append(module)
    spiking = [m for m in modules if isinstance(m, snn.SpikingNeuron)]
    per_sample = []
    with torch.no_grad():
        for sample in torch.as_tensor(x).float().split(1, dim=1):  # B = 1: its Flatten(0) folds the batch in
            for m in spiking:
                m.reset_hidden() if hasattr(m, "reset_hidden") else None
            records = [[] for _ in spiking]
            for xt in sample.unbind(0):
                h = xt
                for m in modules:
                    h = m(h)
                    h = h[0] if isinstance(h, tuple) else h
                    if m in spiking:
                        records[spiking.index(m)].append(h.reshape(1, -1))
            per_sample.append([torch.stack(r) for r in records])
    spikes = [np.asarray(torch.cat([p[i] for p in per_sample], 1)) for i in range(len(spiking))]
    return spikes, len(modules), skipped


def main(argv: list[str] | None = None) -> int:
    """``GRAPH INPUTS OUT``: ``INPUTS`` a ``.npz`` of arrays ``x_0, x_1, ...`` (one per batch, ``[T, B, ...]``);
    ``OUT`` gets ``spikes_<batch>_<layer>``, ``built`` and ``skipped``."""
    import nir
    import numpy as np

    graph_path, inputs, out = argv if argv is not None else sys.argv[1:]
    graph = nir.read(graph_path)
    arrays, built, skipped = {}, 0, ""
    with np.load(inputs) as data:
        for b in range(len(data.files)):
            spikes, built, skipped = run_snntorch(graph, data[f"x_{b}"])
            arrays.update({f"spikes_{b}_{i}": s for i, s in enumerate(spikes)})
    np.savez(out, built=np.array(built), skipped=np.array(skipped), **arrays)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
