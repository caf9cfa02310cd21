"""`spikeforge deploy-check runs/NAME --target loihi2|akida|xylo|speck|spinnaker2`: hardware fit and integer twin."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

__all__ = ["add_parser", "input_grid", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    from ..interop import TARGETS

    p = sub.add_parser(
        "deploy-check",
        help="does a trained run fit a neuromorphic chip? limits, core count, changes needed, integer-twin accuracy",
    )
    p.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    p.add_argument(
        "--target",
        choices=[*TARGETS, "all"],
        default="all",
        help="; ".join(f"{k}: {t.description}" for k, t in TARGETS.items()) + "; all (default): every one",
    )
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.set_defaults(func=run)
    return p


def input_grid(x, bits: int = 8) -> float:
    """The input's grid step: ``1/d`` for the smallest power of two ``d <= 2^bits`` that puts every value on the grid
    (scikit-learn digits: 1/16), else ``max|x| / (2^(bits-1) - 1)`` (the input is then rounded to it)."""
    import torch

    x = x.double()
    for k in range(bits + 1):
        d = 2.0**k
        if torch.equal(torch.round(x * d), x * d) and float((x * d).abs().max()) < 2 ** (bits + 4):
            return 1.0 / d
    top = float(x.abs().max())
    return top / (2 ** (bits - 1) - 1) if top > 0 else 1.0


def _fit_shift(model, scale: float, weight_bits: int, state_bits: int | None):
    """The twin with the most extra fraction bits (``shift``, at most Loihi's 6) whose integer thresholds stay below
    a quarter of the state range: a threshold the membrane cannot reach in ``state_bits`` leaves the layer silent."""
    from ..quant import FixedCUBA, to_fixed

    for shift in range(6, -1, -1):
        twin = to_fixed(model, input_scale=scale, weight_bits=weight_bits, state_bits=state_bits, shift=shift)
        top = max(
            (int(m.vth.max()) for m in twin.modules() if isinstance(m, FixedCUBA) and m.vth is not None), default=0
        )
        if state_bits is None or top < 2 ** (state_bits - 2):
            return twin, shift
    return twin, 0


def _twin_accuracy(model, split, cfg, target) -> tuple[float, float, str]:
    """``(float accuracy, integer-twin accuracy, what the twin is)`` on the test split, the twin at the target's
    weight and state widths (``spikeforge.quant.to_fixed``) with the input rounded to its grid."""
    import torch

    from ..learning import encode_batch, scores

    lengths = getattr(split, "len_test", None)
    n = len(split.y_test)
    generator = torch.Generator().manual_seed(cfg.eval_seed)
    batches = []
    for lo in range(0, n, cfg.batch_size):
        idx = torch.arange(lo, min(n, lo + cfg.batch_size))
        if lengths is None:
            batches.append((encode_batch(split.x_test[idx], cfg, generator).float(), split.y_test[idx], None))
        else:
            lb = lengths[idx]
            batches.append((split.x_test[: int(lb.max()), idx].float(), split.y_test[idx], lb))
    scale = input_grid(torch.cat([b[0].reshape(-1) for b in batches]))
    weight_bits = max(2, int(target.weight_bits.value or 8))
    state_bits = int(target.state_bits.value) if target.state_bits.value and target.state_bits.value > 8 else None
    twin, shift = _fit_shift(model.float(), scale, weight_bits, state_bits)
    correct_f = correct_q = 0
    with torch.no_grad():
        for x, y, lb in batches:
            out, _ = model(x)
            correct_f += int((scores(out, cfg.readout, lb).argmax(1) == y).sum())
            xq = torch.round(x.double() / scale) * scale
            out_q, _ = twin(xq.float())
            correct_q += int((scores(out_q, cfg.readout, lb).argmax(1) == y).sum())
    from ..quant import check_silent

    x0 = torch.round(batches[0][0].double() / scale).float() * scale
    silent = check_silent(model, twin, x0, warn=False)
    state = f"{state_bits}-bit state" if state_bits else "state unbounded (the platform has no membrane)"
    what = f"{weight_bits}-bit weights, {state}, {shift} extra fraction bits, input grid {scale:.4g}"
    if silent:
        what += f"; SILENT after quantisation: {'; '.join(silent)}"
    return correct_f / n, correct_q / n, what


def run(args: argparse.Namespace) -> int:
    from ..interop import TARGETS, deploy_check, load_model
    from ..learning import TrainConfig
    from ._evaluate import check_fits, read_run_config, require_run_files, run_split

    folder: Path = args.run
    require_run_files(folder)
    config = read_run_config(folder)
    model, mc = load_model(folder / "model.safetensors")
    model.eval()
    split = run_split(folder, config)
    check_fits(split, mc, config["dataset"], "dataset")
    cfg = TrainConfig.from_section(config["train"])
    names = list(TARGETS) if args.target == "all" else [args.target]
    out = []
    for name in names:
        target = TARGETS[name]
        report = deploy_check(model, mc["input_shape"], target)
        try:
            acc_f, acc_q, what = _twin_accuracy(model, split, cfg, target)
            twin = {"float_accuracy": acc_f, "twin_accuracy": acc_q, "twin": what}
        except (TypeError, ValueError) as err:  # a layer without a fixed-point twin (recurrent, ALIF, conv ...)
            twin = {"float_accuracy": None, "twin_accuracy": None, "twin": f"not available: {err}"}
        out.append({**dataclasses.asdict(report), **twin, "description": target.description})
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for r in out:
        verdict = "FITS" if r["fits"] else "DOES NOT FIT"
        bound = "" if r["cores_exact"] else " (lower bound)"
        print(f"{r['target']} ({r['description']}): {verdict}; {r['cores']} core(s){bound}")
        for layer in r["layers"]:
            extra = ", recurrent" if layer["recurrent"] else ""
            extra += f", delays up to {layer['max_delay']} steps" if layer["max_delay"] else ""
            print(
                f"  layer {layer['index']:>2} {layer['model']:<7} {layer['neurons']:>7,} neurons  fan-in "
                f"{layer['fan_in']:>6,}  fan-out {layer['fan_out']:>6,}  synapses {layer['synapses']:>10,}{extra}"
            )
        for change in r["changes"]:
            print(f"  must change: {change}")
        if r["twin_accuracy"] is None:
            print(f"  integer twin: {r['twin']}")
        else:
            print(
                f"  integer twin ({r['twin']}): test accuracy {r['twin_accuracy']:.2%} "
                f"(float {r['float_accuracy']:.2%})"
            )
        for note in r["notes"]:
            print(f"  note: {note}")
    return 0
