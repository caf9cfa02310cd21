"""EventProp: exact spike times (against scipy's ODE solver), adjoint gradients against central finite differences
(float64; every perturbation is checked to keep the spike counts), the losses, and a short Yin-Yang training run
that must clear the linear-classifier floor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikeforge.data import load_yinyang, yinyang_points
from spikeforge.data._yinyang import yinyang_class, yinyang_features
from spikeforge.learning.online import (
    EventLIFParams,
    EventPropNet,
    SpikeList,
    event_lif,
    event_lif_max,
    first_spike_times,
    max_membrane_loss,
    ttfs_loss,
)

P = EventLIFParams(tau_mem=20e-3, tau_syn=5e-3, threshold=1.0)
REL = 1e-6  # stated bound on |adjoint - finite difference| / |finite difference|


def _inputs(seed=0, b=3, m=8, n_in=4, span=0.02):
    g = torch.Generator().manual_seed(seed)
    t = torch.sort(torch.rand(b, m, generator=g, dtype=torch.float64) * span, 1).values
    return SpikeList(t, torch.randint(0, n_in, (b, m), generator=g), n_in)


def test_spike_times_match_scipy_ode_solver():
    from scipy.integrate import solve_ivp

    arrivals = [(0.001, 3.0), (0.004, 4.0), (0.011, 6.0), (0.013, -2.0), (0.02, 9.0)]  # (time s, current jump)
    inp = SpikeList(torch.tensor([[t for t, _ in arrivals]], dtype=torch.float64), torch.arange(5)[None], 5)
    w = torch.tensor([[j for _, j in arrivals]], dtype=torch.float64)
    got = event_lif(inp, w, params=P, t_end=0.06)
    got = got.times[got.valid].tolist()

    def rhs(t, s):
        return [(-s[0] + s[1]) / P.tau_mem, -s[1] / P.tau_syn]

    def hit(t, s):
        return s[0] - P.threshold

    hit.terminal, hit.direction = True, 1
    ref = []
    bounds = [a[0] for a in arrivals] + [0.06]
    t0, state = bounds[0], [0.0, arrivals[0][1]]
    for k in range(len(arrivals)):
        t1 = bounds[k + 1]
        while True:
            sol = solve_ivp(rhs, (t0, t1), state, events=hit, rtol=1e-12, atol=1e-14)
            if sol.status == 1:  # a spike: reset and go on from it
                ts = sol.t_events[0][0]
                ref.append(ts)
                state, t0 = [0.0, sol.y_events[0][0][1]], ts
                continue
            state, t0 = list(sol.y[:, -1]), t1
            break
        if k + 1 < len(arrivals):
            state[1] += arrivals[k + 1][1]
    assert len(ref) >= 2
    assert np.allclose(got, ref, atol=1e-9, rtol=0)


def _fd_check(loss_of, weights, counts_of, eps=1e-6, per_tensor=6):
    """Central differences at ``per_tensor`` entries of each weight (drawn with a fixed seed)."""
    base = loss_of(*weights)
    grads = torch.autograd.grad(base, weights)
    counts = counts_of(*[w.detach() for w in weights])
    pick = torch.Generator().manual_seed(7)
    for k, (w, g) in enumerate(zip(weights, grads, strict=True)):
        entries = torch.randperm(w.numel(), generator=pick)[:per_tensor].tolist()
        g = g.reshape(-1)[entries]
        fd = torch.zeros_like(g)
        for slot, e in enumerate(entries):
            for sign in (1, -1):
                ws = [x.detach().clone() for x in weights]
                ws[k].view(-1)[e] += sign * eps
                assert counts_of(*ws) == counts, "a perturbation changed the spike counts"
                fd[slot] += sign * loss_of(*ws).item() / (2 * eps)
        assert fd.norm() > 0
        assert ((g - fd).norm() / fd.norm()).item() < REL, (k, g, fd)


@pytest.mark.parametrize("recurrent", [False, True])
def test_gradients_match_finite_differences(recurrent):
    torch.manual_seed(0)
    inp = _inputs()
    g = torch.Generator().manual_seed(1)
    w1 = (torch.randn(5, 4, generator=g, dtype=torch.float64) * 2 + 1.5).requires_grad_()
    wr = (torch.randn(5, 5, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
    w2 = (torch.randn(3, 5, generator=g, dtype=torch.float64) * 2 + 2.0).requires_grad_()
    labels = torch.tensor([0, 2, 1])

    def net(w1, wr, w2):
        h = event_lif(inp, w1, recurrent=wr if recurrent else None, params=P, t_end=0.05)
        return h, event_lif(h, w2, params=P, t_end=0.05)

    def loss(w1, wr, w2):
        h, o = net(w1, wr, w2)
        first = first_spike_times(o, 0.05)
        vmax = event_lif_max(h, w2, params=P, t_end=0.05, dt=1e-3)
        return ttfs_loss(first, labels, tau0=5e-3, tau1=20e-3, alpha=0.1) + max_membrane_loss(vmax, labels)

    def counts(w1, wr, w2):
        h, o = net(w1, wr, w2)
        return h.count().tolist(), o.count().tolist()

    hc, oc = counts(w1.detach(), wr.detach(), w2.detach())
    assert sum(hc) >= 6 and sum(oc) >= 2  # the test exercises spikes in both layers
    if recurrent:
        _fd_check(loss, [w1, wr, w2], counts)
    else:
        _fd_check(lambda a, b: loss(a, wr, b), [w1, w2], lambda a, b: counts(a, wr, b))


def test_gradients_for_raster_input_and_input_times():
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(30, 2, 6, generator=g) < 0.15).double()
    w = (torch.randn(4, 6, generator=g, dtype=torch.float64) * 2 + 2.5).requires_grad_()
    out = event_lif(x, w, params=P, t_end=0.04, dt=1e-3)
    assert out.count().sum() >= 3

    def f(w):
        o = event_lif(x, w, params=P, t_end=0.04, dt=1e-3)
        return (torch.where(o.valid, o.times, torch.zeros_like(o.times)) ** 2).sum() * 1e3

    _fd_check(f, [w], lambda w: event_lif(x, w, params=P, t_end=0.04, dt=1e-3).count().tolist())
    # input spike times receive dL/dt too
    inp = _inputs(seed=4, b=2, m=6, n_in=3)
    times = inp.times.clone().requires_grad_()
    w2 = torch.full((2, 3), 5.0, dtype=torch.float64)

    def g_of(t):
        o = event_lif(SpikeList(t, inp.index, 3), w2, params=P, t_end=0.05)
        return torch.where(o.valid, o.times, torch.zeros_like(o.times)).sum()

    (gt,) = torch.autograd.grad(g_of(times), times)
    fd = torch.zeros_like(times)
    for e in range(times.numel()):
        tp, tm = times.detach().clone(), times.detach().clone()
        tp.view(-1)[e] += 1e-7
        tm.view(-1)[e] -= 1e-7
        fd.view(-1)[e] = (g_of(tp) - g_of(tm)) / 2e-7
    assert ((gt - fd).norm() / fd.norm()).item() < REL


def test_losses_follow_their_formulas():
    t = torch.tensor([[0.010, 0.012, 0.030], [0.02, 0.005, 0.06]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    tau0, tau1, alpha = 2e-3, 10e-3, 0.1
    expected = 0.0
    for b in range(2):
        logits = [-v / tau0 for v in t[b].tolist()]
        expected += -(logits[y[b]] - math.log(sum(math.exp(v) for v in logits)))
        expected += alpha * (math.exp(t[b, y[b]].item() / tau1) - 1)
    assert ttfs_loss(t, y, tau0=tau0, tau1=tau1, alpha=alpha).item() == pytest.approx(expected / 2, rel=1e-12)
    v = torch.tensor([[1.0, 2.0, 0.5]], dtype=torch.float64)
    ce = -(2.0 - math.log(math.exp(1) + math.exp(2) + math.exp(0.5)))
    assert max_membrane_loss(v, torch.tensor([1])).item() == pytest.approx(ce, rel=1e-12)
    s = SpikeList(
        torch.tensor([[0.001, 0.002, 0.003, math.inf]], dtype=torch.float64), torch.tensor([[2, 0, 2, -1]]), 3
    )
    assert first_spike_times(s, 0.05).tolist() == [[0.002, 0.05, 0.001]]


def test_bad_inputs_are_refused_by_name():
    inp = _inputs()
    with pytest.raises(ValueError, match="weight: expected finite weights, got NaN or Inf"):
        event_lif(inp, torch.full((2, 4), math.nan, dtype=torch.float64), t_end=0.01)
    with pytest.raises(ValueError, match=r"weight: expected shape \[None, 4\], got \[2, 3\]"):
        event_lif(inp, torch.ones(2, 3, dtype=torch.float64), t_end=0.01)
    with pytest.raises(ValueError, match="t_end: expected a positive finite time"):
        event_lif(inp, torch.ones(2, 4, dtype=torch.float64), t_end=math.inf)
    with pytest.raises(ValueError, match="tau_syn: expected a value different from tau_mem"):
        EventLIFParams(tau_mem=5e-3, tau_syn=5e-3)
    with pytest.raises(ValueError, match="first_times: expected finite times"):
        ttfs_loss(torch.tensor([[math.nan, 0.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"labels: expected classes in \[0, 1\]"):
        max_membrane_loss(torch.zeros(1, 2), torch.tensor([2]))


def test_yinyang_geometry_balance_and_linear_floor():
    # reference points of the symbol: the dots, the yin half with its small disc, the yang half with its own
    pts = np.array([[0.25, 0.5], [0.75, 0.5], [0.5, 0.9], [0.25, 0.65], [0.5, 0.1], [0.75, 0.35]])
    assert yinyang_class(pts[:, 0], pts[:, 1]).tolist() == [2, 2, 1, 1, 0, 0]
    a, ya = yinyang_points(3000, seed=5)
    b, yb = yinyang_points(3000, seed=5)
    assert np.array_equal(a, b) and np.array_equal(ya, yb)
    assert np.all(np.hypot(a[:, 0] - 0.5, a[:, 1] - 0.5) <= 0.5)
    assert np.all(np.abs(np.bincount(ya) / 3000 - 1 / 3) < 0.03)
    from sklearn.linear_model import LogisticRegression

    split = load_yinyang()
    feats = lambda p: yinyang_features(p).numpy()  # noqa: E731
    clf = LogisticRegression(max_iter=1000).fit(feats(split.points_train), split.y_train.numpy())
    linear = clf.score(feats(split.points_test), split.y_test.numpy())
    assert 0.58 < linear < 0.72  # the published shallow baseline is about 64%
    assert split.x_train.shape == (60, 5000, 5) and split.x_train.sum().item() == 5000 * 5


def test_short_yinyang_training_beats_the_linear_floor():
    split = load_yinyang()
    g = torch.Generator().manual_seed(0)
    net = EventPropNet([5, 60, 3], init=[(1.5, 1.2), (45 / 60, 10 / math.sqrt(60))], generator=g, t_end=0.06)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)

    def spikes(part, idx):
        t, order = torch.sort(split.spike_times(part)[idx], 1)
        return SpikeList(t, order, 5)

    order = torch.randperm(5000, generator=g)
    for k in range(0, 4800, 32):  # 150 steps of 32 (81% here; the linear floor is 66.5%)
        idx = order[k : k + 32]
        loss = net.loss(net(spikes("train", idx)), split.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        idx = torch.arange(600)
        acc = (net.scores(net(spikes("val", idx))).argmax(1) == split.y_val[idx]).double().mean().item()
    assert acc > 0.75, acc


def test_train_method_eventprop_runs_and_refuses_what_it_cannot_train():
    import dataclasses

    from spikeforge.data import SeriesSplit
    from spikeforge.learning import METHODS, TrainConfig
    from spikeforge.learning.online import check_eventprop, fit_eventprop
    from spikeforge.models import build_model

    assert METHODS["eventprop"].load() is fit_eventprop
    full = load_yinyang()
    small = SeriesSplit(
        "yy-small",
        *(full.x_train[:, :96], full.y_train[:96], full.len_train[:96]),
        *(full.x_val[:, :64], full.y_val[:64], full.len_val[:64]),
        *(full.x_test[:, :8], full.y_test[:8], full.len_test[:8]),
        3,
        full.class_names,
        full.mean,
        full.std,
    )
    cfg = TrainConfig(epochs=1, batch_size=48, lr=5e-3, readout="max")
    model = build_model({"model": "mlp", "neuron": "cubalif", "input_shape": [5], "n_classes": 3, "hidden": [16]})
    before = model[1].weight.detach().clone()
    history = fit_eventprop(model, small, cfg)
    assert [row["epoch"] for row in history] == [1]
    assert {"train_loss", "val_accuracy", "val_loss"} <= set(history[0])
    assert not torch.equal(model[1].weight, before) and float(model[1].bias.detach().abs().sum()) == 0.0
    with pytest.raises(ValueError, match="readout: EventProp trains the first-spike"):
        check_eventprop(model, dataclasses.replace(cfg, readout="mean"))
    with pytest.raises(ValueError, match="output: EventProp's 'first' readout needs output 'cubalif', got LI"):
        check_eventprop(model, dataclasses.replace(cfg, readout="first"))
    lif = build_model({"model": "mlp", "input_shape": [5], "n_classes": 3, "hidden": [16]})
    with pytest.raises(ValueError, match="neuron: EventProp trains current-based LIF layers"):
        check_eventprop(lif, cfg)
    with pytest.raises(ValueError, match="dataset: EventProp trains on time series"):
        fit_eventprop(model, load_digits_like(), cfg)


def load_digits_like():
    """An image split (not time-first): what EventProp refuses."""
    from spikeforge.data import Split

    x = torch.zeros(4, 1, 2, 2)
    y = torch.zeros(4, dtype=torch.long)
    return Split("img", x, y, x, y, x, y, 3)


def test_readout_without_synapse_matches_finite_differences():
    inp = _inputs(seed=9, b=2, m=10, n_in=4)
    g = torch.Generator().manual_seed(2)
    w = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    labels = torch.tensor([1, 2])

    def loss(w):
        return max_membrane_loss(event_lif_max(inp, w, params=P, t_end=0.03, dt=1e-3, synapse=False), labels)

    _fd_check(loss, [w], lambda w: 0)


def test_first_spike_only_gives_the_same_ttfs_gradient():
    inp = _inputs(seed=11)
    g = torch.Generator().manual_seed(5)
    w1 = (torch.randn(6, 4, generator=g, dtype=torch.float64) * 2 + 2.0).requires_grad_()
    w2 = (torch.randn(3, 6, generator=g, dtype=torch.float64) * 2 + 2.5).requires_grad_()
    labels = torch.tensor([0, 2, 1])
    grads = []
    for first_only in (False, True):
        h = event_lif(inp, w1, params=P, t_end=0.05)
        o = event_lif(h, w2, params=P, t_end=0.05, first_spike_only=first_only)
        loss = ttfs_loss(first_spike_times(o, 0.05), labels, tau0=5e-3, tau1=20e-3, alpha=0.1)
        grads.append(torch.autograd.grad(loss, [w1, w2]))
    assert int(o.count().sum()) >= 3
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14) and a.abs().sum() > 0


def test_w1_step_keeps_spikes_not_time_by_neurons():
    from spikeforge.learning.online import eventprop_w1_step, w1_network

    def saved_bytes(steps, scale):
        net = w1_network((40, 64, 5), seed=1)
        with torch.no_grad():
            net.weights[0].mul_(scale)
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(steps, 4, 40, generator=g) < 0.05).float()
        seen: dict[int, int] = {}
        skip = {x.untyped_storage().data_ptr()} | {p.untyped_storage().data_ptr() for p in net.parameters()}

        def pack(t):
            if t.untyped_storage().data_ptr() not in skip:
                seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            _, spikes = eventprop_w1_step(net, x, torch.zeros(4, dtype=torch.long))
        assert net.weights[0].grad is not None
        return sum(seen.values()), int(spikes.sum())

    quiet_short, n0 = saved_bytes(50, 0.0)
    quiet_long, n1 = saved_bytes(400, 0.0)
    assert n0 == n1 == 0
    assert quiet_long - quiet_short < 400 * 4 * 64 * 4 / 4  # far below one [T, B, N] float32 tensor
    busy, n2 = saved_bytes(400, 30.0)
    assert n2 > 500 and busy - quiet_long < 64 * n2  # tens of bytes per spike
