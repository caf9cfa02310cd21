"""Side-by-side benchmark of spikeforge against snnTorch, Norse, SpikingJelly, a plain PyTorch loop and the floor.

Run by ``make bench`` (which builds ``.venv-bench`` with the pinned CPU torch and the peers). Every measured
configuration (workload, size, mode, implementation) runs in its own process, so its peak memory is its own; the
agreement check runs all implementations on the same weights and inputs in one process.

    python benchmarks/run.py            # the full run (about 20-30 minutes on 2 cores)
    python benchmarks/run.py --quick    # W1 (100, 32) only, fewer repeats

Output: a table on the terminal and ``<name>.json`` in the system's temporary folder (``--out FILE`` elsewhere, e.g.
``benchmarks/results/`` for a run the README quotes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

IMPLS_W1 = [
    "floor",
    "hand",
    "snntorch",
    "norse",
    "spikingjelly",
    "spikeforge:torch",
    "spikeforge:cpu",
    "spikeforge:cpu_lean",
    "spikeforge:cpu+event",
    "spikeforge:cpu_lean+event+ckpt100",
]
IMPLS_W1R = ["floor", "hand", "snntorch", "norse", "spikingjelly", "spikeforge:torch", "spikeforge:auto"]
IMPLS_W2 = [
    "floor",
    "hand",
    "snntorch",
    "norse",
    "spikingjelly",
    "spikeforge:torch",
    "spikeforge:cpu",
    "spikeforge:cpu+event",
]
PEERS = ("snntorch", "norse", "spikingjelly")
#: peak training memory against T: the peers, spikeforge's backends (``+measure``: the synapses the model builders
#: make by default, each the path timed faster here; an event synapse on spikes then fuses with the LIF layer), and
#: the whole network checkpointed over chunks of 100 steps (``+ckpt100``: spikeforge.checkpoint_time)
IMPLS_MEMORY = [
    "snntorch",
    "norse",
    "spikingjelly",
    "spikeforge:torch",
    "spikeforge:cpu",
    "spikeforge:cpu+measure",
    "spikeforge:cpu_lean+event",
    "spikeforge:cpu+ckpt100",
    "spikeforge:cpu_lean+event+ckpt100",
]


def worker(cfg: dict) -> dict:
    """Measure one configuration in this process: median ms per batch and peak memory above the baseline."""
    import impls
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    w = impls.canonical_weights(cfg["kind"])
    step, _ = impls.build(cfg["impl"], cfg["kind"], w)
    x, y = impls.make_data(cfg["kind"], cfg["T"], cfg["B"])
    train = cfg["mode"] == "train"

    def once():
        if train:
            loss = step(x, y)[0]  # the hidden spikes are returned for the agreement check only: not kept here
            loss.backward()
        else:
            with torch.no_grad():
                step(x, y)

    # one short run first, so that one-time allocations (thread pools, lazy imports, caches) are not counted; then the
    # peak is measured from the resting RSS (workers run with a fixed malloc mmap threshold, so freed tensors go back
    # to the system and RSS follows live memory). Not a full-length run: the heap would keep the small per-step
    # tensors of a step-by-step peer, and its peak would be undercounted (snnTorch: 15 MiB instead of 134). Event
    # synapses (``+event``, ``+measure``) time their path, and whether to fuse with the LIF layer after them, once
    # per shape: they do it in a first full-length run, as a training run does in its first batch.
    x_full = x
    x = x_full[: min(10, x_full.shape[0])]
    once()
    x = x_full
    if "+measure" in cfg["impl"] or "+event" in cfg["impl"]:
        once()
    reset_peak()
    base = rss_bytes()
    times = []
    deadline = time.perf_counter() + cfg["budget_s"]
    for i in range(cfg["warmup"] + cfg["repeats"]):
        t0 = time.perf_counter()
        once()
        dt = time.perf_counter() - t0
        if i >= cfg["warmup"]:
            times.append(dt)
        if i >= cfg["warmup"] + 2 and time.perf_counter() > deadline:
            break  # slow configurations: at least 3 timed runs, then stop at the time budget
    peak = peak_bytes()
    return {
        **cfg,
        "ms": 1e3 * statistics.median(times),
        "runs": len(times),
        "ms_min": 1e3 * min(times),
        "peak_mib": max(0, peak - base) / 2**20,
    }


def run_isolated(cfg: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    try:
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {**cfg, "error": f"timeout after {timeout:.0f} s"}
    if res.returncode != 0:
        return {**cfg, "error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"rc {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def agreement(kind: str, impls_list: list[str], steps: int = 100, batch: int = 16) -> list[dict]:
    """Spike agreement of the hidden layer and cosine of the first-layer weight gradient, against
    spikeforge's torch reference, on the same weights and inputs."""
    import impls
    import torch

    w = impls.canonical_weights(kind)
    x, y = impls.make_data(kind, steps, batch)
    out = {}
    for name in impls_list:
        step, weight = impls.build(name, kind, w)
        if hasattr(step, "record"):  # checkpointed models return the hidden spikes only when asked
            step.record = True
        loss, z = step(x, y)
        loss.backward()
        out[name] = (z.detach().float(), weight.grad.detach().flatten().clone())
    z_ref, g_ref = out["spikeforge:torch"]
    rows = []
    for name, (z, g) in out.items():
        zr = z_ref
        if name == "norse":  # Norse's input reaches the membrane one step later
            z, zr = z[1:], z_ref[:-1]
        cos = float(torch.nn.functional.cosine_similarity(g, g_ref, dim=0))
        rows.append(
            {
                "kind": kind,
                "impl": name,
                "spike_agreement": float((z == zr).float().mean()),
                "hidden_rate": float(z.mean()),
                "grad_cosine": cos,
            }
        )
    return rows


