"""Event-driven propagation: exact delays, equality with a dense computation, whole runs against a dense simulator."""

import pytest
import torch

from spikeforge.sim import (
    CurrentLIF,
    DelayBuffer,
    DeltaLIF,
    Network,
    Synapses,
    fixed_probability,
    gather_rows,
    merge,
    simulate,
)
from spikeforge.units import ms


def test_gather_rows_matches_python_concatenation(generator):
    counts = torch.randint(0, 5, (40,), generator=generator)
    indptr = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)])
    rows = torch.randperm(40, generator=generator)[:17]
    expected = [i for r in rows.tolist() for i in range(int(indptr[r]), int(indptr[r + 1]))]
    assert gather_rows(indptr, rows).tolist() == expected
    assert gather_rows(indptr, rows, dtype=torch.int32).tolist() == expected


def test_each_synapse_delivers_exactly_its_delay_later():
    syn = Synapses(
        pre=torch.tensor([0, 0, 1, 2, 2]),
        post=torch.tensor([1, 3, 0, 2, 3]),
        weight=torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0]),
        delay=torch.tensor([1, 5, 3, 7, 2]),
        channel=torch.zeros(5, dtype=torch.int64),
    )
    buf = DelayBuffer(merge([syn], 4))
    fire = {10: [0], 11: [2], 12: [1]}
    arrivals = set()
    for t in range(40):
        x = buf.pop(t)
        for post in torch.nonzero(x[0]).squeeze(1).tolist():
            arrivals.add((t, post, float(x[0, post])))
        if t in fire:
            buf.push(torch.tensor(fire[t]), step=t)
    assert arrivals == {(11, 1, 1.0), (15, 3, 2.0), (18, 2, 8.0), (13, 3, 16.0), (15, 0, 4.0)}


def test_a_synapse_without_delay_is_refused():
    # built directly (the builders already refuse it): it would arrive L steps late instead of in the same step
    syn = Synapses(torch.tensor([0]), torch.tensor([1]), torch.tensor([1.0]), torch.tensor([0]), torch.tensor([0]))
    with pytest.raises(ValueError, match="delays of at least 1 time step"):
        DelayBuffer(merge([syn], 2))


@pytest.mark.parametrize("d", [1, 2, 7, 15])
def test_a_spike_reaches_its_target_d_steps_later_in_a_run(d):
    # neuron 0 starts above threshold and fires at step 0; its one synapse kicks neuron 1 over threshold
    model = DeltaLIF(t_ref=50 * ms)
    syn = Synapses(
        pre=torch.tensor([0]),
        post=torch.tensor([1]),
        weight=torch.tensor([50.0]),
        delay=torch.tensor([d]),
        channel=torch.tensor([0]),
    )
    net = Network(
        model=model,
        connectivity=merge([syn], 2),
        populations={"all": range(2)},
        state=model.init(torch.tensor([100.0, 0.0])),
        dt=0.1 * ms,
    )
    res = simulate(net, duration=3 * ms)
    assert res.spike_ids.tolist() == [0, 1]
    assert round((float(res.spike_times[1]) - float(res.spike_times[0])) / res.dt) == d


def _random_table(generator, n=60, channels=2):
    half = n // 2
    parts = [
        fixed_probability(
            range(0, half),
            range(n),
            0.2,
            weight=torch.rand(1, generator=generator).item(),
            channel=0,
            generator=generator,
        ),
        fixed_probability(range(half, n), range(n), 0.2, channel=channels - 1, generator=generator),
    ]
    conn = merge(parts, n, n_channels=channels)
    # random per-synapse weights and delays in 1..6
    weight = torch.randn(conn.nnz, generator=generator)
    weight = torch.where(conn.channel == 0, weight.abs(), -weight.abs())
    delay = torch.randint(1, 7, (conn.nnz,), generator=generator)
    return type(conn)(conn.indptr, conn.post, weight, delay, conn.channel, n, n, channels)


@pytest.mark.parametrize("block", [None, 3])
def test_event_driven_input_equals_dense_reference(generator, block):
    conn = _random_table(generator)
    n, steps = conn.n_post, 80
    z = torch.rand(steps, n, generator=generator) < 0.1
    buf = DelayBuffer(conn, dtype=torch.float64)
    if block is not None:
        buf._block = block  # bursts are pushed in blocks of rows: same result
    got = []
    for t in range(steps):
        got.append(buf.pop(t))
        buf.push(torch.nonzero(z[t]).squeeze(1), step=t)
    got = torch.stack(got)  # [T, C, N]
    dense = conn.to_dense()  # [C, D, pre, post]
    # shifted[d - 1, t] = z[t - d] (zero before the start)
    shifted = torch.stack(
        [torch.cat([torch.zeros(d, n), z[: steps - d].double()]) for d in range(1, dense.shape[1] + 1)]
    ).double()
    expected = torch.einsum("dtj,cdji->tci", shifted, dense)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_delay_buffer_follows_the_channel_delay_convention(generator):
    """The ring buffer delivers what ``synapses.channel_delay`` gives per synapse: delay d arrives at t + d."""
    from spikeforge.synapses import channel_delay

    conn = _random_table(generator)
    n, steps = conn.n_post, 60
    z = (torch.rand(steps, n, generator=generator) < 0.1).double()
    buf = DelayBuffer(conn, dtype=torch.float64)
    got = []
    for t in range(steps):
        got.append(buf.pop(t))
        buf.push(torch.nonzero(z[t]).squeeze(1), step=t)
    # one channel per synapse: its presynaptic spike train, delayed by its delay, times its weight
    delayed = channel_delay(z[:, None, conn.pre], conn.delay)[:, 0] * conn.weight.double()  # [T, nnz]
    expected = torch.zeros(steps, conn.n_channels * n, dtype=torch.float64)
    expected.index_add_(1, conn.channel * n + conn.post, delayed)
    torch.testing.assert_close(torch.stack(got).reshape(steps, -1), expected, rtol=0, atol=1e-12)


def test_simulation_equals_dense_simulation(generator):
    """A whole run of the engine against a loop written here with dense matrices and the same neuron update."""
    conn = _random_table(generator, n=80)
    conn = type(conn)(conn.indptr, conn.post, conn.weight * 4.0, conn.delay, conn.channel, 80, 80, 2)
    model = CurrentLIF(v_rest=-45.0)  # above threshold: neurons fire on their own
    v0 = -60 + 10 * torch.rand(80, generator=generator)
    net = Network(model=model, connectivity=conn, populations={"all": range(80)}, state=model.init(v0), dt=0.1 * ms)
    res = simulate(net, duration=60 * ms)
    assert res.spike_ids.numel() > 100

    dense = conn.to_dense(dtype=torch.float32)  # [C, D, pre, post]
    steps, n_delay = res.n_steps, dense.shape[1]
    history = torch.zeros(n_delay, 80)  # history[k] = spikes k+1 steps ago
    state, ref_steps, ref_ids = model.init(v0), [], []
    for t in range(steps):
        x = torch.einsum("kj,ckji->ci", history, dense)
        z, state = model.step(x, state, dt=0.1 * ms)
        ids = torch.nonzero(z).squeeze(1)
        ref_steps += [t] * ids.numel()
        ref_ids += ids.tolist()
        history = torch.cat([z.float()[None], history[:-1]])
    assert res.spike_ids.tolist() == ref_ids
    assert torch.round(res.spike_times / res.dt).long().tolist() == ref_steps
    # event-driven: the work done is exactly the outgoing synapses of the neurons that fired
    assert res.n_events == int(conn.out_degree()[res.spike_ids].sum())
