"""NIR export/import: bit-identical round trips, the documented ODE mapping, foreign graphs, errors."""

import math
import warnings

import nir
import numpy as np
import pytest
import torch

from spikeforge import IF, LI, LIF, CubaLIF
from spikeforge.interop import Scale, export_nir, import_nir, write_nir
from spikeforge.models import build_model
from spikeforge.nn import SequentialState
from spikeforge.nn._containers import _fold_time, is_stateful
from spikeforge.synapses import ChannelDelay


def layer_outputs(net, x):
    """Output of every layer of a SequentialState (the spikes of each neuron layer included)."""
    outs = []
    for layer in net:
        x = layer(x)[0] if is_stateful(layer) else _fold_time(layer, x)
        outs.append(x)
    return outs


def perturbed(cfg):
    torch.manual_seed(1)
    model = build_model(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "log_tau" in name:
                p.add_(0.5 * torch.randn_like(p))  # learned, heterogeneous time constants
            elif name.endswith("threshold"):
                p.mul_(1 + 0.3 * torch.rand_like(p))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
    return model.eval()


@pytest.mark.parametrize(
    "cfg",
    [
        {"model": "mlp", "hidden": [32, 16], "learn": ["tau_mem", "threshold"], "dropout": 0.2},
        {"model": "conv", "channels": [4, 6], "hidden": [16], "learn": ["tau_mem"], "reset": "zero"},
    ],
    ids=["mlp", "conv"],
)
def test_round_trip_through_a_file_gives_identical_spikes(cfg, tmp_path):
    cfg = {"input_shape": [1, 8, 8], "n_classes": 5, "backend": "torch", **cfg}
    model = perturbed(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = write_nir(tmp_path / "m.nir", model, cfg["input_shape"])
    back = import_nir(path)
    x = (torch.rand(40, 3, 1, 8, 8) < 0.35).float()
    ours = [o for o, m in zip(layer_outputs(model, x), model) if not isinstance(m, torch.nn.Dropout)]
    theirs = layer_outputs(back, x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    spiking = [o for o, m in zip(theirs, back) if isinstance(m, LIF)]
    assert all(0 < float(s.detach().mean()) < 1 for s in spiking)  # the comparison covers real spike trains


def test_exact_mapping_matches_the_nir_ode_solved_by_hand():
    """The exported LIF node, integrated exactly over each step (input held), gives spikeforge's membrane."""
    dt = 0.5e-3
    tau = torch.tensor([4e-3, 10e-3, 30e-3])
    lif = LIF(3, tau_mem=tau, threshold=1e9, v_leak=0.2, dt=dt, reset="zero", record=True)
    node = export_nir(SequentialState(lif), [3]).nodes["0"]
    x = torch.rand(50, 1, 3)
    _, state = lif(x)
    v = np.full(3, 0.2)
    for t in range(50):  # tau dv/dt = (v_leak - v) + r I, I = x[t] constant over the step
        v_inf = node.v_leak + node.r * x[t, 0].double().numpy()
        v = v_inf + (v - v_inf) * np.exp(-dt / node.tau.astype(np.float64))
        np.testing.assert_allclose(v, state.v[t, 0].double().numpy(), rtol=1e-5, atol=1e-6)


def test_euler_mapping_matches_a_forward_euler_loop():
    dt = 1e-4
    lif = LIF(3, tau_mem=torch.tensor([1e-3, 2e-3, 5e-3]), threshold=1e9, dt=dt, reset="zero", record=True)
    graph = export_nir(SequentialState(lif), [3], integrator="euler")
    assert "euler" in graph.metadata["spikeforge"]
    node = graph.nodes["0"]
    x = torch.rand(30, 1, 3)
    _, state = lif(x)
    v = np.zeros(3)
    for t in range(30):
        v = v + dt / node.tau * ((node.v_leak - v) + node.r * x[t, 0].double().numpy())
        np.testing.assert_allclose(v, state.v[t, 0].double().numpy(), rtol=1e-5, atol=1e-6)


def test_foreign_euler_graph_runs_like_a_hand_written_loop():
    """A graph as snnTorch writes it (tau = dt/(1-beta), r = tau/dt, no metadata) against an explicit loop."""
    dt, beta = 1e-4, np.array([0.9, 0.95, 0.99, 0.8], dtype=np.float32)
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(4, 6)).astype(np.float32), rng.normal(size=4).astype(np.float32) * 0.1
    tau = dt / (1 - beta)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([6])),
        nir.Affine(weight=w, bias=b),
        nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(4), v_threshold=np.ones(4) * 0.5),
        nir.Output(output_type=np.array([4])),
    )
    with pytest.raises(ValueError, match="dt: the graph carries no time step"):
        import_nir(graph)
    net = import_nir(graph, dt=dt, integrator="euler")
    assert not any(isinstance(m, Scale) for m in net)  # r = tau/dt: unit gain
    x = (torch.rand(60, 2, 6) < 0.5).float()
    z, _ = net(x)
    v, ref = torch.zeros(2, 4), []
    for t in range(60):
        v = torch.from_numpy(beta) * v + x[t] @ torch.from_numpy(w).T + torch.from_numpy(b)
        spike = (v >= 0.5).float()
        v = v * (1 - spike)  # NIR: reset to v_reset = 0
        ref.append(spike)
    assert torch.equal(z, torch.stack(ref)) and z.sum() > 0


