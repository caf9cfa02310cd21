"""NIR export/import of recurrent layers (a cycle in the graph), adaptive neurons, per-synapse delays and the reset
choice; each checked against references that are not the code under test (hand-written loops)."""

import copy
import math
import warnings

import nir
import numpy as np
import pytest
import torch

from spikeforge import ALIF, LI, LIF, RALIF, RLIF
from spikeforge.interop import export_nir, import_nir, read_nir, retime_graph, write_nir
from spikeforge.models._sequence import WholeSequence
from spikeforge.nn import SequentialState
from spikeforge.synapses import DelayedLinear, LearnableDelayLinear, round_delays


def _quiet_export(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_nir(*args, **kwargs)


def _rlif_net(reset="subtract", self_connections=True):
    torch.manual_seed(0)
    tau = torch.exp(torch.empty(12).uniform_(math.log(5e-3), math.log(1e-1)))
    net = SequentialState(
        torch.nn.Linear(5, 12),
        RLIF(12, tau_mem=tau, reset=reset, learn=("tau_mem",), self_connections=self_connections),
        torch.nn.Linear(12, 3),
        LI(3),
    ).eval()
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    return net


@pytest.mark.parametrize(("reset", "self_connections"), [("subtract", True), ("zero", False)])
@pytest.mark.parametrize("integrator", ["exact", "euler"])
def test_recurrent_lif_is_a_cycle_and_round_trips_bit_for_bit(tmp_path, reset, self_connections, integrator):
    net = _rlif_net(reset, self_connections)
    graph = _quiet_export(net, [5], integrator=integrator)
    assert ("1", "1.rec") in graph.edges and ("1.rec", "1") in graph.edges  # the recurrent edge closes a cycle
    assert isinstance(graph.nodes["1.rec"], nir.Linear)
    write_nir(tmp_path / "r.nir", graph)
    back = import_nir(read_nir(tmp_path / "r.nir"))
    assert type(back[1]) is RLIF and back[1].reset == reset and back[1].self_connections == self_connections
    x = torch.randn(80, 4, 5)
    with torch.no_grad():
        z0, z1 = net[:2](x)[0], back[:2](x)[0]
        assert z0.sum() > 0 and torch.equal(z0, z1)
        assert torch.equal(net(x)[0], back(x)[0])


def test_a_foreign_recurrent_graph_runs_as_its_euler_equations():
    """A hand-built LIF <-> Linear cycle with r != 1 against a numpy loop of NIR's forward-Euler LIF."""
    rng = np.random.default_rng(1)
    n, dt = 6, 1e-3
    w_in = rng.normal(1.0, 1.0, (n, 3)).astype(np.float32)
    w_rec = rng.normal(0, 0.5, (n, n)).astype(np.float32)
    tau, r, thr = rng.uniform(5e-3, 2e-2, n), rng.uniform(0.5, 2.0, n), np.full(n, 1.0)
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([3])),
            "fc": nir.Linear(weight=w_in),
            "lif": nir.LIF(tau=tau, r=r, v_leak=np.zeros(n), v_threshold=thr, v_reset=np.zeros(n)),
            "rec": nir.Linear(weight=w_rec),
            "out": nir.Output(output_type=np.array([n])),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")],
        type_check=False,
    )
    model = import_nir(graph, dt=dt, integrator="euler").double()
    x = rng.uniform(0, 2, (60, 2, 3))
    with torch.no_grad():
        z = model(torch.from_numpy(x))[0].numpy()
    v, spikes, ref = np.zeros((2, n)), np.zeros((2, n)), []
    for t in range(60):  # v' = v + dt/tau (-v + r (W_in x + W_rec z_prev)); spike at v >= thr; reset to 0
        v = v + dt / tau * (-v + r * (x[t] @ w_in.T.astype(np.float64) + spikes @ w_rec.T.astype(np.float64)))
        spikes = (v >= thr).astype(float)
        v = np.where(spikes > 0, 0.0, v)
        ref.append(spikes)
    agree = (z == np.stack(ref)).mean()
    assert np.stack(ref).sum() > 0 and agree > 0.99, agree  # float32 weights: rare ties may differ


