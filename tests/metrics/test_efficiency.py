import itertools
import json

import pytest
import torch
from torch import nn

import spikeforge as sf
from spikeforge.metrics import EnergyModel, profile_model, synaptic_operations
from spikeforge.nn import Lift, SequentialState


@pytest.fixture(autouse=True)
def _one_thread():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def loop_conv_ops(conv: nn.Conv2d, x: torch.Tensor) -> tuple[int, int]:
    """Explicit loop: for every output position and kernel tap that lands on a real input element, one operation
    per output channel of the group whose weight is nonzero (effective: only where the input is nonzero)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    b, c_in, h, w = x.shape
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    per_group_in, per_group_out = c_in // conv.groups, conv.out_channels // conv.groups
    effective = dense = 0
    for n, o, i, j in itertools.product(range(b), range(conv.out_channels), range(ho), range(wo)):
        g = o // per_group_out
        for ci, u, v in itertools.product(range(per_group_in), range(kh), range(kw)):
            y, xx = i * sh - ph + u * dh, j * sw - pw + v * dw
            if 0 <= y < h and 0 <= xx < w:
                dense += 1
                if x[n, g * per_group_in + ci, y, xx] != 0 and conv.weight[o, ci, u, v] != 0:
                    effective += 1
    return effective, dense


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups"), [(1, 1, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1), (3, 0, 1, 4)]
)
def test_conv_synaptic_operations_match_an_explicit_loop(stride, padding, dilation, groups):
    conv = nn.Conv2d(4, 8, 3, stride=stride, padding=padding, dilation=dilation, groups=groups)
    with torch.no_grad():
        conv.weight[torch.rand_like(conv.weight) < 0.2] = 0.0  # pruned synapses are no fan-out
    x = (torch.rand(2, 4, 7, 6) < 0.3).float()
    assert synaptic_operations(conv, x) == loop_conv_ops(conv, x)


def test_conv1d_edge_spike_reaches_only_taps_inside_the_output():
    conv = nn.Conv1d(1, 3, 5, padding=2)
    x = torch.zeros(1, 1, 9)
    x[0, 0, 0] = 1.0  # at the left edge: taps reaching outputs 0, 1, 2 exist, the two to the left do not
    effective, dense = synaptic_operations(conv, x)
    assert effective == 3 * 3
    assert dense == 3 * sum(min(i + 2, 8) - max(i - 2, 0) + 1 for i in range(9))


def test_linear_counts_each_input_spike_times_its_nonzero_fan_out():
    lin = nn.Linear(6, 4)
    with torch.no_grad():
        lin.weight[:, 0] = 0.0  # input 0 connects to nothing
        lin.weight[1:, 1] = 0.0  # input 1 to one output
    x = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    assert synaptic_operations(lin, x) == (0 + 1 + 4 + 4, 2 * 6 * 4)


def test_wrong_layer_type_is_named():
    with pytest.raises(TypeError, match=r"layer: expected one of .*Linear.*got ReLU"):
        synaptic_operations(nn.ReLU(), torch.ones(2, 3))


def reference_network_run(net, x_seq):
    """Run the layers one by one (no hooks) and return the hidden spike trains."""
    lin1, lif1, lin2, lif2, *_ = net
    z1, _ = lif1(lin1(x_seq))
    z2, _ = lif2(lin2(z1))
    return z1, z2


def make_net():
    return SequentialState(
        nn.Linear(6, 5), sf.LIF(5, tau_mem=5 * sf.ms), nn.Linear(5, 3), sf.LIF(3), nn.Linear(3, 2), sf.LI(2)
    )


@pytest.mark.parametrize("spiking_input", [True, False])
def test_network_counts_match_a_layer_by_layer_reference(spiking_input):
    net = make_net()
    with torch.no_grad():
        net[0].weight.mul_(4.0)
    t, b = 12, 3
    x = (torch.rand(t, b, 6) < 0.4).float() if spiking_input else torch.rand(t, b, 6) + 0.1
    with torch.no_grad():
        z1, z2 = reference_network_run(net, x)
    assert z1.sum() > 0 and z2.sum() > 0  # the test is about real activity
    report = profile_model(net, x)
    first = float((x != 0).sum()) * 5 / b
    assert report.acs == pytest.approx(
        (first if spiking_input else 0) + float(z1.sum()) * 3 / b + float(z2.sum()) * 2 / b
    )
    assert report.macs == pytest.approx(0 if spiking_input else first)
    assert report.ann_macs == 6 * 5 + 5 * 3 + 3 * 2
    assert report.dense == t * report.ann_macs
    assert report.membrane_updates == t * (5 + 3 + 2)
    assert report.spikes == pytest.approx(float(z1.sum() + z2.sum()) / b)
    d = report.to_dict()
    assert d["neuron_layers"]["1"]["firing_rate_per_step"] == pytest.approx(float(z1.mean()))
    assert d["neuron_layers"]["5"]["spikes"] is None  # the leaky-integrator readout does not spike
    assert report.activation_sparsity == pytest.approx(1 - float(z1.sum() + z2.sum()) / (t * b * 8))
    assert json.loads(json.dumps(d)) == d


def test_lift_wrapped_conv_is_counted_and_model_left_unchanged():
    net = SequentialState(
        Lift(nn.Conv2d(1, 2, 3, padding=1)), sf.LIF((2, 5, 5)), nn.Flatten(), nn.Linear(50, 3), sf.LI(3)
    )
    net.train()
    x = (torch.rand(4, 2, 1, 5, 5) < 0.5).float()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        expected_out, _ = net(x)
    report = profile_model(net, x)
    conv = net[0].module
    effective, _ = loop_conv_ops(conv, x.reshape(8, 1, 5, 5))
    assert report.to_dict()["synaptic_layers"]["0.module"]["acs"] == effective / 2
    assert net.training and all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    with torch.no_grad():
        assert torch.equal(net(x)[0], expected_out)


def test_chunked_batches_give_the_same_counts():
    net = make_net()
    x = torch.rand(6, 10, 6) * 2
    whole, chunked = profile_model(net, x).to_dict(), profile_model(net, x, batch_size=3).to_dict()
    assert whole == chunked and whole["samples"] == 10 and whole["timesteps"] == 6


def test_energy_estimate_follows_the_table():
    net = make_net()
    x = (torch.rand(8, 4, 6) < 0.5).float()
    e = EnergyModel(add=1.0, mul=10.0, membrane_update=0.5, memory_read=100.0, state_reads_writes=2)
    r = profile_model(net, x, energy=e)
    got = r.energy_pj()
    assert got["snn_arithmetic"] == pytest.approx(r.acs * 1 + r.macs * 11 + r.membrane_updates * 0.5)
    assert got["snn_with_memory"] - got["snn_arithmetic"] == pytest.approx(
        100 * (r.acs + r.macs + 2 * r.membrane_updates)
    )
    assert got["ann_arithmetic"] == pytest.approx(11 * (30 + 15 + 6))
    assert got["ann_with_memory"] == pytest.approx(111 * (30 + 15 + 6))
    assert "ESTIMATE" in r.table() and "1: LIF(5)" in r.table()


def test_energy_table_defaults_cite_horowitz_and_can_be_replaced(tmp_path):
    fp32, int8 = EnergyModel(), EnergyModel.horowitz_45nm("int8")
    assert (fp32.add, fp32.mul, int8.add, int8.mul) == (0.9, 3.7, 0.03, 0.2)
    assert "Horowitz, ISSCC 2014" in fp32.source
    path = tmp_path / "table.yaml"
    path.write_text("preset: int8\nmemory_read: 0\n")
    loaded = EnergyModel.from_file(path)
    assert (loaded.add, loaded.mul, loaded.memory_read) == (0.03, 0.2, 0.0)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['addd'\]"):
        EnergyModel.from_dict({"addd": 1.0})
    with pytest.raises(ValueError, match=r"EnergyModel\.mul: expected a finite number of picojoules >= 0, got -1"):
        EnergyModel(mul=-1)
    with pytest.raises(ValueError, match="precision: expected 'fp32' or 'int8', got 'fp16'"):
        EnergyModel.horowitz_45nm("fp16")


def test_input_that_is_not_time_first_is_refused():
    with pytest.raises(ValueError, match=r"x_seq: expected a time-first tensor \[T, B, ...\], got \(5,\)"):
        profile_model(make_net(), torch.rand(5))


def test_copies_of_a_hooked_layer_are_not_counted():
    """Some tools deep-copy layers to count them (NeuroBench does); the copy carries our hooks along."""
    import copy

    from spikeforge.metrics import EfficiencyCounter

    net = make_net()
    x = (torch.rand(4, 2, 6) < 0.5).float()
    with torch.no_grad(), EfficiencyCounter(net) as counter:
        net(x)
        copy.deepcopy(net[0])(x)
        copy.deepcopy(net[1])(x[:, :, :5])
    assert counter.report().to_dict() == profile_model(net, x).to_dict()


def test_recurrent_weights_applied_inside_the_neuron_are_counted_from_its_spikes():
    """RLIF applies its recurrent matrix itself: each spike at step t reaches its nonzero fan-out at t + 1."""
    torch.manual_seed(0)
    net = sf.SequentialState(torch.nn.Linear(5, 12), sf.RLIF(12, backend="torch"), torch.nn.Linear(12, 3), sf.LI(3))
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        net[0].weight[2] = 1.0  # neuron 2 fires ...
        net[1].recurrent.weight[:, 2] = 0.0  # ... and reaches nobody
    x = torch.rand(20, 4, 5)
    report = profile_model(net, x, ann="per_step")
    with torch.no_grad():
        z, _ = net[1](net[0](x))
    nnz = (net[1].recurrent.weight != 0).sum(0).double()
    expected = float(sum(z[t, b].double() @ nnz for t in range(19) for b in range(4)))  # explicit loop over spikes
    counts = report.to_dict()["synaptic_layers"]["1.recurrent"]
    assert z[:-1, :, 2].sum() > 0 and expected > 0
    assert counts["acs"] * 4 == pytest.approx(expected)
    assert counts["ann_macs"] * 4 == 19 * 4 * 144  # a recurrent ANN: dense N x N at every step after the first
    # a sequence's ANN runs every step; a static input's once
    assert report.ann_macs == pytest.approx(20 * (5 * 12 + 12 * 3) + 19 * 144)
    assert profile_model(net, x).to_dict()["synaptic_layers"]["0"]["ann_macs"] == 5 * 12