def test_graph_with_unit_resistance_gets_an_input_gain():
    """Norse writes r = 1: the input is scaled by (1 - beta) r under the exact integrator."""
    dt, tau = 1e-3, np.array([0.01, 0.02])
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])),
        nir.LI(tau=tau, r=np.ones(2), v_leak=np.zeros(2)),
        nir.Output(output_type=np.array([2])),
    )
    net = import_nir(graph, dt=dt)
    assert isinstance(net[0], Scale)
    v, _ = net(torch.ones(400, 1, 2))
    np.testing.assert_allclose(v[-1, 0].numpy(), 1.0, rtol=1e-4)  # steady state v = r I = 1, as the ODE says


def test_cubalif_if_delay_round_trip():
    torch.manual_seed(0)
    net = SequentialState(
        torch.nn.Linear(5, 6),
        CubaLIF(6, tau_syn=torch.rand(6) * 4e-3 + 1e-3, reset="zero"),
        ChannelDelay(6, torch.tensor([0, 1, 2, 3, 0, 5]), stateful=True),
        torch.nn.Linear(6, 4, bias=False),
        IF(4, reset="zero", threshold=0.5),
        torch.nn.Linear(4, 3),
        LI(3, tau_mem=5e-3),
    )
    with torch.no_grad():
        net[0].weight.mul_(4)
    graph = export_nir(net, [5])
    assert [type(n).__name__ for n in graph.nodes.values()] == [
        "Input",
        "Affine",
        "CubaLIF",
        "Delay",
        "Linear",
        "IF",
        "Affine",
        "LI",
        "Output",
    ]
    back = import_nir(graph)
    delay = next(m for m in back if isinstance(m, ChannelDelay))  # NIR Delay nodes import as a stateful ChannelDelay
    assert delay.stateful and delay.delays.tolist() == [0, 1, 2, 3, 0, 5] and delay.dt == 1e-3
    x = torch.rand(50, 2, 5)
    for a, b in zip(layer_outputs(net, x), layer_outputs(back, x)):
        assert torch.equal(a, b)


def test_unsupported_layers_and_graphs_are_named():
    with pytest.raises(ValueError, match=r"layer type ReLU is not supported; supported layers: Linear"):
        export_nir(SequentialState(torch.nn.Linear(2, 2), torch.nn.ReLU(), LIF(2)), [2])
    with pytest.raises(ValueError, match="tau_syn"):
        export_nir(SequentialState(LIF(2, tau_syn=2e-3)), [2])
    with pytest.raises(ValueError, match="one dt"):
        export_nir(SequentialState(LIF(2, dt=1e-3), LIF(2, dt=2e-3)), [2])
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])), nir.Threshold(threshold=np.ones(2)), nir.Output(output_type=np.array([2]))
    )
    with pytest.raises(ValueError, match=r"type Threshold, which spikeforge does not import; supported node types"):
        import_nir(graph, dt=1e-3)
    nodes = {
        "in": nir.Input(input_type=np.array([2])),
        "a": nir.Affine(weight=np.eye(2), bias=np.zeros(2)),
        "b": nir.Scale(scale=np.ones(2)),  # not a [Delay ->] Linear delay-group branch
        "out": nir.Output(output_type=np.array([2])),
    }
    branched = nir.NIRGraph(nodes=nodes, edges=[("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")], type_check=False)
    with pytest.raises(ValueError, match="fans out to"):
        import_nir(branched, dt=1e-3)
    nodes["b"] = nir.Affine(weight=np.eye(2), bias=np.zeros(2))  # two delay groups that share a synapse
    with pytest.raises(ValueError, match="weights in two delay groups"):
        import_nir(nir.NIRGraph(nodes=nodes, edges=branched.edges, type_check=False), dt=1e-3)