def activation_bytes(impl_names: list[str], steps: int = 200, batch: int = 16, n: int = 256) -> list[dict]:
    """Bytes per neuron per step that the backward of one hidden LIF layer keeps (distinct storages of the
    tensors autograd saves, counted with saved-tensor hooks; the input current is given)."""
    import impls
    import torch

    rows = []
    for name in impl_names:
        fn = impls.hidden_layer(name, n)
        cur = (torch.rand(steps, batch, n) * 0.3).requires_grad_()
        seen: dict[int, int] = {}

        def pack(t, seen=seen):
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            z = fn(cur)
        z.sum().backward()
        own = sum(b for p, b in seen.items() if p != cur.untyped_storage().data_ptr())
        rows.append({"impl": name, "bytes_per_neuron_step": own / (steps * batch * n)})
    return rows


def table(results: list[dict]) -> str:
    lines = []
    hdr = (
        f"{'workload':8} {'T':>5} {'B':>3} {'mode':5} {'implementation':22} {'ms':>9} {'x floor':>8} "
        f"{'x best peer':>11} {'peak MiB':>9}"
    )
    lines.append(hdr)
    lines.append("-" * len(hdr))
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["kind"], r["T"], r["B"], r["mode"]), []).append(r)
    for key, rows in groups.items():
        ok = {r["impl"]: r for r in rows if "ms" in r}
        floor = ok.get("floor", {}).get("ms")
        peers = [ok[p]["ms"] for p in PEERS if p in ok]
        best = min(peers) if peers else None
        for r in rows:
            if "ms" not in r:
                lines.append(f"{key[0]:8} {key[1]:>5} {key[2]:>3} {key[3]:5} {r['impl']:22} {r['error']}")
                continue
            rf = f"{r['ms'] / floor:8.2f}" if floor else f"{'-':>8}"
            rp = f"{r['ms'] / best:11.2f}" if best else f"{'-':>11}"
            lines.append(
                f"{key[0]:8} {key[1]:>5} {key[2]:>3} {key[3]:5} {r['impl']:22} {r['ms']:9.2f} {rf} "
                f"{rp} {r['peak_mib']:9.1f}"
            )
        lines.append("")
    return "\n".join(lines)


def memory_table(memory: list[dict]) -> str:
    """Peak training MiB against T (markdown), then each implementation's ratio to the most frugal peer at each T."""
    lengths = sorted({r["T"] for r in memory})
    head = " | ".join(f"T={t}" for t in lengths)
    out = [f"| peak training MiB, W1, B=16 | {head} |", "|---|" + "---|" * len(lengths)]
    mib: dict[str, dict[int, float]] = {}
    cells: dict[str, dict[int, str]] = {}
    for r in memory:
        cells.setdefault(r["impl"], {})[r["T"]] = f"{r['peak_mib']:.0f}" if "ms" in r else r["error"]
        if "ms" in r:
            mib.setdefault(r["impl"], {})[r["T"]] = r["peak_mib"]
    for impl, row in cells.items():
        out.append(f"| {impl} | " + " | ".join(row.get(t, "") for t in lengths) + " |")
    frugal = {
        t: min((mib[p][t], p) for p in PEERS if t in mib.get(p, {}))
        for t in lengths
        if any(t in mib.get(p, {}) for p in PEERS)
    }
    if frugal:
        out += [
            "",
            "| ratio to the most frugal peer (bar at T=1000: <= 0.25) | " + head + " |",
            "|---|" + "---|" * len(lengths),
            "| most frugal peer | "
            + " | ".join(f"{frugal[t][1]} ({frugal[t][0]:.0f} MiB)" if t in frugal else "" for t in lengths)
            + " |",
        ]
        for impl, row in mib.items():
            if impl in PEERS:
                continue
            out.append(
                f"| {impl} | "
                + " | ".join(f"{row[t] / frugal[t][0]:.3f}" if t in row and t in frugal else "" for t in lengths)
                + " |"
            )
    return "\n".join(out)


