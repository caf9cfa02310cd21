"""spikeforge against Brian2 (numpy and cython targets), side by side in one run: neuron-steps per second.

    bash benchmarks/setup_brian2.sh                      # once: builds .venv-brian2 (also done by this script)
    python benchmarks/brian2_compare.py                  # threads 1 and 2, writes a JSON file to the temporary folder
    python benchmarks/brian2_compare.py --quick          # 0.2 s of biological time, no JSON

Workloads (issue 4, part 5):

- **izhikevich**: 100 000 regular-spiking Izhikevich neurons (a, b, c, d = 0.02, 0.2, -65, 8; v_peak 30), 1 s at
  dt = 0.5 ms (2000 steps), constant input current ``I_k = 20 k / N`` (paper units), from v = -65, u = b v.
  spikeforge: the sequence function ``izhikevich_seq`` (what the ``Izhikevich`` module runs, without the module's
  NaN check of the input) under ``torch.no_grad()`` in chunks of 25 steps (the input is a stride-0 view, so it
  costs no memory and the fused CPU kernel reads its one row; the spikes of a chunk stay small), and the
  ``IzhikevichCell`` step loop. Brian2: the same equations with
  ``method="euler"`` (Brian2 updates ``u`` by forward Euler, spikeforge exactly for ``v`` held over the step: spike
  counts agree closely, not bit for bit) and a counting ``SpikeMonitor(record=False)``.
- **cuba**: the Vogels-Abbott CUBA network (Brette et al. 2007 benchmark 2; Brian2's own ``CUBA`` example):
  4000 LIF neurons, 3200 excitatory, p = 0.02, tau_m 20 ms, E_L -49 mV, V_t -50 mV, V_r -60 mV, refractory 5 ms,
  exponential currents tau_e 5 ms / tau_i 10 ms, jumps +1.62 mV / -9 mV, initial v uniform in [V_r, V_t], 1 s at
  dt = 0.1 ms. spikeforge: ``simulate_network("vogels-abbott", regime="cuba")`` (its simulation loop time,
  ``wall_time``); Brian2: ``method="exact"``, ``Synapses(on_pre=...)``, timed ``run`` after a short warm-up run
  that generates (and for cython compiles) the code. Connectivity and initial state are drawn by each library's
  own generator, so the rates agree statistically, not spike for spike.

Timings: the minimum of ``--repeats`` rounds, each round running every entry of a workload once in turn
(interleaved, so a change of the shared machine's load hits all alike); every run's time is kept (the spread).
Brian2's numpy and cython targets are single-threaded; spikeforge runs with ``torch.set_num_threads(t)`` for each
``t`` of ``--threads`` as an upper bound: like ``sim.simulate``, a short cached probe
(``spikeforge.kernels.cpu.usable_threads``) falls back to fewer threads where they measured faster (a busy machine). Neuron-steps per second = neurons x steps / wall
time. The load average (``os.getloadavg``) before and after is recorded: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-brian2"
RESULTS = Path(tempfile.gettempdir()) / "spikeforge-brian2_compare.json"  # --json benchmarks/results/... to keep

N_IZH = 100_000
DT_IZH = 0.5e-3
IZH = {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "v_peak": 30.0}
I_MAX = 20.0
N_CUBA = 4000
DT_CUBA = 0.1e-3


def _ensure_venv() -> None:
    """Re-run this script inside .venv-brian2 (built by setup_brian2.sh) unless already there."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    subprocess.run(["bash", str(ROOT / "benchmarks" / "setup_brian2.sh")], check=True)
    os.execv(str(VENV / "bin" / "python"), [str(VENV / "bin" / "python"), *sys.argv])


def _currents(n: int):
    import numpy as np

    return I_MAX * np.arange(n, dtype=np.float64) / n


# ---------------------------------------------------------------- spikeforge