def test_subtract_reset_warns_and_failed_write_leaves_no_file(tmp_path):
    with pytest.warns(UserWarning, match="subtract"):
        export_nir(SequentialState(LIF(2)), [2])
    with pytest.raises(ValueError, match="not supported"):
        write_nir(tmp_path / "m.nir", SequentialState(torch.nn.Tanh()), [2], dt=1e-3)
    assert list(tmp_path.iterdir()) == []
    assert math.isclose(import_nir(export_nir(SequentialState(LIF(2, reset="zero", dt=2e-4)), [2]))[0].dt, 2e-4)


def test_conv1d_scale_and_sum_pooling_round_trip(tmp_path):
    torch.manual_seed(0)
    net = SequentialState(
        torch.nn.Conv1d(2, 3, 3, stride=2, padding=1),
        LIF((3, 5), reset="zero"),
        torch.nn.Flatten(),
        Scale(torch.rand(15) + 0.5),
        torch.nn.Linear(15, 4),
        LI(4),
    )
    graph = export_nir(net, [2, 10])
    assert [type(n).__name__ for n in graph.nodes.values()][1:-1] == [
        "Conv1d",
        "LIF",
        "Flatten",
        "Scale",
        "Affine",
        "LI",
    ]
    x = torch.rand(20, 3, 2, 10)
    assert torch.equal(import_nir(write_nir(tmp_path / "a.nir", graph))(x)[0], net(x)[0])
    pooled = SequentialState(
        torch.nn.AvgPool2d(2, divisor_override=1), torch.nn.Flatten(), torch.nn.Linear(8, 2), LIF(2, reset="zero")
    )
    graph = export_nir(pooled, [2, 4, 4])
    assert type(graph.nodes["0"]).__name__ == "SumPool2d"
    x = torch.rand(20, 3, 2, 4, 4)
    torch.testing.assert_close(import_nir(graph)[0](x[0]), x[0].unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2)))  # a sum
    assert torch.equal(import_nir(graph)(x)[0], pooled(x)[0])


def test_channel_delay_exports_as_a_nir_delay():
    from spikeforge.synapses import channel_delay

    torch.manual_seed(0)
    delays = torch.tensor([0, 3, 1, 2])
    layers = [torch.nn.Linear(3, 4), ChannelDelay(4, delays), LIF(4, reset="zero", threshold=0.3)]
    with torch.no_grad():
        layers[0].weight.abs_()
    graph = export_nir(SequentialState(*layers), [3], dt=1e-3)
    np.testing.assert_allclose(graph.nodes["1"].delay, delays.numpy() * 1e-3)
    back = import_nir(graph)
    x = torch.rand(30, 2, 3)
    with torch.no_grad():
        reference, _ = layers[2](channel_delay(layers[0](x), delays))  # the layers run by hand, in time order
    z, _ = back(x)
    assert torch.equal(z, reference) and z.sum() > 0


@pytest.mark.parametrize("side", ["input", "output"])
def test_fixed_delay_linear_round_trip(side):
    """A DelayedLinear whose delays vary along one side exports as Delay + Affine and comes back exact."""
    from spikeforge.models._sequence import WholeSequence
    from spikeforge.synapses import DelayedLinear

    torch.manual_seed(1)
    delays = torch.tensor([0, 3, 1, 4, 2]) if side == "input" else torch.tensor([[2], [0], [5], [1]])
    layer = DelayedLinear(5, 4, delays.expand(4, 5))  # a row broadcasts over outputs, a column over inputs
    net = SequentialState(WholeSequence(layer), LIF(4, reset="zero"), torch.nn.Linear(4, 3), LI(3))
    with torch.no_grad():
        layer.weight.mul_(5)
    assert layer.structure() == side
    graph = export_nir(net, [5])
    kinds = [type(n).__name__ for n in graph.nodes.values()]
    assert kinds[1:3] == (["Delay", "Affine"] if side == "input" else ["Linear", "Delay"])
    back = import_nir(graph)
    x = (torch.rand(40, 3, 5) < 0.3).float()
    v_ref, _ = net(x)
    v_back, _ = back(x)
    assert torch.equal(v_ref, v_back)
