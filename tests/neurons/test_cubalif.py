"""CubaLIF against its closed form and scipy's DOP853 with event resets; surrogate training."""

import functools

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
    train_counts,
)
from spikeforge import CubaLIF, ms
from spikeforge.neurons import CubaLIFCell, cubalif_seq, cubalif_step

TAU_MEM, TAU_SYN = 10.0, 5.0  # ms
CURRENTS = (1.2, 1.5, 2.0)  # 50-130 Hz


def reference(current: float, duration: float) -> np.ndarray:
    """Reference spike times up to ``duration`` (ms), cut from one shared run of at least 1000 ms."""
    times = _solve(current, max(duration, 1000.0))
    return times[times <= duration]


@functools.cache
def _solve(current: float, duration: float) -> np.ndarray:
    def rhs(t, y):
        v, i = y
        return [(-v + i) / TAU_MEM, (current - i) / TAU_SYN]

    return spikes_with_resets(rhs, [0.0, 0.0], duration, crossing=lambda y: y[0] - 1.0, reset=lambda y: [0.0, y[1]])


def simulate(dt_ms: float, duration: float, reset="zero", currents=CURRENTS) -> list[np.ndarray]:
    model = CubaLIF(
        tau_mem=TAU_MEM * ms, tau_syn=TAU_SYN * ms, reset=reset, dt=dt_ms * ms, dtype=torch.float64, backend="torch"
    )
    with torch.no_grad():
        z, _ = model(constant(currents, round(duration / dt_ms)))
    return spike_times(z[:, :, 0], dt_ms)


def test_subthreshold_response_is_exact_at_any_dt():
    x, dt = 0.8, 1.0
    _, states = CubaLIF(tau_mem=TAU_MEM * ms, tau_syn=TAU_SYN * ms, dt=dt * ms, dtype=torch.float64, record=True)(
        constant([x], 100)
    )
    t = np.arange(1, 101) * dt
    v = x * (1 - (TAU_MEM * np.exp(-t / TAU_MEM) - TAU_SYN * np.exp(-t / TAU_SYN)) / (TAU_MEM - TAU_SYN))
    np.testing.assert_allclose(states.v[:, 0, 0].numpy(), v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(states.i[:, 0, 0].numpy(), x * (1 - np.exp(-t / TAU_SYN)), atol=1e-12)


def test_equal_time_constants_use_the_limit():
    x = constant([0.8], 50)
    _, equal = CubaLIF(tau_mem=10 * ms, tau_syn=10 * ms, dtype=torch.float64, record=True)(x)
    _, near = CubaLIF(tau_mem=10 * ms, tau_syn=10.0001 * ms, dtype=torch.float64, record=True)(x)
    assert torch.isfinite(equal.v).all() and torch.allclose(equal.v, near.v, atol=1e-5)


@pytest.mark.parametrize("duration", [200.0, pytest.param(1000.0, marks=FULL_LENGTH)])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_spike_times_match_solver_at_dt_0_01ms(duration, reset):
    for current, sim in zip(CURRENTS, simulate(0.01, duration, reset)):
        ref = reference(current, duration + 1.0)
        assert len(ref) >= 5
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    for current, sim in zip(CURRENTS, simulate(0.1, 1000.0)):
        ref = rate(reference(current, 1000.0), 1000.0)
        assert abs(rate(sim, 1000.0) - ref) <= 0.05 * ref


def test_first_order_convergence_of_spike_times():
    dts = [0.4, 0.2, 0.1, 0.05]
    errors = convergence_errors(simulate, reference, CURRENTS, dts, 100.0)
    assert 0.7 < slope(dts, errors) < 1.4, errors


def test_cell_functional_sequence_and_chunks_agree():
    x = torch.rand(60, 2, 3) * 3
    model = CubaLIF(3, record=True, backend="torch")
    z_seq, states = model(x)
    cell, state, zs = CubaLIFCell(3), None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    assert torch.equal(torch.stack(zs), z_seq)
    z1, s1 = cubalif_seq(x[:30], backend="torch")
    z2, s2 = cubalif_seq(x[30:], s1, backend="torch")
    assert torch.equal(torch.cat([z1, z2]), z_seq) and torch.allclose(s2.v, states.v[-1])
    z0, _ = cubalif_step(x[0], None)
    assert torch.equal(z0, z_seq[0])


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="tau_syn"):
        CubaLIF(tau_syn=-1.0)
    with pytest.raises(ValueError, match="reset"):
        CubaLIF(reset="hard")


def test_surrogate_training_learns_target_counts():
    model = CubaLIF(dt=0.5 * ms, dtype=torch.float64, detach_reset=True)
    targets = [2, 3, 5, 7]
    counts, losses = train_counts(
        model, start=1.2, scale=0.5, targets=targets, steps=200, iterations=60, lr=0.1, stop_within=1
    )
    assert max(abs(c - t) for c, t in zip(counts, targets)) <= 1, (counts, losses[::5])