def sf_izhikevich(duration: float, mode: str):
    import torch

    from spikeforge.kernels.cpu import torch_threads, usable_threads
    from spikeforge.neurons import IzhikevichCell, IzhikevichParams, izhikevich_seq

    steps = round(duration / DT_IZH)
    kwargs = {k: IZH[k] for k in "abcd"}
    wanted = torch.get_num_threads()
    # the simulator's thread policy (sim.simulate): at most the requested threads, fewer where a short cached probe
    # measures them faster (a busy machine), for the whole run, its set-up included (on a busy machine even the
    # allocations below wait for a descheduled second thread, and leave it spinning into the run); the decision's
    # own time is inside the timing
    decided = time.perf_counter()
    use = usable_threads(wanted) if wanted > 1 else 1
    decided = time.perf_counter() - decided
    with torch.no_grad(), torch_threads(use):
        current = torch.from_numpy(_currents(N_IZH)).to(torch.float32).view(1, N_IZH)
        counts = torch.zeros(N_IZH)
        start = time.perf_counter()
        if mode == "sequence":
            params = IzhikevichParams(**kwargs, v_peak=IZH["v_peak"])
            state, chunk, done = None, 25, 0
            while done < steps:
                n = min(chunk, steps - done)
                z, state = izhikevich_seq(current.unsqueeze(0).expand(n, 1, N_IZH), state, params, dt=DT_IZH)
                counts += z.sum(0)[0]
                done += n
        else:
            cell = IzhikevichCell(dt=DT_IZH, v_peak=IZH["v_peak"], **kwargs)
            state = None
            for _ in range(steps):
                z, state = cell(current, state)
                counts += z[0]
        wall = time.perf_counter() - start + decided
    return wall, counts.numpy()


def sf_cuba(duration: float, threads: int):
    from spikeforge.sim.networks import simulate_network

    res = simulate_network("vogels-abbott", regime="cuba", duration=duration, dt=DT_CUBA, threads=threads)
    s = res.summary()
    return res.wall_time, {
        "rate_hz": s["rate_hz"],
        "rate_exc_hz": s.get("rate_exc_hz"),
        "rate_inh_hz": s.get("rate_inh_hz"),
        "cv_isi": s.get("cv_isi"),
        "n_spikes": int(res.spike_ids.numel()),
        "build_s": res.build_time,
    }


# ---------------------------------------------------------------- Brian2


def _brian(target: str):
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = DT_IZH * b2.second
    return b2


def b2_izhikevich(duration: float, target: str):
    import numpy as np

    b2 = _brian(target)
    b2.defaultclock.dt = DT_IZH * b2.second
    eqs = """
    dv/dt = (0.04*v**2 + 5*v + 140 - u + I) / ms : 1
    du/dt = a * (b*v - u) / ms : 1
    I : 1 (constant)
    """
    ns = {k: IZH[k] for k in "abcd"} | {"v_peak": IZH["v_peak"], "ms": b2.ms}
    group = b2.NeuronGroup(N_IZH, eqs, threshold="v >= v_peak", reset="v = c; u += d", method="euler", namespace=ns)
    group.v = -65.0
    group.u = IZH["b"] * -65.0
    group.I = _currents(N_IZH)
    mon = b2.SpikeMonitor(group, record=False)
    net = b2.Network(group, mon)
    net.run(2 * DT_IZH * b2.second)  # code generation (and compilation) outside the timed run
    group.v = -65.0
    group.u = IZH["b"] * -65.0
    before = np.array(mon.count[:])
    start = time.perf_counter()
    net.run(duration * b2.second)
    wall = time.perf_counter() - start
    return wall, np.array(mon.count[:]) - before


