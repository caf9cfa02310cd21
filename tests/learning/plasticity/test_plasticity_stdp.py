"""Pair STDP, triplet STDP and traces against closed forms (not against this code)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikeforge.learning.plasticity import (
    Bounds,
    EventPlastic,
    EventTrace,
    PairSTDP,
    Plastic,
    TripletSTDP,
    correlate,
    trace_seq,
)

DT = 1e-3


def _pairing_run(delays_ms: list[int], rule, *, t0: int = 60, steps: int = 130) -> torch.Tensor:
    """Pre neuron j spikes at t0, post neuron j at t0 + delays[j]; returns the diagonal of the weight change."""
    n = len(delays_ms)
    pre = torch.zeros(steps, 1, n)
    post = torch.zeros(steps, 1, n)
    for j, d in enumerate(delays_ms):
        pre[t0, 0, j] = 1
        post[t0 + d, 0, j] = 1
    layer = nn.Linear(n, n, bias=False)
    nn.init.zeros_(layer.weight)
    Plastic(layer, rule, lr=1.0, bounds=Bounds(-10, 10)).run(pre, post)
    return layer.weight.detach().diagonal().clone()


@pytest.mark.parametrize("pairing", ["all_to_all", "nearest"])
def test_pair_window_is_the_exponential_of_the_rule(pairing):
    rule = PairSTDP(a_plus=0.8, a_minus=0.5, tau_plus=0.017, tau_minus=0.034, dt=DT, pairing=pairing)
    delays = [d for d in range(-50, 51, 5) if d != 0]
    got = _pairing_run(delays, rule)
    for d, dw in zip(delays, got.tolist(), strict=True):
        t = d * 1e-3
        expected = 0.8 * math.exp(-t / 0.017) if d > 0 else -0.5 * math.exp(t / 0.034)
        assert dw == pytest.approx(expected, rel=1e-5), d


def test_nearest_pairs_only_the_latest_spike():
    steps = 40
    pre = torch.zeros(steps, 1, 1)
    post = torch.zeros(steps, 1, 1)
    pre[5], pre[15], post[20] = 1, 1, 1  # two pre spikes 15 and 5 steps before the post spike
    results = {}
    for pairing in ("all_to_all", "nearest"):
        layer = nn.Linear(1, 1, bias=False)
        nn.init.zeros_(layer.weight)
        rule = PairSTDP(a_plus=1.0, a_minus=0.0, tau_plus=0.01, dt=DT, pairing=pairing)
        Plastic(layer, rule, bounds=Bounds(-10, 10)).run(pre, post)
        results[pairing] = float(layer.weight.detach())
    assert results["nearest"] == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert results["all_to_all"] == pytest.approx(math.exp(-0.5) + math.exp(-1.5), rel=1e-6)


def test_event_trace_equals_the_clock_driven_trace():
    g = torch.Generator().manual_seed(1)
    spikes = (torch.rand(200, 1, 6, generator=g) < 0.05).float()
    for pairing in ("all_to_all", "nearest"):
        dense = trace_seq(spikes, math.exp(-DT / 0.02), pairing=pairing)
        ev = EventTrace((1, 6), 0.02, pairing=pairing)
        for t in range(200):
            idx = spikes[t] > 0
            if bool(idx.any()):
                ev.spike(t * DT, idx)
        torch.testing.assert_close(ev.read(199 * DT), dense[-1], rtol=1e-5, atol=1e-7)


def test_event_linear_learns_exactly_like_linear():
    from spikeforge.synapses import EventLinear

    g = torch.Generator().manual_seed(2)
    pre = (torch.rand(40, 3, 12, generator=g) < 0.1).float()
    post = (torch.rand(40, 3, 5, generator=g) < 0.1).float()
    weights = []
    for layer in (nn.Linear(12, 5, bias=False), EventLinear(12, 5, bias=False)):
        nn.init.constant_(layer.weight, 0.5)
        Plastic(layer, PairSTDP(dt=DT), bounds=Bounds(0.0, 1.0, kind="soft")).run(pre, post)
        weights.append(layer.weight.detach())
    torch.testing.assert_close(weights[0], weights[1])
    assert not torch.equal(weights[0], torch.full((5, 12), 0.5))


@pytest.mark.parametrize(("pairing", "kind"), [("all_to_all", "hard"), ("nearest", "soft")])
def test_event_driven_stdp_equals_the_clock_driven_rule(pairing, kind):
    g = torch.Generator().manual_seed(4)
    pre = (torch.rand(300, 1, 20, generator=g) < 0.03).float()
    post = (torch.rand(300, 1, 6, generator=g) < 0.03).float()
    rule = PairSTDP(a_plus=0.02, a_minus=0.025, dt=DT, pairing=pairing)
    dense, event = nn.Linear(20, 6, bias=False), nn.Linear(20, 6, bias=False)
    for layer in (dense, event):
        nn.init.constant_(layer.weight, 0.5)
    Plastic(dense, rule, bounds=Bounds(0.0, 1.0, kind=kind)).run(pre, post)
    ev = EventPlastic(event, rule, bounds=Bounds(0.0, 1.0, kind=kind))
    for t in range(300):
        i, j = pre[t, 0].nonzero().flatten(), post[t, 0].nonzero().flatten()
        if len(i) or len(j):  # silent steps cost nothing
            ev.step(t * DT, i, j)
    torch.testing.assert_close(event.weight.detach(), dense.weight.detach(), rtol=1e-5, atol=1e-6)


def test_conv_correlation_pairs_each_output_with_its_patch():
    g = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(2, 3, 2, stride=1, padding=0, bias=False)
    pre = torch.rand(2, 2, 3, 3, generator=g)
    post = torch.rand(2, 3, 2, 2, generator=g)
    got = correlate(conv, post, pre)
    ref = torch.zeros(3, 2, 2, 2)
    for b in range(2):
        for o in range(3):
            for c in range(2):
                for u in range(2):
                    for v in range(2):
                        ref[o, c, u, v] += sum(
                            float(post[b, o, i, j] * pre[b, c, i + u, j + v]) for i in range(2) for j in range(2)
                        )
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_multiplicative_stdp_stays_bounded_and_drifts_to_its_fixed_point():
    torch.manual_seed(3)
    n_pre, n_post, rate, dt = 50, 40, 20.0, DT
    a_plus, a_minus, tau_p, tau_m = 0.05, 0.04, 0.02, 0.03
    layer = nn.Linear(n_pre, n_post, bias=False)
    nn.init.uniform_(layer.weight, 0.0, 1.0)
    rule = PairSTDP(a_plus=a_plus, a_minus=a_minus, tau_plus=tau_p, tau_minus=tau_m, dt=dt)
    plastic = Plastic(layer, rule, bounds=Bounds(0.0, 1.0, kind="soft"), check=False)
    for _ in range(6000):  # 6 s; the drift's time constant is 1 / (rho^2 (A+ tau+ + A- tau-)) = 1.1 s
        pre = (torch.rand(1, n_pre) < rate * dt).float()
        post = (torch.rand(1, n_post) < rate * dt).float()  # independent of pre: uncorrelated
        plastic.step(pre, post)
    w = layer.weight.detach()
    fixed = a_plus * tau_p / (a_plus * tau_p + a_minus * tau_m)  # w_min = 0, w_max = 1
    assert float(w.min()) >= 0.0 and float(w.max()) <= 1.0
    assert float(w.mean()) == pytest.approx(fixed, abs=0.02)


def _triplet_closed_form(rule: TripletSTDP, freq: float, delta: float) -> float:
    """Steady-state change per pairing of periodic pre/post pairs (period 1/freq, post - pre = delta), all-to-all."""
    period = 1.0 / freq
    lag_pre_post = delta if delta > 0 else period + delta  # from a pre spike to the next post spike
    lag_post_pre = period - lag_pre_post  # from a post spike to the next pre spike

    def geo(first: float, tau: float) -> float:  # sum_k exp(-(first + k T) / tau)
        return math.exp(-first / tau) / (1 - math.exp(-period / tau))

    r1 = geo(lag_pre_post, rule.tau_plus)
    o2 = geo(period, rule.tau_y)  # earlier post spikes only (t - epsilon)
    o1 = geo(lag_post_pre, rule.tau_minus)
    r2 = geo(period, rule.tau_x)
    return r1 * (rule.a2_plus + rule.a3_plus * o2) - o1 * (rule.a2_minus + rule.a3_minus * r2)


def test_triplet_rule_reproduces_the_frequency_dependence_of_pairing():
    rule = TripletSTDP(dt=DT)  # Pfister & Gerstner's visual-cortex fit
    freqs = [0.1, 1.0, 10.0, 20.0, 40.0, 50.0]
    deltas = [-0.01, 0.01]
    cases = [(f, d) for f in freqs for d in deltas]
    steps = 10200  # one pairing at 0.1 Hz (nothing before it within reach), many at the higher frequencies
    pre = torch.zeros(steps, len(cases))
    post = torch.zeros(steps, len(cases))
    last_pair_start = []
    for c, (f, d) in enumerate(cases):
        period = round(1000 / f)
        starts = list(range(50, steps - period, period))
        for s in starts:
            pre[s + (0 if d > 0 else 10), c] = 1
            post[s + (10 if d > 0 else 0), c] = 1
        last_pair_start.append(starts[-1])
    state = rule.init_state(pre[0], post[0])
    w = torch.zeros(steps, len(cases))
    total = torch.zeros(len(cases))
    for t in range(steps):
        state, u = rule.step(state, pre[t], post[t])
        total = total + u.post_p * u.pre_p - u.post_d * u.pre_d  # one synapse per case
        w[t] = total
    for c, (f, d) in enumerate(cases):
        s = last_pair_start[c]
        period = round(1000 / f)
        per_pair = float(w[s + period - 1, c] - w[s - 1, c])  # the steps of the last pairing
        assert per_pair == pytest.approx(_triplet_closed_form(rule, f, d), rel=1e-3, abs=1e-9), (f, d)
    per = {(f, d): _triplet_closed_form(rule, f, d) for f, d in cases}
    # Sjoestroem et al. 2001 as fitted by Pfister & Gerstner: post-before-pre depresses at low frequency,
    # both orders potentiate at high frequency, and potentiation grows with frequency
    assert per[(0.1, -0.01)] < 0 and per[(1.0, -0.01)] < 0
    assert per[(40.0, -0.01)] > 0 and per[(50.0, -0.01)] > 0 and per[(50.0, 0.01)] > 0
    assert per[(50.0, 0.01)] > per[(10.0, 0.01)] > per[(0.1, 0.01)]
