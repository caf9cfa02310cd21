"""Oja, BCM, homeostasis and R-STDP against analytic results; bad input named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from spikeforge.learning.plasticity import (
    BCM,
    AdaptiveThreshold,
    Bounds,
    Hebbian,
    Oja,
    PairSTDP,
    Plastic,
    RateHomeostasis,
    ThreeFactor,
    TripletSTDP,
    lateral_inhibition,
    normalize_weights,
    rstdp,
    winner_take_all,
)


def test_oja_converges_to_the_first_principal_component():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.diag([4.0, 0, 0, 0, 0])
    vals, vecs = np.linalg.eigh(cov)
    pc1 = vecs[:, -1]
    chol = torch.tensor(np.linalg.cholesky(cov), dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    w = torch.randn(1, 5, generator=g) * 0.1
    rule = Oja(lr=0.2 / vals[-1])
    for _ in range(1500):
        x = torch.randn(32, 5, generator=g) @ chol.T  # zero-mean, covariance cov
        w += rule.delta(w, x, x @ w.T)
    cos = abs(float(w[0] @ torch.tensor(pc1, dtype=torch.float32))) / float(w.norm())
    assert math.degrees(math.acos(min(1.0, cos))) < 3.0
    assert float(w.norm()) == pytest.approx(1.0, abs=0.05)


def test_hebbian_change_is_the_batch_mean_outer_product():
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    y = torch.tensor([[1.0], [2.0]])
    dw = Hebbian(lr=0.5).delta(torch.zeros(1, 2), x, y)
    torch.testing.assert_close(dw, torch.tensor([[0.5 * (1 + 6) / 2, 0.5 * 2 / 2]]))


def test_bcm_threshold_tracks_the_square_of_the_mean_rate():
    dt, tau, rate = 1e-3, 0.05, 8.0
    rule = BCM(lr=1e-6, tau_theta=tau, dt=dt, y0=1.0)
    w = torch.zeros(3, 4)
    x = torch.ones(16, 4)
    for n in range(1, 301):
        rule.delta(w, x, torch.full((16, 3), rate))
        y_bar = rate * (1 - (1 - dt / tau) ** n)  # the discrete low-pass of a step, closed form
        assert float(rule.theta[0]) == pytest.approx(y_bar**2, rel=1e-4)
    g = torch.Generator().manual_seed(0)  # fluctuating rates: theta follows the square of their mean
    rule = BCM(lr=1e-6, tau_theta=0.5, dt=dt, y0=1.0, y_init=rate)
    for _ in range(2000):
        rule.delta(w, x, torch.poisson(torch.full((16, 3), rate), generator=g))
    assert float(rule.theta.mean()) == pytest.approx(rate**2, rel=0.05)


def test_bcm_sign_flips_at_the_threshold():
    rule = BCM(lr=1.0, tau_theta=1.0, dt=1e-3, y_init=2.0)  # theta = 4 (the first step moves it by 0.1%)
    w, x = torch.zeros(1, 1), torch.ones(1, 1)
    assert float(rule.delta(w, x, torch.tensor([[1.0]]))) < 0  # y = 1 below theta: depression
    assert float(rule.delta(w, x, torch.tensor([[8.0]]))) > 0  # y = 8 above: potentiation


def test_rate_homeostasis_brings_the_population_to_its_target_rate():
    torch.manual_seed(0)
    n, dt, target = 40, 1e-3, 20.0
    drive = torch.linspace(0.06, 0.3, n)  # per-step input: uncontrolled rates from ~0 to > 100 Hz
    decay = math.exp(-dt / 0.02)
    homeo = RateHomeostasis(n, target=target, eta=0.05, tau_rate=0.1, dt=dt)
    v = torch.zeros(n)
    counts = torch.zeros(n)
    steps, measure = 12000, 4000
    for t in range(steps):
        v = v * decay + drive
        s = (v >= 1.0 + homeo.theta).float()
        v = v * (1 - s)
        homeo.step(s)
        if t >= steps - measure:
            counts += s
    rates = counts / (measure * dt)
    assert float(rates.mean()) == pytest.approx(target, rel=0.10)
    assert float((rates - target).abs().max()) <= 0.10 * target


def test_adaptive_threshold_rises_per_spike_and_decays():
    a = AdaptiveThreshold(2, theta_plus=0.05, tau_theta=0.1, dt=1e-3)
    a.step(torch.tensor([1.0, 0.0]))
    for _ in range(100):
        a.step(torch.zeros(2))
    torch.testing.assert_close(a.theta, torch.tensor([0.05 * math.exp(-1.0), 0.0]))


def test_normalisation_lateral_inhibition_and_winner_take_all():
    w = torch.rand(3, 5) + 0.1
    normalize_weights(w, 2.0)
    torch.testing.assert_close(w.sum(1), torch.full((3,), 2.0))
    s = torch.tensor([[1.0, 0.0, 1.0]])
    torch.testing.assert_close(lateral_inhibition(s, 2.0), torch.tensor([[-2.0, -4.0, -2.0]]))
    v = torch.tensor([[1.2, 1.5, 0.9, 1.1]])
    assert winner_take_all(v, 1.0).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert winner_take_all(v, 1.0, k=2).tolist() == [[1.0, 1.0, 0.0, 0.0]]
    assert winner_take_all(v, 2.0).sum() == 0


def _pair(steps=200, t_pre=10, t_post=20):
    pre = torch.zeros(steps, 1, 1)
    post = torch.zeros(steps, 1, 1)
    pre[t_pre], post[t_post] = 1, 1
    return pre, post


def test_rstdp_without_reward_leaves_weights_unchanged():
    layer = nn.Linear(1, 1, bias=False)
    nn.init.constant_(layer.weight, 0.3)
    r = rstdp(layer, lr=0.1)
    before = layer.weight.detach().clone()
    pre, post = _pair()
    for t in range(pre.shape[0]):
        r.step(pre[t], post[t], 0.0)
    assert torch.equal(layer.weight.detach(), before)
    assert float(r.eligibility.abs().sum()) > 0  # the pairing was remembered, just not written


def test_rstdp_with_reward_moves_weights_along_the_eligibility_trace():
    layer = nn.Linear(1, 1, bias=False)
    nn.init.constant_(layer.weight, 0.0)
    dt, tau_e, lr, reward, t_reward = 1e-3, 0.5, 0.1, 2.0, 150
    r = rstdp(layer, tau_e=tau_e, dt=dt, lr=lr, bounds=Bounds(-10, 10))
    pre, post = _pair()
    for t in range(t_reward + 1):
        r.step(pre[t], post[t], reward if t == t_reward else 0.0)
    # pre at 10, post at 20 ms: eligibility A+ exp(-10/20), decayed over 130 steps of tau_e, then times lr * reward
    expected = lr * reward * 1.0 * math.exp(-10 / 20) * math.exp(-(t_reward - 20) * dt / tau_e)
    assert float(layer.weight.detach()) == pytest.approx(expected, rel=1e-5)
    nn.init.constant_(layer.weight, 0.0)  # a negative reward moves them the other way
    r.reset()
    for t in range(t_reward + 1):
        r.step(pre[t], post[t], -reward if t == t_reward else 0.0)
    assert float(layer.weight.detach()) == pytest.approx(-expected, rel=1e-5)


def test_three_factor_per_sample_modulator_gates_each_sample():
    layer = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(layer.weight)
    tf = ThreeFactor(layer, PairSTDP(a_plus=1.0, a_minus=0.0, dt=1e-3), tau_e=1.0, bounds=Bounds(-5, 5), reduce="sum")
    pre = torch.tensor([[1.0], [1.0]])
    post = torch.tensor([[1.0], [1.0]])
    tf.step(pre, post, torch.tensor([0.0, 1.0]))  # only the second sample is rewarded
    assert float(layer.weight.detach()) == pytest.approx(1.0)


# --- bad input --------------------------------------------------------------------------------------------------


def test_trace_rule_on_a_non_spiking_input_is_named():
    p = Plastic(nn.Linear(3, 2), PairSTDP())
    with pytest.raises(ValueError, match=r"pre: expected spikes .*values in"):
        p.step(torch.rand(1, 3) + 0.1, torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"post: expected spikes .*NaN"):
        p.step(torch.zeros(1, 3), torch.tensor([[float("nan"), 0.0]]))


def test_rule_on_a_layer_it_cannot_serve_is_named():
    with pytest.raises(TypeError, match="layer: a plasticity rule attaches to Linear, EventLinear, Conv2d; got ReLU"):
        Plastic(nn.ReLU(), PairSTDP())
    with pytest.raises(TypeError, match=r"layer: .*got GRU"):
        rstdp(nn.GRU(2, 2))


def test_wrong_trace_shapes_are_named():
    p = Plastic(nn.Linear(3, 2), PairSTDP())
    p.step(torch.zeros(1, 3), torch.zeros(1, 2))
    p.state = (torch.zeros(1, 4), p.state[1])
    with pytest.raises(ValueError, match=r"state\[0\] \(trace\): expected the shape of pre \[1, 3\]"):
        p.step(torch.zeros(1, 3), torch.zeros(1, 2))


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: PairSTDP(tau_plus=-0.02), r"tau_plus: expected a finite number > 0 \(s\), got -0.02"),
        (lambda: PairSTDP(tau_minus=float("nan")), "tau_minus: .*got NaN"),
        (lambda: TripletSTDP(tau_y=float("inf")), "tau_y: .*got Inf"),
        (lambda: PairSTDP(a_plus=-1.0), "a_plus: expected a finite number >= 0"),
        (lambda: PairSTDP(pairing="first"), r"pairing: expected one of \['all_to_all', 'nearest'\]"),
        (lambda: Bounds(1.0, 0.0), "w_min, w_max: expected w_min < w_max, got w_min=1 >= w_max=0"),
        (lambda: Bounds(0.5, 0.5), "w_min, w_max: expected w_min < w_max"),
        (lambda: Bounds(kind="sticky"), r"kind: expected one of \['hard', 'soft'\]"),
        (lambda: BCM(tau_theta=0.0), "tau_theta: expected a finite number > 0"),
        (lambda: RateHomeostasis(3, target=-5.0), "target: expected a finite number > 0 \\(Hz\\)"),
        (lambda: Plastic(nn.Linear(2, 2), PairSTDP(), reduce="max"), r"reduce: expected one of \['mean', 'sum'\]"),
    ],
)
def test_bad_parameters_are_named(make, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


def test_bad_modulator_and_rate_shapes_are_named():
    tf = rstdp(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="modulator: expected finite values, got NaN"):
        tf.step(torch.zeros(1, 2), torch.zeros(1, 3), torch.tensor(float("nan")))
    with pytest.raises(ValueError, match=r"modulator: expected a number, shape \[1\]"):
        tf.step(torch.zeros(1, 2), torch.zeros(1, 3), torch.ones(4))
    with pytest.raises(ValueError, match=r"x: expected \[B, 4\]"):
        Oja().delta(torch.zeros(2, 4), torch.zeros(5, 3), torch.zeros(5, 2))


def test_event_driven_stdp_bad_input_is_named():
    from spikeforge.learning.plasticity import EventPlastic

    with pytest.raises(TypeError, match="layer: event-driven STDP serves dense layers"):
        EventPlastic(nn.Conv2d(1, 1, 3), PairSTDP())
    ev = EventPlastic(nn.Linear(3, 2), PairSTDP())
    ev.step(0.01, torch.tensor([0]), torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match="t: expected non-decreasing times"):
        ev.step(0.005, torch.tensor([1]), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"post: expected indices in \[0, 1\]"):
        ev.step(0.02, torch.tensor([1]), torch.tensor([5]))
