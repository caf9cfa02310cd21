"""All implementations in one process, timed round-robin: robust to load that drifts over minutes.

    python benchmarks/interleaved.py [--kind w1] [--T 100] [--B 32] [--rounds 7]
    python benchmarks/interleaved.py --T 1000 --B 16 --modes train --name ckpt \
        --impls spikeforge:cpu_lean+event,spikeforge:cpu_lean+event+ckpt100   # the cost of checkpointing

On a shared machine, configurations timed one after another in separate processes (run.py) see different
background load; here every round times every implementation once, so they share the same conditions. Prints the
minimum and the median per implementation and the ratios of the minima to the floor and the fastest peer, and writes
``interleaved_<kind>_<T>x<B>[_<name>].json`` to the system's temporary folder (``--out FILE`` elsewhere, e.g.
``benchmarks/results/`` for a run the README quotes). (Peak memory is measured by run.py, one process
each.) Ratios to the floor and the fastest peer are printed when those are among the implementations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import impls  # noqa: E402

NAMES = [
    "floor",
    "hand",
    "snntorch",
    "norse",
    "spikingjelly",
    "spikeforge:torch",
    "spikeforge:cpu",
    "spikeforge:cpu+event",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="w1")
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--impls", default="", help="comma-separated implementations (default: floor, hand, peers, ...)")
    ap.add_argument("--modes", default="infer,train", help="infer, train or both")
    ap.add_argument("--name", default="", help="suffix of the results file")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: in the temporary folder)")
    args = ap.parse_args()
    names = args.impls.split(",") if args.impls else NAMES
    modes = args.modes.split(",")
    torch.set_num_threads(args.threads)
    w = impls.canonical_weights(args.kind)
    x, y = impls.make_data(args.kind, args.T, args.B)
    steps = {n: impls.build(n, args.kind, w)[0] for n in names}
    times = {(n, m): [] for m in modes for n in names}
    for r in range(args.rounds + 1):  # round 0 warms up
        for (name, mode), acc in times.items():
            t0 = time.perf_counter()
            if mode == "train":
                loss, _ = steps[name](x, y)
                loss.backward()
            else:
                with torch.no_grad():
                    steps[name](x, y)
            if r:
                acc.append(time.perf_counter() - t0)
    rows = []
    for mode in modes:
        mins = {n: 1e3 * min(times[(n, mode)]) for n in names}
        peers = [mins[p] for p in impls.PEERS if p in mins]
        best_peer = min(peers) if peers else None
        floor = mins.get("floor")
        print(f"\n{args.kind} T={args.T} B={args.B} {mode} ({args.rounds} rounds, {args.threads} threads)")
        print(f"  {'implementation':34} {'min ms':>9} {'median ms':>10} {'x floor':>8} {'x best peer':>11}")
        for n in names:
            med = 1e3 * statistics.median(times[(n, mode)])
            row = {
                "mode": mode,
                "impl": n,
                "ms_min": mins[n],
                "ms_median": med,
                "x_floor": mins[n] / floor if floor else None,
                "x_best_peer": mins[n] / best_peer if best_peer else None,
            }
            rows.append(row)
            rf = f"{row['x_floor']:8.2f}" if floor else f"{'-':>8}"
            rp = f"{row['x_best_peer']:11.2f}" if best_peer else f"{'-':>11}"
            print(f"  {n:34} {mins[n]:9.2f} {med:10.2f} {rf} {rp}")
    suffix = f"_{args.name}" if args.name else ""
    name = f"spikeforge-interleaved_{args.kind}_{args.T}x{args.B}{suffix}.json"
    out = args.out or Path(tempfile.gettempdir()) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "threads": args.threads,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "argv": sys.argv[1:],
        "env": {k: v for k, v in os.environ.items() if k.startswith("OMP_")},
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
