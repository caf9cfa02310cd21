"""spikeforge's Diehl & Cook network against BindsNET's, side by side in one run: accuracy and time per epoch.

    .venv-bench/bin/python benchmarks/bindsnet_diehl_cook.py                 # 400 neurons, 1 round, writes the JSON
    .venv-bench/bin/python benchmarks/bindsnet_diehl_cook.py --quick         # 100 neurons, 300 training images

Run in the benchmark venv (``.venv-bench``: CPU torch 2.13.0, spikeforge editable, BindsNET 0.3.4 installed with
``--no-deps`` plus matplotlib, pandas and tensorboardX, which its package ``__init__`` imports). BindsNET's
``__init__`` also imports its data-set and plotting helpers, which import torchvision (and gymnasium, ale_py,
opencv, scikit-image for its environments). The torchvision wheel on the package index is built against CUDA torch
and cannot load with the CPU torch 2.13.0 (``operator torchvision::nms does not exist``), so this script registers
empty stand-ins for those five packages before importing BindsNET; nothing here calls them (the simulation,
learning, encoding and evaluation code of BindsNET does not use them).

The same data (scikit-learn's 8x8 digits, spikeforge's stratified split: 1167 train / 180 val / 450 test), the
same network size (``--neurons`` excitatory neurons, 64 inputs), the same presentation (100 steps of 1 ms, Poisson
rates 250 Hz x pixel) and one epoch each:

- **spikeforge**: ``train_diehl_cook`` at its defaults (``DiehlCookConfig``), sequential (batch 1);
- **BindsNET**: ``bindsnet.models.DiehlAndCook2015`` as its MNIST example builds it (exc 22.5, inh 17.5,
  theta_plus 0.05, nu (1e-4, 1e-2), its default learning rule; ``--bindsnet-params spikeforge``: theta_plus 0.5 and
  nu (1e-4, 2e-3), spikeforge's retuned values, JSON ``..._spikeforge.json``), with ``norm`` scaled to 0.1 per input like the paper's
  78.4 for 784 (6.4 here), one image per ``network.run``, then ``assign_labels`` on the training set and
  ``all_activity`` on the test set.

Time per epoch = the training pass only (labelling and testing are timed separately). Each round runs spikeforge
then BindsNET in this one process, at ``torch.set_num_threads(--threads)``; the load average is recorded (the
machine is shared).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import os
import platform
import sys
import tempfile
import time
import types
from pathlib import Path

from _machine import cpu_model

RESULTS = Path(tempfile.gettempdir()) / "spikeforge-bindsnet_diehl_cook.json"  # --json benchmarks/results/... to keep
STEPS = 100  # 1 ms each
MAX_RATE = 250.0  # Hz for a pixel of 1
_STANDINS = ("torchvision", "gymnasium", "ale_py", "cv2", "skimage")


class _StandIn(types.ModuleType):
    """An empty module for an import BindsNET makes but this benchmark never uses; calling anything in it fails."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        value = type(name, (), {}) if name[:1].isupper() else _StandIn(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.__name__} is a stand-in in benchmarks/bindsnet_diehl_cook.py")


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in _STANDINS:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StandIn(spec.name)

    def exec_module(self, module):
        module.__path__ = []


def _import_bindsnet():
    sys.meta_path.insert(0, _StandInFinder())
    import bindsnet  # noqa: F401
    from bindsnet.encoding import poisson
    from bindsnet.evaluation import all_activity, assign_labels
    from bindsnet.models import DiehlAndCook2015
    from bindsnet.network.monitors import Monitor

    return DiehlAndCook2015, Monitor, poisson, assign_labels, all_activity


def run_spikeforge(split, neurons: int, seed: int) -> dict:
    from spikeforge.learning.plasticity import DiehlCookConfig, evaluate_diehl_cook, train_diehl_cook

    cfg = DiehlCookConfig(n_neurons=neurons, epochs=1, seed=seed, present=STEPS * 1e-3, max_rate=MAX_RATE)
    net, history = train_diehl_cook(split, cfg)
    started = time.perf_counter()
    test = evaluate_diehl_cook(net, split.x_test, split.y_test, seed=seed + 2)
    return {
        "epoch_seconds": history[0]["seconds"],
        "label_seconds": history[0]["label_seconds"],
        "test_seconds": time.perf_counter() - started,
        "test_accuracy": test["accuracy"],
    }