def markdown(path: Path) -> str:
    """The README tables from a results file."""
    data = json.loads(path.read_text())
    meta = data["meta"]
    out = [
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores, {meta['threads']} torch threads), "
        f"torch {meta['torch']}, Python {meta['python']}, peers {meta['peers']}. {meta['note']}.",
        "",
    ]
    out.append(
        "| workload | T | B | mode | implementation | ms (median) | ms (min) | x floor | x best peer | peak MiB |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list[dict]] = {}
    for r in data["speed"]:
        groups.setdefault((r["kind"], r["T"], r["B"], r["mode"]), []).append(r)
    for key, rows in groups.items():
        ok = {r["impl"]: r for r in rows if "ms" in r}
        floor = ok.get("floor", {}).get("ms")
        peers = [ok[p]["ms"] for p in PEERS if p in ok]
        best = min(peers) if peers else None
        for r in rows:
            if "ms" not in r:
                out.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {r['impl']} | {r['error']} | | | | |")
                continue
            rf = f"{r['ms'] / floor:.2f}" if floor else "-"
            rp = f"{r['ms'] / best:.2f}" if best else "-"
            out.append(
                f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {r['impl']} | {r['ms']:.1f} | "
                f"{r['ms_min']:.1f} | {rf} | {rp} | {r['peak_mib']:.1f} |"
            )
    if data.get("agreement"):
        out += [
            "",
            "| workload | implementation | hidden spikes equal to spikeforge:torch | hidden rate | "
            "first-layer gradient cosine |",
            "|---|---|---|---|---|",
        ]
        for a in data["agreement"]:
            out.append(
                f"| {a['kind']} | {a['impl']} | {100 * a['spike_agreement']:.3f}% | "
                f"{100 * a['hidden_rate']:.2f}% | {a['grad_cosine']:+.4f} |"
            )
    if data.get("memory_vs_T"):
        out += ["", memory_table(data["memory_vs_T"])]
    if data.get("activation_bytes"):
        out += ["", "| one hidden LIF layer | bytes kept per neuron per step |", "|---|---|"]
        for r in data["activation_bytes"]:
            out.append(f"| {r['impl']} | {r['bytes_per_neuron_step']:.2f} |")
    if data.get("density"):
        d = data["density"]
        out += [
            "",
            "| density | dense infer ms | event infer ms | dense train ms | event train ms |",
            "|---|---|---|---|---|",
        ]
        for r in d["rows"]:
            out.append(
                f"| {100 * r['density']:.1f}% | {r['dense_infer']:.2f} | {r['event_infer']:.2f} | "
                f"{r['dense_train']:.2f} | {r['event_train']:.2f} |"
            )

        def pct(v):
            return "above 50%" if v is None else f"{100 * v:.1f}%"

        out.append("")
        out.append(
            f"Crossover density (event-driven stops being faster): inference {pct(d['crossover_infer'])}, "
            f"training {pct(d['crossover_train'])}."
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="W1 at (100, 32) only, 3 timed runs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="", help="workloads and sizes to time, e.g. w1:100x32,w1r:100x32")
    ap.add_argument("--only", default="", help="comma-separated implementations to run (default: all)")
    ap.add_argument(
        "--parts",
        default="speed,agree,memory,bytes,density",
        help="comma-separated parts: speed, agree, memory (training memory vs T), bytes, density",
    )
    ap.add_argument("--memory-impls", default="", help="comma-separated implementations for the memory part")
    ap.add_argument("--lengths", default="", help="sequence lengths T for the memory part, e.g. 100,1000")
    ap.add_argument("--markdown", type=Path, help="print the README tables of a results file and exit")
    ap.add_argument("--name", default=None, help="results file name (default: quick or full)")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: NAME.json in the temporary folder)")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.markdown:
        print(markdown(args.markdown))
        return

    import torch

    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    only = set(filter(None, args.only.split(",")))

    def pick(names):
        return [n for n in names if not only or n in only or n == "floor"]

    repeats, warmup = (3, 1) if args.quick else (5, 2)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "peers": _peer_versions(),
        "argv": sys.argv[1:],
        "note": "shared machine: other developers' jobs ran at the same time; times are noisy",
    }
    print(
        f"# {meta['date']}  {meta['cpu']}  {meta['cores']} cores, torch {meta['torch']}, "
        f"{args.threads} threads, peers {meta['peers']}"
    )
    results, agree, memory, density, act_bytes = [], [], [], [], []

    if "speed" in parts:
        plans = (
            [("w1", (100, 32))]
            if args.quick
            else [("w1", (100, 32)), ("w1", (250, 32)), ("w1", (500, 16)), ("w1r", (100, 32)), ("w2", (100, 16))]
        )
        if args.sizes:  # e.g. "w1:100x32,w1r:100x32"
            plans = [
                (k, tuple(int(v) for v in tb.split("x"))) for k, tb in (p.split(":") for p in args.sizes.split(","))
            ]
        impls_for = {"w1": IMPLS_W1, "w1r": IMPLS_W1R, "w2": IMPLS_W2}
        for kind, (steps, batch) in plans:
            for mode in ("infer", "train"):
                for impl in pick(impls_for[kind]):
                    cfg = {
                        "kind": kind,
                        "T": steps,
                        "B": batch,
                        "mode": mode,
                        "impl": impl,
                        "threads": args.threads,
                        "repeats": repeats,
                        "warmup": warmup,
                        "budget_s": 60,
                    }
                    r = run_isolated(cfg, timeout=400)
                    results.append(r)
                    msg = f"{r['ms']:.2f} ms, {r['peak_mib']:.1f} MiB" if "ms" in r else r["error"]
                    print(f"  {kind} T={steps} B={batch} {mode:5} {impl:22} {msg}", flush=True)
        print()
        print(table(results))

    if "agree" in parts:
        for kind in ["w1"] if args.quick else ["w1", "w1r", "w2"]:
            names = {"w1": IMPLS_W1, "w1r": IMPLS_W1R, "w2": IMPLS_W2}[kind]
            agree += agreement(kind, [n for n in pick(names) if n != "floor"])
        print("\nDynamics agreement with spikeforge:torch (hidden spikes, first-layer weight gradient), T=100 B=16")
        for a in agree:
            print(
                f"  {a['kind']:4} {a['impl']:22} spikes equal {100 * a['spike_agreement']:7.3f}%  "
                f"rate {100 * a['hidden_rate']:5.2f}%  grad cosine {a['grad_cosine']:+.4f}"
            )

    if "memory" in parts:
        lengths = [100, 1000] if args.quick else [100, 500, 1000, 2000]
        print("\nPeak training memory (MiB above the process baseline) against T, W1, B=16")
        memory_impls = args.memory_impls.split(",") if args.memory_impls else IMPLS_MEMORY
        if args.lengths:
            lengths = [int(t) for t in args.lengths.split(",")]
        for impl in pick(memory_impls):
            for steps in lengths:
                cfg = {
                    "kind": "w1",
                    "T": steps,
                    "B": 16,
                    "mode": "train",
                    "impl": impl,
                    "threads": args.threads,
                    "repeats": 1,
                    "warmup": 0,
                    "budget_s": 1,
                }
                r = run_isolated(cfg, timeout=400)
                memory.append(r)
                msg = f"{r['peak_mib']:8.1f} MiB ({r['ms']:.0f} ms)" if "ms" in r else r["error"]
                print(f"  {impl:34} T={steps:5}  {msg}", flush=True)
        print(memory_table(memory))

    if "bytes" in parts:
        act_bytes = activation_bytes(
            pick(["snntorch", "norse", "spikingjelly", "spikeforge:torch", "spikeforge:cpu", "spikeforge:cpu_lean"])
        )
        print("\nActivation memory of one hidden LIF layer kept for the backward (bytes per neuron per step)")
        for r in act_bytes:
            print(f"  {r['impl']:22} {r['bytes_per_neuron_step']:6.2f}")

    if "density" in parts:
        import density as density_mod

        density = density_mod.sweep(quick=args.quick)
        print(density_mod.format_sweep(density))

    out = (
        args.out or Path(tempfile.gettempdir()) / f"spikeforge-{args.name or ('quick' if args.quick else 'full')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "meta": meta,
                "speed": results,
                "agreement": agree,
                "memory_vs_T": memory,
                "density": density,
                "activation_bytes": act_bytes,
            },
            indent=1,
        )
    )
    print(f"\nwrote {out}")


def _peer_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("snntorch", "norse", "spikingjelly"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


if __name__ == "__main__":
    main()
