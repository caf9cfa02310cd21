"""NIR interop with snnTorch and Norse: spike agreement on the same input, one NIR file per row.

Runs in the peers' venv (torch 2.13.0, snnTorch 1.0.0, Norse 1.1.0, nir 1.0.8, nirtorch 2.6, spikeforge editable):

    .venv-bench/bin/python benchmarks/nir_interop.py [--steps 300] [--batch 16] [--json out.json]

snnTorch's NIR importer simulates with forward Euler at a fixed dt = 1e-4 s, so the spikeforge networks run at that
dt and are exported with ``integrator="euler"`` unless the row says otherwise. Norse's importer takes dt (1 ms here)
but ignores ``r`` (it assumes r = 1), so its row uses a hand-written graph with r = 1, read by both libraries.
"agree" is the fraction of (step, sample, neuron) spike entries that are equal, for every spiking layer (Norse: the
output layer), and "spikes" the spike counts on each side.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import warnings
from pathlib import Path

import torch

DT = 1e-4  # snntorch.import_nir assumes this step


def _layer_spikes_spikeforge(net, x):
    """Spikes of every neuron layer of a SequentialState, in order."""
    from spikeforge.neurons._base import NeuronModule
    from spikeforge.nn._containers import _fold_time, is_stateful

    out = []
    for layer in net:
        x = layer(x)[0] if is_stateful(layer) else _fold_time(layer, x)
        if isinstance(layer, NeuronModule) and type(layer).__name__ != "LI":
            out.append(x)
    return out


def _layer_spikes_snntorch_per_sample(net, x):
    """snnTorch's importer maps NIR Flatten(start_dim=0) to torch Flatten(0), which folds the batch in: run B=1."""
    per = [_layer_spikes_snntorch(net, x[:, b : b + 1]) for b in range(x.shape[1])]
    return [torch.cat([p[i].reshape(x.shape[0], 1, -1) for p in per], 1) for i in range(len(per[0]))]


def _spikeforge_conv(seed: int):
    from spikeforge import LIF
    from spikeforge.nn import SequentialState

    g = torch.Generator().manual_seed(seed)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(2.0)
    tau = 1e-3 + 4e-3 * torch.rand(4, 8, 8, generator=g)
    return SequentialState(
        conv,
        LIF((4, 8, 8), tau_mem=tau, reset="zero", dt=DT),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 10),
        LIF(10, tau_mem=3e-3, reset="zero", dt=DT),
    ).eval()


def _norse_row(steps: int, batch: int, seed: int, path: Path) -> dict:
    """A graph with r = 1 (as Norse expects), read by Norse (dt = 1 ms) and by spikeforge (integrator="euler")."""
    import nir
    import norse.torch as norse
    import numpy as np

    from spikeforge.interop import import_nir

    dt = 1e-3
    rng = np.random.default_rng(seed)
    tau1 = rng.uniform(5e-3, 20e-3, 48)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([40])),
        nir.Affine(weight=(3 * rng.normal(size=(48, 40))).astype(np.float32), bias=np.zeros(48, np.float32)),
        nir.LIF(tau=tau1, r=np.ones(48), v_leak=np.zeros(48), v_threshold=np.full(48, 0.3)),
        nir.Affine(weight=(3 * rng.normal(size=(10, 48))).astype(np.float32), bias=np.zeros(10, np.float32)),
        nir.LIF(tau=np.full(10, 10e-3), r=np.ones(10), v_leak=np.zeros(10), v_threshold=np.full(10, 0.3)),
        nir.Output(output_type=np.array([10])),
    )
    nir.write(path, graph)
    peer = norse.from_nir(nir.read(path), dt=dt)
    ours = import_nir(path, dt=dt, integrator="euler")
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, 40, generator=g) < 0.2).float()
    state, outs = None, []
    for xt in x.unbind(0):
        out, state = peer(xt, state)
        outs.append(out)
    return _compare([ours(x)[0]], [torch.stack(outs)])


def _layer_spikes_snntorch(net, x):
    """Run an snnTorch network step by step (init_hidden modules), recording each spiking module's output."""
    import snntorch as snn

    spiking = [m for m in net.modules() if isinstance(m, snn.SpikingNeuron)]
    for m in spiking:
        m.reset_hidden() if hasattr(m, "reset_hidden") else None
        if hasattr(m, "init_leaky"):
            m.mem = torch.zeros(0)
    records: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(spiking))}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, i=i: records[i].append(out[0] if isinstance(out, tuple) else out))
        for i, m in enumerate(spiking)
    ]
    try:
        for xt in x.unbind(0):
            net(xt)
    finally:
        for h in hooks:
            h.remove()
    return [torch.stack(records[i]) for i in range(len(spiking))]


def _compare(ours, theirs):
    ours = [a.reshape(*a.shape[:2], -1) for a in ours]
    theirs = [b.reshape(*b.shape[:2], -1) for b in theirs]
    agree = [float((a == b).float().mean()) for a, b in zip(ours, theirs, strict=True)]
    return {
        "agree": agree,
        "spikes_spikeforge": [int(a.sum()) for a in ours],
        "spikes_peer": [int(b.sum()) for b in theirs],
        "identical": all(torch.equal(a, b) for a, b in zip(ours, theirs)),
    }


