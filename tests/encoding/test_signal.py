"""Signal encoders against explicit numpy loops of their published definitions, and their decoders against the
reconstruction bounds stated in the docstrings."""

import math

import numpy as np
import pytest
import torch

from spikeforge import encoding as enc


def band_limited(t_steps: int, channels: int, max_slope: float, seed: int) -> np.ndarray:
    """Sum of random sinusoids (periods of 20-200 steps) scaled so that no step moves more than ``max_slope``."""
    rng = np.random.default_rng(seed)
    t = np.arange(t_steps)[:, None, None]
    freqs = rng.uniform(1 / 200, 1 / 20, size=(1, channels, 5))
    phases = rng.uniform(0, 2 * np.pi, size=(1, channels, 5))
    x = np.sin(2 * np.pi * freqs * t + phases).sum(-1) + rng.normal(size=channels)
    slope = np.abs(np.diff(x, axis=0)).max(0)
    return x * (max_slope / slope)


def delta_reference(x: np.ndarray, h: np.ndarray, start: np.ndarray, reset: str) -> np.ndarray:
    """Delta modulation written out step by step: one reference per channel, >= comparisons."""
    out = np.zeros((*x.shape, 2))
    for c in np.ndindex(x.shape[1:]):
        r = start[c]
        for t in range(x.shape[0]):
            v = x[(t, *c)]
            if v - r >= h[c]:
                out[(t, *c, 0)] = 1
                r = r + h[c] if reset == "step" else v
            elif r - v >= h[c]:
                out[(t, *c, 1)] = 1
                r = r - h[c] if reset == "step" else v
    return out


def step_forward_reference(x: np.ndarray, threshold: float) -> np.ndarray:
    """Petro et al. (2020), step-forward encoding, with the paper's signed output."""
    out = np.zeros_like(x)
    base = x[0].copy()
    for c in np.ndindex(x.shape[1:]):
        for t in range(1, x.shape[0]):
            if x[(t, *c)] > base[c] + threshold:
                out[(t, *c)] = 1
                base[c] += threshold
            elif x[(t, *c)] < base[c] - threshold:
                out[(t, *c)] = -1
                base[c] -= threshold
    return out


@pytest.mark.parametrize("reset", ["step", "sample"])
def test_delta_matches_the_step_by_step_definition(reset):
    x = band_limited(300, 4, max_slope=0.3, seed=1) + np.random.default_rng(2).normal(0, 0.05, size=(300, 4))
    h = np.array([0.1, 0.2, 0.25, 0.4])
    z = enc.delta(torch.from_numpy(x), torch.from_numpy(h), reset=reset)
    assert z.shape == (300, 4, 2) and z.dtype == torch.float64
    np.testing.assert_array_equal(z.numpy(), delta_reference(x, h, x[0], reset))
    assert z.sum() > 50  # the signal really was encoded


def test_delta_decodes_within_the_threshold_when_the_signal_moves_at_most_h_per_step():
    h = 0.05
    x = band_limited(2000, 6, max_slope=h, seed=3).reshape(2000, 2, 3)  # [T, B, C]
    assert np.abs(np.diff(x, axis=0)).max() <= h + 1e-15
    xt = torch.from_numpy(x)
    z = enc.delta(xt, h)
    err = (enc.delta_decode(z, h, initial=xt[0]) - xt).abs()
    assert err.max() < h
    assert err.max() > 0.9 * h  # the bound is nearly reached, so it is the right one


def test_delta_slope_overload_catches_up_one_threshold_per_step():
    h = 0.5
    x = torch.tensor([0.0] + [2.75] * 8, dtype=torch.float64)
    z = enc.delta(x, h)
    assert z[:, 0].tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0] and z[:, 1].sum() == 0
    error = (x - enc.delta_decode(z, h, initial=0.0)).tolist()
    assert error == pytest.approx([0.0, 2.25, 1.75, 1.25, 0.75, 0.25, 0.25, 0.25, 0.25])


def test_delta_with_a_starting_reference_and_per_channel_thresholds():
    x = torch.zeros(10, 3) + torch.tensor([0.0, 1.0, -1.0])
    z = enc.delta(x, torch.tensor([0.25, 0.5, 0.5]), initial=0.0)
    assert z[..., 0].sum(0).tolist() == [0, 2, 0] and z[..., 1].sum(0).tolist() == [0, 0, 2]
    decoded = enc.delta_decode(z, torch.tensor([0.25, 0.5, 0.5]), initial=0.0)
    assert torch.equal(decoded[-1], x[-1])


