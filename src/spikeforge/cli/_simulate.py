"""`spikeforge simulate MODEL`: run one neuron model (or a reference network) and report its spikes.

Examples::

    spikeforge simulate izhikevich --preset chattering --current 10 --duration 500ms --dt 0.1ms
    spikeforge simulate hodgkin-huxley --current 5,10,20 --duration 200ms --dt 0.01ms --plot hh.png
    spikeforge simulate adex --preset adapting --fi-curve 0:800:50 --plot fi.png --json
    spikeforge simulate network brunel --regime sr --duration 1s --plot brunel.png
"""

from __future__ import annotations

import argparse
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

from ..neurons import NEURONS, SimulateInfo
from ._device import add_device_argument, parse_device

__all__ = ["add_parser", "parse_time", "run"]

_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_TIME = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(s|ms|us)\s*$")

#: the models the CLI simulates, by CLI name, in registry order: the neurons whose spec has simulate information
_MODELS = {spec.simulate.name: spec for spec in NEURONS.values() if spec.simulate is not None}
_ALIASES = {alias: name for name, spec in _MODELS.items() for alias in spec.simulate.aliases}
NETWORK_NAMES = ("vogels-abbott", "brunel")
#: the most time steps one run may take (--duration / --dt): past it a run would take hours or not fit in memory
MAX_STEPS = 2_000_000
#: the most values (steps x currents, times the state fields when plotting) one run may hold in memory
MAX_VALUES = 200_000_000
#: --seed must be below this (torch generators take 64-bit seeds; the network's background uses seed + 1)
SEED_LIMIT = 2**63 - 1


def parse_time(text: str, *, name: str) -> float:
    """``"1000ms"``, ``"0.1 ms"``, ``"1s"``, ``"250us"`` -> seconds; anything else raises a ValueError naming ``name``."""
    match = _TIME.match(str(text))
    if not match:
        raise ValueError(f"{name}: expected a time with a unit (s, ms or us), e.g. 1000ms or 0.1ms; got {text!r}")
    value = float(match.group(1)) * _TIME_UNITS[match.group(2)]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive time, got {text!r}")
    return value


def _parse_currents(text: str) -> list[float]:
    try:
        values = [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--current: expected a number or comma-separated numbers (e.g. 10 or 5,10,20), got {text!r}"
        ) from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"--current: expected finite numbers, got {text!r}")
    return values


def _parse_range(text: str) -> list[float]:
    parts = str(text).split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--fi-curve: expected START:STOP:STEP (e.g. 0:20:1), got {text!r}") from None
    if step <= 0 or stop < start:
        raise ValueError(f"--fi-curve: expected STOP >= START and STEP > 0, got {text!r}")
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > 10000:
        raise ValueError(f"--fi-curve: {n} currents is too many (at most 10000); use a larger STEP")
    return [start + k * step for k in range(n)]


