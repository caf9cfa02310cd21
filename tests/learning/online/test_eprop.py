"""e-prop against backpropagation through time (autograd through the model's own forward, float64)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import spikeforge as sf
from spikeforge.data import load_split
from spikeforge.data._timeseries import SeriesSplit
from spikeforge.learning import METHODS, TrainConfig, evaluate, fit, get_method
from spikeforge.learning.online import EProp, fit_eprop
from spikeforge.models import build_model
from spikeforge.neurons import ALIF, LI, LIF, RALIF, RLIF

T, B, C_IN, N, K = 25, 4, 5, 12, 3


def _net(kind: str, *, reset: str = "subtract", detach_reset: bool = False) -> sf.SequentialState:
    common = {"backend": "torch", "reset": reset, "detach_reset": detach_reset}
    alif = {"beta": 0.5, "tau_adapt": 0.05}
    hidden = {
        "lif": lambda: LIF(N, **common),
        "alif": lambda: ALIF(N, **common, **alif),
        "rlif": lambda: RLIF(N, **common),
        "ralif": lambda: RALIF(N, **common, **alif),
    }[kind]()
    torch.manual_seed(0)
    net = sf.SequentialState(torch.nn.Linear(C_IN, N), hidden, torch.nn.Linear(N, K), LI(K, backend="torch"))
    with torch.no_grad():
        net[0].weight.mul_(4.0)  # strong enough drive that the hidden neurons fire often
    return net.double()


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(T, B, C_IN, generator=g, dtype=torch.float64) * 1.5, torch.tensor([0, 1, 2, 1])


def _bptt_grads(net, loss_fn):
    x, y = _data()
    net.zero_grad()
    out, _ = net(x)
    loss_fn(out, y).backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    return grads


def _mean_loss(out, y):
    return F.cross_entropy(out.mean(0), y)


def _step_loss(out, y):
    return sum(F.cross_entropy(o, y) for o in out) / len(out)


def _eprop_sequence(learner, net):
    x, y = _data()
    net.zero_grad()
    learner.reset()
    score = 0
    for t in range(T):
        score = score + learner.step(x[t]) / T
        learner.accumulate(1.0 / T)
    score = score.detach().requires_grad_(True)
    F.cross_entropy(score, y).backward()
    learner.learn_sequence(score.grad)
    return {n: p.grad.clone() for n, p in net.named_parameters()}


def _eprop_step(learner, net):
    x, y = _data()
    net.zero_grad()
    learner.reset()
    for t in range(T):
        y_t = learner.step(x[t]).requires_grad_(True)
        (F.cross_entropy(y_t, y) / T).backward()
        learner.learn(y_t.grad)
    return {n: p.grad.clone() for n, p in net.named_parameters()}


def _cosine(a, b):
    return float(F.cosine_similarity(a.flatten(), b.flatten(), dim=0))


@pytest.mark.parametrize("kind", ["lif", "alif", "rlif", "ralif"])
def test_forward_is_the_models_forward(kind):
    net = _net(kind)
    x, _ = _data()
    out, states = net(x)
    learner = EProp(net)
    ys = torch.stack([learner.step(x[t]) for t in range(T)])
    assert torch.equal(ys, out)
    for mine, ref in zip(learner.state, states):
        assert type(mine) is type(ref)
        if ref is not None:
            for a, b in zip(mine, ref):
                assert torch.allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("kind", "reset", "detach_reset"),
    [("lif", "subtract", False), ("lif", "zero", False), ("lif", "subtract", True), ("alif", "subtract", False)],
)
@pytest.mark.parametrize("signal", ["sequence", "step"])
def test_equals_bptt_without_recurrence(kind, reset, detach_reset, signal):
    """Theory: without recurrent weights the only term e-prop drops is zero, so with symmetric feedback its
    gradient is the exact gradient, for every parameter."""
    net = _net(kind, reset=reset, detach_reset=detach_reset)
    ref = _bptt_grads(net, _mean_loss if signal == "sequence" else _step_loss)
    learner = EProp(net)
    got = (_eprop_sequence if signal == "sequence" else _eprop_step)(learner, net)
    assert any(g.abs().max() > 1e-3 for g in ref.values())
    for name in ref:
        assert torch.allclose(got[name], ref[name], rtol=1e-9, atol=1e-12), name


@pytest.mark.parametrize("kind", ["rlif", "ralif"])
def test_alignment_with_bptt_in_a_recurrent_layer(kind):
    """With recurrent weights e-prop is an approximation: readout gradients stay exact, the hidden ones align."""
    net = _net(kind)
    ref = _bptt_grads(net, _mean_loss)
    got = _eprop_sequence(EProp(net), net)
    cosines = {name: _cosine(got[name], ref[name]) for name in ref}
    print(kind, {k: round(v, 4) for k, v in cosines.items()})
    assert torch.allclose(got["2.weight"], ref["2.weight"], rtol=1e-9, atol=1e-12)
    assert min(cosines.values()) > 0.95
    assert not torch.allclose(got["1.recurrent.weight"], ref["1.recurrent.weight"], rtol=1e-6)  # really approximate


def test_random_feedback_changes_only_the_hidden_signal():
    net = _net("lif")
    ref = _bptt_grads(net, _mean_loss)
    learner = EProp(net, feedback="random", generator=torch.Generator().manual_seed(3))
    got = _eprop_sequence(learner, net)
    assert torch.allclose(got["2.weight"], ref["2.weight"], rtol=1e-9)
    assert not torch.allclose(got["0.weight"], ref["0.weight"], rtol=1e-3)
    # the hidden gradient is the same eligibility traces read with B instead of W_out: swap B in, recover BPTT
    learner.random_b = net[2].weight.detach().clone()
    assert torch.allclose(_eprop_sequence(learner, net)["0.weight"], ref["0.weight"], rtol=1e-9, atol=1e-12)


def test_stateful_stream_continues_the_same_state():
    net = _net("rlif")
    x, _ = _data()
    stream = sf.Stateful(net)
    learner = EProp(stream)
    for t in range(10):
        learner.step(x[t])
    tail = torch.stack([stream(x[t][None])[0] for t in range(10, T)])  # the stream, continued by the network
    out, _ = net(x)
    assert torch.allclose(tail, out[10:], atol=1e-12)


def test_memory_does_not_grow_with_the_sequence():
    net = _net("ralif")
    sizes = []
    for steps in (5, 200):
        learner = EProp(net)
        x = torch.rand(steps, B, C_IN, dtype=torch.float64)
        for t in range(steps):
            learner.step(x[t])
            learner.accumulate(1.0 / steps)
        kept = list(learner.traces.values()) + [v for s in learner.state if s is not None for v in s]
        sizes.append(sum(v.numel() for v in kept))
    assert sizes[0] == sizes[1]
    assert sizes[0] < 5 * B * N * (C_IN + 1 + N)  # four [B, N, P] traces (v, a, filtered, summed) and small change


def test_refuses_what_it_cannot_train():
    with pytest.raises(ValueError, match=r"model: e-prop trains .* got layers Linear, LIF, Linear, LIF, Linear, LI"):
        EProp(
            sf.SequentialState(
                torch.nn.Linear(3, 4), LIF(4), torch.nn.Linear(4, 4), LIF(4), torch.nn.Linear(4, 2), LI(2)
            )
        )
    conv = build_model({"model": "conv", "input_shape": [1, 8, 8], "n_classes": 3})
    with pytest.raises(ValueError, match=r"model: e-prop trains .*Conv2d"):
        EProp(conv)
    with pytest.raises(ValueError, match="learn: e-prop trains the synaptic weights only"):
        EProp(sf.SequentialState(torch.nn.Linear(3, 4), LIF(4, learn=["tau_mem"]), torch.nn.Linear(4, 2), LI(2)))
    with pytest.raises(ValueError, match="feedback: expected one of symmetric, random, got 'mirror'"):
        EProp(_net("lif"), feedback="mirror")
    learner = EProp(_net("lif"))
    with pytest.raises(ValueError, match=r"x: expected one step \[B, 5\]"):
        learner.step(torch.zeros(2, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        learner.step(torch.full((2, 5), float("nan"), dtype=torch.float64))
    with pytest.raises(RuntimeError, match="call step"):
        learner.learn(torch.zeros(2, K, dtype=torch.float64))
    learner.step(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"delta: expected \[2, 3\]"):
        learner.learn(torch.zeros(2, 4, dtype=torch.float64))
    cfg = TrainConfig(epochs=1, readout="max")
    with pytest.raises(ValueError, match="readout: e-prop learns from a readout that sums over time"):
        fit_eprop(_net("lif"), None, cfg)


def _sequential_digits():
    """The 8x8 digits read row by row: 8 steps of 8 channels, so the class needs memory across steps."""
    d = load_split("digits")

    def rows(x):
        return x[:, 0].permute(1, 0, 2).contiguous() * 3

    def lengths(n):
        return torch.full((n,), 8)

    parts = [
        (rows(x), y, lengths(len(y))) for x, y in ((d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test))
    ]
    return SeriesSplit(
        "digits-rows", *parts[0], *parts[1], *parts[2], 10, list("0123456789"), torch.zeros(8), torch.ones(8)
    )


def test_accuracy_within_five_points_of_bptt():
    """A recurrent LIF layer on row-by-row digits: e-prop (symmetric feedback) reaches BPTT's test accuracy
    within 5 points."""
    split = _sequential_digits()
    cfg = TrainConfig(epochs=4, timesteps=8, readout="mean", lr=1e-2, batch_size=32, seed=0)
    model_cfg = {"model": "recurrent", "hidden": [64], "input_shape": [8], "n_classes": 10, "tau_mem": 0.01}
    results = {}
    for name, trainer, options in (("bptt", fit, {}), ("eprop", fit_eprop, {})):
        torch.manual_seed(0)
        model = build_model(model_cfg)
        trainer(model, split, cfg, **options)
        results[name] = evaluate(model, split.x_test, split.y_test, cfg, split.len_test).accuracy
    print("row-by-row digits, recurrent LIF 64, test accuracy:", results)
    assert results["bptt"] > 0.7
    assert results["eprop"] >= results["bptt"] - 0.05


def test_registered_as_a_method():
    assert get_method("eprop").load() is fit_eprop
    assert "eprop" in METHODS and "ottt" in METHODS


def test_resume_continues_bit_for_bit(tmp_path):
    """Checkpoints and resume work as for BPTT: a run stopped in its second epoch and resumed ends with the
    weights of the run that never stopped."""
    import dataclasses

    from spikeforge.learning import Checkpointer

    full = load_split("digits")
    split = dataclasses.replace(full, x_train=full.x_train[:256], y_train=full.y_train[:256])
    cfg = TrainConfig(epochs=2, timesteps=4, readout="mean", batch_size=64, seed=0)
    model_cfg = {"model": "mlp", "hidden": [16], "input_shape": [1, 8, 8], "n_classes": 10}

    def fresh():
        torch.manual_seed(0)
        return build_model(model_cfg)

    whole = fresh()
    fit_eprop(whole, split, cfg)

    def stop(batch, loss, accuracy, seen=[0]):  # noqa: B006  counts calls across epochs
        seen[0] += 1
        if seen[0] == 7:  # epoch 2, batch 3 (4 batches per epoch); the last checkpoint is from batch 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_eprop(fresh(), split, cfg, on_batch=stop, checkpoints=Checkpointer(tmp_path, every=2))
    resumed = fresh()
    fit_eprop(resumed, split, cfg, checkpoints=Checkpointer(tmp_path, every=2), resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