def test_step_forward_matches_petro_et_al():
    x = band_limited(400, 5, max_slope=0.4, seed=4)
    z = enc.step_forward(torch.from_numpy(x), 0.15)
    np.testing.assert_array_equal((z[..., 0] - z[..., 1]).numpy(), step_forward_reference(x, 0.15))
    assert torch.all(z[0] == 0)  # the base starts at the first sample


def test_step_forward_reconstructs_within_its_threshold():
    h = 0.08
    x = torch.from_numpy(band_limited(2000, 4, max_slope=h, seed=5))
    z = enc.step_forward(x, h)
    err = (enc.step_forward_decode(z, h, initial=x[0]) - x).abs()
    assert err.max() <= h * (1 + 1e-12)
    assert err.max() > 0.9 * h


def test_step_forward_and_delta_differ_only_at_ties():
    x = torch.tensor([0.0, 0.5, 1.0, 1.25])  # first moves of exactly h = 0.5 (exact in binary)
    assert enc.delta(x, 0.5)[..., 0].tolist() == [0, 1, 1, 0]  # >= h fires
    assert enc.step_forward(x, 0.5)[..., 0].tolist() == [0, 0, 1, 1]  # > h: fires one step later


def test_level_crossing_reports_every_crossing_of_the_grid():
    spacing, offset = 0.2, 0.05
    x = band_limited(1500, 3, max_slope=0.19, seed=6)  # less than one level per step
    q = np.floor((x - offset) / spacing)  # the level each sample is on
    z = enc.level_crossing(torch.from_numpy(x), spacing, offset=offset)
    np.testing.assert_array_equal(z[1:, :, 0].numpy(), (np.diff(q, axis=0) > 0).astype(float))
    np.testing.assert_array_equal(z[1:, :, 1].numpy(), (np.diff(q, axis=0) < 0).astype(float))
    decoded = enc.level_crossing_decode(z, spacing, initial=torch.from_numpy(x[0]), offset=offset).numpy()
    np.testing.assert_allclose(decoded, offset + (q + 0.5) * spacing, rtol=0, atol=1e-12)
    assert np.abs(decoded - x).max() <= spacing / 2 + 1e-12


def test_level_crossing_is_absolute_and_follows_fast_signals_one_level_per_step():
    x = torch.tensor([0.49, 0.51, 0.49, 0.51])  # hovering on the level 0.5: no hysteresis
    z = enc.level_crossing(x, 0.5)
    assert (z[..., 0] - z[..., 1]).tolist() == [0, 1, -1, 1]
    jump = torch.tensor([0.1, 2.2, 2.2, 2.2, 2.2, 2.2])  # four levels up at once
    k = enc.level_crossing(jump, 0.5)
    assert k[:, 0].tolist() == [0, 1, 1, 1, 1, 0]
    assert enc.level_crossing_decode(k, 0.5, initial=0.1)[-1] == pytest.approx(2.25)


def population_reference(x: np.ndarray, n: int, low: float, high: float, beta: float, threshold: float):
    """Bohte, Kok & La Poutre (2002): centres low + (2i - 3)/2 * d, i = 1..n, width d / beta."""
    d = (high - low) / (n - 2)
    centres = np.array([low + (2 * i - 3) / 2 * d for i in range(1, n + 1)])
    out = np.zeros((*x.shape, n))
    for idx in np.ndindex(x.shape):
        for i in range(n):
            out[(*idx, i)] = math.exp(-((x[idx] - centres[i]) ** 2) / (2 * (d / beta) ** 2)) >= threshold
    return out


def test_population_matches_bohte_receptive_fields():
    x = np.random.default_rng(7).uniform(-0.2, 1.2, size=(50, 3))
    z = enc.population(torch.from_numpy(x), 9, low=0.0, high=1.0, beta=1.5, threshold=0.3)
    assert z.shape == (50, 3, 9)
    np.testing.assert_array_equal(z.numpy(), population_reference(x, 9, 0.0, 1.0, 1.5, 0.3))


@pytest.mark.parametrize(("n", "beta", "threshold"), [(10, 1.5, 0.5), (4, 1.5, 0.5), (20, 1.0, 0.5), (7, 1.5, 0.2)])
def test_population_decodes_within_the_stated_bound_over_the_whole_range(n, beta, threshold):
    low, high = -2.0, 3.0
    d = (high - low) / (n - 2)
    r = d / beta * math.sqrt(2 * math.log(1 / threshold))
    assert d / 2 <= r < 1.5 * d  # the documented condition
    c = (2 * r / d) % 1
    bound = d / 2 * max(c, 1 - c)
    x = torch.linspace(low, high, 20001, dtype=torch.float64)
    z = enc.population(x, n, low=low, high=high, beta=beta, threshold=threshold)
    err = (enc.population_decode(z, low=low, high=high) - x).abs()
    assert err.max() <= bound + 1e-12
    assert err.max() >= 0.99 * bound  # and the bound is sharp


