"""How close is a convolutional LIF training step to the same convolution without neurons? (issue 11, point 7)

Workload: event frames ``[T, B, 2, 34, 34]`` (N-MNIST's size; binary, 5 % density) at T = 20, B = 16, a
``Conv2d(2 -> 16, 3x3, padding 1)`` run over all T*B frames at once (time folded into batch, as
``SequentialState`` does), then LIF neurons over time, and a scalar loss (mean squared output). The LIF variants:
``lif``, what a user gets by default (the convolution and the LIF layer as one kernel, ``"cpu+conv"``); ``lif
unfused``, the convolution by torch and the fused LIF kernel after it (a no-op hook on the convolution keeps the two
apart, as before the fused pair existed); ``lif lean``, lean storage (``"cpu_lean"``, unfused as well). The floor is the same convolution and loss without the
neurons. A training step is forward + backward. Variants are timed round-robin in one process (same load), and
the ratio of the minima to the floor's is printed. A fourth timing, ``pass``, clones a tensor of the convolution
output's size (one read and one write of 23.7 MB into fresh memory, as a kernel's output is): the least a LIF layer
adds is two such passes (forward: read the input and write the spikes; backward: read the spikes' gradient and write
the input's), printed as the bandwidth floor of the ratio, with the passes the fused LIF layer adds. ``--profile`` also prints, for the floor and the LIF step, the torch profiler's
self time per step by operation (the least of 3 profiles of 5 steps each).

    python benchmarks/conv_floor.py [--rounds 20] [--threads 2] [--profile]
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from _machine import bench_parser, cpu_model, round_robin, run_record, write_result
from torch import nn

from spikeforge import LIF, kernels
from spikeforge.nn import SequentialState

T, B, C_IN, C_OUT, H, W = 20, 16, 2, 16, 34, 34


def build(variant: str, weight: torch.Tensor) -> nn.Module:
    conv = nn.Conv2d(C_IN, C_OUT, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(weight)
    if variant == "floor":
        return SequentialState(conv)
    backend = "cpu_lean" if variant == "lif lean" else "auto"
    if variant == "lif unfused":
        conv.register_forward_hook(lambda *args: None)  # hooks see every layer: the pair is not fused
    return SequentialState(conv, LIF((C_OUT, H, W), tau_mem=0.02, backend=backend))


def workload() -> tuple[torch.Tensor, torch.Tensor]:
    """The convolution's weight and the event frames ``[T, B, 2, 34, 34]`` (5% binary density), seeded."""
    torch.manual_seed(0)
    weight = torch.randn(C_OUT, C_IN, 3, 3) * 1.5
    return weight, (torch.rand(T, B, C_IN, H, W) < 0.05).float()


def step(net: nn.Module, x: torch.Tensor) -> None:
    out, _ = net(x)
    out.square().mean().backward()


def profile_steps(variants: dict[str, Callable[[], None]], steps: int = 5, repeats: int = 3, rows: int = 30) -> None:
    """Print the torch profiler's self CPU time per step (ms) of each operation, one column per variant: the least
    over ``repeats`` profiles of ``steps`` steps (variants profiled in turn), the largest ``rows`` operations."""
    from torch.profiler import ProfilerActivity, profile

    per_op: dict[str, dict[str, float]] = {name: {} for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(steps):
                    run()
            for event in prof.key_averages():
                ms = event.self_cpu_time_total / steps / 1e3
                per_op[name][event.key] = min(ms, per_op[name].get(event.key, ms))
    ops = sorted(
        {op for table in per_op.values() for op in table}, key=lambda op: -max(t.get(op, 0) for t in per_op.values())
    )
    print("self CPU time per step (ms), torch profiler: " + " | ".join(variants))
    for op in ops[:rows]:
        print(f"{op[:60]:>60}: " + " | ".join(f"{per_op[name].get(op, 0.0):6.2f}" for name in variants))
    print(f"{'total':>60}: " + " | ".join(f"{sum(per_op[name].values()):6.2f}" for name in variants))


def main() -> None:
    ap = bench_parser(__doc__, rounds=20, threads=2, out="conv_floor")
    ap.add_argument("--profile", action="store_true", help="also print the profiler's time per operation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    weight, x = workload()
    variants = ["floor", "lif", "lif unfused", "lif lean", "pass"]
    nets = {v: build(v, weight) for v in variants[:4]}
    big = torch.rand(T * B, C_OUT, H, W)
    load_before = os.getloadavg()[0]
    runs = {v: (lambda v=v: step(nets[v], x)) for v in variants[:4]}
    times = round_robin({**runs, "pass": big.clone}, args.rounds)
    best = {v: min(t) for v, t in times.items()}
    with torch.no_grad():
        rate = float(nets["lif"](x)[0].mean())
    print(
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {args.threads} torch threads, "
        f"{cpu_model()}; firing rate {rate:.3f}"
    )
    for v in variants:
        med = sorted(times[v])[len(times[v]) // 2]
        print(f"{v:>11}: min {best[v] * 1e3:.1f} ms, median {med * 1e3:.1f} ms -> x{best[v] / best['floor']:.2f} floor")
    bound = 1 + 2 * best["pass"] / best["floor"]
    added = (best["lif unfused"] - best["floor"]) / best["pass"]
    print(f"bandwidth floor of a separate LIF layer's ratio: x{bound:.2f} (2 passes); the unfused LIF adds {added:.1f}")
    print(
        f"backends: lif {kernels.backend_of(nets['lif'][1])}, lif unfused {kernels.backend_of(nets['lif unfused'][1])}"
    )
    result = {
        "step_ms": {v: [t * 1e3 for t in ts] for v, ts in times.items()},
        "ratio_to_floor": {v: best[v] / best["floor"] for v in variants},
        "bandwidth_floor_ratio": bound,
        "unfused_lif_added_passes": added,
        "backends": {v: kernels.backend_of(nets[v][1]) for v in variants[1:4]},
        "shape": {"T": T, "B": B, "in": C_IN, "out": C_OUT, "H": H, "W": W},
        "firing_rate": rate,
        "threads": args.threads,
        **run_record(load_before),
    }
    write_result(args.out, result)
    if args.profile:
        profile_steps({v: runs[v] for v in ("floor", "lif", "lif unfused")})


if __name__ == "__main__":
    main()
