"""Yin-Yang with EventProp: a 5 -> H -> 3 current-based LIF network, time-to-first-spike loss (Wunderlich & Pehle
2021), exact spike times; prints validation accuracy per epoch and the final test accuracy.

    .venv/bin/python benchmarks/eventprop_yinyang.py                       # H 120, 12 epochs, batch 64, lr 3e-3
    .venv/bin/python benchmarks/eventprop_yinyang.py --epochs 3 --json /tmp/yy.json

Inputs: ``(x, 1 - x, y, 1 - y)`` as latencies in [0, 30] ms plus a bias spike at 0 (``spikeforge.data.load_yinyang``,
5000 / 1000 / 1000 points from ``--split-seed``). Adam with cosine decay; the test accuracy is of the weights with
the best validation accuracy. The linear floor (logistic regression on the same features) is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=120)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from sklearn.linear_model import LogisticRegression

    from spikeforge.data import load_yinyang
    from spikeforge.data._yinyang import yinyang_features
    from spikeforge.learning.online import EventPropNet, SpikeList

    split = load_yinyang(split_seed=args.split_seed)
    feats = {p: yinyang_features(getattr(split, f"points_{p}")).numpy() for p in ("train", "test")}
    linear = LogisticRegression(max_iter=2000).fit(feats["train"], split.y_train.numpy())
    linear_acc = float(linear.score(feats["test"], split.y_test.numpy()))

    def spikes(part: str, idx: torch.Tensor | None = None) -> SpikeList:
        t = split.spike_times(part)
        t, order = torch.sort(t if idx is None else t[idx], 1)
        return SpikeList(t, order, 5)

    g = torch.Generator().manual_seed(args.seed)
    h = args.hidden
    net = EventPropNet([5, h, 3], init=[(1.5, 1.2), (45.0 / h, 10 / math.sqrt(h))], generator=g, t_end=0.06)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    n = len(split.y_train)
    batches = math.ceil(n / args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * batches)

    def accuracy(part: str) -> float:
        with torch.no_grad():
            out = net(spikes(part))
        return float((net.scores(out).argmax(1) == getattr(split, f"y_{part}")).double().mean())

    history, best, best_state = [], -1.0, None
    started = time.perf_counter()
    for epoch in range(args.epochs):
        t0, total = time.perf_counter(), 0.0
        for idx in torch.randperm(n, generator=g).split(args.batch):
            loss = net.loss(net(spikes("train", idx)), split.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        val = accuracy("val")
        if val > best:
            best, best_state = val, {k: v.clone() for k, v in net.state_dict().items()}
        history.append(
            {"epoch": epoch, "loss": total / batches, "val_accuracy": val, "seconds": time.perf_counter() - t0}
        )
        print(f"epoch {epoch}: loss {total / batches:.4f}  val {val:.3f}  ({history[-1]['seconds']:.0f} s)", flush=True)
    net.load_state_dict(best_state)
    test = accuracy("test")
    print(
        f"test accuracy {test:.3f} (best val {best:.3f}); linear floor {linear_acc:.3f}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"json": str(args.json)},
                    "history": history,
                    "test_accuracy": test,
                    "best_val_accuracy": best,
                    "linear_test_accuracy": linear_acc,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
