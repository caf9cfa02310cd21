"""Synaptic delay layers: exact shifted sums against explicit loops, the Gaussian kernel against its formula, the
sigma -> 0 limit against rounding, position gradients against finite differences, and a task that needs delays."""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from spikeforge.neurons import LI, LIF
from spikeforge.synapses import ChannelDelay, DelayedLinear, LearnableDelayLinear, channel_delay
from spikeforge.units import ms


def loop_delayed_linear(x, weight, delays, bias=None):
    """Reference: y[t, b, o] = bias[o] + sum_i W[o, i] x[t - d[o, i], b, i], by explicit loops."""
    steps, batch, n_in = x.shape
    n_out = weight.shape[0]
    y = torch.zeros(steps, batch, n_out, dtype=x.dtype)
    for t in range(steps):
        for o in range(n_out):
            acc = torch.zeros(batch, dtype=x.dtype) if bias is None else bias[o].expand(batch).clone()
            for i in range(n_in):
                src = t - int(delays[o, i])
                if src >= 0:
                    acc = acc + weight[o, i] * x[src, :, i]
            y[t, :, o] = acc
    return y


def loop_gaussian_layer(x, weight, position, sigma, taps):
    """Reference for the learnable layer: the kernel from the Gaussian formula (math.exp), summed tap by tap."""
    steps, batch, n_in = x.shape
    n_out = weight.shape[0]
    y = torch.zeros(steps, batch, n_out, dtype=x.dtype)
    for o in range(n_out):
        for i in range(n_in):
            p = float(position[o, i])
            g = [math.exp(-((k - p) ** 2) / (2 * sigma**2)) for k in range(taps)]
            for k in range(taps):
                w = float(weight[o, i]) * g[k] / sum(g)
                y[k:, :, o] += w * x[: steps - k, :, i]
    return y


def test_channel_delay_shifts_each_channel_and_fills_zeros(generator):
    x = torch.randn(12, 3, 5, generator=generator)
    delays = torch.tensor([0, 1, 4, 12, 30])  # 12 and 30 reach past the sequence: all zeros
    y = ChannelDelay(5, delays)(x)
    for c, d in enumerate(delays.tolist()):
        for t in range(12):
            expected = x[t - d, :, c] if t >= d else torch.zeros(3)
            assert torch.equal(y[t, :, c], expected)
    assert torch.equal(channel_delay(x, torch.full((5,), 3)), torch.cat([torch.zeros(3, 3, 5), x[:-3]]))


def test_delay_shifts_each_feature_and_carries_state_across_chunks():
    # moved from tests/interop/test_nir.py (interop.Delay became a stateful ChannelDelay)
    d = ChannelDelay(3, torch.tensor([0, 2, 5]), stateful=True)
    x = torch.randn(12, 2, 3)
    out, _ = d(x)
    for j, k in enumerate([0, 2, 5]):
        assert torch.equal(out[k:, :, j], x[: 12 - k, :, j]) and not out[:k, :, j].any()
    first, state = d(x[:7])
    second, _ = d(x[7:], state)
    assert torch.equal(torch.cat([first, second]), out)


def test_stateful_delay_over_feature_maps_matches_the_whole_sequence(generator):
    delays = torch.tensor([[0, 1, 5], [3, 0, 2]])
    x = torch.randn(11, 2, 2, 3, generator=generator)
    d = ChannelDelay((2, 3), delays, stateful=True)
    out, _ = d(x)
    for i in range(2):
        for j in range(3):
            k = int(delays[i, j])
            assert torch.equal(out[k:, :, i, j], x[: 11 - k, :, i, j]) and not out[:k, :, i, j].any()
    assert torch.equal(out, channel_delay(x, delays))
    chunks, state = [], None
    for start in range(0, 11, 2):  # chunks shorter than the longest delay
        piece, state = d(x[start : start + 2], state)
        chunks.append(piece)
    assert torch.equal(torch.cat(chunks), out) and torch.equal(state, x[-5:])
    assert torch.equal(ChannelDelay(3, 2)(x[:, :, 0]), channel_delay(x[:, :, 0], torch.full((3,), 2)))
    with pytest.raises(ValueError, match="not stateful"):
        ChannelDelay(3, 2)(x[:, :, 0], torch.zeros(2, 2, 3))
    with pytest.raises(ValueError, match=re.escape("history: expected the last max(delays) = 5 steps")):
        d(x, torch.zeros(4, 2, 2, 3))


