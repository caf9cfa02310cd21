"""Peak training memory and time per training step against the sequence length T, for BPTT and the methods whose
memory does not grow with T (issue 14, part 3), on the W1 network (700 -> 256 LIF -> 20 leaky integrators; the
weights and Bernoulli(5%) input of ``impls.py``), batch 16.

    python benchmarks/online_memory.py                      # T = 100, 500, 1000, 2000; about 5-10 minutes
    python benchmarks/online_memory.py --lengths 100,500 --methods eprop,ottt

Rows (one training step = forward and every gradient, no optimiser step):

- ``bptt``: spikeforge's model with the fused CPU kernels (``backend="auto"``), loss CE(sum_t v_t);
- ``bptt_lean``: memory-lean BPTT (``backend="cpu_lean"``: ``h - threshold`` in float16 and spike bits kept);
- ``checkpoint_time``: the whole network in ``spikeforge.checkpoint_time(net, chunk=100)`` (fused kernels);
- ``eventprop``: the EventProp helper's W1 step (``learning.online._eventprop_net.eventprop_w1_step``: current-based
  LIF, exact gradients, max-over-time membrane loss), when that module is present;
- ``eprop``: :class:`spikeforge.learning.online.EProp` on the same network and loss CE(sum_t v_t) (exact here: W1
  has no recurrent weights), traces summed over time, learning signal at the end;
- ``ottt``: :class:`spikeforge.learning.online.OTTT`, loss sum_t CE(v_t) / T backpropagated at every step.

Every (method, T) runs in its own process, as ``run.py`` does: one short priming run (10 steps), then the kernel's
peak-RSS mark is reset, the resting RSS taken, and the timed runs made; peak = peak RSS - resting RSS, with
``MALLOC_MMAP_THRESHOLD_=65536`` so that freed tensors leave RSS. The input ``[T, 16, 700]`` exists before the
resting RSS is taken (it is the data, not the method's memory). Also printed: the cosine per layer between each
online method's gradient and BPTT's on W1 (and on W1 with recurrent weights for e-prop), float64, T = 200.

Output: a table, the ratios the issue's bars ask for, ``--out`` (JSON, default
``benchmarks/results/online_memory.json``) and a plot beside it (``.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import cpu_model
from _memory import peak_bytes, reset_peak, rss_bytes

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

METHODS = ["bptt", "bptt_lean", "checkpoint_time", "eventprop", "eprop", "ottt"]
LENGTHS = [100, 500, 1000, 2000]
BATCH = 16


def eventprop_available() -> bool:
    try:
        from spikeforge.learning.online._eventprop_net import eventprop_w1_step, w1_network  # noqa: F401
    except ImportError:
        return False
    return True


def _w1_model(w, dtype=None):
    """spikeforge's W1 as a SequentialState, from the shared weights (torch reference scan)."""
    import torch

    import spikeforge as sf

    fc1, fc2 = torch.nn.Linear(700, 256), torch.nn.Linear(256, 20)
    with torch.no_grad():
        fc1.weight.copy_(w["w1"])
        fc1.bias.copy_(w["b1"])
        fc2.weight.copy_(w["w2"])
        fc2.bias.copy_(w["b2"])
    net = sf.SequentialState(fc1, sf.LIF(256, backend="torch"), fc2, sf.LI(20, backend="torch"))
    if "wr" in w:
        hidden = sf.RLIF(256, backend="torch")
        with torch.no_grad():
            hidden.recurrent.weight.copy_(w["wr"])
        net = sf.SequentialState(fc1, hidden, fc2, sf.LI(20, backend="torch"))
    return net if dtype is None else net.to(dtype)


