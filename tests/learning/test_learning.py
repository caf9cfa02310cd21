"""A small problem is actually learned: digits with a reduced budget."""

import torch

from spikeforge.data import load_digits
from spikeforge.learning import TrainConfig, evaluate, fit
from spikeforge.models import build_model


def test_mlp_learns_digits_with_rate_coding():
    split = load_digits()
    model = build_model({"model": "mlp", "input_shape": [1, 8, 8], "n_classes": 10, "hidden": [128]})
    cfg = TrainConfig(epochs=8, timesteps=12, encoding="rate", readout="mean", lr=3e-3, seed=0)
    history = fit(model, split, cfg)
    result = evaluate(model, split.x_test, split.y_test, cfg)
    assert result.accuracy >= 0.92, result.accuracy
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert 0.0 < result.rates["2"] < 0.5  # the hidden layer spikes, sparsely
    again = evaluate(model, split.x_test, split.y_test, cfg)
    assert again.accuracy == result.accuracy  # evaluation is reproducible (seeded encoder)
    assert torch.isfinite(torch.tensor(result.loss))
