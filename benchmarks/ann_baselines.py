"""Non-spiking baselines (logistic regression, MLP, RBF SVM) measured on the same data and split as the SNN rows:
scikit-learn's 8x8 digits and the spoken-digit corpus' spike features.

    python benchmarks/ann_baselines.py            # ~2-4 min at 1 thread; results in runs/studies/ann_baselines.json

Digits: the split of `spikeforge train --dataset digits` (split seed 0: 1167 train / 180 validation / 450 test);
each baseline is fit on the training part with fixed settings (no search: the SNN's settings were not tuned on
these images either) and scored on the test part. The SNN rows are `spikeforge train --config
configs/digits-mlp.yaml --seed S` and `configs/digits-conv.yaml`, run by this script, seeds 0 1 2.

Spoken digits: the baselines see the spike features of the default audio front end (the cached `audio:DIR` split
of `spikeforge train`, test part = unseen voices), summed over 10 equal segments of each recording (10 x 64 = 640
counts, a fixed-size vector the baselines can take). The SNN and GRU rows come from
`benchmarks/audio_models.py` (runs/studies/audio_models.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _study import CORPUS, ROOT, load, mean_std, need_corpus, outputs, pyplot, report, save, save_figure, summary, train

SEGMENTS = 10


def baselines(seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "MLP (100 ReLU, adam)": make_pipeline(
            StandardScaler(), MLPClassifier((100,), max_iter=1000, random_state=seed)
        ),
        "RBF SVM (C=10)": make_pipeline(StandardScaler(), SVC(C=10.0)),
    }


def fit_score(x_tr, y_tr, x_te, y_te, seed: int) -> dict:
    out = {}
    for name, model in baselines(seed).items():
        start = time.perf_counter()
        model.fit(x_tr, y_tr)
        out[name] = {
            "test_accuracy": float((model.predict(x_te) == y_te).mean()),
            "seconds": time.perf_counter() - start,
        }
    return out


def digits_data():
    from spikeforge.data import load_digits

    s = load_digits(split_seed=0)
    flat = lambda x: x.reshape(len(x), -1).numpy()  # noqa: E731
    return flat(s.x_train), s.y_train.numpy(), flat(s.x_test), s.y_test.numpy()


def audio_data(corpus: Path):
    """Segment sums of the default front end's spikes, from the same cached split `spikeforge train` uses."""
    from spikeforge.cli._audio import AUDIO_MODEL_DEFAULTS, feature_cache, frontend
    from spikeforge.data import load_split

    split = load_split(
        f"audio:{corpus}",
        audio=frontend(None, AUDIO_MODEL_DEFAULTS["dt"]),
        cache=feature_cache(ROOT / "runs" / "studies" / "x"),
    )

    def pooled(x, lengths):
        rows = []
        for n in range(x.shape[1]):
            z = x[: int(lengths[n]), n].numpy()
            rows.append(np.concatenate([seg.sum(0) for seg in np.array_split(z, SEGMENTS)]))
        return np.stack(rows)

    return (
        pooled(split.x_train, split.len_train),
        split.y_train.numpy(),
        pooled(split.x_test, split.len_test),
        split.y_test.numpy(),
    )


def table(data: dict) -> str:
    lines = ["| data | model | spiking | test accuracy (%) | seeds |", "|---|---|---|---|---|"]
    for task in ("digits", "spoken digits"):
        rows = {}
        for key, r in sorted(data["runs"].items()):
            t, model, _ = key.split("/")
            if t == task:
                rows.setdefault(model, []).append(r["test_accuracy"])
        for model, accs in rows.items():
            spiking = "yes" if model.startswith("SNN") else "no"
            lines.append(f"| {task} | {model} | {spiking} | {mean_std(accs)} | {len(accs)} |")
        if task == "spoken digits":
            audio = ROOT / "runs" / "studies" / "audio_models.json"
            if audio.is_file():
                runs = json.loads(audio.read_text())["runs"]
                names = {"recurrent": "SNN recurrent LIF", "mlp": "SNN feed-forward LIF", "delay": "SNN delays",
                         "gru": "GRU on the spikes"}  # fmt: skip
                for m, label in names.items():
                    accs = [r["test_accuracy"] for k, r in sorted(runs.items()) if k.split("/")[0] == m]
                    if accs:
                        spiking = "no" if m == "gru" else "yes"
                        lines.append(
                            f"| {task} | {label} (audio_models.py) | {spiking} | {mean_std(accs)} | {len(accs)} |"
                        )
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    plt = pyplot()
    rows = [line.split(" | ") for line in table(data).splitlines()[2:]]
    labels = [f"{r[0].strip('| ')}: {r[1]}" for r in rows]
    means = [float(r[3].split(" ")[0]) for r in rows]
    spiking = [r[2] == "yes" for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1))
    ax.barh(range(len(rows)), means, color=["tab:orange" if s else "tab:blue" for s in spiking])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(min(means) - 5, 100)
    ax.set_xlabel("test accuracy (%), mean over seeds (orange: spiking)")
    save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    outputs(p, "ann_baselines")
    args = p.parse_args()
    data = load(args.results)
    if not args.table_only:
        tasks = {"digits": digits_data()}
        if args.corpus.is_dir():
            tasks["spoken digits"] = audio_data(need_corpus(args.corpus))
        for seed in args.seeds:
            for task, (x_tr, y_tr, x_te, y_te) in tasks.items():
                for name, r in fit_score(x_tr, y_tr, x_te, y_te, seed).items():
                    data["runs"][f"{task}/{name}/s{seed}"] = r
            for config, label in (("digits-mlp", "SNN MLP 64-256-10"), ("digits-conv", "SNN conv 16-32 + 128")):
                key = f"digits/{label}/s{seed}"
                if key not in data["runs"]:
                    out = ROOT / "runs" / "studies" / "ann_baselines" / f"{config}-s{seed}"
                    cfg = str(ROOT / "configs" / f"{config}.yaml")
                    data["runs"][key] = summary(train(["--config", cfg, "--seed", str(seed)], out))
            save(args.results, data)
            print(f"seed {seed} done", flush=True)
    return report(table(data), plot, data, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
