"""An event-driven synapse fused with LIF (kernels.cpu.event_lif) gives the torch reference's results: the same spikes
as the unfused pair bit for bit, and the reference's gradients, with no [T, B, out] current kept."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf
from spikeforge import kernels
from spikeforge.surrogate import Surrogate
from spikeforge.synapses import EventLinear

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")

TOL = {torch.float32: 1e-4, torch.float64: 1e-11}


@pytest.fixture(autouse=True)
def tied_timing(monkeypatch):
    """Every fused-or-separate decision timed as a tie (both candidates still run): the fused kernel is taken."""
    from spikeforge import _choice

    monkeypatch.setattr(_choice, "CHOOSER", _choice.PathChooser(measure=lambda fn: (fn(), 1.0)[1], reps=1))


def _pair(n_in, n_out, dtype, *, fused=True, bias=True, learn=(), reset="subtract", detach=False, surrogate=None):
    """(synapse, LIF) from seed 3: the fused candidate (EventLinear + LIF on "auto"), or the torch reference (a plain
    nn.Linear and the LIF scan)."""
    torch.manual_seed(3)
    if fused:
        syn = EventLinear(n_in, n_out, bias=bias, mode="event", dtype=dtype)
    else:
        syn = torch.nn.Linear(n_in, n_out, bias=bias, dtype=dtype)
    with torch.no_grad():
        syn.weight.mul_(3.0)
    lif = sf.LIF(
        n_out,
        tau_mem=torch.linspace(5e-3, 30e-3, n_out, dtype=dtype),
        threshold=0.6,
        learn=learn,
        reset=reset,
        detach_reset=detach,
        surrogate=surrogate,
        backend="auto" if fused else "torch",
        dtype=dtype,
    )
    return sf.SequentialState(syn, lif)


def _spikes(steps, batch, n_in, dtype, density=0.15, seed=4):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, n_in, generator=g) < density).to(dtype)


def _run(net, x, v0=None):
    state = None if v0 is None else [None, sf.neurons.LIFState(v0, torch.zeros_like(v0), torch.zeros_like(v0))]
    with kernels.trace() as ran:
        z, st = net(x, state)
    return z, st[1], ran


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset,detach", [("subtract", False), ("subtract", True), ("zero", False), ("none", False)])
@pytest.mark.parametrize("n_out", [64, 100])  # whole slices of neurons, and a partial one
@pytest.mark.parametrize("learn", [(), ("tau_mem", "threshold")])
def test_fused_pair_matches_the_reference(dtype, reset, detach, n_out, learn):
    x = _spikes(40, 3, 30, dtype)
    v0 = torch.rand(3, n_out, dtype=dtype, generator=torch.Generator().manual_seed(5)) * 0.3
    fused = _pair(30, n_out, dtype, learn=learn, reset=reset, detach=detach)
    ref = _pair(30, n_out, dtype, fused=False, learn=learn, reset=reset, detach=detach)
    v0a, v0b = v0.clone().requires_grad_(), v0.clone().requires_grad_()
    z, st, ran = _run(fused, x, v0a)
    assert ran == [("lif", "cpu+events")], "the fused kernel did not run"
    assert kernels.backend_of(fused[1]) == "cpu+events" and fused[0].train_path == "event"
    z_ref, st_ref, _ = _run(ref, x, v0b)
    assert 0.02 < float(z.detach().mean()) < 0.5, "the test drive should make the layer fire"
    assert torch.equal(z, z_ref)
    torch.testing.assert_close(st.v, st_ref.v, atol=TOL[dtype], rtol=0)
    torch.testing.assert_close(st.i, st_ref.i, atol=TOL[dtype], rtol=0)

    # and bit for bit the unfused pair of compiled layers (the event gather, then the LIF kernel)
    unfused = _pair(30, n_out, dtype, learn=learn, reset=reset, detach=detach)
    unfused[1].register_forward_hook(lambda *_: None)  # a hook keeps the pair apart
    z_un, st_un, ran_un = _run(unfused, x, v0.clone())
    assert ("lif", "cpu+events") not in ran_un and ("lif", "cpu") in ran_un
    assert torch.equal(z, z_un) and torch.equal(st.v, st_un.v)

    g = torch.Generator().manual_seed(6)
    gz, gv = torch.randn(z.shape, generator=g, dtype=dtype), torch.randn(st.v.shape, generator=g, dtype=dtype)
    loss = (z * gz).sum() + (st.v * gv).sum()
    loss_ref = (z_ref * gz).sum() + (st_ref.v * gv).sum()
    params = [*fused.parameters(), v0a]
    params_ref = [*ref.parameters(), v0b]
    assert len(params) == len(params_ref) == 3 + 2 * bool(learn)
    got = torch.autograd.grad(loss, params)
    want = torch.autograd.grad(loss_ref, params_ref)
    for a, b in zip(got, want):
        scale = float(b.abs().max()) + 1.0
        torch.testing.assert_close(a, b, atol=TOL[dtype] * scale, rtol=0)


@pytest.mark.parametrize("bias", [True, False])
def test_gradient_of_the_final_state_alone_and_without_bias(bias):
    x = _spikes(25, 2, 20, torch.float64)
    fused, ref = _pair(20, 70, torch.float64, bias=bias), _pair(20, 70, torch.float64, fused=False, bias=bias)
    (_, st, ran), (_, st_ref, _) = _run(fused, x), _run(ref, x)
    assert ran == [("lif", "cpu+events")]
    got = torch.autograd.grad(st.v.sum(), list(fused.parameters()))
    want = torch.autograd.grad(st_ref.v.sum(), list(ref.parameters()))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_weight_gradient_does_not_depend_on_the_thread_count(dtype):
    x = _spikes(300, 8, 90, dtype, density=0.05)
    grads = []
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            net = _pair(90, 200, dtype)
            z, _, ran = _run(net, x)
            assert ran == [("lif", "cpu+events")]
            z.sum().backward()
            grads.append([p.grad.clone() for p in net.parameters()])
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*grads):
        assert torch.equal(a, b)


class _UserSigmoid(Surrogate):
    """A surrogate without a kernel id (its derivative is evaluated by torch)."""

    def primitive(self, x):
        return torch.sigmoid(4 * x)

    def derivative(self, x):
        s = torch.sigmoid(4 * x)
        return 4 * s * (1 - s)


@pytest.mark.filterwarnings("ignore::spikeforge.kernels.FallbackWarning")  # tau_syn: LIF runs its reference
@pytest.mark.parametrize(
    "case", ["hook on the synapse", "custom surrogate", "input needs a gradient", "no grad", "tau_syn", "dense mode"]
)
def test_runs_unfused_where_the_fused_kernel_does_not_apply(case):
    x = _spikes(20, 2, 16, torch.float32)
    net = _pair(16, 32, torch.float32, surrogate=_UserSigmoid() if case == "custom surrogate" else None)
    if case == "hook on the synapse":
        net[0].register_forward_hook(lambda *_: None)
    if case == "input needs a gradient":
        x.requires_grad_()
    if case == "tau_syn":
        net[1] = sf.LIF(32, tau_syn=5e-3)
    if case == "dense mode":
        net[0].mode = "dense"
    if case == "no grad":
        with torch.no_grad(), kernels.trace() as ran:
            net(x)
    else:
        _, _, ran = _run(net, x)
    assert ("lif", "cpu+events") not in ran


def test_a_non_finite_weight_is_named():
    net = _pair(16, 32, torch.float32)
    with torch.no_grad():
        net[0].weight[3, 2] = float("nan")
    x = torch.ones(5, 2, 16)
    with pytest.raises(ValueError, match=r"weight.*NaN"):
        net(x)


def test_only_the_spikes_are_kept_for_the_backward():
    """Every tensor autograd keeps from the forward is far smaller than the [T, B, out] current."""
    x = _spikes(200, 4, 50, torch.float32, density=0.05)
    net = _pair(50, 128, torch.float32)
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    _run(net, x)  # the first call of a shape times the fused kernel against the pair (whose tensors it saves)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _, _, ran = _run(net, x)
    assert ran == [("lif", "cpu+events")]
    current = 200 * 4 * 128 * 4
    assert saved and max(saved) < current / 4, saved


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_if_fuses_too(reset):
    x = _spikes(30, 3, 24, torch.float64)
    nets = []
    for fused in (True, False):
        torch.manual_seed(8)
        syn = (EventLinear if fused else torch.nn.Linear)(24, 40, dtype=torch.float64)
        if fused:
            syn.mode = "event"
        if_layer = sf.IF(40, threshold=0.4, reset=reset, backend="auto" if fused else "torch", dtype=torch.float64)
        nets.append(sf.SequentialState(syn, if_layer))
    with kernels.trace() as ran:
        z, st = nets[0](x)
    z_ref, st_ref = nets[1](x)
    assert ran == [("if", "cpu+events")] and kernels.backend_of(nets[0][1]) == "cpu+events"
    assert 0.02 < float(z.detach().mean()) < 0.5
    assert torch.equal(z, z_ref)
    torch.testing.assert_close(st[1].v, st_ref[1].v, atol=1e-12, rtol=0)
    gz = torch.randn(z.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    got = torch.autograd.grad((z * gz).sum(), list(nets[0].parameters()))
    want = torch.autograd.grad((z_ref * gz).sum(), list(nets[1].parameters()))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-11 * (1 + float(b.abs().max())), rtol=0)


def test_the_pair_runs_separately_where_it_timed_faster(monkeypatch):
    from spikeforge import _choice

    chooser = _choice.PathChooser(measure=lambda fn: (fn(), 1.0 if fn.__name__ == "separate" else 2.0)[1], reps=1)
    monkeypatch.setattr(_choice, "CHOOSER", chooser)
    x = _spikes(30, 2, 20, torch.float64)
    net, ref = _pair(20, 48, torch.float64), _pair(20, 48, torch.float64, fused=False)
    calls = []
    real_index = __import__("spikeforge.synapses._event", fromlist=["_index"])._index
    monkeypatch.setattr("spikeforge.synapses._event._index", lambda x2: calls.append(1) or real_index(x2))
    z, st, ran = _run(net, x)
    assert ran == [("lif", "cpu")] and kernels.backend_of(net[1]) == "cpu"
    assert [d["path"] for d in chooser.decisions.values()] == ["separate"]
    assert len(calls) == 1, "the pair reuses the spike indices of the decision"
    z_ref, st_ref, _ = _run(ref, x)
    assert torch.equal(z, z_ref)
    torch.testing.assert_close(st.i, st_ref.i, atol=1e-12, rtol=0)
    got = torch.autograd.grad(z.sum(), list(net.parameters()))
    want = torch.autograd.grad(z_ref.sum(), list(ref.parameters()))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-11 * (1 + float(b.abs().max())), rtol=0)


def test_a_state_carried_from_an_earlier_call_keeps_its_graph():
    """Truncated sequences: the second call (another length, so it is timed first) starts from the first call's
    state, and the gradient flows back through both, as through the whole sequence."""
    x = _spikes(40, 2, 20, torch.float64)
    net, ref = _pair(20, 48, torch.float64), _pair(20, 48, torch.float64, fused=False)
    z1, st1 = net(x[:15])
    z2, _ = net(x[15:], st1)
    z_ref, _ = ref(x)
    assert torch.equal(torch.cat([z1, z2]), z_ref)
    (z1.sum() + 2 * z2.sum()).backward()
    (z_ref[:15].sum() + 2 * z_ref[15:].sum()).backward()
    for p, q in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-11 * (1 + float(q.grad.abs().max())), rtol=0)


def test_the_backend_a_layer_trained_with_outlives_an_inference_pass():
    """The training summary reports ``train_backend_of``: an evaluation pass afterwards (no gradients, the pair
    unfused) does not overwrite it."""
    x = _spikes(20, 2, 16, torch.float32)
    net = _pair(16, 32, torch.float32)
    net(x)
    with torch.no_grad():
        net(x)
    assert kernels.backend_of(net[1]) == "cpu"
    assert kernels.train_backend_of(net[1]) == "cpu+events"