def b2_cuba(duration: float, target: str, seed: int = 0):
    import numpy as np

    b2 = _brian(target)
    b2.seed(seed)
    b2.defaultclock.dt = DT_CUBA * b2.second
    ms, mV = b2.ms, b2.mV
    ns = {
        "taum": 20 * ms,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "Vt": -50 * mV,
        "Vr": -60 * mV,
        "El": -49 * mV,
        "we": 60 * 0.27 / 10 * mV,
        "wi": -20 * 4.5 / 10 * mV,
    }
    eqs = """
    dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
    dge/dt = -ge / taue : volt
    dgi/dt = -gi / taui : volt
    """
    group = b2.NeuronGroup(
        N_CUBA, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms, method="exact", namespace=ns
    )
    group.v = "Vr + rand() * (Vt - Vr)"
    n_exc = int(0.8 * N_CUBA)
    ce = b2.Synapses(group, group, on_pre="ge += we", namespace=ns)
    ci = b2.Synapses(group, group, on_pre="gi += wi", namespace=ns)
    ce.connect("i < n_exc", p=0.02, namespace={"n_exc": n_exc})
    ci.connect("i >= n_exc", p=0.02, namespace={"n_exc": n_exc})
    mon = b2.SpikeMonitor(group)
    net = b2.Network(group, ce, ci, mon)
    net.run(2 * DT_CUBA * b2.second)  # code generation / compilation; 2 steps of dynamics, negligible
    start = time.perf_counter()
    net.run(duration * b2.second)
    wall = time.perf_counter() - start
    t = np.asarray(mon.t / b2.second)
    i = np.asarray(mon.i[:])
    transient = min(0.1, duration / 5)
    keep = t >= transient + 2 * DT_CUBA
    window = duration - transient
    counts = np.bincount(i[keep], minlength=N_CUBA)
    cvs = []
    for k in np.unique(i[keep]):
        isi = np.diff(np.sort(t[keep][i[keep] == k]))
        if isi.size >= 2:
            cvs.append(isi.std() / isi.mean())
    return wall, {
        "rate_hz": counts.sum() / (N_CUBA * window),
        "rate_exc_hz": counts[:n_exc].sum() / (n_exc * window),
        "rate_inh_hz": counts[n_exc:].sum() / ((N_CUBA - n_exc) * window),
        "cv_isi": float(np.mean(cvs)) if cvs else float("nan"),
        "n_spikes": int(i.size),
        "n_synapses": int(len(ce) + len(ci)),
    }


# ---------------------------------------------------------------- driver


