"""Event-driven linear synapses give the dense layer's results, forward and backward."""

from __future__ import annotations

import pytest
import torch

from spikeforge import kernels
from spikeforge.synapses._event import EventLinear, event_linear

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.1, 0.6])
@pytest.mark.parametrize("bias", [True, False])
def test_event_path_equals_dense(dtype, density, bias):
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(30, 4, 50, generator=g) < density).to(dtype).requires_grad_()
    layer = EventLinear(50, 13, bias=bias, mode="event", dtype=dtype)
    y = layer(x)
    y_ref = torch.nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(y, y_ref, atol=TOL[dtype], rtol=0)
    go = torch.randn(y.shape, generator=g, dtype=dtype)
    params = (x, layer.weight) + ((layer.bias,) if bias else ())
    got = torch.autograd.grad(y, params, go)
    want = torch.autograd.grad(y_ref, params, go)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=TOL[dtype] * 10, rtol=0)


def test_two_threads_large_input():
    torch.set_num_threads(2)
    x = (torch.rand(64, 32, 200) < 0.05).double()
    w = torch.randn(96, 200, dtype=torch.float64, requires_grad=True)
    y = event_linear(x, w, mode="event")
    torch.testing.assert_close(y, x @ w.t(), atol=1e-12, rtol=0)
    go = torch.randn_like(y)
    (gw,) = torch.autograd.grad(y, w, go)
    torch.testing.assert_close(gw, (go.reshape(-1, 96).t() @ x.reshape(-1, 200)), atol=1e-10, rtol=0)


def test_auto_chooses_by_density_and_binary_input(monkeypatch):
    from spikeforge.synapses import _event

    calls = []
    real = _event._EventLinear.apply
    monkeypatch.setattr(_event._EventLinear, "apply", lambda *a: calls.append(1) or real(*a))
    layer = EventLinear(40, 5, crossover=0.2)
    sparse = (torch.rand(10, 40) < 0.05).float()
    dense = (torch.rand(10, 40) < 0.6).float()
    graded = torch.rand(10, 40) * (torch.rand(10, 40) < 0.05)
    layer(sparse)
    assert len(calls) == 1
    layer(dense)
    layer(graded)  # not spikes: dense path, same result as nn.Linear
    assert len(calls) == 1
    torch.testing.assert_close(layer(graded), torch.nn.functional.linear(graded, layer.weight, layer.bias))


