"""Resonate-and-fire against its closed form and scipy's DOP853 with event resets."""

import functools
import math

import numpy as np
import pytest
import torch

from ode_reference import (
    FULL_LENGTH,
    check_spike_trains,
    constant,
    convergence_errors,
    rate,
    slope,
    spike_times,
    spikes_with_resets,
)
from spikeforge import ResonateAndFire, ms
from spikeforge.neurons import ResonateAndFireCell, resonate_fire_init, resonate_fire_step

B, OMEGA = -10.0, 2 * math.pi * 10.0  # 1/s, rad/s
CURRENTS = (100.0, 150.0, 300.0)  # per second


def reference(current: float, duration: float) -> np.ndarray:
    """Reference spike times up to ``duration`` (ms), cut from one shared run of at least 1000 ms."""
    times = _solve(current, max(duration, 1000.0))
    return times[times <= duration]


@functools.cache
def _solve(current: float, duration: float) -> np.ndarray:
    b, w, i = B / 1000, OMEGA / 1000, current / 1000  # per ms

    def rhs(t, y):
        return [b * y[0] - w * y[1] + i, w * y[0] + b * y[1]]

    return spikes_with_resets(rhs, [0.0, 0.0], duration, crossing=lambda y: y[1] - 1.0, reset=lambda y: [0.0, 0.0])


def simulate(dt_ms: float, duration: float) -> list[np.ndarray]:
    model = ResonateAndFire(b=B, omega=OMEGA, dt=dt_ms * ms, dtype=torch.float64)
    with torch.no_grad():
        z, _ = model(constant(CURRENTS, round(duration / dt_ms)))
    return spike_times(z[:, :, 0], dt_ms)


def test_subthreshold_oscillation_is_exact():
    x = constant([20.0], 200)
    _, states = ResonateAndFire(b=B, omega=OMEGA, dtype=torch.float64, record=True)(x)
    lam = complex(B, OMEGA)
    t = np.arange(1, 201) * 1e-3
    expected = 20.0 * (np.exp(lam * t) - 1) / lam
    np.testing.assert_allclose(states.z[:, 0, 0].numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("duration", [200.0, pytest.param(1000.0, marks=FULL_LENGTH)])
def test_spike_times_match_solver_at_dt_0_01ms(duration):
    for current, sim in zip(CURRENTS, simulate(0.01, duration)):
        ref = reference(current, duration + 1.0)
        assert len(ref) >= 3
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    for current, sim in zip(CURRENTS, simulate(0.1, 1000.0)):
        ref = rate(reference(current, 1000.0), 1000.0)
        assert abs(rate(sim, 1000.0) - ref) <= 0.05 * ref


def test_first_order_convergence_of_spike_times():
    dts = [0.4, 0.2, 0.1, 0.05]
    errors = convergence_errors(simulate, reference, CURRENTS, dts, 200.0)
    assert 0.7 < slope(dts, errors) < 1.4, errors


def test_resonance_prefers_pulses_at_the_eigenperiod():
    period = round(1000 / 10)  # steps of 1 ms at 10 Hz
    x = torch.zeros(400, 2, 1, dtype=torch.float64)
    x[0:400:period, 0] = 900.0  # resonant pulse train
    x[0 : 400 : period // 2, 1] = 900.0  # twice as many pulses, off resonance
    z, _ = ResonateAndFire(b=B, omega=OMEGA, dtype=torch.float64)(x)
    assert z[:, 0].sum() >= 1 and z[:, 1].sum() == 0


def test_complex_state_and_errors():
    state = resonate_fire_init(torch.zeros(2, 3))
    assert state.z.dtype == torch.complex64
    _, s = ResonateAndFireCell(3)(torch.ones(2, 3), state)
    assert torch.equal(resonate_fire_step(torch.ones(2, 3), state)[1].z, s.z)
    with pytest.raises(TypeError, match="complex"):
        ResonateAndFireCell(3)(torch.ones(2, 3), type(state)(torch.zeros(2, 3)))
    with pytest.raises(ValueError, match="b"):
        ResonateAndFire(b=1.0)


def test_gradients_reach_the_frequency():
    model = ResonateAndFire(1, learn=("omega",), dtype=torch.float64, surrogate="atan")
    z, _ = model(torch.full((300, 2, 1), 100.0, dtype=torch.float64))
    z.sum().backward()
    assert torch.isfinite(model.omega.grad).all() and model.omega.grad.abs().sum() > 0
