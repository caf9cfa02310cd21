"""Dense vs event-driven first layer of W1 (700 -> 256, T*B = 3200 rows) against input density.

    python benchmarks/density.py [--quick]

Prints ms per call for inference (forward) and training (forward + weight gradient) and the crossover density
where the event path stops being faster (log-linear interpolation between measured densities).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

DENSITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _crossover(rows: list[dict], key: str) -> float | None:
    prev = None
    for r in rows:
        ratio = r[f"event_{key}"] / r[f"dense_{key}"]
        if ratio >= 1.0:
            if prev is None:
                return r["density"]
            d0, q0 = prev
            # interpolate log(density) where the ratio crosses 1
            f = (1.0 - q0) / (ratio - q0) if ratio != q0 else 0.0
            return math.exp(math.log(d0) + f * (math.log(r["density"]) - math.log(d0)))
        prev = (r["density"], ratio)
    return None


def sweep(quick: bool = False, rows: int = 3200, n_in: int = 700, n_out: int = 256) -> dict:
    from spikeforge.synapses._event import event_linear

    torch.manual_seed(0)
    weight = (torch.randn(n_out, n_in) * 0.04).requires_grad_()
    bias = torch.zeros(n_out, requires_grad=True)
    repeats = 3 if quick else 7
    out = []
    for density in DENSITIES:
        x = (torch.rand(rows, n_in) < density).float()
        go = torch.randn(rows, n_out)
        res = {"density": density}
        for mode in ("dense", "event"):

            def infer(mode=mode, x=x):
                with torch.no_grad():
                    event_linear(x, weight, bias, mode=mode)

            def train(mode=mode, x=x, go=go):
                y = event_linear(x, weight, bias, mode=mode)
                torch.autograd.backward(y, go)
                weight.grad = bias.grad = None

            res[f"{mode}_infer"] = _median_ms(infer, repeats)
            res[f"{mode}_train"] = _median_ms(train, repeats)
        out.append(res)
    return {
        "shape": [rows, n_in, n_out],
        "threads": torch.get_num_threads(),
        "rows": out,
        "crossover_infer": _crossover(out, "infer"),
        "crossover_train": _crossover(out, "train"),
    }


def format_sweep(result: dict) -> str:
    rows, n_in, n_out = result["shape"]
    lines = [
        f"\nDense vs event-driven Linear {n_in}->{n_out} over {rows} rows (ms per call, {result['threads']} threads)",
        f"  {'density':>8} {'dense inf':>10} {'event inf':>10} {'dense trn':>10} {'event trn':>10}",
    ]
    for r in result["rows"]:
        lines.append(
            f"  {100 * r['density']:7.1f}% {r['dense_infer']:10.2f} {r['event_infer']:10.2f} "
            f"{r['dense_train']:10.2f} {r['event_train']:10.2f}"
        )

    def pct(v):
        return "above 50%" if v is None else f"{100 * v:.1f}%"

    lines.append(f"  crossover: inference {pct(result['crossover_infer'])}, training {pct(result['crossover_train'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(format_sweep(sweep(quick=a.quick)))
