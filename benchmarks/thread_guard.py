"""Do more threads ever make a run slower? The thread guard (``spikeforge.kernels.cpu.usable_threads``) checked.

Workload: 100k Izhikevich neurons for 1 s of biological time (``brian2_compare.sf_izhikevich``, the fused kernel
under ``no_grad``). Each round times 1 thread, 2 threads requested, and 2 threads with the guard off
(``SPIKEFORGE_THREAD_PROBE=0``), in turn; the guard's cached decision is cleared before every run, so its own cost
(the free-core count and the probe) is inside each timing. First on the machine as it is, then with one busy-loop
process beside the runs (another job holding a core). Prints min and median per setting.

    python benchmarks/thread_guard.py [--rounds 5] [--out FILE.json]
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

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import brian2_compare  # noqa: E402  (its spikeforge workload only; Brian2 itself is not imported)

from spikeforge.kernels.cpu import _common  # noqa: E402

SETTINGS = {"1 thread": (1, True), "2 threads": (2, True), "2 threads, guard off": (2, False)}


def run(threads: int, guard: bool) -> float:
    torch.set_num_threads(threads)
    os.environ["SPIKEFORGE_THREAD_PROBE"] = "1" if guard else "0"
    _common._PROBED.clear()  # decide afresh: the guard's cost is part of the timing
    start = time.perf_counter()
    brian2_compare.sf_izhikevich(1.0, "sequence")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-thread_guard.json")
    args = ap.parse_args()
    result = {"date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), "runs": {}}
    for condition in ("as it is", "one busy-loop process beside"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if "busy" in condition else None
        try:
            time.sleep(0.5)
            times: dict[str, list[float]] = {name: [] for name in SETTINGS}
            for _ in range(args.rounds):
                for name, (threads, guard) in SETTINGS.items():
                    times[name].append(run(threads, guard))
            load = os.getloadavg()[0]
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        result["runs"][condition] = {"seconds": times, "load_1min": load}
        cells = ", ".join(f"{n}: min {min(t):.3f} s, median {statistics.median(t):.3f} s" for n, t in times.items())
        print(f"{condition} (load {load:.2f}): {cells}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
