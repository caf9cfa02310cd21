"""Checkpointing over time chunks: outputs, final states and every gradient equal the unchunked run (float64)."""

import pytest
import torch

import spikeforge as sf
from spikeforge import kernels
from spikeforge.synapses._event import EventLinear
from spikeforge.units import ms

T = 23  # prime: most chunk sizes do not divide it
CHUNKS = [1, 2, 5, 7, 11, 22, 23, 40]
TOL = {"rtol": 1e-11, "atol": 1e-12}
#: cpu_lean stores h - threshold in float16 within a kernel call; a chunk boundary restarts from the exact state,
#: so chunked and unchunked lean gradients differ by that rounding (the tolerance of tests/kernels, relative to the
#: largest magnitude)
LEAN_TOL = 3e-3


def _net(backend: str, synapse: str = "linear") -> torch.nn.Module:
    dtype = torch.float64
    first = (
        EventLinear(12, 16, mode="event", dtype=dtype) if synapse == "event" else torch.nn.Linear(12, 16, dtype=dtype)
    )
    second = (
        EventLinear(16, 4, mode="event", dtype=dtype) if synapse == "event" else torch.nn.Linear(16, 4, dtype=dtype)
    )
    with torch.no_grad():
        first.weight.mul_(3.0)
    return sf.SequentialState(
        first,
        sf.LIF(16, learn=("tau_mem", "threshold"), backend=backend, dtype=dtype),
        second,
        sf.LI(4, backend="torch" if backend == "torch" else "auto", dtype=dtype),
    )


def _grads(net, x, state, run):
    net.zero_grad()
    leaves = [x] + [t for s in state if s is not None for t in s] if state is not None else [x]
    for t in leaves:
        t.grad = None
    out, final = run(x, state)
    loss = (out * torch.linspace(-1, 1, out.shape[-1], dtype=out.dtype)).sum() + (out**2).mean()
    loss = loss + sum(f.v.square().sum() for f in final if f is not None)  # gradient through the final state too
    loss.backward()
    grads = [p.grad.clone() for p in net.parameters()] + [t.grad.clone() for t in leaves if t.grad is not None]
    return out.detach(), final, grads


def _initial_state(net, x):
    with torch.no_grad():
        _, state = net(x[:3])  # a non-resting state at the start
    return [None if s is None else type(s)(*(t.clone().requires_grad_() for t in s)) for s in state]


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("backend", ["torch", "cpu", "cpu_lean"])
def test_gradients_equal_unchunked(backend, chunk):
    if backend != "torch" and backend not in kernels.available("lif"):
        pytest.skip(f"backend {backend} not built here")
    net = _net(backend)
    x = (torch.rand(T, 3, 12, dtype=torch.float64) * 0.8).requires_grad_()
    state = _initial_state(net, x)
    out_ref, final_ref, g_ref = _grads(net, x, state, net)
    assert 0 < float((out_ref != 0).float().mean())
    out, final, g = _grads(net, x, state, sf.checkpoint_time(net, chunk=chunk))
    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(final, final_ref):
        if b is not None:
            for ta, tb in zip(a, b):
                torch.testing.assert_close(ta, tb, **TOL)
    assert len(g) == len(g_ref)
    for a, b in zip(g, g_ref):
        if backend == "cpu_lean":
            assert float((a - b).abs().max()) <= LEAN_TOL * float(b.abs().max()), (a, b)
        else:
            torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("chunk", [1, 4, 9, 23])
def test_event_synapses_and_hidden_spikes(chunk):
    if "cpu" not in kernels.available("lif"):
        pytest.skip("fused kernels not built here")
    net = _net("cpu", synapse="event")
    x = (torch.rand(T, 3, 12, dtype=torch.float64) < 0.2).double()  # binary spikes: the event path runs
    state = [None] * 4
    net.zero_grad()
    out_ref, _ = net(x)
    out_ref.square().sum().backward()
    g_ref = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    out, _ = sf.checkpoint_time(net, chunk=chunk)(x, state)
    out.square().sum().backward()
    torch.testing.assert_close(out, out_ref, **TOL)
    for p, b in zip(net.parameters(), g_ref):
        torch.testing.assert_close(p.grad, b, **TOL)


@pytest.mark.parametrize("chunk", [3, 23, 100])
def test_stateless_module(chunk):
    lift = sf.Lift(torch.nn.Linear(5, 2, dtype=torch.float64))
    wrapped = sf.checkpoint_time(lift, chunk=chunk)
    assert not wrapped.stateful
    x = torch.rand(T, 2, 5, dtype=torch.float64, requires_grad=True)
    lift(x).tanh().sum().backward()
    g = (x.grad.clone(), lift.module.weight.grad.clone())
    x.grad = None
    lift.zero_grad()
    out = wrapped(x)
    assert isinstance(out, torch.Tensor) and out.shape == (T, 2, 2)
    out.tanh().sum().backward()
    torch.testing.assert_close(x.grad, g[0], **TOL)
    torch.testing.assert_close(lift.module.weight.grad, g[1], **TOL)
    with pytest.raises(ValueError, match="stateless"):
        wrapped(x, [None])


def test_single_neuron_and_nested_in_sequential_state():
    lif = sf.LIF(6, tau_syn=5 * ms, dtype=torch.float64)  # two-variable state, torch reference scan
    lin = torch.nn.Linear(4, 6, dtype=torch.float64)
    plain = sf.SequentialState(lin, lif)
    nested = sf.SequentialState(lin, sf.checkpoint_time(lif, chunk=6))
    x = torch.rand(T, 2, 4, dtype=torch.float64) * 3
    results = []
    for net in (plain, nested):
        net.zero_grad()
        z, states = net(x)
        (z.sum() + states[1].v.sum()).backward()
        results.append((z.detach(), states[1], lin.weight.grad.clone()))
    (z_ref, s_ref, g_ref), (z, s, g) = results
    torch.testing.assert_close(z, z_ref, **TOL)
    torch.testing.assert_close(g, g_ref, **TOL)
    for a, b in zip(s, s_ref):
        torch.testing.assert_close(a, b, **TOL)


