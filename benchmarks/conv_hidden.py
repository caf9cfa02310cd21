"""Is the fused Conv2d + LIF kernel faster than the convolution and the LIF kernel run apart, layer by layer of a conv net?

For each layer shape below (input channels -> output channels on H x H frames, 3x3, padding 1; T = 20, B = 16; binary
input spikes at the given density) this times a training step (forward, a scalar loss, backward) of
``SequentialState(Conv2d, LIF)`` as a user gets it by default (fused where ``kernels.cpu.conv_lif_plan`` makes the
fused kernel a candidate and a timing of both ways, once per shape, finds it faster), against the same pair with a
no-op hook on the convolution (hooks see every layer, so the pair runs apart: torch's convolution, then the fused LIF
kernel). Hidden layers also take the input's gradient, as inside a network. Both run round-robin in one process;
prints the minima, their ratio and the backend the default ran. The shapes span the plan's thresholds: 18 taps (the
first layer of an event-camera net), then 144, 288 and 576 taps from events (the blocked kernel, at most 10% dense),
and 15% dense input with 144 taps, which the plan leaves to the pair.

    python benchmarks/conv_hidden.py [--rounds 8] [--threads 2]
"""

from __future__ import annotations

import os

import torch
from _machine import bench_parser, cpu_model, round_robin, run_record, write_result
from torch import nn

from spikeforge import LIF, kernels
from spikeforge.nn import SequentialState

T, B = 20, 16
#: (input channels, output channels, frame size, input density, the input's gradient wanted)
SHAPES = [
    (2, 16, 34, 0.05, False),
    (2, 16, 34, 0.15, False),
    (16, 32, 17, 0.05, True),
    (16, 32, 17, 0.10, True),
    (16, 32, 17, 0.15, True),
    (32, 64, 8, 0.05, True),
    (64, 64, 8, 0.10, True),
]


def build(c_in: int, c_out: int, size: int, apart: bool) -> nn.Module:
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.mul_(3)
    if apart:
        conv.register_forward_hook(lambda *args: None)
    return SequentialState(conv, LIF((c_out, size, size), tau_mem=0.02))


def step(net: nn.Module, x: torch.Tensor) -> None:
    out, _ = net(x)
    out.square().mean().backward()


def main() -> None:
    args = bench_parser(__doc__, rounds=8, threads=2, out="conv_hidden").parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    rows = []
    for c_in, c_out, size, density, grad_x in SHAPES:
        torch.manual_seed(1)
        x = (torch.rand(T, B, c_in, size, size) < density).float().requires_grad_(grad_x)
        nets = {"fused": build(c_in, c_out, size, False), "apart": build(c_in, c_out, size, True)}

        times = round_robin({name: (lambda net=net, x=x: step(net, x)) for name, net in nets.items()}, args.rounds)
        best = {name: min(ts) * 1e3 for name, ts in times.items()}
        backend = kernels.backend_of(nets["fused"][1])
        ratio = best["fused"] / best["apart"]
        print(
            f"{c_in:>3} -> {c_out:<3} {size:>2}x{size:<2} {9 * c_in:>3} taps, {density:.0%} dense: default "
            f"{best['fused']:6.1f} ms ({backend}), apart {best['apart']:6.1f} ms -> x{ratio:.2f}"
        )
        rows.append(
            {"in": c_in, "out": c_out, "size": size, "density": density, "input_grad": grad_x}
            | {"min_ms": best, "ratio": ratio, "default_backend": backend}
        )
    print(f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {args.threads} torch threads, {cpu_model()}")
    write_result(args.out, {"layers": rows, "T": T, "B": B, "threads": args.threads, **run_record(load_before)})


if __name__ == "__main__":
    main()
