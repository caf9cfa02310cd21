"""Synaptic operations of a trained run: spikeforge's counter beside NeuroBench's SynapticOperations, same inputs.

Runs in the peers' venv with NeuroBench installed without its dependencies (its wheel declares torchaudio, whose
newest release pins an older torch; the metrics modules import without it):

    .venv-bench/bin/pip install --no-deps neurobench==2.3.0
    .venv-bench/bin/python benchmarks/neurobench_crosscheck.py runs/NAME [--batches 4]

The spikeforge model itself is wrapped in NeuroBench's ``TorchModel``; both sets of hooks watch the same forward
passes on the same encoded test batches. Activation sparsity needs snnTorch neuron modules on NeuroBench's side;
``tests/metrics/test_neurobench.py`` compares it on an snnTorch twin of a spikeforge network.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder written by `spikeforge train`")
    parser.add_argument("--batches", type=int, default=4, help="test batches to run (default 4)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from neurobench.metrics.workload import SynapticOperations
    from neurobench.models import TorchModel

    from spikeforge.data import load_dataset
    from spikeforge.interop import load_model
    from spikeforge.learning import TrainConfig, encode_batch
    from spikeforge.metrics import EfficiencyCounter

    config = json.loads((args.run / "config.json").read_text())
    cfg = TrainConfig(**config["train"])
    model, _ = load_model(args.run / "model.safetensors")
    split = load_dataset(config["dataset"])
    generator = torch.Generator().manual_seed(cfg.eval_seed)
    starts = range(0, len(split.y_test), cfg.batch_size)[: args.batches]
    batches = []
    for lo in starts:
        if getattr(split, "len_test", None) is not None:
            batches.append(split.x_test[:, lo : lo + cfg.batch_size])
        else:
            batches.append(encode_batch(split.x_test[lo : lo + cfg.batch_size], cfg, generator))
    # two separate passes: NeuroBench deep-copies hooked layers to count, which would copy our hooks too
    nb_model, metric = TorchModel(model), SynapticOperations()
    nb_model.register_hooks()
    with torch.no_grad():
        for x_seq in batches:
            preds = nb_model(x_seq)
            theirs = metric(nb_model, preds, (x_seq.transpose(0, 1), None))  # data[0].size(0): the batch size
            for hook in nb_model.connection_hooks:
                hook.reset()
    nb_model.cleanup_hooks()
    with torch.no_grad(), EfficiencyCounter(model) as counter:
        for x_seq in batches:
            model(x_seq)
    ours = counter.report()
    print(f"{args.run}: {ours.samples} test samples, T={ours.timesteps}, encoding={cfg.encoding}; per sample")
    print(f"{'quantity':<34}{'spikeforge':>16}{'NeuroBench':>16}{'ratio':>10}")
    for label, a, b in [
        ("accumulates (Effective_ACs)", ours.acs, theirs["Effective_ACs"]),
        ("multiply-accumulates (Effective_MACs)", ours.macs, theirs["Effective_MACs"]),
        ("dense operations, all steps (Dense)", ours.dense, theirs["Dense"]),
    ]:
        ratio = f"{a / b:.6f}" if b else ("equal" if a == b else "-")
        print(f"{label:<34}{a:>16,.1f}{b:>16,.1f}{ratio:>10}")


if __name__ == "__main__":
    main()