def test_dropout_masks_are_replayed_in_the_recomputation():
    """With randomness from torch's default generator, the recomputed chunk draws the same masks, so the gradients
    equal those of the same chunked run without checkpointing (the unchunked run draws different masks)."""
    net = sf.SequentialState(
        torch.nn.Linear(8, 10, dtype=torch.float64),
        torch.nn.Dropout(0.3),
        sf.LIF(10, dtype=torch.float64),
        torch.nn.Linear(10, 3, dtype=torch.float64),
        sf.LI(3, dtype=torch.float64),
    )
    x = torch.rand(T, 4, 8, dtype=torch.float64) * 2
    chunk = 5

    torch.manual_seed(7)
    outs, state = [], None
    for start in range(0, T, chunk):
        out, state = net(x[start : start + chunk], state)
        outs.append(out)
    torch.cat(outs).square().sum().backward()
    g_ref = [p.grad.clone() for p in net.parameters()]

    net.zero_grad()
    torch.manual_seed(7)
    out, _ = sf.checkpoint_time(net, chunk=chunk)(x)
    out.square().sum().backward()
    torch.testing.assert_close(out, torch.cat(outs).detach(), **TOL)
    for p, b in zip(net.parameters(), g_ref):
        torch.testing.assert_close(p.grad, b, **TOL)


def test_no_grad_runs_the_chunks_plainly():
    net = _net("torch")
    x = torch.rand(T, 2, 12, dtype=torch.float64)
    with torch.no_grad():
        ref, _ = net(x)
        out, _ = sf.checkpoint_time(net, chunk=4)(x)
    assert not out.requires_grad
    torch.testing.assert_close(out, ref, **TOL)


def test_boundary_states_do_not_keep_the_chunk_alive():
    lif = sf.LIF(8, dtype=torch.float64)  # its state keeps the last input step, a view of the whole chunk
    x = torch.rand(T, 2, 8, dtype=torch.float64, requires_grad=True)
    _, state = sf.checkpoint_time(lif, chunk=5)(x * 2)
    for t in state:
        assert t.untyped_storage().nbytes() == t.numel() * t.element_size()


def test_clear_errors():
    with pytest.raises(ValueError, match="chunk"):
        sf.checkpoint_time(sf.LIF(2), chunk=0)
    with pytest.raises(ValueError, match="chunk"):
        sf.CheckpointTime(sf.LIF(2), chunk=2.5)
    with pytest.raises(TypeError, match="module"):
        sf.CheckpointTime(lambda x: x, chunk=2)
    bn = sf.checkpoint_time(sf.SequentialState(torch.nn.BatchNorm1d(3), sf.LIF(3)), chunk=4)
    with pytest.raises(ValueError, match="BatchNorm"):
        bn(torch.rand(8, 2, 3))
    bn.eval()
    bn(torch.rand(8, 2, 3))  # running statistics: fine in eval mode
    with pytest.raises(ValueError, match="record"):
        sf.checkpoint_time(sf.LIF(3, record=True), chunk=4)(torch.rand(8, 2, 3))
    with pytest.raises(ValueError, match=r"\[T, B"):
        sf.checkpoint_time(sf.LIF(3), chunk=4)(torch.rand(3))
    assert "chunk=4" in repr(sf.checkpoint_time(sf.LIF(3), chunk=4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gradients_dropout_and_memory():
    """On a GPU (Triton LIF where available): dropout masks replayed from the CUDA generator, gradients equal the
    same chunks run without checkpointing, and the peak of allocated memory stays near one chunk's."""
    dev = torch.device("cuda")
    net = sf.SequentialState(
        torch.nn.Linear(64, 256), torch.nn.Dropout(0.2), sf.LIF(256), torch.nn.Linear(256, 8), sf.LI(8)
    ).to(dev)
    x = (torch.rand(400, 16, 64, device=dev) < 0.1).float()
    chunk = 50

    def peak(fn):
        net.zero_grad()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        torch.manual_seed(3)
        out = fn()
        out.square().sum().backward()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before, out.detach(), [p.grad.clone() for p in net.parameters()]

    def chunks_plain():
        outs, state = [], None
        for start in range(0, x.shape[0], chunk):
            out, state = net(x[start : start + chunk], state)
            outs.append(out)
        return torch.cat(outs)

    mem_ref, out_ref, g_ref = peak(chunks_plain)
    mem, out, g = peak(lambda: sf.checkpoint_time(net, chunk=chunk)(x)[0])
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert mem < mem_ref / 3, (mem, mem_ref)


def test_torch_compile_of_a_checkpointed_model_matches_eager():
    net = sf.SequentialState(torch.nn.Linear(6, 16), sf.LIF(16), torch.nn.Linear(16, 3), sf.LI(3))
    wrapped = sf.checkpoint_time(net, chunk=8)
    x = torch.rand(20, 2, 6) * 2
    out, _ = wrapped(x)
    out.square().sum().backward()
    g = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    out_c, _ = torch.compile(wrapped)(x)
    out_c.square().sum().backward()
    torch.testing.assert_close(out_c, out)
    for p, b in zip(net.parameters(), g):
        torch.testing.assert_close(p.grad, b)