def _cython_works() -> str | None:
    try:
        b2_izhikevich(4 * DT_IZH, "cython")
        return None
    except Exception as exc:  # a missing compiler or Cython: report and go on with numpy only
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads for spikeforge")
    parser.add_argument("--duration", type=float, default=1.0, help="biological seconds per workload (default 1)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per entry; the minimum is reported")
    parser.add_argument("--quick", action="store_true", help="0.2 s, one repeat, no JSON")
    parser.add_argument("--no-cython", action="store_true", help="skip Brian2's cython target")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    _ensure_venv()
    import brian2
    import numpy as np
    import torch

    if args.quick:
        args.duration, args.repeats = 0.2, 1
    load_before = os.getloadavg()
    targets = ["numpy"]
    cython_error = None if args.no_cython else _cython_works()
    if not args.no_cython and cython_error is None:
        targets.append("cython")
    rows: list[dict] = []
    izh_steps = round(args.duration / DT_IZH)
    cuba_steps = round(args.duration / DT_CUBA)

    def add(workload, impl, threads, timed, neurons, steps, extra):
        wall, times = timed
        rows.append(
            {
                "workload": workload,
                "implementation": impl,
                "threads": threads,
                "wall_s": wall,
                "wall_s_runs": times,
                "load_1min": os.getloadavg()[0],
                "neuron_steps_per_s": neurons * steps / wall,
                **extra,
            }
        )
        print(
            f"  {workload:10s} {impl:22s} threads={threads} {wall:8.3f} s (runs {min(times):.3f}-{max(times):.3f}, "
            f"load {os.getloadavg()[0]:.2f})",
            flush=True,
        )

    # every entry of a workload once per round, rounds repeated: a change of the machine's load hits all alike
    import torch as _torch

    def interleaved(entries):
        """``entries``: (key, threads, fn) -> {key: (fastest time, its payload, every time)}."""
        runs = {key: [] for key, _, _ in entries}
        for _ in range(args.repeats):
            for key, threads, fn in entries:
                _torch.set_num_threads(threads)
                runs[key].append(fn())
        out = {}
        for key, r in runs.items():
            wall, payload = min(r, key=lambda run: run[0])
            out[key] = (wall, payload, [run[0] for run in r])
        return out

    # Izhikevich
    entries = [(f"brian2:{t}", 1, lambda t=t: b2_izhikevich(args.duration, t)) for t in targets]
    entries += [
        (f"spikeforge:{mode}@{threads}", threads, lambda m=mode: sf_izhikevich(args.duration, m))
        for threads in args.threads
        for mode in ("sequence", "cell")
    ]
    counts = {}
    for key, (wall, c, times) in interleaved(entries).items():
        impl, _, threads = key.partition("@")
        counts[key] = c
        add("izhikevich", impl, int(threads or 1), (wall, times), N_IZH, izh_steps, {"spikes": int(c.sum())})
        rows[-1]["_key"] = key
    ref = counts["brian2:numpy"]
    for row in rows:
        if row["workload"] == "izhikevich":
            c = counts[row.pop("_key")]
            row["spikes_vs_brian2_numpy"] = row["spikes"] / max(1, int(ref.sum()))
            row["neurons_same_count_as_brian2_numpy"] = float(np.mean(c == ref))
            row["neurons_within_1_spike"] = float(np.mean(np.abs(c - ref) <= 1))
    # Vogels-Abbott CUBA
    entries = [(f"brian2:{t}", 1, lambda t=t: b2_cuba(args.duration, t)) for t in targets]
    entries += [(f"spikeforge@{t}", t, lambda t=t: sf_cuba(args.duration, t)) for t in args.threads]
    for key, (wall, s, times) in interleaved(entries).items():
        impl, _, threads = key.partition("@")
        add("cuba", impl, int(threads or 1), (wall, times), N_CUBA, cuba_steps, s)
    load_after = os.getloadavg()

    for row in rows:
        for target in targets:
            base = next(
                r for r in rows if r["workload"] == row["workload"] and r["implementation"] == f"brian2:{target}"
            )
            row[f"speedup_vs_brian2_{target}"] = base["wall_s"] / row["wall_s"]

    print()
    print(
        f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min); {os.cpu_count()} CPUs; "
        f"duration {args.duration:g} s biological; min of {args.repeats}"
    )
    head = "| workload | implementation | threads | wall s | neuron-steps/s | x vs brian2 numpy |"
    head += " x vs brian2 cython |" if "cython" in targets else ""
    head += " spikes / rate |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        dyn = (
            f"{r['spikes']} spikes ({100 * r['neurons_same_count_as_brian2_numpy']:.1f}% same count)"
            if r["workload"] == "izhikevich"
            else f"{r['rate_hz']:.2f} Hz (E {r['rate_exc_hz']:.2f}, I {r['rate_inh_hz']:.2f}), CV {r['cv_isi']:.2f}"
        )
        line = (
            f"| {r['workload']} | {r['implementation']} | {r['threads']} | {r['wall_s']:.3f} | "
            f"{r['neuron_steps_per_s']:.3g} | {r['speedup_vs_brian2_numpy']:.2f} |"
        )
        if "cython" in targets:
            line += f" {r['speedup_vs_brian2_cython']:.2f} |"
        print(line + f" {dyn} |")
    if cython_error:
        print(f"\nBrian2 cython target unavailable: {cython_error}")
    if not args.quick:
        meta = {
            "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": cpu_model(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "brian2": brian2.__version__,
            "numpy": np.__version__,
            "duration_s": args.duration,
            "repeats": args.repeats,
            "cython_error": cython_error,
            "command": "python benchmarks/brian2_compare.py " + " ".join(argv or sys.argv[1:]),
        }
        from spikeforge._files import atomic_path

        args.json.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.json) as tmp:  # a killed run leaves the old file, never half of a new one
            tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=float))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
