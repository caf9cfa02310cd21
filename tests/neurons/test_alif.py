"""ALIF (adaptive threshold) against scipy's DOP853 with event resets; adaptation and surrogate training."""

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
from spikeforge import ALIF, ms
from spikeforge.neurons import ALIFCell, alif_seq, alif_step

TAU_MEM, TAU_ADAPT, BETA = 20.0, 200.0, 0.2  # ms, ms, threshold units per spike
CURRENTS = (1.5, 2.5, 4.0)


def reference(current: float, duration: float) -> np.ndarray:
    """Reference spike times up to ``duration`` (ms), cut from one shared run of at least 1000 ms."""
    times = _solve(current, max(duration, 1000.0))
    return times[times <= duration]


@functools.cache
def _solve(current: float, duration: float) -> np.ndarray:
    def rhs(t, y):
        v, a = y
        return [(current - v) / TAU_MEM, -a / TAU_ADAPT]

    # subtract reset at the exact crossing: v drops by the adaptive threshold it just reached, i.e. to 0
    return spikes_with_resets(
        rhs, [0.0, 0.0], duration, crossing=lambda y: y[0] - (1.0 + BETA * y[1]), reset=lambda y: [0.0, y[1] + 1.0]
    )


def simulate(dt_ms: float, duration: float, currents=CURRENTS, **kwargs) -> list[np.ndarray]:
    model = ALIF(
        tau_mem=TAU_MEM * ms,
        tau_adapt=TAU_ADAPT * ms,
        beta=BETA,
        dt=dt_ms * ms,
        dtype=torch.float64,
        backend="torch",
        **kwargs,
    )
    with torch.no_grad():
        z, _ = model(constant(currents, round(duration / dt_ms)))
    return spike_times(z[:, :, 0], dt_ms)


@pytest.mark.parametrize("duration", [200.0, pytest.param(1000.0, marks=FULL_LENGTH)])
def test_spike_times_match_solver_at_dt_0_01ms(duration):
    for current, sim in zip(CURRENTS, simulate(0.01, duration)):
        ref = reference(current, duration + 1.0)
        assert len(ref) >= 4
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    for current, sim in zip(CURRENTS, simulate(0.1, 1000.0)):
        ref = rate(reference(current, 1000.0), 1000.0)
        assert abs(rate(sim, 1000.0) - ref) <= 0.05 * ref


def test_first_order_convergence_of_spike_times():
    dts = [0.4, 0.2, 0.1, 0.05]
    errors = convergence_errors(simulate, reference, CURRENTS, dts, 100.0)
    assert 0.7 < slope(dts, errors) < 1.4, errors


def test_threshold_adapts_and_recovers():
    z, states = ALIF(tau_adapt=TAU_ADAPT * ms, beta=BETA, dtype=torch.float64, record=True)(
        torch.cat([constant([2.0], 300), constant([0.0], 600)])
    )
    isi = np.diff(spike_times(z[:, :, 0], 1.0)[0])
    assert isi[-1] > 1.5 * isi[0]  # firing slows down as the threshold rises
    a = states.a[:, 0, 0].numpy()
    np.testing.assert_allclose(a[899] / a[399], np.exp(-500 / TAU_ADAPT), rtol=1e-9)  # free decay with tau_adapt


def test_without_adaptation_it_is_a_lif_with_subtract_reset():
    x = torch.rand(100, 2, 3, dtype=torch.float64) * 3
    z_alif, _ = ALIF(beta=0.0, dtype=torch.float64)(x)
    from spikeforge import LIF

    beta = np.exp(-1 / 20)
    z_lif, _ = LIF(tau_mem=20 * ms, dtype=torch.float64, backend="torch")((1 - beta) * x)
    assert torch.equal(z_alif, z_lif)


def test_cell_functional_and_sequence_agree():
    x = torch.rand(50, 2, 3) * 3
    z_seq, states = ALIF(3, record=True, backend="torch")(x)
    cell, state, zs = ALIFCell(3), None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    assert torch.equal(torch.stack(zs), z_seq) and torch.equal(state.a, states.a[-1])
    assert torch.equal(alif_seq(x, backend="torch")[0], z_seq) and torch.equal(alif_step(x[0], None)[0], z_seq[0])


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="tau_adapt"):
        ALIF(tau_adapt=0.0)
    with pytest.raises(ValueError, match="threshold"):
        ALIF(threshold=-1.0)


def test_surrogate_training_learns_target_counts():
    model = ALIF(dt=0.5 * ms, dtype=torch.float64, detach_reset=True)
    targets = [2, 3, 5, 7]
    counts, losses = train_counts(
        model, start=2.0, scale=1.0, targets=targets, steps=200, iterations=60, lr=0.1, stop_within=1
    )
    assert max(abs(c - t) for c, t in zip(counts, targets)) <= 1, (counts, losses[::5])
