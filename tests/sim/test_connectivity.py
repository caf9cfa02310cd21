"""Random connectivity: exact in-degrees, binomial statistics, Dale's law on every synapse of the reference networks."""

import math

import pytest
import torch

from spikeforge.sim import Synapses, check_dale, fixed_indegree, fixed_probability, merge
from spikeforge.sim.networks import brunel, vogels_abbott


def test_fixed_indegree_is_exact_distinct_and_without_autapses(generator):
    syn = fixed_indegree(range(0, 300), range(0, 400), 50, generator=generator)
    conn = merge([syn], 400)
    assert (conn.in_degree() == 50).all()
    assert not bool((syn.pre == syn.post).any())
    pairs = syn.pre * 400 + syn.post
    assert torch.unique(pairs).numel() == pairs.numel()  # no multapses
    assert int(syn.pre.min()) >= 0 and int(syn.pre.max()) < 300


def test_fixed_indegree_sources_are_uniform(generator):
    # disjoint populations: the out-degree of each source is Binomial(400, 50/300)
    syn = fixed_indegree(range(0, 300), range(300, 700), 50, generator=generator)
    out = torch.bincount(syn.pre, minlength=300).double()
    p = 50 / 300
    assert float(out.mean()) == pytest.approx(400 * p)  # fixed total
    ratio = float(out.var()) / (400 * p * (1 - p))
    assert 0.7 < ratio < 1.3  # ~4 standard errors of a variance estimated from 300 samples


def test_fixed_probability_in_degree_is_binomial(generator):
    n, p = 2000, 0.05
    syn = fixed_probability(range(n), range(n), p, generator=generator)
    conn = merge([syn], n)
    k = conn.in_degree().double()
    mean, var = (n - 1) * p, (n - 1) * p * (1 - p)  # no autapses
    assert abs(float(k.mean()) - mean) < 5 * math.sqrt(var / n)
    assert 0.85 < float(k.var()) / var < 1.15
    assert not bool((syn.pre == syn.post).any())
    assert torch.unique(syn.pre * n + syn.post).numel() == len(syn)


def test_merge_builds_rows_sorted_by_source(generator):
    a = fixed_probability(range(0, 30), range(0, 50), 0.2, weight=1.0, generator=generator)
    b = fixed_probability(range(30, 50), range(0, 50), 0.2, weight=-2.0, delay=3, channel=1, generator=generator)
    conn = merge([a, b], 50, n_channels=2)
    assert conn.nnz == len(a) + len(b)
    pre = conn.pre
    assert bool((pre[1:] >= pre[:-1]).all())
    assert bool((conn.weight[pre < 30] == 1.0).all()) and bool((conn.delay[pre >= 30] == 3).all())


@pytest.mark.parametrize("kind", ["va-coba", "va-cuba", "brunel"])
def test_dale_law_holds_for_every_synapse(kind):
    if kind == "brunel":
        net = brunel("ai", n_exc=400, in_degree_exc=40)
        specs = dict(exc=(0, 1), inh=(0, -1))
    else:
        regime = kind.split("-")[1]
        net = vogels_abbott(regime, n_neurons=400)
        specs = dict(exc=(0, 1), inh=(1, 1) if regime == "coba" else (1, -1))
    conn = net.connectivity
    excitatory = torch.zeros(net.n_neurons, dtype=torch.bool)
    excitatory[net.populations["exc"].start : net.populations["exc"].stop] = True
    check_dale(conn, excitatory, **specs)
    # the same, neuron by neuron: one channel and one sign per presynaptic neuron, no zero weights
    pre = conn.pre
    sign = torch.sign(conn.weight).long()
    assert bool((sign != 0).all())
    key = conn.channel * 3 + sign + 1
    per_neuron = torch.zeros(net.n_neurons, 6, dtype=torch.long).index_put_(
        (pre, key), torch.ones_like(pre), accumulate=True
    )
    assert bool(((per_neuron > 0).sum(dim=1) <= 1).all())
    exc_channel, exc_sign = specs["exc"]
    assert bool((conn.channel[excitatory[pre]] == exc_channel).all())
    assert bool((sign[excitatory[pre]] == exc_sign).all())


def test_check_dale_rejects_a_mixed_neuron():
    syn = Synapses(
        pre=torch.tensor([0, 0]),
        post=torch.tensor([1, 2]),
        weight=torch.tensor([1.0, -1.0]),
        delay=torch.tensor([1, 1]),
        channel=torch.tensor([0, 0]),
    )
    with pytest.raises(ValueError, match="Dale's law: synapse 1 from excitatory neuron 0"):
        check_dale(merge([syn], 3), torch.tensor([True, True, False]))


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="k: expected at most 9"):
        fixed_indegree(range(0, 10), range(0, 10), 10)
    with pytest.raises(ValueError, match=r"p: expected a connection probability in \[0, 1\]"):
        fixed_probability(range(0, 10), range(0, 10), 1.5)
    with pytest.raises(ValueError, match="delay: expected delays of at least 1 time step"):
        fixed_probability(range(0, 10), range(0, 10), 0.5, delay=0)
    with pytest.raises(TypeError, match="pre: expected a contiguous range"):
        fixed_probability([0, 1], range(0, 10), 0.5)
