"""Encoder and decoder names come from ENCODERS and DECODERS alone: training config and CLI read them."""

import pytest
import torch

from spikeforge import encoding as enc
from spikeforge.learning import TrainConfig, scores


def test_registry_order_is_the_one_shown():
    assert list(enc.ENCODERS) == ["direct", "rate", "poisson", "latency"]
    assert list(enc.DECODERS) == ["max", "mean", "count", "first", "last"]
    assert [name for name in enc.DECODERS if enc.reads_spikes(name)] == ["count", "first"]
    assert not enc.reads_spikes("median")


def test_last_step_decoder_matches_scores():
    out = torch.rand(4, 2, 3)
    assert torch.equal(enc.decode(out, "last"), out[-1])
    assert torch.equal(scores(out, "last"), out[-1])
    assert torch.equal(scores(out, "last", torch.tensor([4, 2])), torch.stack([out[3, 0], out[1, 1]]))


def test_train_config_lists_the_registries():
    with pytest.raises(ValueError, match="encoding: expected one of direct, rate, poisson, latency; got 'phase'"):
        TrainConfig(encoding="phase")
    with pytest.raises(ValueError, match="readout: expected one of max, mean, count, first, last; got 'median'"):
        TrainConfig(readout="median")
    with pytest.raises(ValueError, match="readout: expected one of max, mean, count, first, last; got 'median'"):
        scores(torch.rand(3, 1, 2), "median", torch.tensor([2]))


def test_encode_batch_draws_from_the_generator_for_stochastic_encoders():
    x = torch.rand(2, 5)
    a = enc.encode_batch(x, TrainConfig(encoding="poisson", timesteps=6), torch.Generator().manual_seed(3))
    b = enc.poisson(x, 6, max_rate=500.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(enc.encode_batch(x, TrainConfig(encoding="latency", timesteps=6)), enc.latency(x, 6))
