"""OTTT against backpropagation through time (autograd through the model's own forward, float64)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import spikeforge as sf
from spikeforge.data import load_split
from spikeforge.learning import TrainConfig, evaluate, fit, get_method
from spikeforge.learning.online import OTTT, fit_ottt
from spikeforge.models import build_model
from spikeforge.neurons import LI, LIF

T, B = 12, 6


def _images():
    g = torch.Generator().manual_seed(1)
    return torch.rand(T, B, 1, 8, 8, generator=g, dtype=torch.float64) * 2, torch.arange(B) % 4


def _step_loss(out, y):
    return sum(F.cross_entropy(o, y) for o in out) / len(out)


def _bptt(net, x, y):
    net.zero_grad()
    out, _ = net(x)
    _step_loss(out, y).backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    return out.detach(), grads


def _ottt(learner, net, x, y):
    net.zero_grad()
    learner.reset()
    ys = []
    for t in range(len(x)):
        y_t = learner.step(x[t])
        (F.cross_entropy(y_t, y) / len(x)).backward()
        ys.append(y_t.detach())
    return torch.stack(ys), {n: p.grad.clone() for n, p in net.named_parameters()}


def _one_layer(first: torch.nn.Module, width: int) -> sf.SequentialState:
    """One hidden LIF layer with a detached reset and a memoryless readout (tau 10 us at dt 1 ms: the readout
    decay is exp(-100)): the case where the per-step loss gradient of BPTT is exactly OTTT's trace rule."""
    torch.manual_seed(0)
    net = sf.SequentialState(
        first,
        LIF(None, backend="torch", detach_reset=True),
        torch.nn.Flatten(),
        torch.nn.Linear(width, 4),
        LI(4, tau_mem=1e-5, backend="torch"),
    )
    with torch.no_grad():
        first.weight.mul_(3.0)
    return net.double()


@pytest.mark.parametrize("first", ["linear", "conv"])
def test_equals_bptt_where_theory_says_so(first):
    """With the reset detached and a readout without memory, BPTT's gradient of a per-step loss is
    ``sum_t dl_t/dI_t (x) sum_tau beta^(t - tau) s_tau``: what OTTT computes online."""
    x, y = _images()
    if first == "linear":
        net = _one_layer(torch.nn.Linear(64, 16), 16)
        x = x.flatten(2)
    else:
        net = _one_layer(torch.nn.Conv2d(1, 3, 3, padding=1, stride=2), 3 * 4 * 4)
    out, ref = _bptt(net, x, y)
    ys, got = _ottt(OTTT(net), net, x, y)
    assert torch.equal(ys, out)
    assert ref["0.weight"].abs().max() > 1e-4
    for name in ref:
        assert torch.allclose(got[name], ref[name], rtol=1e-9, atol=1e-12), name


@pytest.mark.parametrize(
    ("cfg", "gain"),
    [
        ({"model": "mlp", "hidden": [32, 32]}, 1.0),
        ({"model": "mlp", "hidden": [32], "neuron": "alif", "beta_adapt": 0.05}, 20.0),  # ALIF scales input by 1-beta
        ({"model": "conv", "hidden": [32], "channels": [4, 8]}, 2.0),
    ],
)
def test_forward_and_alignment_with_bptt(cfg, gain):
    """The models spikeforge trains: the same forward, the readout gradient exact, every weight layer aligned
    (OTTT drops the paths through earlier steps of the layers above; the cosines are printed)."""
    torch.manual_seed(0)
    net = build_model(cfg | {"input_shape": [1, 8, 8], "n_classes": 4, "dtype": "float64", "backend": "torch"})
    with torch.no_grad():  # every layer fires (a silent layer has no gradient to compare)
        for m in net.modules():
            if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
                m.weight.mul_(gain)
    net.eval()  # BatchNorm with its running statistics, the same in both
    x, y = _images()
    out, ref = _bptt(net, x, y)
    ys, got = _ottt(OTTT(net), net, x, y)
    assert torch.equal(ys, out)
    names = [n for n, p in net.named_parameters() if p.dim() > 1]
    cosines = {n: float(F.cosine_similarity(got[n].flatten(), ref[n].flatten(), dim=0)) for n in names}
    print(cfg["model"], cfg.get("neuron", "lif"), {k: round(v, 4) for k, v in cosines.items()})
    last = names[-1]
    assert torch.allclose(got[last], ref[last], rtol=1e-9, atol=1e-12)
    assert all(ref[n].abs().max() > 0 for n in names)
    assert min(cosines.values()) > 0.5


def test_memory_does_not_grow_with_the_sequence():
    net = build_model({"model": "mlp", "hidden": [16], "input_shape": [1, 8, 8], "n_classes": 4, "backend": "torch"})
    sizes = []
    for steps in (3, 60):
        learner = OTTT(net)
        for _ in range(steps):
            F.cross_entropy(learner.step(torch.rand(B, 1, 8, 8)), torch.zeros(B, dtype=torch.long)).backward()
        kept = [v for pair in learner.traces.values() for v in pair]
        kept += [v for s in learner.state if s is not None for v in s]
        sizes.append(sum(v.numel() for v in kept))
    assert sizes[0] == sizes[1]


def test_refuses_what_it_cannot_train():
    rec = build_model({"model": "recurrent", "hidden": [8], "input_shape": [3], "n_classes": 2})
    with pytest.raises(ValueError, match="recurrent layers train with e-prop; layer 1 is recurrent"):
        OTTT(rec)
    with pytest.raises(ValueError, match="with no neuron between them"):
        OTTT(sf.SequentialState(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2), LI(2)))
    per_neuron = {"dist": "log_uniform", "low": 0.005, "high": 0.1}
    net = build_model({"model": "mlp", "hidden": [8], "input_shape": [3], "n_classes": 2, "tau_mem": per_neuron})
    with pytest.raises(ValueError, match=r"tau_mem: OTTT's presynaptic traces .* got 8 per-neuron values"):
        OTTT(net).step(torch.rand(2, 3))
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        OTTT(build_model({"model": "mlp", "hidden": [8], "input_shape": [3], "n_classes": 2})).step(
            torch.full((2, 3), float("inf"))
        )
    with pytest.raises(ValueError, match="readout: OTTT learns from a readout that sums over time"):
        fit_ottt(net, None, TrainConfig(epochs=1, readout="max"))


def test_accuracy_within_five_points_of_bptt():
    """Digits, feed-forward LIF (64 hidden), direct encoding over 8 steps: OTTT reaches BPTT's test accuracy
    within 5 points."""
    split = load_split("digits")
    cfg = TrainConfig(epochs=3, timesteps=8, readout="mean", lr=5e-3, batch_size=32, seed=0)
    results = {}
    for name, trainer in (("bptt", fit), ("ottt", fit_ottt)):
        torch.manual_seed(0)
        model = build_model({"model": "mlp", "hidden": [64], "input_shape": [1, 8, 8], "n_classes": 10})
        trainer(model, split, cfg)
        results[name] = evaluate(model, split.x_test, split.y_test, cfg).accuracy
    print("digits, feed-forward LIF 64, test accuracy:", results)
    assert results["bptt"] > 0.85
    assert results["ottt"] >= results["bptt"] - 0.05


def test_registered_as_a_method():
    assert get_method("ottt").load() is fit_ottt
