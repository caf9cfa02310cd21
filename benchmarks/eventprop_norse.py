"""spikeforge's EventProp against Norse's adjoint LIF on the same network, weights and data: gradient agreement and
time per training step, interleaved in one run.

    .venv-bench/bin/python benchmarks/eventprop_norse.py                    # W1-shaped, T = 100, B = 16
    .venv-bench/bin/python benchmarks/eventprop_norse.py --steps 200 --rounds 5 --json /tmp/ep_norse.json

Network: 700 Bernoulli inputs (5% per 1 ms step) -> 256 current-based LIF (tau_mem 20 ms, tau_syn 5 ms,
threshold 1, reset to 0) -> 20 current-based leaky integrators; loss = cross-entropy of each readout's maximum
over the 1 ms grid. An input spike makes the current jump by its weight at the start of its step in both.

- spikeforge: ``event_lif`` (exact event-driven dynamics in continuous time, EventProp adjoint) and
  ``event_lif_max`` (the readout's exact adjoint).
- Norse 1.1.0: ``lif_feed_forward_adjoint_step`` per step (forward Euler at ``dt``, its discrete adjoint for the
  backward), ``li_step`` for the readout under autograd.

Norse integrates with forward Euler, so the two compute slightly different spike trains; the script therefore also
runs Norse at a finer step (``--fine``, the same input spikes on a grid ``--fine`` times denser), where its spikes
approach the exact ones. Reported: hidden spike counts, cosine similarity and norm ratio of the gradients of both
weight matrices, and the median time of a training step (forward + backward) over interleaved rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
TAU_MEM, TAU_SYN, DT = 20e-3, 5e-3, 1e-3


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-30))


def spikeforge_step(w1, w2, x, y):
    from spikeforge.learning.online import EventLIFParams, event_lif, event_lif_max, max_membrane_loss

    p = EventLIFParams(TAU_MEM, TAU_SYN, 1.0)
    a, b = w1.clone().requires_grad_(), w2.clone().requires_grad_()
    t_end = (x.shape[0] - 1) * DT
    h = event_lif(x, a, params=p, t_end=t_end, dt=DT)
    v = event_lif_max(h, b, params=p, t_end=t_end, dt=DT)
    loss = max_membrane_loss(v, y)
    loss.backward()
    return loss.item(), a.grad, b.grad, int(h.count().sum())


def directional_check(w1, w2, x, y, eps: float = 1e-7) -> dict:
    """spikeforge's gradient against a central difference of the loss along the gradient's own direction (float64;
    the perturbation must keep every sample's hidden spike count)."""
    from spikeforge.learning.online import EventLIFParams, event_lif, event_lif_max, max_membrane_loss

    p, t_end = EventLIFParams(TAU_MEM, TAU_SYN, 1.0), (x.shape[0] - 1) * DT
    w1, w2, x = w1.double(), w2.double(), x.double()

    def loss(a, b):
        h = event_lif(x, a, params=p, t_end=t_end, dt=DT)
        return max_membrane_loss(event_lif_max(h, b, params=p, t_end=t_end, dt=DT), y), h.count().tolist()

    a, b = w1.clone().requires_grad_(), w2.clone().requires_grad_()
    base, counts = loss(a, b)
    base.backward()
    out = {}
    for name, g in (("w1", a.grad), ("w2", b.grad)):
        d = eps * g / g.norm()
        shift = (d, 0 * w2) if name == "w1" else (0 * w1, d)
        lp, cp = loss(w1 + shift[0], w2 + shift[1])
        lm, cm = loss(w1 - shift[0], w2 - shift[1])
        fd = float(lp - lm) / (2 * eps)
        out[name] = {"rel_err": abs(fd - float(g.norm())) / float(g.norm()), "counts_kept": cp == counts == cm}
    return out


def norse_step(w1, w2, x, y, fine: int = 1):
    from norse.torch.functional.adjoint.lif_adjoint import lif_feed_forward_adjoint_step
    from norse.torch.functional.leaky_integrator import LIParameters, LIState, li_step
    from norse.torch.functional.lif import LIFFeedForwardState, LIFParameters

    dt = DT / fine
    p = LIFParameters(
        tau_syn_inv=torch.as_tensor(1 / TAU_SYN),
        tau_mem_inv=torch.as_tensor(1 / TAU_MEM),
        v_leak=torch.as_tensor(0.0),
        v_th=torch.as_tensor(1.0),
        v_reset=torch.as_tensor(0.0),
    )
    pl = LIParameters(tau_syn_inv=torch.as_tensor(1 / TAU_SYN), tau_mem_inv=torch.as_tensor(1 / TAU_MEM))
    a, b = w1.clone().requires_grad_(), w2.clone().requires_grad_()
    steps, batch = x.shape[:2]
    s = LIFFeedForwardState(torch.zeros(batch, a.shape[0]), torch.zeros(batch, a.shape[0]))
    r = LIState(torch.zeros(batch, b.shape[0]), torch.zeros(batch, b.shape[0]))
    v_max = torch.zeros(batch, b.shape[0])  # the grid point t = 0, where V = 0
    zero_in = torch.zeros(batch, a.shape[1])
    n_spikes = 0
    for k in range(steps):
        for sub in range(fine):
            cur = torch.nn.functional.linear(x[k] if sub == 0 else zero_in, a)
            z, s = lif_feed_forward_adjoint_step(cur, s, p, dt)
            n_spikes += int(z.detach().sum())
            v, r = li_step(z, r, b, pl, dt)
            if sub == fine - 1 and k < steps - 1:  # v is now V((k + 1) ms): the grid up to (T - 1) ms
                v_max = torch.maximum(v_max, v)
    loss = torch.nn.functional.cross_entropy(v_max, y)
    loss.backward()
    return loss.item(), a.grad, b.grad, n_spikes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fine", type=int, default=10, help="Norse's finer grid: this many steps per 1 ms")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    sys.path.insert(0, str(HERE))
    from impls import make_data

    from spikeforge.learning.online import w1_network

    net = w1_network()
    w1, w2 = net.weights[0].detach().clone(), net.weights[1].detach().clone()
    x, y = make_data("w1", args.steps, args.batch)

    runs = {
        "spikeforge eventprop": lambda: spikeforge_step(w1, w2, x, y),
        "norse adjoint, dt 1 ms": lambda: norse_step(w1, w2, x, y),
        f"norse adjoint, dt {1 / args.fine:g} ms": lambda: norse_step(w1, w2, x, y, args.fine),
    }
    times = {k: [] for k in runs}
    out = {}
    for _ in range(args.rounds):  # interleaved: every implementation once per round
        for name, fn in runs.items():
            t0 = time.perf_counter()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)
    check = directional_check(w1, w2, x, y)
    ref = out["spikeforge eventprop"]
    rows = []
    for name, (loss, g1, g2, n) in out.items():
        rows.append(
            {
                "impl": name,
                "loss": loss,
                "hidden_spikes": n,
                "cos_w1": _cos(g1, ref[1]),
                "cos_w2": _cos(g2, ref[2]),
                "norm_ratio_w1": float(g1.norm() / ref[1].norm()),
                "norm_ratio_w2": float(g2.norm() / ref[2].norm()),
                "median_s": statistics.median(times[name]),
                "min_s": min(times[name]),
                "max_s": max(times[name]),
            }
        )
    print(f"W1 700 -> 256 -> 20, T = {args.steps}, B = {args.batch}, {args.threads} thread(s), {args.rounds} rounds")
    print("| impl | loss | hidden spikes | cos dW1 | cos dW2 | |dW1| ratio | |dW2| ratio | step s (median, min-max) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['impl']} | {r['loss']:.4f} | {r['hidden_spikes']} | {r['cos_w1']:.3f} | {r['cos_w2']:.3f} | "
            f"{r['norm_ratio_w1']:.3f} | {r['norm_ratio_w2']:.3f} | {r['median_s']:.2f} ({r['min_s']:.2f}-"
            f"{r['max_s']:.2f}) |"
        )
    print(
        "spikeforge's gradient vs a central difference along it (float64, eps 1e-7): "
        + ", ".join(
            f"{k} rel. error {v['rel_err']:.1e} (spike counts kept: {v['counts_kept']})" for k, v in check.items()
        )
    )
    if args.json is not None:
        payload = {"args": {**vars(args), "json": str(args.json)}, "rows": rows, "directional_check": check}
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