def test_clear_errors():
    with pytest.raises(ValueError, match="mode"):
        EventLinear(3, 2, mode="sparse")
    with pytest.raises(ValueError, match="only 0 and 1"):
        EventLinear(3, 2, mode="event")(torch.full((2, 3), 0.5))
    layer = EventLinear(3, 2, mode="dense")
    assert "mode='dense'" in repr(layer)
    # state dict compatible with nn.Linear
    lin = torch.nn.Linear(3, 2)
    layer.load_state_dict(lin.state_dict())
    x = (torch.rand(4, 3) < 0.5).float()
    torch.testing.assert_close(layer(x), lin(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["auto", "event"])
def test_inference_one_pass_equals_dense(dtype, mode):
    layer = EventLinear(120, 9, mode=mode, dtype=dtype)
    x = (torch.rand(40, 3, 120) < 0.03).to(dtype)
    with torch.no_grad():
        y = layer(x)
        torch.testing.assert_close(y, torch.nn.functional.linear(x, layer.weight, layer.bias), atol=TOL[dtype], rtol=0)
        graded = x * 0.5
        if mode == "event":
            with pytest.raises(ValueError, match="only 0 and 1"):
                layer(graded)
        else:
            torch.testing.assert_close(layer(graded), torch.nn.functional.linear(graded, layer.weight, layer.bias))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("width", [1, 15, 16, 17, 33, 700])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_spike_indices_equal_the_nonzero_entries_row_by_row(monkeypatch, dtype, width, n_threads):
    """The index kernel (sixteen entries per compare where the CPU has AVX-512, a plain loop for the rest of a row;
    rows split between threads, then packed) lists exactly the non-zero columns of every row, in order: empty rows,
    full rows, NaN and 2.0 (non-zero, flagged)."""
    from spikeforge.synapses import _event

    monkeypatch.setattr(_event, "_threads", lambda work: n_threads)
    g = torch.Generator().manual_seed(width)
    x = (torch.rand(70, width, generator=g) < 0.3).to(dtype)
    x[0] = 0  # an empty row
    x[1] = 1  # a full row
    total, binary, cols, offsets = _event._index(x)
    assert binary and total == int(x.count_nonzero()) == len(cols) and int(offsets[-1]) == total
    for i in range(x.shape[0]):
        expected = x[i].nonzero().flatten().to(torch.int32)
        assert torch.equal(cols[offsets[i] : offsets[i + 1]], expected), i
    for odd in (float("nan"), 2.0):
        y = x.clone()
        y[2, width // 2] = odd
        total, binary, cols, offsets = _event._index(y)
        assert not binary and int(width // 2) in cols[offsets[2] : offsets[3]].tolist()


def _events(dtype, rows, width, seed):
    from spikeforge.synapses._event import _index

    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(rows, width, generator=g) < 0.1).to(dtype)
    x[:, 5] = 0  # a column without events
    _, _, cols, offsets = _index(x)
    return g, x, cols, offsets


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("out", [37, 300])
def test_weight_gradient_scatter_adds_in_row_order_on_any_thread_count(dtype, n_threads, out):
    """The scatter kernel called directly with 1-3 threads gives, bit for bit, one walk over the rows in order
    adding each row's grad to its columns (out = 37: the scalar tail only, one block of rows; 300: vectors and a tail,
    1000 rows in several blocks of rows)."""
    from spikeforge.kernels.cpu import library

    g, x, cols, offsets = _events(dtype, 1000, 90, n_threads)
    grad = torch.randn(1000, out, generator=g, dtype=dtype)
    gwt = torch.full((90, out), float("nan"), dtype=dtype)  # every entry is written
    suffix = "f64" if dtype == torch.float64 else "f32"
    getattr(library(), f"sf_events_scatter_{suffix}")(
        cols.data_ptr(), offsets.data_ptr(), grad.data_ptr(), gwt.data_ptr(), 1000, 90, out, n_threads
    )
    sequential = torch.zeros(90, out, dtype=dtype)
    for i in range(1000):  # a 0 entry adds a signed zero, which changes no sum
        sequential += x[i][:, None] * grad[i]
    assert torch.equal(gwt, sequential)
    assert torch.allclose(gwt, x.t() @ grad, rtol=0, atol=TOL[dtype] * 10 * float(gwt.abs().max()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("out", [37, 300])
@pytest.mark.parametrize("bias", [True, False])
def test_gather_adds_each_rows_weights_in_column_order(dtype, out, bias):
    """The gather kernel gives, bit for bit, the bias plus the active inputs' weight rows added in column order."""
    from spikeforge.kernels.cpu import library

    g, x, cols, offsets = _events(dtype, 200, 90, 0)
    wt = torch.randn(90, out, generator=g, dtype=dtype)
    b = torch.randn(out, generator=g, dtype=dtype) if bias else None
    y = torch.full((200, out), float("nan"), dtype=dtype)
    suffix = "f64" if dtype == torch.float64 else "f32"
    getattr(library(), f"sf_events_gather_{suffix}")(
        cols.data_ptr(),
        offsets.data_ptr(),
        wt.data_ptr(),
        None if b is None else b.data_ptr(),
        y.data_ptr(),
        200,
        out,
        2,
    )
    sequential = (b if bias else torch.zeros(out, dtype=dtype)).expand(200, out).clone()
    for c in range(90):
        sequential += x[:, c : c + 1] * wt[c]
    assert torch.equal(y, sequential)