@pytest.mark.parametrize(
    ("kind", "make_delays"),
    [
        ("kernel", lambda g: torch.randint(0, 7, (4, 6), generator=g)),
        ("grouped", lambda g: 9 * torch.randint(0, 2, (4, 6), generator=g)),
        ("input", lambda g: torch.randint(0, 7, (6,), generator=g)),
        ("output", lambda g: torch.randint(0, 7, (4, 1), generator=g)),
        ("input", lambda g: 3),
    ],
)
def test_delayed_linear_is_the_exact_shifted_sum(generator, kind, make_delays):
    delays = make_delays(generator)
    layer = DelayedLinear(6, 4, delays=delays)
    assert layer.structure() == kind
    # integer weights and binary spikes: every partial sum is exact in float32, so results must be equal
    with torch.no_grad():
        layer.weight.copy_(torch.randint(-5, 6, (4, 6), generator=generator).float())
        layer.bias.copy_(torch.randint(-3, 4, (4,), generator=generator).float())
    x = (torch.rand(15, 3, 6, generator=generator) < 0.3).float()
    full = torch.broadcast_to(torch.as_tensor(delays), (4, 6))
    assert torch.equal(layer(x), loop_delayed_linear(x, layer.weight.detach(), full, layer.bias.detach()))


@pytest.mark.parametrize("spread", [1, 4])  # delays {0, 4, 8}: "grouped"; {0 .. 4}: "kernel"
def test_delayed_linear_gradients_match_the_loop_reference(generator, spread):
    delays = torch.randint(0, 5 if spread == 1 else 3, (3, 4), generator=generator) * spread
    layer = DelayedLinear(4, 3, delays=delays, dtype=torch.float64)
    assert layer.structure() == ("kernel" if spread == 1 else "grouped")
    x = torch.randn(7, 2, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randn(7, 2, 3, dtype=torch.float64, generator=generator)
    (layer(x) * target).sum().backward()
    w = layer.weight.detach().clone().requires_grad_()
    b = layer.bias.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    (loop_delayed_linear(x_ref, w, delays, b) * target).sum().backward()
    torch.testing.assert_close(layer.weight.grad, w.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.bias.grad, b.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-12, atol=1e-12)


def test_learnable_layer_matches_the_gaussian_formula_and_extra_batch_axes(generator):
    layer = LearnableDelayLinear(3, 2, max_delay=6, sigma_init=1.3, bias=False, dtype=torch.float64)
    x = torch.randn(11, 4, 3, dtype=torch.float64, generator=generator)
    expected = loop_gaussian_layer(x, layer.weight.detach(), layer.position.detach(), 1.3, 6)
    torch.testing.assert_close(layer(x).detach(), expected, rtol=1e-12, atol=1e-12)
    folded = layer(x.view(11, 2, 2, 3)).detach()  # [T, B1, B2, in] runs like [T, B1 * B2, in]
    torch.testing.assert_close(folded.reshape(11, 4, 2), expected, rtol=1e-12, atol=1e-12)


def test_one_tap_is_a_plain_linear_layer(generator):
    layer = LearnableDelayLinear(5, 3, max_delay=1)
    x = torch.randn(7, 2, 5, generator=generator)
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))


