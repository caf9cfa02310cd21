"""Cost of learnable synaptic delays: one 700 -> 256 layer with D = 25 taps at T = 100, batch 32.

    python benchmarks/delays.py [--quick] [--threads 1] [--out benchmarks/results/delays.json]

Compares, for forward + backward (gradients of weights and positions):

- ``conv``: :class:`spikeforge.synapses.LearnableDelayLinear`: the ``[out, in, D]`` kernel built once per forward,
  one causal ``conv1d`` over the whole sequence;
- ``naive_window``: the same kernel built once, then a per-step loop that multiplies the window of the last D inputs
  ``[B, in, D]`` with the dense kernel (what a step-by-step simulator does); autograd keeps every window;
- ``naive_kernel``: the per-step loop that also rebuilds the dense ``out x in x D`` kernel every step; run at a few
  short T only (its memory grows as T x out x in x D) and extrapolated linearly to T = 100;
- ``fixed``: the rounded layer (:class:`spikeforge.synapses.DelayedLinear`; with 25 distinct delays it takes its
  one-hot kernel ``conv1d`` path); ``fixed_grouped``: the same sum as one matmul per distinct delay;
  ``linear``: a plain 700 -> 256 layer for scale; ``train_step``: one whole training step of delay layer -> LIF ->
  20 readouts -> LI with cross-entropy, backward and an Adam step.

Each variant runs in its own process; peak memory is the growth of the peak resident set (``ru_maxrss``) over the
resident set before the first call. Times are medians over repeats. The machine is shared: the load average is
recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

IN, OUT, D, T, B, DENSITY = 700, 256, 25, 100, 32, 0.05


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _setup(steps: int):
    from spikeforge.synapses import LearnableDelayLinear

    torch.manual_seed(0)
    layer = LearnableDelayLinear(IN, OUT, max_delay=D, sigma_init=D / 2)
    x = (torch.rand(steps, B, IN) < DENSITY).float()
    grad_out = torch.randn(steps, B, OUT)
    return layer, x, grad_out


def _naive_window(layer, x):
    kernel = layer.kernel()  # [out, in, D], tap k = delay k
    padded = F.pad(x, (0, 0, 0, 0, D - 1, 0))  # [T + D - 1, B, in]
    outs = []
    for t in range(x.shape[0]):
        window = padded[t : t + D].flip(0).permute(1, 2, 0)  # [B, in, D]: window[..., k] = x(t - k)
        outs.append(torch.einsum("bik,oik->bo", window, kernel) + layer.bias)
    return torch.stack(outs)


def _naive_kernel(layer, x):
    padded = F.pad(x, (0, 0, 0, 0, D - 1, 0))
    outs = []
    for t in range(x.shape[0]):
        kernel = layer.kernel()  # rebuilt every step
        window = padded[t : t + D].flip(0).permute(1, 2, 0)
        outs.append(torch.einsum("bik,oik->bo", window, kernel) + layer.bias)
    return torch.stack(outs)


def run_variant(name: str, steps: int, repeats: int) -> dict:
    layer, x, grad_out = _setup(steps)

    def backward(y):
        y.backward(grad_out)

    if name == "conv":
        fn = lambda: layer(x)  # noqa: E731
    elif name == "naive_window":
        fn = lambda: _naive_window(layer, x)  # noqa: E731
    elif name == "naive_kernel":
        fn = lambda: _naive_kernel(layer, x)  # noqa: E731
    elif name == "fixed":
        fixed = layer.rounded()
        assert fixed.structure() == "kernel"
        fn = lambda: fixed(x)  # noqa: E731
    elif name == "fixed_grouped":
        fixed = layer.rounded()
        padded = F.pad(x, (0, 0, 0, 0, D - 1, 0))

        def fn():  # one matmul per distinct delay on a shifted view (DelayedLinear's "grouped" path)
            y = fixed.bias
            for d in torch.unique(fixed.delays).tolist():
                y = y + F.linear(padded[D - 1 - d : D - 1 - d + x.shape[0]], fixed.weight * (fixed.delays == d))
            return y
    elif name == "train_step":  # delay layer -> LIF -> 20 readouts -> LI, cross-entropy, backward, Adam step
        from spikeforge.neurons import LI, LIF

        lif, readout, li = LIF(OUT), torch.nn.Linear(OUT, 20), LI(20)
        opt = torch.optim.Adam([*layer.parameters(), *readout.parameters()], lr=1e-3)
        labels = torch.randint(0, 20, (B,))

        def fn():
            z, _ = lif(layer(x))
            v, _ = li(readout(z))
            return F.cross_entropy(v.sum(0), labels)

        def backward(loss):
            loss.backward()
            opt.step()
            layer.clamp_positions_()
    elif name == "linear":
        lin = torch.nn.Linear(IN, OUT)
        fn = lambda: lin(x)  # noqa: E731
    else:
        raise ValueError(f"unknown variant {name!r}")
    before = _rss_mib()
    peak_before = _peak_mib()
    times, fwd_times = [], []
    for _ in range(repeats + 1):  # the first call warms up
        layer.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        y = fn()
        t1 = time.perf_counter()
        backward(y)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        fwd_times.append(t1 - t0)
        del y
    with torch.no_grad():
        t0 = time.perf_counter()
        fn()
        infer = time.perf_counter() - t0
    peak = _peak_mib()
    return {
        "variant": name,
        "T": steps,
        "train_s": statistics.median(times[1:]),
        "forward_s": statistics.median(fwd_times[1:]),
        "inference_s": infer,
        "peak_extra_mib": max(peak - before, 0.0),
        "peak_rose": peak > peak_before,
    }


def _spawn(name: str, steps: int, repeats: int, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--run-variant", name, "--steps", str(steps), "--repeats", str(repeats)]
    cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "spikeforge-delays.json"))
    ap.add_argument("--run-variant", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=T, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.run_variant:
        print(json.dumps(run_variant(args.run_variant, args.steps, args.repeats)))
        return

    repeats = 2 if args.quick else 3
    load_before = os.getloadavg()
    rows = [
        _spawn(v, T, repeats, args.threads)
        for v in ("conv", "naive_window", "fixed", "fixed_grouped", "linear", "train_step")
    ]
    short = [_spawn("naive_kernel", s, 1, args.threads) for s in (2, 4, 8)]
    load_after = os.getloadavg()

    # naive_kernel at T = 100: linear fit of time and memory over the short runs
    xs = [r["T"] for r in short]

    def fit(key: str) -> float:
        mx, my = statistics.mean(xs), statistics.mean(r[key] for r in short)
        slope = sum((a - mx) * (r[key] - my) for a, r in zip(xs, short)) / sum((a - mx) ** 2 for a in xs)
        return my + slope * (T - mx)

    kernel_mib = OUT * IN * D * 4 / 2**20
    extrapolated = {
        "variant": "naive_kernel (extrapolated)",
        "T": T,
        "train_s": fit("train_s"),
        "peak_extra_mib": fit("peak_extra_mib"),
        "note": f"linear fit over T = {xs}; one dense kernel is {kernel_mib:.1f} MiB and autograd keeps several per step",
    }
    analytic = {
        "kernel_mib": kernel_mib,
        "conv_saved_input_mib": B * IN * (T + D - 1) * 4 / 2**20,
        "naive_window_saved_windows_mib": T * B * IN * D * 4 / 2**20,
        "naive_kernel_kernels_per_T100_mib": T * kernel_mib,
        "multiply_adds_per_forward_G": T * B * OUT * IN * D / 1e9,
        "fixed_layer_multiply_adds_per_forward_G": T * B * OUT * IN / 1e9,
    }
    base = next(r for r in rows if r["variant"] == "conv")
    print(
        f"LearnableDelayLinear {IN} -> {OUT}, D = {D}, T = {T}, B = {B}, input density {DENSITY}, "
        f"{args.threads} thread(s); load average {load_before[0]:.2f} -> {load_after[0]:.2f}"
    )
    print(f"{'variant':32s} {'train (s)':>10s} {'x conv':>8s} {'forward (s)':>12s} {'peak extra (MiB)':>17s}")
    for r in [*rows, *short, extrapolated]:
        label = r["variant"] if r["T"] == T else f"{r['variant']} (T={r['T']})"
        fwd = f"{r['forward_s']:12.3f}" if "forward_s" in r else f"{'':12s}"
        print(
            f"{label:32s} {r['train_s']:10.3f} {r['train_s'] / base['train_s']:8.2f} {fwd} {r['peak_extra_mib']:17.0f}"
        )
    print("analytic sizes (MiB) and work:", json.dumps({k: round(v, 2) for k, v in analytic.items()}))

    result = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": platform.machine(),
            "cores": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "argv": sys.argv[1:],
            "layer": {"in": IN, "out": OUT, "D": D, "T": T, "B": B, "input_density": DENSITY},
            "note": "shared machine: other developers' jobs ran at the same time; times are noisy",
        },
        "rows": rows,
        "naive_kernel_short": short,
        "naive_kernel_T100": extrapolated,
        "analytic": analytic,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
