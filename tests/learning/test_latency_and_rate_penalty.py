"""Deciding early (prefix scores, accuracy against steps, the early-exit rule) and the firing-rate penalty."""

import math

import pytest
import torch

import spikeforge as sf
from spikeforge.data import SeriesSplit
from spikeforge.learning import TrainConfig, fit, scores
from spikeforge.learning.supervised import accuracy_by_steps, early_exit, prefix_scores
from spikeforge.learning.supervised._penalty import RateTerm
from spikeforge.metrics import SpikeRecorder


def _net(c_in=3, hidden=6, n_out=2):
    return sf.SequentialState(
        torch.nn.Linear(c_in, hidden), sf.LIF(hidden), torch.nn.Linear(hidden, n_out), sf.LI(n_out)
    )


@pytest.mark.parametrize("readout", ["mean", "max", "last"])
def test_prefix_scores_equal_rerunning_the_network_on_the_truncated_input(readout):
    net = _net()
    x = torch.rand(12, 4, 3) * 3
    lengths = torch.tensor([12, 7, 3, 10])
    with torch.no_grad():
        prefix = prefix_scores(net(x)[0], readout, lengths)
        for t in (1, 3, 8, 12):  # the reference: the network shown only the first t steps
            out, _ = net(x[:t])
            assert torch.allclose(prefix[t - 1], scores(out, readout, lengths.clamp(max=t)), atol=1e-6)


def test_early_exit_by_hand():
    # sample 0 grows confident: softmax margins 0, tanh(1.5) = 0.905, tanh(2.5) = 0.987; sample 1 never does
    # (margin tanh(0.1) then tanh(0.05)) and is wrong after one step
    prefix = torch.tensor([[[0.0, 0.0], [0.2, 0.0]], [[3.0, 0.0], [0.0, 0.1]], [[5.0, 0.0], [0.0, 0.1]]])
    y = torch.tensor([0, 1])
    assert accuracy_by_steps(prefix, y, [1, 2, 3]) == [0.5, 1.0, 1.0]  # step 1: a tie goes to class 0
    loose, strict, never = early_exit(prefix, y, [0.9, 0.95, 1.0])
    assert math.tanh(1.5) > 0.9 and loose.mean_steps == 2.5 and loose.exited_early == 0.5
    assert loose.mean_fraction == pytest.approx((2 / 3 + 1) / 2) and loose.accuracy == 1.0
    assert strict.mean_steps == 3.0 and strict.exited_early == 0.0  # sample 0 reaches 0.95 only at its last step
    assert never.mean_steps == 3.0 and never.accuracy == 1.0
    short = early_exit(prefix, y, [0.99], lengths=torch.tensor([2, 1]))[0]  # nothing past a sample's end counts
    assert short.mean_steps == 1.5 and short.accuracy == 0.5  # sample 1 must answer after its one (wrong) step
    with pytest.raises(ValueError, match="thresholds: expected softmax margins in"):
        early_exit(prefix, y, [float("nan")])
    with pytest.raises(ValueError, match=r"steps: expected step counts in \[1, 3\]"):
        accuracy_by_steps(prefix, y, [0, 4])


def test_rate_term_is_the_mean_firing_rate_and_carries_the_gradient():
    net = sf.SequentialState(torch.nn.Linear(3, 5), sf.LIF(5), torch.nn.Linear(5, 4), sf.LIF(4), torch.nn.Linear(4, 2))
    x = torch.rand(20, 6, 3) * 3
    with SpikeRecorder(net) as rec, RateTerm(net) as term:
        net(x)
        rate = term.mean_rate()
    by_layer = [float(torch.cat(z).float().mean()) for z in rec.spikes.values()]
    value = float(rate.detach())
    assert value == pytest.approx(sum(by_layer) / 2) and 0 < value < 1
    rate.backward()
    assert net[0].weight.grad.abs().sum() > 0  # through the surrogate gradient


def _toy_split(n=64, t=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(t, n, 4, generator=g) * 2 + y[None, :, None] * torch.tensor([1.0, -1.0, 0.0, 0.0])
    lengths = torch.full((n,), t)
    return SeriesSplit("toy", x, y, lengths, x, y, lengths, x, y, lengths, 2, ["a", "b"], torch.zeros(4), torch.ones(4))


def test_rate_penalty_lowers_the_firing_rate_and_off_changes_nothing():
    split = _toy_split()
    rates = {}
    for penalty in (0.0, 10.0):
        torch.manual_seed(0)
        net = _net(c_in=4, hidden=16)
        cfg = TrainConfig(
            epochs=6, timesteps=20, lr=0.02, batch_size=16, readout="mean", rate_penalty=penalty, restore_best=False
        )
        fit(net, split, cfg)
        with torch.no_grad(), RateTerm(net) as term:
            net(split.x_test)
            rates[penalty] = float(term.mean_rate())
    assert rates[10.0] < 0.5 * rates[0.0]
    with pytest.raises(ValueError, match="rate_penalty: expected a finite number >= 0, got nan"):
        TrainConfig(rate_penalty=float("nan"))