def build_step(method: str):
    """``step(x, y)``: one training step (forward and gradients into ``.grad``) of ``method`` on W1."""
    import impls
    import torch.nn.functional as F

    w = impls.canonical_weights("w1")
    if method in ("bptt", "bptt_lean", "checkpoint_time"):
        backend = "cpu_lean" if method == "bptt_lean" else "auto"
        inner, _ = impls.build_spikeforge("w1", w, backend=backend, chunk=100 if method == "checkpoint_time" else None)

        def step(x, y):
            loss, _ = inner(x, y)
            loss.backward()

        return step
    if method == "eventprop":
        from spikeforge.learning.online._eventprop_net import eventprop_w1_step, w1_network

        net = w1_network()
        return lambda x, y: eventprop_w1_step(net, x, y)
    from spikeforge.learning.online import OTTT, EProp

    net = _w1_model(w)
    if method == "eprop":
        learner = EProp(net)

        def step(x, y):
            learner.reset()
            score = 0
            for t in range(x.shape[0]):
                score = score + learner.step(x[t])
                learner.accumulate(1.0)
            score = score.detach().requires_grad_(True)
            F.cross_entropy(score, y).backward()
            learner.learn_sequence(score.grad)
            learner.reset()  # the traces are freed here, so the peak of the next step counts them again

        return step
    learner = OTTT(net)

    def step(x, y):
        learner.reset()
        for t in range(x.shape[0]):
            (F.cross_entropy(learner.step(x[t]), y) / x.shape[0]).backward()
        learner.reset()

    return step


def worker(cfg: dict) -> dict:
    import impls
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    step = build_step(cfg["method"])
    x, y = impls.make_data("w1", cfg["T"], BATCH)
    # priming: one-time allocations are not the method's memory; "full" primes with a whole step of the same T, so
    # that the allocator's small-block heap has reached its steady size (fragmentation) before the resting RSS
    step(x if cfg.get("prime") == "full" else x[:10], y)
    reset_peak()
    base = rss_bytes()
    times = []
    for _ in range(cfg["repeats"]):
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    peak = peak_bytes()
    return {**cfg, "ms": 1e3 * statistics.median(times), "ms_min": 1e3 * min(times), "peak_mib": (peak - base) / 2**20}


