"""Training step of neuron models' fused CPU kernels against autograd through the torch reference.

    python benchmarks/neuron_kernels.py [--rounds 7] [--threads 1] [--T 500] [--B 16] [--N 512]

One forward + backward of Izhikevich, AdEx and recurrent ALIF (RALIF) layers over ``x[T, B, N]`` (a random current
in the neurons' firing range), loss ``z.sum() + 0.01 v_T.sum()``, with ``backend="torch"`` and ``backend="cpu"``,
timed round-robin in one process (every round times every configuration once), with the parameters fixed and with
every parameter learned (RALIF: its recurrent weight is always learned). Prints the minimum and the median per
configuration and the ratio of the minima (fused / reference), and writes the results to the system's temporary
folder (``--out FILE`` elsewhere).

Last, what recomputing the recurrent layers' state in the backward would cost (why ``RLIF`` keeps ``h``): the ``T``
products ``z_{t-1} W^T`` that rebuilding ``x'_t`` takes, against an ``RLIF`` training step (T = 100, B = 32, N = 256).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _machine import cpu_model, run_record, write_result

from spikeforge.neurons import RALIF, RLIF, AdExParams, IzhikevichParams, adex_seq, izhikevich_seq
from spikeforge.units import ms

MODELS = {
    # model: (sequence function, parameter tuple, number of learnable fields, current range, dt)
    "izhikevich": (izhikevich_seq, IzhikevichParams, 4, (5.0, 15.0), 0.5 * ms),
    "adex": (adex_seq, AdExParams, 9, (350.0, 750.0), 0.1 * ms),
    "ralif": (None, None, 0, (0.0, 3.0), 1 * ms),
}
_LAYERS: dict[tuple, torch.nn.Module] = {}


def step(model: str, backend: str, learn: bool, x0: torch.Tensor) -> None:
    fn, params_cls, n_learn, _, dt = MODELS[model]
    x = x0.clone().requires_grad_()
    if model == "ralif":
        key = (backend, learn, x0.shape[-1])
        if key not in _LAYERS:
            torch.manual_seed(0)
            learned = ("tau_mem", "tau_adapt", "threshold", "beta") if learn else ()
            _LAYERS[key] = RALIF(x0.shape[-1], learn=learned, backend=backend)
        z, state = _LAYERS[key](x)
    else:
        params = params_cls()
        if learn:
            params = params_cls(*(torch.tensor(float(v)).requires_grad_() for v in params[:n_learn]))
        z, state = fn(x, None, params, dt=dt, backend=backend)
    (z.sum() + 0.01 * state.v.sum()).backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--T", type=int, default=500)
    ap.add_argument("--B", type=int, default=16)
    ap.add_argument("--N", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-neuron_kernels.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    g = torch.Generator().manual_seed(0)
    inputs = {}
    for model, (*_, (lo, hi), _dt) in MODELS.items():
        inputs[model] = lo + (hi - lo) * torch.rand(args.T, args.B, args.N, generator=g)
    configs = [(m, b, learn) for m in MODELS for learn in (False, True) for b in ("torch", "cpu")]
    for c in configs:  # warm-up: compile the kernels, fill the caches
        step(*c, inputs[c[0]])
    seconds: dict[tuple, list[float]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        for c in configs:
            t0 = time.perf_counter()
            step(*c, inputs[c[0]])
            seconds[c].append(time.perf_counter() - t0)
    print(f"{cpu_model()}, {args.threads} torch threads, load {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"T={args.T}, B={args.B}, N={args.N}, {args.rounds} rounds; forward + backward, ms (min / median)")
    rows = []
    for model in MODELS:
        for learn in (False, True):
            ref, fused = (seconds[(model, b, learn)] for b in ("torch", "cpu"))
            ratio = min(fused) / min(ref)
            label = f"{model}, {'learned' if learn else 'fixed'} parameters"
            print(
                f"{label:>34}: reference {min(ref) * 1e3:7.1f} / {statistics.median(ref) * 1e3:7.1f}, "
                f"fused {min(fused) * 1e3:7.1f} / {statistics.median(fused) * 1e3:7.1f}, fused / reference x{ratio:.2f}"
            )
            rows.append({"model": model, "learn": learn, "reference_s": ref, "fused_s": fused, "ratio": ratio})
    recompute = recompute_cost(args.rounds)
    print(
        f"RLIF (T=100, B=32, N=256): training step {recompute['step_ms']:.2f} ms; the recurrent products a recomputing "
        f"backward would add {recompute['products_ms']:.2f} ms (+{100 * recompute['fraction']:.0f}%)"
    )
    write_result(
        args.out,
        {**run_record(load_before), "args": vars(args) | {"out": str(args.out)}, "rows": rows, "rlif": recompute},
    )


def recompute_cost(rounds: int, steps: int = 100, batch: int = 32, n: int = 256) -> dict:
    """Minimum time of an RLIF training step and of the ``steps`` products ``[B, N] @ [N, N]`` (plus the input)
    that recomputing its ``h`` in the backward would add, timed alternately."""
    torch.manual_seed(0)
    layer = RLIF(n)
    x0 = torch.rand(steps, batch, n) * 0.5
    z, wt = torch.rand(batch, n), layer.recurrent.weight.detach().t()

    def train() -> None:
        x = x0.clone().requires_grad_()
        out, _ = layer(x)
        out.sum().backward()

    def products() -> None:
        for t in range(steps):
            torch.addmm(x0[t], z, wt)

    times: dict[str, list[float]] = {"step": [], "products": []}
    for r in range(3 * rounds + 1):
        for name, fn in (("step", train), ("products", products)):
            t0 = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t0)
    step, prod = min(times["step"]), min(times["products"])
    return {"step_ms": step * 1e3, "products_ms": prod * 1e3, "fraction": prod / step}


if __name__ == "__main__":
    main()
