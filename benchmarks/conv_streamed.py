"""An experiment for issue 11, point 7: does streaming the convolution and the LIF layer over time bring conv LIF
training nearer its floor? (Not a library path: the answer here was no; see the README's conv section.)

Workload: ``conv_floor.py``'s (event frames ``[20, 16, 2, 34, 34]``, ``Conv2d(2 -> 16, 3x3)``, LIF, mean squared
output). The streamed layer runs the convolution on ``chunk`` steps at a time and the fused LIF kernel over those
steps right after, while the chunk's output is still in cache, so the ``[T, B, 16, 34, 34]`` convolution output and
its gradient never exist whole; it keeps the pre-reset membrane ``h`` (the kernel's exact store) for the backward,
which walks the chunks in reverse: the LIF backward of a chunk (the membrane's gradient carried from the next chunk),
then the convolution's weight gradient from that chunk's gradient and input, summed over the chunks. Spikes are
checked equal to the fused layer's and the weight gradient's cosine to it printed. Variants timed round-robin in one
process against ``floor`` (the convolution and loss without neurons) and ``lif`` (the library's fused layer).

``--profile`` prints the torch profiler's time per operation for the floor, the fused layer and each chunk size.

    python benchmarks/conv_streamed.py [--rounds 40] [--threads 1] [--chunks 2,4,10] [--profile]
"""

from __future__ import annotations

import os
import statistics

import torch
import torch.nn.functional as F
from _machine import bench_parser, cpu_model, round_robin
from conv_floor import C_OUT, B, H, T, W, build, profile_steps, step, workload

from spikeforge.kernels.cpu._common import kernel
from spikeforge.neurons._lif import decay

_SUBTRACT, _EXACT, _UNIFORM = 0, 1, 1  # the kernel's codes: subtract reset, h stored, one beta and threshold


class StreamedConvLIF(torch.autograd.Function):
    """``LIF(conv2d(x))`` over ``x[T, B, C, H, W]``, chunk by chunk of steps (subtract reset, no detach, one
    ``beta`` and one threshold for all neurons, passed as whole arrays in the kernels' uniform mode, as the fused
    layer passes them; the surrogate as ``(code, slope)``)."""

    @staticmethod
    def forward(ctx, x, weight, v0, beta, thr, chunk, surrogate, threads):  # type: ignore[override]
        steps, batch = x.shape[:2]
        n = v0.numel()
        z, hs, v = torch.empty(steps, n), torch.empty(steps, n), v0.clone()
        fwd = kernel("lif_fwd", x.dtype)
        for t0 in range(0, steps, chunk):
            c = min(chunk, steps - t0)
            y = F.conv2d(x[t0 : t0 + c].reshape(c * batch, *x.shape[2:]), weight, padding=1)
            ptrs = (y, v, beta, thr, z[t0], hs[t0], v)
            fwd(*(p.data_ptr() for p in ptrs), c, n, 0.0, 0.0, _SUBTRACT, _EXACT, _UNIFORM, threads)
        ctx.save_for_backward(x, weight, hs, v0, beta, thr)
        ctx.setup = (chunk, surrogate, threads)
        return z, v

    @staticmethod
    def backward(ctx, dz, dv):  # type: ignore[override]
        x, weight, hs, v0, beta, thr = ctx.saved_tensors
        chunk, (code, slope), threads = ctx.setup
        steps, batch = x.shape[:2]
        n = v0.numel()
        dz = dz.contiguous()
        carry = dv.contiguous() if dv is not None else torch.zeros(n)
        spare, dy, dw = torch.empty(n), torch.empty(chunk, n), torch.zeros_like(weight)
        bwd = kernel("lif_bwd", x.dtype)
        for t0 in reversed(range(0, steps, chunk)):
            c = min(chunk, steps - t0)
            bwd(
                *(p.data_ptr() for p in (dz[t0], carry, hs[t0])),
                None,
                None,
                *(p.data_ptr() for p in (v0, beta, thr, dy, spare)),
                None,
                None,
                c,
                n,
                0.0,
                0.0,
                _SUBTRACT,
                0,
                _EXACT,
                code,
                slope,
                None,
                _UNIFORM,
                threads,
            )
            carry, spare = spare, carry  # dL/dv before this chunk: the next (earlier) chunk's dL/dv_T
            grad_y = dy[:c].view(c * batch, weight.shape[0], *x.shape[3:])
            x_chunk = x[t0 : t0 + c].reshape(c * batch, *x.shape[2:])
            conv_grads = torch.ops.aten.convolution_backward(
                grad_y, x_chunk, weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False]
            )
            dw += conv_grads[1]
        return None, dw, carry, None, None, None, None, None


def main() -> None:
    ap = bench_parser(__doc__, rounds=40, threads=1)
    ap.add_argument("--chunks", default="2,4,10", help="steps per chunk, comma-separated")
    ap.add_argument("--profile", action="store_true", help="also print the profiler's time per operation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    weight, x = workload()
    floor, lif_net = build("floor", weight), build("lif", weight)
    lif = lif_net[1]
    n = B * C_OUT * H * W
    beta, thr = torch.full((n,), float(decay(lif.params().tau_mem, lif.dt))), torch.ones(n)
    surrogate = lif.surrogate.kernel_code()
    streamed_weight = torch.nn.Parameter(weight.clone())

    def streamed(chunk: int) -> torch.Tensor:
        args_ = (x, streamed_weight, torch.zeros(n), beta, thr, chunk, surrogate, args.threads)
        return StreamedConvLIF.apply(*args_)[0]

    chunks = [int(c) for c in args.chunks.split(",")]
    lif_net.zero_grad()
    step(lif_net, x)
    for chunk in chunks:
        streamed_weight.grad = None
        streamed(chunk).square().mean().backward()
        with torch.no_grad():
            same = torch.equal(lif_net(x)[0].reshape(T, -1), streamed(chunk))
        cos = F.cosine_similarity(lif_net[0].weight.grad.flatten(), streamed_weight.grad.flatten(), 0)
        print(f"chunk {chunk}: spikes equal to the fused layer's: {same}; weight gradient cosine {float(cos):.6f}")
    variants = {"floor": lambda: step(floor, x), "lif": lambda: step(lif_net, x)}
    for chunk in chunks:
        variants[f"streamed, chunk {chunk}"] = lambda c=chunk: streamed(c).square().mean().backward()
    load_before = os.getloadavg()[0]
    times = round_robin(variants, args.rounds)
    print(
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {args.threads} torch threads, {cpu_model()}, "
        f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}"
    )
    best = {name: min(t) for name, t in times.items()}
    for name, t in times.items():
        print(
            f"{name:>20}: min {best[name] * 1e3:.1f} ms, median {statistics.median(t) * 1e3:.1f} ms "
            f"-> x{best[name] / best['floor']:.2f} floor"
        )
    if args.profile:
        profile_steps(variants)


if __name__ == "__main__":
    main()