def test_adaptive_neurons_are_refused_with_the_reason_and_the_nearest_form():
    net = SequentialState(torch.nn.Linear(4, 6), ALIF(6), torch.nn.Linear(6, 2), LI(2))
    with pytest.raises(ValueError, match=r"no exact NIR form.*moving threshold.*alif_as='lif'"):
        export_nir(net, [4])
    with pytest.warns(UserWarning, match="without adaptation"):
        graph = export_nir(net, [4], alif_as="lif", reset_as="zero")
    back = import_nir(graph)
    assert type(back[2]) is LIF and back[2].reset == "zero"  # [Linear, Scale(1 - beta_m), LIF, ...]
    # with beta = 0 the threshold is fixed: exact, imported as itself, same spikes (RALIF too: a cycle)
    for cls in (ALIF, RALIF):
        torch.manual_seed(2)
        exact = SequentialState(torch.nn.Linear(4, 6), cls(6, beta=0.0, tau_mem=torch.rand(6) * 0.03 + 0.005))
        back = import_nir(_quiet_export(exact, [4]))
        x = torch.rand(50, 3, 4) * 20
        with torch.no_grad():
            assert type(back[1]) is cls and torch.equal(exact(x)[0], back(x)[0]) and exact(x)[0].sum() > 0


def _shifted_sum(x, w, d):
    """y_o(t) = sum_i w_oi x_i(t - d_oi), by loops (x: [T, B, I])."""
    steps, out = x.shape[0], torch.zeros(x.shape[0], x.shape[1], w.shape[0], dtype=x.dtype)
    for o in range(w.shape[0]):
        for i in range(w.shape[1]):
            k = int(d[o, i])
            if k < steps:
                out[k:, :, o] += w[o, i] * x[: steps - k, :, i]
    return out


def test_per_synapse_delays_export_as_delay_groups_exactly_with_the_stated_size():
    torch.manual_seed(3)
    learn = LearnableDelayLinear(5, 4, max_delay=6)
    with pytest.raises(ValueError, match="round them first"):
        export_nir(SequentialState(WholeSequence(learn), LIF(4)), [5])
    net = round_delays(SequentialState(WholeSequence(learn), LIF(4, reset="zero"), torch.nn.Linear(4, 2), LI(2)))
    layer = net[0].module
    assert isinstance(layer, DelayedLinear) and layer.structure() in ("grouped", "kernel")
    graph = export_nir(net, [5])
    groups = len(torch.unique(layer.delays))
    dense = [n for k, n in graph.nodes.items() if k.startswith("0.") and isinstance(n, nir.Linear | nir.Affine)]
    assert len(dense) == groups  # one dense matrix per distinct delay: groups * out * in values (the size cost)
    assert sum(n.weight.size for n in dense) == groups * 4 * 5
    assert sum(isinstance(n, nir.Delay) for n in graph.nodes.values()) == groups - int(bool((layer.delays == 0).any()))
    back = import_nir(graph)
    assert torch.equal(back[0].module.delays, layer.delays)
    x = (torch.rand(30, 3, 5) < 0.4).double()
    with torch.no_grad():
        ref = _shifted_sum(x, layer.weight.double(), layer.delays) + layer.bias.double()
        torch.testing.assert_close(copy.deepcopy(back[0].module).double()(x), ref)
        assert torch.equal(net(x.float())[0], back(x.float())[0])


def test_reset_as_zero_is_explicit_and_read_back_as_zero():
    net = _rlif_net("subtract")
    with pytest.warns(UserWarning, match="kept in spikeforge metadata only"):
        export_nir(net, [5])
    with pytest.warns(UserWarning, match="reset_as='zero'"):
        graph = export_nir(net, [5], reset_as="zero")
    assert import_nir(graph)[1].reset == "zero"
    with pytest.raises(ValueError, match="reset_as: expected one of"):
        export_nir(net, [5], reset_as="soft")


def test_retimed_euler_graph_gives_the_same_steps_at_another_dt():
    net = _rlif_net("zero")
    graph = retime_graph(_quiet_export(net, [5], integrator="euler"), 1e-3, 1e-4)
    back = import_nir(graph, dt=1e-4, integrator="euler")
    x = torch.randn(60, 2, 5)
    with torch.no_grad():
        z0, z1 = net[:2](x)[0], back[:2](x)[0]
    assert z0.sum() > 0 and (z0 == z1).float().mean() > 0.999  # the same steps up to float rounding of dt/tau
