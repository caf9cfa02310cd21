"""Full-size reference networks: activity statistics and wall time, printed as a table.

    .venv/bin/python benchmarks/networks.py                      # all four runs (a few minutes on 2 cores)
    .venv/bin/python benchmarks/networks.py --only brunel:ai --duration 0.5 --plot-dir /tmp/nets --json

Runs ``spikeforge.sim.networks.simulate_network`` at the published sizes (Vogels-Abbott 4000 neurons,
Brunel N_E = 10000 / N_I = 2500) and reports rate, CV of ISIs, synchrony (chi^2 of 1 ms counts), the Fano factor of
the population count, build and simulation wall time, and synaptic events per second of wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from spikeforge.sim.networks import simulate_network

RUNS = {"vogels-abbott:coba": 1.0, "vogels-abbott:cuba": 1.0, "brunel:sr": 0.5, "brunel:ai": 0.5}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(RUNS), help="run only these (repeatable)")
    parser.add_argument("--duration", type=float, default=None, help="simulated seconds (default per network)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads for building and simulating (default: torch's / 1)"
    )
    parser.add_argument("--plot-dir", type=Path, default=None, help="write a raster + rate figure per run")
    parser.add_argument("--json", action="store_true", help="print one JSON object per run instead of a table")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="K=V",
        help="network parameter override, e.g. n_exc=2000 (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        for convert in (int, float, str):
            try:
                overrides[key] = convert(value)
                break
            except ValueError:
                continue
    rows = []
    for key in args.only or list(RUNS):
        name, regime = key.split(":")
        duration = args.duration or RUNS[key]
        threads = args.threads or 1  # the simulation loop runs single-threaded unless asked otherwise
        res = simulate_network(name, regime=regime, duration=duration, seed=args.seed, threads=threads, **overrides)
        s = res.summary()
        row = {
            "network": key,
            "n_neurons": res.n_neurons,
            "n_synapses": res.n_synapses,
            "duration_s": duration,
            "rate_hz": s["rate_hz"],
            "cv_isi": s["cv_isi"],
            "synchrony": s["synchrony"],
            "fano_population": s["fano_population"],
            "build_s": res.build_time,
            "wall_s": res.wall_time,
            "events_per_s": res.n_events / res.wall_time if res.wall_time else float("nan"),
            "sim_threads": threads,
            "build_threads": torch.get_num_threads(),
        }
        rows.append(row)
        if args.plot_dir is not None:
            from spikeforge.viz._network import plot_network

            plot_network(res, args.plot_dir / f"{name}-{regime}.png")
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        print(
            "| network | N | synapses | T (s) | rate (Hz) | CV ISI | synchrony | Fano | build (s) | sim wall (s) "
            "| events/s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['network']} | {r['n_neurons']} | {r['n_synapses']} | {r['duration_s']:g} | "
                f"{r['rate_hz']:.2f} | {r['cv_isi']:.3f} | {r['synchrony']:.4f} | {r['fano_population']:.1f} | "
                f"{r['build_s']:.1f} | {r['wall_s']:.1f} | {r['events_per_s']:.3g} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
