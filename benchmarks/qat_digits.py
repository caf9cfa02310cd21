"""Quantisation-aware training on scikit-learn digits: float vs 8/4/2-bit weights (and quantised membrane),
plus the integer (fixed-point) twin of each 8-bit network.

    python benchmarks/qat_digits.py [--epochs 40] [--seeds 0 1 2] [--membrane-bits 16] [--out FILE]

Every run uses the pipeline of ``configs/digits-mlp.yaml`` (64 -> 256 LIF -> 10 LI, direct input, 16 steps,
max readout, Adam with cosine decay, best validation epoch kept) and the same seed for initialisation and data
order. QAT models are built by ``spikeforge.quant.quantize_model`` from the same initial float network (symmetric
per-tensor power-of-two weight scales chosen by minimum squared error, membrane and current of the LIF layer on a
``membrane_bits`` grid). Prints a table (bits, mean +- std test accuracy over seeds, delta vs float) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _configs(epochs: int):
    import yaml

    from spikeforge.learning import TrainConfig

    raw = yaml.safe_load((ROOT / "configs" / "digits-mlp.yaml").read_text())
    train_keys = set(TrainConfig.__dataclass_fields__)
    train = {k: v for k, v in raw.items() if k in train_keys}
    train["epochs"] = epochs
    model = {k: v for k, v in raw.items() if k not in train_keys and k != "dataset"}
    return model, train


def _predict(model, x, cfg) -> torch.Tensor:
    from spikeforge.learning import encode_batch, scores

    preds = []
    model.eval()
    with torch.no_grad():
        for lo in range(0, len(x), cfg.batch_size):
            out, _ = model(encode_batch(x[lo : lo + cfg.batch_size], cfg))
            preds.append(scores(out, cfg.readout).argmax(1))
    return torch.cat(preds)


def run(epochs: int, seeds: list[int], bits_list: list[int], membrane_bits: int | None) -> dict:
    from spikeforge.data import load_digits
    from spikeforge.learning import TrainConfig, fit
    from spikeforge.models import build_model
    from spikeforge.quant import quantize_model, to_fixed

    split = load_digits()
    model_cfg, train_cfg = _configs(epochs)
    model_cfg.update(input_shape=list(split.input_shape), n_classes=split.n_classes)
    runs = []
    for seed in seeds:
        cfg = TrainConfig(**{**train_cfg, "seed": seed})
        for bits in [None, *bits_list]:
            torch.manual_seed(seed)
            model = build_model(model_cfg)
            if bits is not None:
                model = quantize_model(model, bits=bits, membrane_bits=membrane_bits)
            t0 = time.perf_counter()
            fit(model, split, cfg)
            seconds = time.perf_counter() - t0
            pred = _predict(model, split.x_test, cfg)
            row = {
                "seed": seed,
                "bits": bits,
                "test_accuracy": (pred == split.y_test).float().mean().item(),
                "train_seconds": round(seconds, 2),
            }
            if bits == 8:
                twin = to_fixed(model, input_scale=1 / 16)
                twin_pred = _predict(twin, split.x_test, cfg)
                row["twin_test_accuracy"] = (twin_pred == split.y_test).float().mean().item()
                row["twin_prediction_differences"] = int((twin_pred != pred).sum())
            runs.append(row)
            label = "float" if bits is None else f"{bits}-bit"
            extra = ""
            if "twin_test_accuracy" in row:
                extra = (
                    f", integer twin {100 * row['twin_test_accuracy']:.2f}% "
                    f"({row['twin_prediction_differences']} of {len(pred)} predictions differ)"
                )
            print(
                f"seed {seed} {label:>6}: test {100 * row['test_accuracy']:.2f}% in {seconds:.1f} s{extra}", flush=True
            )
    return {"runs": runs, "n_test": len(split.y_test), "model": model_cfg, "train": train_cfg}


def summarise(result: dict, bits_list: list[int]) -> list[dict]:
    def acc(bits, key="test_accuracy"):
        return [100 * r[key] for r in result["runs"] if r["bits"] == bits and key in r]

    base = statistics.mean(acc(None))
    rows = []
    for bits in [None, *bits_list]:
        a = acc(bits)
        rows.append(
            {
                "bits": "float" if bits is None else bits,
                "mean": statistics.mean(a),
                "std": statistics.stdev(a) if len(a) > 1 else 0.0,
                "delta_vs_float": statistics.mean(a) - base,
                "per_seed": a,
            }
        )
    twin = acc(8, "twin_test_accuracy")
    if twin:
        diffs = [r["twin_prediction_differences"] for r in result["runs"] if r["bits"] == 8]
        rows.append(
            {
                "bits": "8 (integer twin)",
                "mean": statistics.mean(twin),
                "std": statistics.stdev(twin) if len(twin) > 1 else 0.0,
                "delta_vs_float": statistics.mean(twin) - base,
                "per_seed": twin,
                "prediction_differences_vs_8bit_qat": diffs,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 4, 2])
    parser.add_argument("--membrane-bits", type=int, default=16, help="0: float membrane")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spikeforge-qat_digits.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    membrane_bits = args.membrane_bits or None
    t0 = time.perf_counter()
    result = run(args.epochs, args.seeds, args.bits, membrane_bits)
    rows = summarise(result, args.bits)
    print(
        f"\ndigits MLP 64-256-10, {args.epochs} epochs, seeds {args.seeds}, membrane bits {membrane_bits}, "
        f"test set of {result['n_test']}"
    )
    print(f"{'weights':>18} | {'test accuracy (%)':>18} | {'delta vs float':>14}")
    for r in rows:
        print(f"{r['bits']!s:>18} | {r['mean']:>10.2f} +- {r['std']:<4.2f} | {r['delta_vs_float']:>+14.2f}")
    result.update(
        summary=rows,
        membrane_bits=membrane_bits,
        seeds=args.seeds,
        command="python benchmarks/qat_digits.py " + " ".join(sys.argv[1:] if argv is None else argv),
        torch=torch.__version__,
        threads=1,
        total_seconds=round(time.perf_counter() - t0, 1),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
