"""Which input path of the fused Conv2d + LIF kernel is fastest at which spike density? (sets conv_lif's thresholds)

The fused layer (``spikeforge.kernels.cpu.conv_lif``: ``SequentialState(Conv2d, LIF)`` on input that changes over
time) reads binary input in one of two ways: the current and the weight gradient from the input's events (``events``), or
both from the zero-padded frames (``frames``). For each density of ``--densities`` this times the layer's forward and its
backward (a fixed gradient of the spikes) on the conv_floor workload's shape (Conv2d 2 -> 16, 3x3 on 34 x 34, T = 20,
B = 16), each path forced in turn, round-robin in one process, with a 160 MB buffer written (untimed) before every
call so that each starts with caches as cold as inside a training step. Prints the minima (ms) per path, which kernel ran
(the blocked one, output channels in vectors, where the library has it and the channels are a multiple of 16; else the
per-plane one) and the path that its limit (``EVENT_DENSITY``, ``EVENT_DENSITY_BLOCKED`` or ``EVENT_DENSITY_WIDE``) picks.

``--in-channels``, ``--out-channels`` and ``--size`` change the layer (a hidden layer of a conv network: more input
channels, a smaller frame).

    python benchmarks/conv_lif_paths.py [--rounds 20] [--threads 1] [--densities 0.01 0.02 0.05 0.1]
        [--in-channels 2] [--out-channels 16] [--size 34]
"""

from __future__ import annotations

import os

import torch
from _machine import bench_parser, cpu_model, round_robin, run_record, write_result

from spikeforge.kernels import Settings
from spikeforge.kernels.cpu import _conv_lif

T, B = 20, 16
PATHS = {"events": 1.0, "frames": 0.0}  # EVENT_DENSITY forcing each path


def timed(x: torch.Tensor, weight: torch.Tensor, path: str, flush: torch.Tensor) -> dict[str, object]:
    """Forward and backward calls of the fused layer with ``path`` forced."""
    settings = Settings()  # fast sigmoid, slope 25
    out = (B, weight.shape[0], *x.shape[3:])
    v0 = torch.zeros(out)
    grad = torch.randn(T, *out, generator=torch.Generator().manual_seed(1))
    held: dict[str, torch.Tensor] = {}

    def force():  # the per-plane and the blocked kernel's limits
        _conv_lif.EVENT_DENSITY = _conv_lif.EVENT_DENSITY_BLOCKED = _conv_lif.EVENT_DENSITY_WIDE = PATHS[path]

    def forward() -> None:
        force()
        held["z"], _, _ = _conv_lif.conv_lif(x, weight, None, (1, 1), v0, 0.95, 1.0, settings)

    def backward() -> None:
        torch.autograd.grad(held["z"], weight, grad)

    def cold() -> None:  # round_robin times this entry too; it is not reported
        flush.fill_(1.0)

    return {f"{path} cold 1": cold, f"{path} forward": forward, f"{path} cold 2": cold, f"{path} backward": backward}


def main() -> None:
    ap = bench_parser(__doc__, rounds=20, threads=1, out="conv_lif_paths")
    ap.add_argument("--densities", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1])
    ap.add_argument("--in-channels", type=int, default=2)
    ap.add_argument("--out-channels", type=int, default=16)
    ap.add_argument("--size", type=int, default=34, help="frame height and width")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    limits = _conv_lif.EVENT_DENSITY, _conv_lif.EVENT_DENSITY_BLOCKED, _conv_lif.EVENT_DENSITY_WIDE
    block = _conv_lif.blocked(torch.float32, args.out_channels)
    default = limits[0] if not block else limits[1] if 9 * args.in_channels <= _conv_lif.MAX_TAPS else limits[2]
    torch.manual_seed(0)
    weight = (torch.randn(args.out_channels, args.in_channels, 3, 3) * 1.5).requires_grad_()
    flush = torch.empty(40_000_000)
    load_before = os.getloadavg()[0]
    results = {}
    for density in args.densities:
        x = (torch.rand(T, B, args.in_channels, args.size, args.size) < density).float()
        variants = {}
        for path in PATHS:
            variants.update(timed(x, weight, path, flush))
        times = round_robin(variants, args.rounds)
        best = {name: min(ts) * 1e3 for name, ts in times.items()}
        chosen = "events" if density <= default else "frames"
        print(f"density {density:.3f} (the thresholds pick {chosen}):")
        for path in PATHS:
            fwd, bwd = best[f"{path} forward"], best[f"{path} backward"]
            print(f"  {path:>14}: forward {fwd:6.2f} ms, backward {bwd:6.2f} ms, sum {fwd + bwd:6.2f} ms")
        results[str(density)] = {"min_ms": best, "chosen": chosen}
    _conv_lif.EVENT_DENSITY, _conv_lif.EVENT_DENSITY_BLOCKED, _conv_lif.EVENT_DENSITY_WIDE = limits
    print(f"kernel: {'blocked (channels in vectors)' if block else 'per plane'}")
    print(f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {args.threads} torch threads, {cpu_model()}")
    shape = {"in": args.in_channels, "out": args.out_channels, "size": args.size, "T": T, "B": B}
    record = {"densities": results, "shape": shape, "blocked": block, "threads": args.threads}
    write_result(args.out, {**record, **run_record(load_before)})


if __name__ == "__main__":
    main()
