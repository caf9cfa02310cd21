"""`profile_split`: operation counts of a classifier on its test split (the CLI's `profile` runs it on a run folder,
tests/cli/test_profile.py)."""

from types import SimpleNamespace

import pytest
import torch

from spikeforge.data import load_digits
from spikeforge.learning import TrainConfig, encode_batch
from spikeforge.metrics import EfficiencyCounter, profile_split
from spikeforge.models import DEFAULTS, build_model, resolve_model_config


def test_profile_split_feeds_padded_series_as_they_are():
    torch.manual_seed(0)
    cfg = resolve_model_config({**DEFAULTS, "hidden": [5], "input_shape": [3], "n_classes": 2, "backend": "torch"})
    model = build_model(cfg)
    x = torch.randn(7, 6, 3)
    x[4:, :2] = 0.0  # two series end after 4 steps: zero padding
    split = SimpleNamespace(x_test=x, y_test=torch.zeros(6), len_test=torch.tensor([4, 4, 7, 7, 7, 7]))
    report = profile_split(model, split, TrainConfig(timesteps=7, batch_size=4))
    assert report.samples == 6 and report.timesteps == 7
    assert report.macs == pytest.approx(float((x != 0).sum()) * 5 / 6)  # real-valued input: multiply-accumulates
    assert report.membrane_updates == 7 * (5 + 2)  # padded steps still update the membranes


def test_profile_split_encodes_images_as_evaluate_does():
    """Images are encoded batch by batch with the run's encoder and eval seed: the counts equal a hand-run counter."""
    torch.manual_seed(0)
    split = load_digits()
    split = SimpleNamespace(x_test=split.x_test[:10], y_test=split.y_test[:10])
    cfg = resolve_model_config(
        {"model": "mlp", "hidden": [8], "input_shape": [1, 8, 8], "n_classes": 10, "backend": "torch"}
    )
    model = build_model(cfg)
    train = TrainConfig(timesteps=5, encoding="rate", batch_size=4)
    report = profile_split(model, split, train, batches=2)
    generator = torch.Generator().manual_seed(train.eval_seed)
    with torch.no_grad(), EfficiencyCounter(model, ann="once") as counter:
        for lo in (0, 4):
            model(encode_batch(split.x_test[lo : lo + 4], train, generator))
    ref = counter.report()
    assert report.samples == ref.samples == 8 and report.timesteps == 5
    assert report.to_dict() == ref.to_dict()
    with pytest.raises(ValueError, match="batches: expected a positive number of batches, got 0"):
        profile_split(model, split, train, batches=0)