def _spikeforge_net(kind: str, reset: str, seed: int):
    from spikeforge import LIF
    from spikeforge.nn import SequentialState

    g = torch.Generator().manual_seed(seed)
    tau = lambda n, lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)  # noqa: E731
    extra = {"tau_syn": tau(48, 0.5e-3, 2e-3)} if kind == "synaptic" else {}
    lin1, lin2 = torch.nn.Linear(40, 48), torch.nn.Linear(48, 10)
    with torch.no_grad():
        for lin, gain in ((lin1, 1.5), (lin2, 2.0)):
            lin.weight.mul_(gain)
    return SequentialState(
        lin1,
        LIF(48, tau_mem=tau(48, 1e-3, 8e-3), reset=reset, dt=DT, **extra),
        lin2,
        LIF(10, tau_mem=tau(10, 1e-3, 8e-3), reset=reset, dt=DT),
    ).eval()


def _snntorch_net(kind: str, seed: int, reset: str = "zero", delay: bool = False):
    import snntorch as snn

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    beta1 = 0.95 + 0.045 * torch.rand(48, generator=g)
    kw = {"reset_mechanism": reset, "reset_delay": delay, "init_hidden": True}
    thr = torch.ones(48)  # snnTorch's exporter needs the threshold shaped like beta
    if kind == "synaptic":
        layer1 = snn.Synaptic(alpha=torch.full((48,), 0.9), beta=beta1, threshold=thr, **kw)
    else:
        layer1 = snn.Leaky(beta=beta1, threshold=thr, **kw)
    lin1, lin2 = torch.nn.Linear(40, 48), torch.nn.Linear(48, 10)
    with torch.no_grad():
        lin1.weight.mul_(1.5)
        lin2.weight.mul_(2.0)
    return torch.nn.Sequential(
        lin1, layer1, lin2, snn.Leaky(beta=torch.full((10,), 0.97), threshold=torch.ones(10), **kw)
    )


def run(steps: int, batch: int, seed: int) -> list[dict]:
    import nir
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir

    from spikeforge.interop import export_nir, import_nir

    torch.manual_seed(seed)
    x = (torch.rand(steps, batch, 40) < 0.15).float()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        path = Path(tmp) / "g.nir"
        # spikeforge -> NIR file -> snnTorch
        cases = [
            ("LIF zero reset", "leaky", "zero", "euler"),
            ("LIF(tau_syn) zero reset", "synaptic", "zero", "euler"),
            ("LIF zero reset, exact integrator", "leaky", "zero", "exact"),
            ("LIF subtract reset", "leaky", "subtract", "euler"),
        ]
        for name, kind, reset, integrator in cases:
            net = _spikeforge_net(kind, reset, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nir.write(path, export_nir(net, [40], integrator=integrator))
            try:
                peer = import_from_nir(nir.read(path))
                result = _compare(_layer_spikes_spikeforge(net, x), _layer_spikes_snntorch(peer, x))
            except (AssertionError, NotImplementedError, ValueError) as err:
                result = {"error": f"{type(err).__name__}: {err}"}
            rows.append({"direction": "spikeforge -> snnTorch", "case": f"{name} ({integrator})", **result})
        net = _spikeforge_conv(seed)
        nir.write(path, export_nir(net, [1, 8, 8], integrator="euler"))
        xc = (torch.rand(steps, batch, 1, 8, 8) < 0.3).float()
        peer = import_from_nir(nir.read(path))
        result = _compare(_layer_spikes_spikeforge(net, xc), _layer_spikes_snntorch_per_sample(peer, xc))
        rows.append(
            {"direction": "spikeforge -> snnTorch", "case": "Conv2d+LIF+AvgPool2d+Flatten+Linear+LIF (euler)", **result}
        )
        # snnTorch -> NIR file -> spikeforge
        for name, kind, reset, delay in [
            ("Leaky zero reset, reset_delay=False", "leaky", "zero", False),
            ("Synaptic zero reset, reset_delay=False", "synaptic", "zero", False),
            ("Leaky default (subtract, reset_delay=True)", "leaky", "subtract", True),
        ]:
            peer = _snntorch_net(kind, seed, reset, delay)
            nir.write(path, export_to_nir(peer, torch.zeros(40)))
            ours = import_nir(path, dt=DT, integrator="euler")
            result = _compare(_layer_spikes_spikeforge(ours, x), _layer_spikes_snntorch(peer, x))
            rows.append({"direction": "snnTorch -> spikeforge", "case": name, **result})
        rows.append(
            {
                "direction": "NIR (r=1) -> Norse & us",
                "case": "Affine+LIF+Affine+LIF, dt=1 ms (euler)",
                **_norse_row(steps, batch, seed, path),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints from its importer
        rows = run(args.steps, args.batch, args.seed)
    print(f"T={args.steps} steps of dt={DT * 1e3:g} ms, batch {args.batch}, 40 -> 48 -> 10, seed {args.seed}")
    print(f"{'direction':24} {'case':52} {'identical':9} agree per spiking layer (spikes ours/peer)")
    for r in rows:
        if "error" in r:
            print(f"{r['direction']:24} {r['case']:52} {'-':9} {r['error'][:90]}")
            continue
        per = ", ".join(f"{a:.4%} ({s}/{p})" for a, s, p in zip(r["agree"], r["spikes_spikeforge"], r["spikes_peer"]))
        print(f"{r['direction']:24} {r['case']:52} {r['identical']!s:9} {per}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
