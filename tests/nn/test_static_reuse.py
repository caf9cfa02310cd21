"""Static (direct) input: a per-sample first layer runs once and its output is repeated over time, exactly."""

from __future__ import annotations

import torch

import spikeforge as sf
from spikeforge.encoding import direct
from spikeforge.metrics import profile_model


def _net(dropout: bool = False) -> sf.SequentialState:
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5), sf.LIF(5)]
    if dropout:  # before the convolution: per-step masks, so the convolution sees a different input at every step
        layers.insert(0, torch.nn.Dropout(0.5))
    return sf.SequentialState(*layers, torch.nn.Linear(5, 3), sf.LI(3)).double()


def _seen_batches(net) -> list[int]:
    """Batch sizes the first convolution is called with (a wrapped forward: no hook, which would turn reuse off)."""
    seen, conv = [], next(m for m in net if isinstance(m, torch.nn.Conv2d))
    forward = conv.forward
    conv.forward = lambda x: (seen.append(x.shape[0]), forward(x))[1]
    return seen


def test_direct_input_runs_the_first_layers_once_with_the_same_outputs_and_gradients():
    img = torch.rand(3, 2, 6, 6, dtype=torch.float64) * 2
    outs = []
    for static in (True, False):
        net = _net()
        seen = _seen_batches(net)
        x = direct(img, 12)
        out, _ = net(x if static else x.contiguous())
        (out * torch.arange(12.0)[:, None, None]).sum().backward()
        outs.append((out.detach(), [p.grad for p in net.parameters()], seen))
    (out_s, grads_s, seen_s), (out_d, grads_d, seen_d) = outs
    assert seen_s == [3] and seen_d == [36], "static input: one step of 3 samples instead of 12 x 3"
    assert torch.allclose(out_s, out_d, rtol=0, atol=1e-12)
    for a, b in zip(grads_s, grads_d):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)  # sum over steps vs one sum over T*B rows


def test_no_reuse_with_dropout_varying_input_or_counting_hooks():
    img = torch.rand(2, 2, 6, 6, dtype=torch.float64)
    net = _net(dropout=True)
    seen = _seen_batches(net)
    net(direct(img, 5))
    assert seen == [10]
    net = _net()
    seen = _seen_batches(net)
    net(torch.rand(5, 2, 2, 6, 6, dtype=torch.float64))
    assert seen == [10]
    # profile's counting hooks see every step: the same counts with a static view and with a copy
    counts = [profile_model(_net(), x).to_dict()["per_sample"] for x in (direct(img, 5), direct(img, 5).contiguous())]
    assert counts[0] == counts[1]


def test_the_builders_event_driven_synapses_reuse_static_input_too():
    from spikeforge.models import build_model

    torch.manual_seed(0)
    net = build_model({"model": "mlp", "hidden": [8], "input_shape": [1, 4, 4], "n_classes": 3, "dtype": "float64"})
    first = net[1]
    assert type(first).__name__ == "EventLinear" and first.per_sample
    seen, forward = [], first.forward
    first.forward = lambda x: (seen.append(tuple(x.shape)), forward(x))[1]
    x = direct(torch.rand(2, 1, 4, 4, dtype=torch.float64), 5)
    out, _ = net(x)
    ref, _ = net(x.contiguous())  # the same steps, materialised: every step computed
    assert seen == [(2, 16), (10, 16)]  # static: one step of 2 samples; materialised: 5 x 2
    assert torch.allclose(out, ref, rtol=0, atol=1e-12)
