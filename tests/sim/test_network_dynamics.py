"""Network neuron updates against scipy's ODE solver (between spikes) and the refractory clamp."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from spikeforge.sim import ConductanceLIF, CurrentLIF, DeltaLIF
from spikeforge.units import ms


def _run(model, state, steps, dt):
    x = torch.zeros(model.n_channels, state.v.numel(), dtype=state.v.dtype)
    vs = []
    for _ in range(steps):
        _, state = model.step(x, state, dt=dt)
        vs.append(state.v.clone())
    return torch.stack(vs)


def test_current_synapses_are_integrated_exactly():
    model = CurrentLIF(v_rest=-60.0, threshold=100.0, v_reset=-70.0)
    ge, gi, v0 = 6.0, -4.0, -58.0
    dt, steps = 0.5 * ms, 100

    def rhs(t, y):
        v, e, i = y
        return [(-(v - model.v_rest) + e + i) / model.tau_mem, -e / model.tau_exc, -i / model.tau_inh]

    t_eval = dt * np.arange(1, steps + 1)
    ref = solve_ivp(rhs, (0, t_eval[-1]), [v0, ge, gi], t_eval=t_eval, rtol=1e-10, atol=1e-12).y[0]
    state = model.init(
        torch.tensor([v0], dtype=torch.float64),
        torch.tensor([ge], dtype=torch.float64),
        torch.tensor([gi], dtype=torch.float64),
    )
    got = _run(model, state, steps, dt)[:, 0].numpy()
    assert np.max(np.abs(got - ref)) < 1e-7  # exact, even with a coarse step


def test_conductance_synapses_converge_to_the_ode_solution():
    model = ConductanceLIF(threshold=100.0)
    ge, gi, v0, horizon = 3.0, 8.0, -52.0, 40 * ms

    def rhs(t, y):
        v, e, i = y
        dv = (-(v - model.v_rest) - e * (v - model.e_exc) - i * (v - model.e_inh)) / model.tau_mem
        return [dv, -e / model.tau_exc, -i / model.tau_inh]

    ref = solve_ivp(rhs, (0, horizon), [v0, ge, gi], rtol=1e-10, atol=1e-12, dense_output=True)
    errors = []
    for dt in (0.2 * ms, 0.1 * ms, 0.05 * ms):
        steps = round(horizon / dt)
        state = model.init(
            torch.tensor([v0], dtype=torch.float64),
            torch.tensor([ge], dtype=torch.float64),
            torch.tensor([gi], dtype=torch.float64),
        )
        got = _run(model, state, steps, dt)[:, 0].numpy()
        expected = ref.sol(dt * np.arange(1, steps + 1))[0]
        errors.append(np.max(np.abs(got - expected)))
    assert errors[1] < 0.05  # mV at the benchmark's dt = 0.1 ms
    orders = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(o > 0.8 for o in orders), (errors, orders)


def test_delta_synapses_jump_and_the_refractory_clamp_lasts_t_ref():
    dt = 0.1 * ms
    model = DeltaLIF(tau_mem=20 * ms, v_rest=0.0, threshold=20.0, v_reset=10.0, t_ref=2 * ms)
    state = model.init(torch.tensor([5.0], dtype=torch.float64))
    z, state = model.step(torch.tensor([[3.0]], dtype=torch.float64), state, dt=dt)
    assert float(state.v) == pytest.approx(5.0 * math.exp(-dt / model.tau_mem) + 3.0)
    # a strong constant kick every step: the neuron fires, is clamped at v_reset for 20 steps, then fires again
    kick = torch.tensor([[30.0]], dtype=torch.float64)
    spikes, vs = [], []
    for _ in range(60):
        z, state = model.step(kick, state, dt=dt)
        spikes.append(bool(z))
        vs.append(float(state.v))
    times = [i for i, s in enumerate(spikes) if s]
    assert np.diff(times).tolist() == [21, 21]  # 20 clamped steps + the step that fires
    assert all(v == 10.0 for v in vs[times[0] : times[0] + 21])


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError, match="tau_mem: expected a positive time in seconds"):
        DeltaLIF(tau_mem=-1.0)
    with pytest.raises(ValueError, match="v_reset: expected a reset below the threshold"):
        CurrentLIF(v_reset=-40.0, threshold=-50.0)