#: BindsNET's settings: its MNIST example's, or spikeforge's retuned adaptive threshold and STDP rates
BINDSNET_PARAMS = {
    "example": {"exc": 22.5, "inh": 17.5, "theta_plus": 0.05, "nu": (1e-4, 1e-2)},
    "spikeforge": {"exc": 22.5, "inh": 17.5, "theta_plus": 0.5, "nu": (1e-4, 2e-3)},
}


def run_bindsnet(split, neurons: int, seed: int, params: str = "example") -> dict:
    import torch

    DiehlAndCook2015, Monitor, poisson, assign_labels, all_activity = _import_bindsnet()
    torch.manual_seed(seed)
    n_in = int(split.x_train[0].numel())
    settings = {**BINDSNET_PARAMS[params], "norm": 0.1 * n_in}
    network = DiehlAndCook2015(n_inpt=n_in, n_neurons=neurons, dt=1.0, **settings)
    monitor = Monitor(network.layers["Ae"], state_vars=["s"], time=STEPS)
    network.add_monitor(monitor, name="Ae_spikes")

    def present(x: torch.Tensor) -> torch.Tensor:
        spikes = poisson(datum=x.reshape(-1) * MAX_RATE, time=STEPS, dt=1.0)  # [T, n_in]
        network.run(inputs={"X": spikes.view(STEPS, 1, n_in)}, time=STEPS, input_time_dim=1)
        record = monitor.get("s").reshape(STEPS, neurons).clone()
        network.reset_state_variables()
        return record

    network.train(True)
    order = torch.randperm(len(split.x_train), generator=torch.Generator().manual_seed(seed))
    started = time.perf_counter()
    for i in order.tolist():
        present(split.x_train[i])
    epoch = time.perf_counter() - started
    network.train(False)
    started = time.perf_counter()
    train_spikes = torch.stack([present(x) for x in split.x_train])
    assignments, _, _ = assign_labels(train_spikes, split.y_train, 10)
    label = time.perf_counter() - started
    started = time.perf_counter()
    test_spikes = torch.stack([present(x) for x in split.x_test])
    pred = all_activity(test_spikes, assignments, 10)
    return {
        "epoch_seconds": epoch,
        "label_seconds": label,
        "test_seconds": time.perf_counter() - started,
        "test_accuracy": float((pred == split.y_test).float().mean()),
        "settings": {"params": params, **settings},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="100 neurons, 300 training images, no JSON")
    parser.add_argument(
        "--bindsnet-params",
        choices=list(BINDSNET_PARAMS),
        default="example",
        help="BindsNET's settings: its MNIST example's (default) or spikeforge's theta_plus and STDP rates",
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args()
    import torch

    from spikeforge.data import load_split

    torch.set_num_threads(args.threads)
    split = load_split("digits")
    if args.quick:
        args.neurons = 100
        split.x_train, split.y_train = split.x_train[:300], split.y_train[:300]
    meta = {
        "neurons": args.neurons,
        "n_train": len(split.y_train),
        "n_test": len(split.y_test),
        "steps": STEPS,
        "max_rate_hz": MAX_RATE,
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "load_before": os.getloadavg(),
    }
    rows = []
    for r in range(args.rounds):
        for name in ("spikeforge", "bindsnet"):
            if name == "spikeforge":
                result = run_spikeforge(split, args.neurons, seed=r)
            else:
                result = run_bindsnet(split, args.neurons, seed=r, params=args.bindsnet_params)
            row = {"round": r, "library": name, **result}
            rows.append(row)
            print(
                f"round {r} {name:>10}: epoch {row['epoch_seconds']:7.1f} s  labelling {row['label_seconds']:6.1f} s  "
                f"test {row['test_seconds']:6.1f} s  test accuracy {row['test_accuracy']:.2%}",
                flush=True,
            )
    meta["load_after"] = os.getloadavg()
    for r in range(args.rounds):
        sf, bn = (next(x for x in rows if x["round"] == r and x["library"] == k) for k in ("spikeforge", "bindsnet"))
        print(
            f"round {r}: spikeforge is {bn['epoch_seconds'] / sf['epoch_seconds']:.1f}x faster per epoch; "
            f"accuracy {sf['test_accuracy']:.2%} vs BindsNET {bn['test_accuracy']:.2%}"
        )
    if not args.quick:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        if args.bindsnet_params != "example" and args.json == RESULTS:
            args.json = RESULTS.with_name(f"bindsnet_diehl_cook_{args.bindsnet_params}.json")
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
