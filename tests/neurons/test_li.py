"""LI: the step response against its closed form, gradcheck in float64, and its cell against its sequence module."""

import math

import torch

import spikeforge as sf
from spikeforge.units import ms


def test_li_step_response_equals_closed_form():
    tau, dt = 8 * ms, 1 * ms
    beta = math.exp(-dt / tau)
    v, _ = sf.LI(tau_mem=tau, dt=dt)(torch.ones(50, 1, 1, dtype=torch.float64))
    n = torch.arange(1, 51, dtype=torch.float64)
    torch.testing.assert_close(v[:, 0, 0], (1 - beta**n) / (1 - beta))


def test_li_gradcheck_in_float64():
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    log_tau = torch.log(torch.tensor([5 * ms, 10 * ms, 20 * ms], dtype=torch.float64)).requires_grad_(True)

    def f(x, log_tau_mem):
        return sf.functional.li_seq(x, None, sf.neurons.LIParams(torch.exp(log_tau_mem), 4 * ms))[0]

    assert torch.autograd.gradcheck(f, (x, log_tau))


def test_li_cell_equals_sequence():
    x = torch.randn(12, 2, 3)
    v_seq, _ = sf.LI(tau_syn=5 * ms)(x)
    cell, state, vs = sf.LICell(tau_syn=5 * ms), None, []
    for xt in x:
        v, state = cell(xt, state)
        vs.append(v)
    torch.testing.assert_close(torch.stack(vs), v_seq)
