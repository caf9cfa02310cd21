import math

import pytest
import torch

from spikeforge import encoding as enc


def test_rate_code_is_seeded_and_has_the_right_mean():
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    a = enc.rate(x.expand(400, 5), 100, generator=torch.Generator().manual_seed(7))
    b = enc.rate(x.expand(400, 5), 100, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    means = a.mean((0, 1))
    n = 400 * 100
    tolerance = 5 * torch.sqrt(x * (1 - x) / n) + 1e-9  # five standard errors
    assert torch.all((means - x).abs() <= tolerance)


def test_poisson_probability_per_bin():
    z = enc.poisson(torch.full((2000,), 0.5), 500, max_rate=40.0, dt=1e-3, generator=torch.Generator().manual_seed(0))
    p = 1 - math.exp(-20.0 * 1e-3)
    assert float(z.mean()) == pytest.approx(p, rel=0.03)


def test_latency_linear_and_log():
    x = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])
    z = enc.latency(x, 9)
    assert z.sum(0).tolist() == [1, 1, 1, 1, 0]  # one spike each, none below threshold
    assert torch.argmax(z[:, :4], 0).tolist() == [0, 2, 4, 6]
    z_log = enc.latency(x, 50, method="log", threshold=0.1, tau=5.0)
    t = torch.argmax(z_log[:, :4], 0).double()
    expected = torch.round(5.0 * torch.log(x[:4].double() / (x[:4].double() - 0.1)))
    assert torch.equal(t, expected)
    assert torch.all(t.diff() >= 0)  # larger input fires earlier


def test_direct_repeats_the_input():
    x = torch.rand(3, 4)
    assert torch.equal(enc.direct(x, 5), x.expand(5, 3, 4))


def test_decoders():
    z = torch.zeros(5, 2, 3)
    z[1, 0, 2] = z[3, 0, 2] = z[4, 0, 0] = 1
    assert enc.spike_count(z)[0].tolist() == [1, 0, 2]
    assert enc.first_spike(z)[0].tolist() == [-4, -5, -1]
    v = torch.arange(10.0).view(5, 2, 1)
    assert enc.max_membrane(v).flatten().tolist() == [8, 9]
    assert enc.mean_membrane(v).flatten().tolist() == [4, 5]


@pytest.mark.parametrize("fn", [enc.rate, enc.latency])
def test_encoders_reject_bad_input(fn):
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\]"):
        fn(torch.tensor([1.5]), 4)
    with pytest.raises(TypeError, match=r"x\.float"):
        fn(torch.tensor([255], dtype=torch.uint8), 4)
    with pytest.raises(ValueError, match="timesteps"):
        fn(torch.tensor([0.5]), 0)


def test_unknown_encoder_or_decoder_name():
    with pytest.raises(ValueError, match="encoding: expected one of"):
        enc.encode(torch.rand(2), 3, "phase")
    with pytest.raises(ValueError, match="decoder: expected one of"):
        enc.decode(torch.rand(3, 2), "median")
