"""Do more threads ever make a run slower? The thread guard (``spikeforge.kernels.cpu.usable_threads``) checked.

Workloads: the spikeforge side of both Brian2 comparisons (``brian2_compare.py``): 100k Izhikevich neurons for 1 s
(the fused kernel under ``no_grad``, guard decision inside the timing) and the Vogels-Abbott CUBA network for 1 s
(``simulate_network(threads=...)``, its loop time). Settings, per workload: 1 thread; 2 threads requested, the
guard deciding inside the timed run (its cache cleared first: the worst case, as in a process's first call); 2
threads requested with the decision made just before (cached, as in every call of the next 10 s); 1 thread again (a
control: the same code as the first, so the ratio of the two shows how far identical runs differ here); 2 threads
with the guard off (``SPIKEFORGE_THREAD_PROBE=0``). Each round runs every setting once, in an order rotated from
round to round, so that neither order nor a change of load favours one; the thread count the guard chose is
recorded. First on the machine as it is, then with one busy-loop process beside the runs (another job holding a
core).

Printed per condition and workload: min and median of each setting; the ratio of medians "2 threads / 1 thread"
(both ways of deciding) and "control / 1 thread" with 95% bootstrap intervals (resampling the runs of each setting); how often the guard
chose 1 thread; and the guard's own time (the decision alone, median of 20 calls). "Never slower" is read as: the
2-thread interval reaches no further above 1 than the control's does, i.e. the difference is within what
identical runs show.

    python benchmarks/thread_guard.py [--rounds 15] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import brian2_compare  # noqa: E402  (its spikeforge workloads only; Brian2 itself is not imported)
from _machine import cpu_model, write_result  # noqa: E402

from spikeforge.kernels.cpu import _common  # noqa: E402

#: name -> (threads requested, guard: "fresh" deciding inside the timing, "cached" decided before, "off")
SETTINGS = {
    "1 thread": (1, "fresh"),
    "2 threads": (2, "fresh"),
    "2 threads, decided before": (2, "cached"),
    "1 thread (control)": (1, "fresh"),
    "2 threads, guard off": (2, "off"),
}
WORKLOADS = ("izhikevich", "cuba")


def run(workload: str, threads: int, guard: str) -> tuple[float, int | None]:
    """Seconds of one run, and the thread count the guard chose (None where it was not asked)."""
    torch.set_num_threads(threads)
    os.environ["SPIKEFORGE_THREAD_PROBE"] = "0" if guard == "off" else "1"
    _common._PROBED.clear()
    if guard == "cached":
        _common.usable_threads(threads)  # the decision before the run: it stays cached for 10 s
    if workload == "izhikevich":
        start = time.perf_counter()
        brian2_compare.sf_izhikevich(1.0, "sequence")
        seconds = time.perf_counter() - start
    else:
        seconds = brian2_compare.sf_cuba(1.0, threads)[0]
    hit = _common._PROBED.get(threads)
    return seconds, None if hit is None else hit[1]


def ratio_interval(num: list[float], den: list[float], draws: int = 2000) -> tuple[float, float, float]:
    """``median(num) / median(den)`` and its 95% bootstrap interval (each list resampled with replacement)."""
    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(num, k=len(num))) / statistics.median(rng.choices(den, k=len(den)))
        for _ in range(draws)
    )
    return statistics.median(num) / statistics.median(den), ratios[int(0.025 * draws)], ratios[int(0.975 * draws)]


def guard_seconds(calls: int = 20) -> float:
    """Median time of the guard's decision for 2 threads, cache cleared before each call."""
    os.environ["SPIKEFORGE_THREAD_PROBE"] = "1"
    times = []
    for _ in range(calls):
        _common._PROBED.clear()
        start = time.perf_counter()
        _common.usable_threads(2)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(rounds: int) -> dict:
    names = list(SETTINGS)
    out: dict = {}
    for workload in WORKLOADS:
        run(workload, 1, "fresh")  # warm-up: builds, first-call costs
        times: dict[str, list[float]] = {name: [] for name in names}
        chose: list[int | None] = []  # the guard's choices in the runs where it decides inside the timing
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                threads, guard = SETTINGS[name]
                seconds, choice = run(workload, threads, guard)
                times[name].append(seconds)
                if name == "2 threads":
                    chose.append(choice)
        out[workload] = {
            "seconds": times,
            "guard_chose": chose,
            "ratio_2_to_1": ratio_interval(times["2 threads"], times["1 thread"]),
            "ratio_2_decided_before_to_1": ratio_interval(times["2 threads, decided before"], times["1 thread"]),
            "ratio_control_to_1": ratio_interval(times["1 thread (control)"], times["1 thread"]),
            "ratio_guard_off_to_1": ratio_interval(times["2 threads, guard off"], times["1 thread"]),
        }
    out["guard_seconds"] = guard_seconds()
    return out


def report(condition: str, load: tuple[float, float], res: dict) -> None:
    print(f"{condition} (load {load[0]:.2f} -> {load[1]:.2f}; guard decision {res['guard_seconds'] * 1e3:.1f} ms)")
    for workload in WORKLOADS:
        r = res[workload]
        cells = ", ".join(
            f"{n}: min {min(t):.3f} s, median {statistics.median(t):.3f} s" for n, t in r["seconds"].items()
        )
        ones = sum(c == 1 for c in r["guard_chose"])
        print(f"  {workload}: {cells}")
        for key, label in (
            ("ratio_2_to_1", "2 threads / 1 thread"),
            ("ratio_2_decided_before_to_1", "2 threads decided before / 1 thread"),
            ("ratio_control_to_1", "control / 1 thread"),
            ("ratio_guard_off_to_1", "guard off / 1 thread"),
        ):
            mid, lo, hi = r[key]
            print(f"    {label}: x{mid:.3f} (95% interval {lo:.3f}-{hi:.3f})")
        print(f"    the guard chose 1 thread in {ones} of {len(r['guard_chose'])} runs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-thread_guard.json")
    args = ap.parse_args()
    result = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "conditions": {},
    }
    for condition in ("as it is", "one busy-loop process beside"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if "busy" in condition else None
        try:
            time.sleep(0.5)
            before = os.getloadavg()[0]
            res = measure(args.rounds)
            load = (before, os.getloadavg()[0])
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        result["conditions"][condition] = {**res, "load_1min": load}
        report(condition, load, res)
    write_result(args.out, result)


if __name__ == "__main__":
    main()