def test_rounded_layer_equals_the_sigma_to_zero_limit(generator):
    layer = LearnableDelayLinear(8, 5, max_delay=10, dtype=torch.float64)
    with torch.no_grad():  # positions at least 0.05 away from a rounding tie
        whole = torch.randint(0, 10, (5, 8), generator=generator).double()
        offset = (torch.rand(5, 8, generator=generator, dtype=torch.float64) - 0.5) * 0.9
        layer.position.copy_((whole + offset).clamp(0, 9))
    fixed = layer.rounded()
    assert torch.equal(fixed.delays, (whole + offset).clamp(0, 9).round().long())
    x = (torch.rand(30, 3, 8, generator=generator) < 0.2).double()
    expected = loop_delayed_linear(x, fixed.weight.detach(), fixed.delays, fixed.bias.detach())
    torch.testing.assert_close(fixed(x), expected, rtol=1e-12, atol=1e-12)
    for sigma in (0.02, 0.0):  # a narrow Gaussian and the exact limit
        layer.set_sigma(sigma)
        torch.testing.assert_close(layer(x).detach(), expected, rtol=1e-10, atol=1e-10)
    layer.set_sigma(2.0)
    assert (layer(x) - expected).abs().max() > 1e-2  # a wide kernel really differs


def test_position_gradient_matches_finite_differences(generator):
    layer = LearnableDelayLinear(3, 2, max_delay=8, sigma_init=1.5, dtype=torch.float64)
    with torch.no_grad():
        layer.position.copy_(1.0 + 5.0 * torch.rand(2, 3, generator=generator, dtype=torch.float64))
    x = torch.randn(16, 2, 3, dtype=torch.float64, generator=generator)

    def out(position, weight):
        return torch.func.functional_call(layer, {"position": position, "weight": weight}, (x,))

    position = layer.position.detach().clone().requires_grad_()
    weight = layer.weight.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(out, (position, weight), eps=1e-6, atol=1e-7)


