"""EventProp's memory on W1 (700 -> 256 current-based LIF -> 20 leaky integrators, B = 16, 5% input) against T.

    .venv/bin/python benchmarks/eventprop_memory.py                  # T = 100, 500, 1000, 2000
    .venv/bin/python benchmarks/eventprop_memory.py --lengths 100,500 --json /tmp/ep_mem.json

Each T runs in its own process (malloc mmap threshold 64 KiB, so RSS follows live memory) and reports, for one
training step (``spikeforge.learning.online.eventprop_w1_step``):

- ``saved``: bytes of every tensor the autograd graph keeps between forward and backward (counted with
  ``torch.autograd.graph.saved_tensors_hooks``, each storage once, without the caller's input raster and the
  weights, which exist anyway), and that figure per hidden spike;
- ``peak``: the process's peak RSS above its resting RSS during the step;
- ``T x N``: what one float32 ``[T, B, 256]`` tensor takes, the unit that BPTT's stored states grow in.

The claim checked: ``saved`` grows with the number of spikes (bytes per spike about constant), not with T x neurons.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(steps: int, batch: int, threads: int) -> dict:
    import time

    import torch

    sys.path.insert(0, str(HERE))
    from _memory import peak_bytes, reset_peak, rss_bytes
    from impls import make_data

    from spikeforge.learning.online import eventprop_w1_step, w1_network

    torch.set_num_threads(threads)
    x, y = make_data("w1", steps, batch)
    net = w1_network()
    eventprop_w1_step(net, x[:10], y)  # one-time allocations out of the way
    net.zero_grad()
    saved: dict[int, int] = {}
    skip = {x.untyped_storage().data_ptr()} | {p.untyped_storage().data_ptr() for p in net.parameters()}

    def pack(t):  # each storage once; the caller's input raster and the weights exist anyway
        ptr = t.untyped_storage().data_ptr()
        if ptr not in skip:
            saved[ptr] = max(saved.get(ptr, 0), t.untyped_storage().nbytes())
        return t

    reset_peak()
    base = rss_bytes()
    t0 = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, spikes = eventprop_w1_step(net, x, y)
    seconds = time.perf_counter() - t0
    peak = peak_bytes() - base
    n_spikes = int(spikes.sum())
    return {
        "T": steps,
        "B": batch,
        "threads": threads,
        "hidden_spikes": n_spikes,
        "hidden_rate_per_step": n_spikes / (steps * batch * 256),
        "input_spikes": int((x != 0).sum()),
        "saved_bytes": sum(saved.values()),
        "saved_bytes_per_hidden_spike": sum(saved.values()) / max(n_spikes, 1),
        "peak_rss_above_rest_bytes": peak,
        "one_TxBxN_float32_bytes": steps * batch * 256 * 4,
        "seconds": seconds,
        "loss": float(loss),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="100,500,1000,2000")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.batch, args.threads)))
        return 0
    rows = []
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(args.threads)}
    for steps in [int(s) for s in args.lengths.split(",")]:
        cmd = [sys.executable, __file__, "--worker", str(steps), "--batch", str(args.batch)]
        cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    mib = 2.0**20
    print("| T | hidden spikes | rate | saved MiB | saved B/spike | peak RSS MiB | one [T,B,256] f32 MiB | s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['T']} | {r['hidden_spikes']} | {r['hidden_rate_per_step']:.3%} | {r['saved_bytes'] / mib:.2f} | "
            f"{r['saved_bytes_per_hidden_spike']:.1f} | {r['peak_rss_above_rest_bytes'] / mib:.1f} | "
            f"{r['one_TxBxN_float32_bytes'] / mib:.1f} | {r['seconds']:.1f} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
