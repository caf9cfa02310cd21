"""What every benchmark records about the machine it ran on (imported by the scripts beside it)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["bench_parser", "cpu_model", "round_robin", "run_record", "write_result"]


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (what the README's figures name), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def run_record(load_before: float) -> dict:
    """What a result file records about its run: the CPU, torch's version, the 1-minute load average before and
    after, and the time (UTC)."""
    import torch

    return {
        "load_average": [load_before, os.getloadavg()[0]],
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def write_result(path: Path, result: dict) -> None:
    """Write ``result`` as JSON, atomically (a killed run leaves the old file or the new one), and say where."""
    from spikeforge._files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


def bench_parser(doc: str, *, rounds: int, threads: int, out: str | None = None) -> argparse.ArgumentParser:
    """The options every timing script takes: ``--rounds``, ``--threads`` and, where ``out`` names the script, ``--out``
    (default ``spikeforge-<out>.json`` in the temporary folder: results stay out of tracked files unless asked);
    the description is the first line of the script's ``doc``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--threads", type=int, default=threads)
    if out is not None:
        ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / f"spikeforge-{out}.json")
    return ap


def round_robin(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each variant's call over ``rounds`` rounds, every round calling every variant once in turn (so a
    change of the shared machine's load hits all alike), after one untimed round that warms up (kernel builds,
    allocator, first-call costs)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds + 1):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            if r:
                times[name].append(time.perf_counter() - start)
    return times