def test_single_synapse_learns_a_target_delay(generator):
    layer = LearnableDelayLinear(1, 1, max_delay=16, bias=False)  # default sigma_init: D / 2 = 8 steps
    with torch.no_grad():
        layer.position.fill_(3.0)
        layer.weight.fill_(0.5)
    x = (torch.rand(60, 16, 1, generator=generator) < 0.1).float()
    target = torch.cat([torch.zeros(11, 16, 1), x[:-11]])  # the same spikes, 11 steps later
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    for step in range(200):
        layer.anneal_sigma(step, 150, final=0.1)
        loss = ((layer(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        layer.clamp_positions_()
    assert layer.delays.item() == 11
    torch.testing.assert_close(layer.rounded()(x), target, atol=0.05, rtol=0)


def test_invalid_arguments_are_explained():
    with pytest.raises(TypeError, match="delays: expected integer"):
        DelayedLinear(2, 2, delays=torch.tensor([[0.5, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="delays: expected delays >= 0"):
        ChannelDelay(2, torch.tensor([1, -1]))
    with pytest.raises(ValueError, match=re.escape("broadcastable to [3, 2]")):
        DelayedLinear(2, 3, delays=torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=re.escape("x_seq: expected shape [T, B, ..., 4]")):
        LearnableDelayLinear(4, 2, max_delay=3)(torch.zeros(5, 2, 3))
    with pytest.raises(ValueError, match="max_delay: expected a positive int"):
        LearnableDelayLinear(4, 2, max_delay=0)
    with pytest.raises(ValueError, match="value: expected a kernel width >= 0"):
        LearnableDelayLinear(4, 2, max_delay=3).set_sigma(-1.0)


# The delay task: two input channels fire once each; the class is the signed gap between them (4 classes). Every gap
# is at least 10 membrane time constants, so without delays each spike meets a membrane that has forgotten the other
# (residual e^-10). With gaps of 5 time constants (residual e^-5 = 0.7%) a no-delay net did learn to exploit the
# residual on some seeds (up to 78% test accuracy), and so did a readout cut short by the end of the sequence:
# hence 1 ms time constants and 20 silent steps at the end.
GAPS = (-20, -10, 10, 20)  # steps of 1 ms: channel 1 fires this long after channel 0
STEPS = 50  # the last spike comes at step 29 at the latest: 20 time constants of silence follow
TAU_MEM = 1 * ms


def make_timing_task(n, generator):
    label = torch.randint(0, len(GAPS), (n,), generator=generator)
    start = torch.randint(0, 10, (n,), generator=generator)
    gap = torch.tensor(GAPS)[label]
    x = torch.zeros(STEPS, n, 2)
    x[start + (-gap).clamp(min=0), torch.arange(n), 0] = 1.0
    x[start + gap.clamp(min=0), torch.arange(n), 1] = 1.0
    return x, label


class DelayNet(torch.nn.Module):
    """LearnableDelayLinear -> LIF (1 ms) -> Linear -> LI (1 ms); the decision is the readout summed over time."""

    def __init__(self, max_delay, hidden):
        super().__init__()
        self.delay = LearnableDelayLinear(2, hidden, max_delay, bias=False)
        with torch.no_grad():
            self.delay.weight.mul_(3.0)  # a coincidence of two inputs can cross threshold from the start
        self.lif = LIF(hidden, tau_mem=TAU_MEM)
        self.readout = torch.nn.Linear(hidden, len(GAPS))
        self.li = LI(len(GAPS), tau_mem=TAU_MEM)

    def forward(self, x):
        z, _ = self.lif(self.delay(x))
        v, _ = self.li(self.readout(z))
        return v.sum(0)


def accuracy(net, x, label):
    with torch.no_grad():
        return (net(x).argmax(1) == label).float().mean().item()


def train_timing_task(max_delay, seed=0, epochs=40, n_train=384, batch=64, hidden=64, lr=0.01, lr_position=0.05):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x_train, y_train = make_timing_task(n_train, g)
    x_test, y_test = make_timing_task(512, g)
    net = DelayNet(max_delay, hidden)
    others = [p for name, p in net.named_parameters() if name != "delay.position"]
    opt = torch.optim.Adam([{"params": others, "lr": lr}, {"params": [net.delay.position], "lr": lr_position}])
    for epoch in range(epochs):
        net.delay.anneal_sigma(epoch, epochs, final=0.05)
        order = torch.randperm(n_train, generator=g)
        for k in range(0, n_train, batch):
            idx = order[k : k + batch]
            loss = F.cross_entropy(net(x_train[:, idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            net.delay.clamp_positions_()
    learned = accuracy(net, x_test, y_test)
    net.delay = net.delay.rounded()  # exact delayed sum from here on
    return learned, accuracy(net, x_test, y_test)


def test_timing_task_needs_delays():
    # seeds 0-19: 100% before and after rounding with delays; 21.5-27.9% without (chance is 25%)
    learned, rounded = train_timing_task(max_delay=25)
    assert learned >= 0.95
    assert rounded >= 0.95
    no_delay, _ = train_timing_task(max_delay=1)  # the same network, one tap: no delays
    assert no_delay <= 0.70


def test_round_delays_replaces_every_learnable_layer_in_a_copy():
    from spikeforge.synapses import round_delays

    torch.manual_seed(3)
    inner = LearnableDelayLinear(4, 3, max_delay=6)
    with torch.no_grad():
        inner.position.uniform_(0, 5)
    net = torch.nn.Sequential(torch.nn.Sequential(inner), torch.nn.Linear(3, 2))
    fixed = round_delays(net)
    assert isinstance(fixed[0][0], DelayedLinear) and isinstance(net[0][0], LearnableDelayLinear)
    x = torch.rand(12, 2, 4)
    by_hand = torch.nn.Sequential(inner.rounded(), net[1])
    assert torch.equal(fixed(x), by_hand(x))
    assert not torch.equal(fixed(x), net(x))  # the soft kernels differ from the rounded delays