def _parse_params(items: list[str] | None, info: SimulateInfo, model: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--param: expected NAME=VALUE (e.g. a=0.02), got {item!r}")
        if key not in info.params:
            raise ValueError(f"--param: {model} has no parameter {key!r}; expected one of {list(info.params)}")
        value = value.strip()
        if key in info.time_params and _TIME.match(value):
            params[key] = parse_time(value, name=f"--param {key}")
        elif key in ("method", "reset"):
            params[key] = value
        elif key == "substeps":
            try:
                params[key] = int(value)
            except ValueError:
                raise ValueError(f"--param substeps: expected a positive integer, got {value!r}") from None
        else:
            try:
                params[key] = float(value)
            except ValueError:
                unit = " (seconds, or with a unit: 300ms)" if key in info.time_params else ""
                raise ValueError(f"--param {key}: expected a number{unit}, got {value!r}") from None
    return params


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to an argparse ``subparsers`` object."""
    names = ", ".join(_MODELS)
    p = sub.add_parser(
        "simulate",
        help="simulate one neuron model (or a reference network) under a constant current",
        description=f"Simulate a neuron model ({names}) under constant currents, or `network vogels-abbott|brunel`.",
    )
    p.add_argument("model", help=f"one of {names}, or 'network'")
    p.add_argument("network", nargs="?", help="with MODEL=network: vogels-abbott or brunel")
    p.add_argument("--preset", help="a named parameter set of the model (e.g. chattering, adapting, class_I)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="set a model parameter (repeatable)")
    p.add_argument("--current", help="constant input current(s), comma-separated, in the model's units")
    p.add_argument(
        "--duration",
        default="1000ms",
        help=f"simulated time with a unit (default 1000ms; at most {MAX_STEPS:,} steps of --dt per run)",
    )
    p.add_argument("--dt", default="0.1ms", help="time step with a unit (default 0.1ms)")
    p.add_argument("--plot", metavar="PNG", help="draw v(t) and the other state variables (or the f-I curve)")
    add_device_argument(p)
    p.add_argument("--fi-curve", metavar="START:STOP:STEP", help="sweep the current and report the f-I curve")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--regime", help="network regime (vogels-abbott: coba, cuba; brunel: ai, sr, si-fast, si-slow)")
    p.add_argument("--seed", type=int, default=0, help="network seed (default 0)")
    p.set_defaults(func=run)
    return p


def _check_steps(args: argparse.Namespace, duration: float, dt: float, lanes: int = 1, fields: int = 1) -> int:
    """The number of steps of the run, refused up front past :data:`MAX_STEPS` or :data:`MAX_VALUES`."""
    steps = max(1, round(duration / dt))
    if steps > MAX_STEPS:
        raise ValueError(
            f"--duration / --dt: --duration {args.duration} at --dt {args.dt} is {steps:,} steps, past the cap of "
            f"{MAX_STEPS:,} steps per run; shorten --duration or lengthen --dt"
        )
    if steps * lanes * fields > MAX_VALUES:
        raise ValueError(
            f"--duration / --dt: {steps:,} steps x {lanes:,} currents x {fields} recorded variables is "
            f"{steps * lanes * fields:,} values, past the cap of {MAX_VALUES:,}; use fewer currents, a shorter "
            "--duration or a longer --dt"
        )
    return steps


def run(args: argparse.Namespace) -> int:
    """Run ``spikeforge simulate`` for parsed ``args``; prints the result and returns the exit status."""
    duration = parse_time(args.duration, name="--duration")
    dt = parse_time(args.dt, name="--dt")
    if dt > duration:
        raise ValueError(f"--dt: the step ({args.dt}) is longer than --duration ({args.duration})")
    if not 0 <= args.seed < SEED_LIMIT:
        raise ValueError(f"--seed: expected an integer in [0, 2**63 - 1), got {args.seed}")
    if args.plot is not None and Path(args.plot).is_dir():
        raise ValueError(f"--plot: {args.plot} is a directory; give a PNG file name")
    device = parse_device(args.device)
    if args.model == "network":
        if device.type != "cpu":
            raise ValueError(f"--device: the network simulator runs on the CPU (event-driven, in place), got {device}")
        return _run_network(args, duration, dt)
    if args.network is not None:
        raise ValueError(f"simulate: unexpected extra argument {args.network!r} (only `network NAME` takes two)")
    model = _ALIASES.get(args.model.lower(), args.model.lower())
    if model not in _MODELS:
        raise ValueError(f"MODEL: expected one of {list(_MODELS)} or 'network', got {args.model!r}")
    if args.regime is not None:
        raise ValueError("--regime: only for `simulate network ...`")
    spec = _MODELS[model]
    info = spec.simulate
    module_cls = spec.sequence
    presets = getattr(module_cls, "PRESETS", None)
    if args.preset is not None and not presets:
        raise ValueError(f"--preset: {model} has no presets")
    if args.preset is not None and args.preset not in presets:
        raise ValueError(f"--preset: {model} knows {sorted(presets)}, got {args.preset!r}")
    params = _parse_params(args.param, info, model)
    if args.fi_curve is not None:
        if args.current is not None:
            raise ValueError("--current and --fi-curve: give one of them (the f-I curve sweeps the current)")
        currents = _parse_range(args.fi_curve)
    elif args.current is not None:
        currents = _parse_currents(args.current)
    else:
        default = getattr(module_cls, "PRESET_CURRENTS", {}).get(args.preset) if args.preset else None
        if default is None:
            raise ValueError(f"--current: required for {model} (in {info.current_unit}), e.g. --current 10")
        currents = [default]
    record = args.plot is not None and args.fi_curve is None
    _check_steps(args, duration, dt, lanes=len(currents), fields=len(spec.state._fields) + 1 if record else 1)
    module = _build(module_cls, info, args.preset, params, dt, record)
    spikes_ms, states = _simulate(module.to(device), currents, duration, dt)
    rates = [len(t) / duration for t in spikes_ms]
    out = {
        "model": model,
        "preset": args.preset,
        "params": _public_params(module, info),
        "dt_ms": dt * 1e3,
        "duration_ms": duration * 1e3,
        "current": currents,
        "current_unit": info.current_unit,
        "spike_times_ms": spikes_ms,
        "rate_hz": rates,
    }
    if args.plot is not None:
        from ..viz import plot_fi_curve, plot_traces

        if args.fi_curve is not None:
            plot_fi_curve(currents, rates, args.plot, model=model, current_unit=info.current_unit)
        else:
            plot_traces(
                states,
                args.plot,
                dt=dt,
                currents=currents,
                spike_times_ms=spikes_ms,
                model=model,
                current_unit=info.current_unit,
                voltage_field=info.voltage_field,
                voltage_unit=info.voltage_unit,
            )
        out["plot"] = args.plot
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print_text(out, info, fi=args.fi_curve is not None)
    return 0


def _build(module_cls, info: SimulateInfo, preset: str | None, params: dict[str, Any], dt: float, record: bool):
    import torch

    kwargs = dict(params)
    if preset is not None:
        kwargs["preset"] = preset
    if info.max_substep_ms is not None and "substeps" not in kwargs:
        kwargs["substeps"] = max(1, math.ceil(dt * 1e3 / info.max_substep_ms - 1e-9))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a dt the scheme cannot take is an error on the CLI
        try:
            return module_cls(dt=dt, dtype=torch.float64, record=record, **kwargs)
        except RuntimeWarning as warning:
            raise ValueError(f"--dt: {warning}") from None


def _simulate(module, currents: list[float], duration: float, dt: float):
    import torch

    from ..neurons import DivergenceError

    steps = max(1, round(duration / dt))
    device = next(iter(module.buffers()), torch.empty(0)).device
    x = torch.tensor(currents, dtype=torch.float64, device=device).reshape(1, -1, 1).expand(steps, -1, 1)
    with torch.no_grad():
        try:
            z, states = module(x)
        except DivergenceError as err:  # name the current that blew up, in the CLI's units
            raise ValueError(f"--current {currents[err.index[0]]:g}: {err}") from None
    z = z[:, :, 0].cpu()
    states = type(states)(*(s.cpu() if isinstance(s, torch.Tensor) else s for s in states))
    spikes = [
        [round(t, 6) for t in ((torch.nonzero(z[:, k]).flatten() + 1).to(torch.float64) * dt * 1e3).tolist()]
        for k in range(z.shape[1])
    ]
    return spikes, states


def _public_params(module, info: SimulateInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in info.params:
        try:
            value = module.get(name) if name in module._specs else getattr(module, name, None)
        except AttributeError:
            value = None
        if value is None:
            continue
        if hasattr(value, "numel"):
            value = float(value) if value.numel() == 1 else value.tolist()
        out[name] = value
    return out


def _print_text(out: dict[str, Any], info: SimulateInfo, *, fi: bool) -> None:
    preset = f" ({out['preset']})" if out["preset"] else ""
    print(f"{out['model']}{preset}: {out['duration_ms']:g} ms at dt = {out['dt_ms']:g} ms")
    if fi:
        print(f"{'current (' + info.current_unit + ')':>28}  rate (Hz)")
        for current, rate in zip(out["current"], out["rate_hz"]):
            print(f"{current:>28g}  {rate:9.2f}")
    else:
        for current, times, rate in zip(out["current"], out["spike_times_ms"], out["rate_hz"]):
            shown = ", ".join(f"{t:.2f}" for t in times[:50])
            more = f", ... ({len(times) - 50} more)" if len(times) > 50 else ""
            noun = "spike" if len(times) == 1 else "spikes"
            print(f"I = {current:g} {info.current_unit}: {len(times)} {noun}, {rate:.2f} Hz")
            print(f"  spike times (ms): {shown}{more}" if times else "  no spikes")
    if "plot" in out:
        print(f"plot written to {out['plot']}")


def _run_network(args: argparse.Namespace, duration: float, dt: float) -> int:
    if args.network not in NETWORK_NAMES:
        raise ValueError(f"network: expected one of {list(NETWORK_NAMES)}, got {args.network!r}")
    _check_steps(args, duration, dt)
    for option in ("preset", "param", "current", "fi_curve"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option.replace('_', '-')}: not used by `simulate network`")
    try:
        from ..sim.networks import simulate_network
    except ImportError as err:
        raise ValueError(f"network: network simulation is not available in this installation ({err})") from None
    result = simulate_network(args.network, regime=args.regime, duration=duration, dt=dt, seed=args.seed)
    summary = {k: (float(v) if hasattr(v, "__float__") else v) for k, v in result.summary().items()}
    out = {
        "model": "network",
        "network": args.network,
        "regime": getattr(result, "regime", args.regime),
        "dt_ms": dt * 1e3,
        "duration_ms": duration * 1e3,
        "seed": args.seed,
        "n_neurons": int(result.n_neurons),
        "n_spikes": len(result.spike_times),
        "summary": summary,
    }
    if args.plot is not None:
        from ..viz import plot_network

        plot_network(result, args.plot)
        out["plot"] = args.plot
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        regime = f" ({out['regime']})" if out["regime"] else ""
        print(
            f"{args.network}{regime}: {out['n_neurons']} neurons, {out['duration_ms']:g} ms at "
            f"dt = {out['dt_ms']:g} ms, {out['n_spikes']} spikes"
        )
        for key, value in summary.items():
            print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
        if "plot" in out:
            print(f"raster and population rate written to {out['plot']}")
    return 0