def test_population_centre_of_mass_of_graded_responses_is_near_exact_inside_the_range():
    n, low, high, beta = 40, 0.0, 1.0, 1.5
    d = (high - low) / (n - 2)
    sigma = d / beta
    # Poisson summation over the infinite uniform grid: |error| <= (4 pi sigma^2 / d) sum k q^(k^2) / (1 - 2 sum q^(k^2))
    q = math.exp(-2 * math.pi**2 * sigma**2 / d**2)
    bound = 4 * math.pi * sigma**2 / d * sum(k * q ** (k * k) for k in range(1, 6))
    bound /= 1 - 2 * sum(q ** (k * k) for k in range(1, 6))
    x = torch.linspace(low - d / 2 + 6 * sigma, high + d / 2 - 6 * sigma, 5001, dtype=torch.float64)
    decoded = enc.population_decode(enc.receptive_fields(x, n, low=low, high=high, beta=beta), low=low, high=high)
    err = (decoded - x).abs().max().item()
    assert err <= bound * 1.01
    assert err >= bound * 0.9
    assert bound < 1e-3 * d


def test_population_feeds_the_latency_code():
    x = torch.tensor([0.1, 0.52, 0.9])
    responses = enc.receptive_fields(x, 10, low=0.0, high=1.0)
    z = enc.latency(responses, 20)
    assert z.shape == (20, 3, 10)
    first = enc.first_spike(z)  # earliest neuron = nearest centre
    centres = torch.tensor([(2 * i - 3) / 2 / 8 for i in range(1, 11)])
    assert first.argmax(-1).tolist() == (x[:, None] - centres).abs().argmin(-1).tolist()


def test_population_decode_counts_and_silence():
    counts = torch.tensor([[0.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    decoded = enc.population_decode(counts, low=0.0, high=1.0)  # centres -0.25, 0.25, 0.75, 1.25
    assert decoded[0].item() == pytest.approx(0.375)
    assert math.isnan(decoded[1].item())


def test_encoders_are_batch_independent():
    x = torch.from_numpy(band_limited(200, 4, max_slope=0.3, seed=8)).float()
    for fn in (
        lambda s: enc.delta(s, 0.1),
        lambda s: enc.step_forward(s, 0.1),
        lambda s: enc.level_crossing(s, 0.1),
        lambda s: enc.population(s, 8, low=-2.0, high=2.0),
    ):
        whole = fn(x)
        parts = torch.stack([fn(x[:, i]) for i in range(4)], 1)
        assert torch.equal(whole, parts)


def test_bad_input_names_the_argument():
    x = torch.rand(5, 2)
    with pytest.raises(TypeError, match=r"x: expected a floating-point signal.*x\.float"):
        enc.delta(torch.ones(5, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match="x: contains NaN"):
        enc.step_forward(torch.tensor([0.0, float("nan")]), 0.1)
    with pytest.raises(ValueError, match="threshold: expected positive"):
        enc.delta(x, 0.0)
    with pytest.raises(ValueError, match="spacing: expected positive"):
        enc.level_crossing(x, -1.0)
    with pytest.raises(ValueError, match=r"threshold: expected a scalar or a tensor broadcastable"):
        enc.delta(x, torch.ones(3))
    with pytest.raises(ValueError, match="initial: expected a scalar or a tensor broadcastable"):
        enc.delta(x, 0.1, initial=torch.zeros(3))
    with pytest.raises(ValueError, match="reset: expected 'step' or 'sample'"):
        enc.delta(x, 0.1, reset="hold")
    with pytest.raises(ValueError, match=r"z: expected up/down spikes \[T, \.\.\., 2\]"):
        enc.delta_decode(torch.zeros(5, 3), 0.1, initial=0.0)
    with pytest.raises(ValueError, match="n_neurons: expected an int >= 3"):
        enc.population(x, 2, low=0.0, high=1.0)
    with pytest.raises(ValueError, match=r"threshold: 0\.9 with beta=1\.5 leaves gaps"):
        enc.population(x, 5, low=0.0, high=1.0, threshold=0.9)
    with pytest.raises(ValueError, match="low, high"):
        enc.receptive_fields(x, 5, low=1.0, high=1.0)