def run_isolated(cfg: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {**cfg, "error": f"timeout after {timeout:.0f} s"}
    if res.returncode != 0:
        return {**cfg, "error": (res.stderr.strip().splitlines() or [f"rc {res.returncode}"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def alignment(steps: int = 200, batch: int = 8) -> list[dict]:
    """Cosine per layer between each online method's gradient and BPTT's gradient of the same loss (float64)."""
    import impls
    import torch
    import torch.nn.functional as F

    from spikeforge.learning.online import OTTT, EProp

    rows = []
    x, y = impls.make_data("w1", steps, batch)
    x = x.double()
    for kind in ("w1", "w1r"):
        w = impls.canonical_weights(kind)
        net = _w1_model(w, torch.float64)
        for method, loss_name in (("eprop", "CE(sum_t v_t)"), ("ottt", "sum_t CE(v_t) / T")):
            if method == "ottt" and kind == "w1r":
                continue  # OTTT is for feed-forward networks
            net.zero_grad()
            out, _ = net(x)
            loss = (
                F.cross_entropy(out.sum(0), y) if method == "eprop" else sum(F.cross_entropy(o, y) for o in out) / steps
            )
            loss.backward()
            ref = {n: p.grad.clone() for n, p in net.named_parameters()}
            net.zero_grad()
            if method == "eprop":
                learner = EProp(net)
                score = 0
                for t in range(steps):
                    score = score + learner.step(x[t])
                    learner.accumulate(1.0)
                score = score.detach().requires_grad_(True)
                F.cross_entropy(score, y).backward()
                learner.learn_sequence(score.grad)
            else:
                learner = OTTT(net)
                for t in range(steps):
                    (F.cross_entropy(learner.step(x[t]), y) / steps).backward()
            cos = {
                n: float(F.cosine_similarity(p.grad.flatten(), ref[n].flatten(), dim=0))
                for n, p in net.named_parameters()
            }
            rows.append({"network": kind, "method": method, "loss": loss_name, "cosine": cos})
    return rows


def _plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in METHODS:
        mine = sorted((r for r in rows if r["method"] == method and "error" not in r), key=lambda r: r["T"])
        if not mine:
            continue
        ts = [r["T"] for r in mine]
        axes[0].plot(ts, [max(r["peak_mib"], 0.1) for r in mine], "o-", label=method)
        axes[1].plot(ts, [r["ms"] / 1e3 for r in mine], "o-", label=method)
    axes[0].set(xscale="log", yscale="log", xlabel="T (steps)", ylabel="peak training memory (MiB)")
    axes[1].set(xscale="log", yscale="log", xlabel="T (steps)", ylabel="time per training step (s)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timed training steps per cell (median reported)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per cell")
    ap.add_argument("--no-alignment", action="store_true")
    ap.add_argument(
        "--prime",
        choices=["short", "full"],
        default="short",
        help="priming run before the resting RSS: 10 steps (run.py's protocol, default) or a whole step of T",
    )
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-online_memory.json")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    import torch

    lengths = [int(t) for t in args.lengths.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"--methods: unknown {unknown}; choose from {METHODS}")
    notes = []
    if "eventprop" in methods and not eventprop_available():
        methods.remove("eventprop")
        notes.append("eventprop left out: spikeforge.learning.online._eventprop_net is not importable here")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    rows = []
    for t in lengths:  # lengths outer, methods inner: every method sees similar load at each T
        for method in methods:
            cell = {"method": method, "T": t, "threads": args.threads, "repeats": args.repeats, "prime": args.prime}
            r = run_isolated(cell, args.timeout)
            rows.append(r)
            shown = r.get("error") or f"{r['ms'] / 1e3:8.2f} s/step {r['peak_mib']:8.1f} MiB"
            print(f"T={t:5d} {method:16s} {shown}", flush=True)
    env = (
        f"{started}, {cpu_model()}, {os.cpu_count()} cores, {args.threads} torch threads, load {load:.1f} at start, "
        f"torch {torch.__version__}, B={BATCH}, {args.repeats} timed step(s) per cell, MALLOC_MMAP_THRESHOLD_=65536, "
        f"priming: {'a whole step' if args.prime == 'full' else '10 steps'}"
    )
    print(f"\n{env}\n")
    peak = {(r["method"], r["T"]): r["peak_mib"] for r in rows if "error" not in r}
    ms = {(r["method"], r["T"]): r["ms"] for r in rows if "error" not in r}
    header = "| method | " + " | ".join(f"T={t}" for t in lengths) + " |"
    rule = "|---" * (len(lengths) + 1) + "|"
    print("peak training memory (MiB above the resting RSS)\n" + header + "\n" + rule)
    for m in methods:
        print(f"| {m} | " + " | ".join(f"{peak[(m, t)]:.1f}" if (m, t) in peak else "-" for t in lengths) + " |")
    print("\ntime per training step (s)\n" + header + "\n" + rule)
    for m in methods:
        print(f"| {m} | " + " | ".join(f"{ms[(m, t)] / 1e3:.2f}" if (m, t) in ms else "-" for t in lengths) + " |")
    bars = {}
    lo, hi = min(lengths), max(lengths)
    for m in ("eprop", "ottt"):
        if (m, lo) in peak and (m, hi) in peak:
            ratio = peak[(m, hi)] / peak[(m, lo)]
            bars[f"{m}_peak_T{hi}_over_T{lo}"] = ratio
            print(f"\nbar: {m} peak at T={hi} / T={lo} = {ratio:.3f} (<= 1.10: {'met' if ratio <= 1.10 else 'MISSED'})")
    if ("eventprop", hi) in peak and ("bptt_lean", hi) in peak:
        ratio = peak[("eventprop", hi)] / peak[("bptt_lean", hi)]
        bars[f"eventprop_over_bptt_lean_T{hi}"] = ratio
        print(
            f"bar: eventprop / memory-lean BPTT peak at T={hi} = {ratio:.3f} (<= 0.25: {'met' if ratio <= 0.25 else 'MISSED'})"
        )
    for note in notes:
        print("note:", note)
    align = [] if args.no_alignment else alignment()
    if align:
        print("\ngradient cosine with BPTT of the same loss, per parameter (float64, T=200, B=8)")
        for r in align:
            print(
                f"  {r['network']:4s} {r['method']:6s} {r['loss']:18s} "
                + ", ".join(f"{k} {v:.4f}" for k, v in r["cosine"].items())
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"environment": env, "rows": rows, "bars": bars, "notes": notes, "alignment": align}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, args.out)
    _plot(rows, args.out.with_suffix(".png"), f"W1 (700-256-20), B={BATCH}: {env[:110]}")
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
