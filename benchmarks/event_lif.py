"""An event-driven synapse fused with LIF (``kernels.cpu.event_lif``) against the two layers run one after the other.

    python benchmarks/event_lif.py [--rounds 9] [--threads 1] [--shapes 100x16,100x32,100x64,300x32,1000x16,1000x32]

W1's first layer: 700 inputs at 5 % spikes -> 256 LIF (tau 20 ms, subtract reset, fast sigmoid), float32. For each
``T x B``, one training pass (the spike index pass, forward, ``autograd.grad`` of the spikes' sum for the weight and
the bias) of the fused kernel and of the pair (``EventLinear``'s event path, then the fused LIF kernel), timed
round-robin in one process. Prints the minima and their ratio (fused / pair): the layer takes the fused kernel where
its own timing (``EventLinear.prefer_fused``) finds it no slower. Writes the results to the system's temporary
folder (``--out FILE`` elsewhere).
"""

from __future__ import annotations

import os
import statistics

import torch
from _machine import bench_parser, cpu_model, round_robin, run_record, write_result

from spikeforge.kernels import Settings
from spikeforge.kernels.cpu import event_lif, lif
from spikeforge.synapses._event import _EventLinear, _index

IN, OUT, DENSITY, BETA = 700, 256, 0.05, 0.951229424500714  # exp(-1 ms / 20 ms)


def passes(steps: int, batch: int):
    """The two training passes over the same spikes and weights."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, batch, IN, generator=g) < DENSITY).float()
    weight = (torch.randn(OUT, IN, generator=g) * 0.04).requires_grad_()
    bias = torch.zeros(OUT, requires_grad=True)
    v0, settings, x2 = torch.zeros(batch, OUT), Settings(reset="subtract"), x.reshape(-1, IN)

    def fused() -> None:
        _, _, cols, offsets = _index(x2)
        z, _ = event_lif(cols, offsets, weight, bias, v0, BETA, 1.0, settings, steps, batch)
        torch.autograd.grad(z.sum(), [weight, bias])

    def pair() -> None:
        _, _, cols, offsets = _index(x2)
        current = _EventLinear.apply(x2, weight, bias, cols, offsets).reshape(steps, batch, OUT)
        z, _ = lif(current, v0, BETA, 1.0, settings)
        torch.autograd.grad(z.sum(), [weight, bias])

    return {"fused": fused, "pair": pair}


def main() -> None:
    ap = bench_parser(__doc__, rounds=9, threads=1, out="event_lif")
    ap.add_argument("--shapes", default="100x16,100x32,100x64,300x32,1000x16,1000x32", help="T x B, comma-separated")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    print(f"{cpu_model()}, {args.threads} torch threads, load {load_before:.1f}")
    rows = []
    for shape in args.shapes.split(","):
        steps, batch = (int(v) for v in shape.split("x"))
        runs = passes(steps, batch)
        times = round_robin(runs, args.rounds)
        best = {name: min(t) for name, t in times.items()}
        row = {
            "T": steps,
            "B": batch,
            **{f"{n}_ms_min": 1e3 * b for n, b in best.items()},
            **{f"{n}_ms_median": 1e3 * statistics.median(t) for n, t in times.items()},
            "ratio": best["fused"] / best["pair"],
        }
        rows.append(row)
        print(
            f"  T={steps:5} B={batch:3}  fused {row['fused_ms_min']:7.2f} ms  pair {row['pair_ms_min']:7.2f} ms  "
            f"fused / pair {row['ratio']:.2f}",
            flush=True,
        )
    write_result(args.out, {**run_record(load_before), "threads": args.threads, "rounds": args.rounds, "rows": rows})


if __name__ == "__main__":
    main()
