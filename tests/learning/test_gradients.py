"""Gradients of spikeforge networks against a hand-unrolled plain-autograd reference written here."""

import math

import pytest
import torch

import spikeforge as sf
from spikeforge import surrogate as sg
from spikeforge.units import ms


def _spike(x, s):
    # Heaviside forward, derivative of the primitive backward, built from autograd alone (no custom Function)
    p = s.primitive(x)
    return (x >= 0).to(x.dtype) + p - p.detach()


@pytest.mark.parametrize("surrogate", [sg.FastSigmoid(), sg.ATan(), sg.Sigmoid(), sg.Triangle()], ids=repr)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_two_layer_network_gradients_equal_hand_unrolled_reference(surrogate, reset, detach_reset):
    torch.manual_seed(0)
    steps, batch, n_in, n_hid, n_out = 12, 3, 5, 7, 4
    tau1, tau2, tau_out, thr = 10 * ms, 15 * ms, 8 * ms, 0.6
    dt = 1 * ms
    l1, l2, l3 = torch.nn.Linear(n_in, n_hid), torch.nn.Linear(n_hid, n_hid), torch.nn.Linear(n_hid, n_out)
    net = sf.SequentialState(
        l1,
        sf.LIF(
            n_hid,
            tau_mem=tau1,
            threshold=thr,
            reset=reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            learn=("tau_mem", "threshold"),
            dtype=torch.float64,
        ),
        l2,
        sf.LIF(
            n_hid,
            tau_mem=tau2,
            tau_syn=5 * ms,
            threshold=thr,
            reset=reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            dtype=torch.float64,
        ),
        l3,
        sf.LI(n_out, tau_mem=tau_out, dtype=torch.float64),
    ).double()
    x = torch.rand(steps, batch, n_in, dtype=torch.float64) * 2
    target = torch.randint(0, n_out, (batch,))
    out, _ = net(x)
    loss = torch.nn.functional.cross_entropy(out.amax(0), target)
    params = [l1.weight, l1.bias, l2.weight, l3.weight, net[1].log_tau_mem, net[1].threshold]
    grads = torch.autograd.grad(loss, params)

    # reference: one explicit loop, plain tensor ops
    w1, b1, w2, b2, w3, b3 = (
        t.detach().clone().requires_grad_(True) for t in (l1.weight, l1.bias, l2.weight, l2.bias, l3.weight, l3.bias)
    )
    log_tau1 = net[1].log_tau_mem.detach().clone().requires_grad_(True)
    th1 = net[1].threshold.detach().clone().requires_grad_(True)
    beta1 = torch.exp(-dt / torch.exp(log_tau1))
    beta2, alpha2, beta_o = math.exp(-dt / tau2), math.exp(-1 / 5), math.exp(-dt / tau_out)
    v1 = torch.zeros(batch, n_hid, dtype=torch.float64)
    v2, i2 = torch.zeros_like(v1), torch.zeros_like(v1)
    vo = torch.zeros(batch, n_out, dtype=torch.float64)
    outs = []

    def fire(h, th):
        z = _spike(h - th, surrogate)
        zr = z.detach() if detach_reset else z
        return z, (h - zr * th if reset == "subtract" else h * (1 - zr))

    for t in range(steps):
        z1, v1 = fire(beta1 * v1 + x[t] @ w1.t() + b1, th1)
        i2 = alpha2 * i2 + z1 @ w2.t() + b2
        z2, v2 = fire(beta2 * v2 + i2, thr)
        vo = beta_o * vo + z2 @ w3.t() + b3
        outs.append(vo)
    ref_loss = torch.nn.functional.cross_entropy(torch.stack(outs).amax(0), target)
    ref = torch.autograd.grad(ref_loss, [w1, b1, w2, w3, log_tau1, th1])
    torch.testing.assert_close(loss, ref_loss)
    for got, expected in zip(grads, ref):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    assert any(g.abs().sum() > 0 for g in grads[:2]), "gradient must reach the first layer"
