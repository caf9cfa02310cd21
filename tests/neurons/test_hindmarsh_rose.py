"""Hindmarsh-Rose against scipy's DOP853 (all currents as one system); bursting and tonic regimes."""

import functools

import numpy as np
import pytest
import torch

from ode_reference import (
    FULL_LENGTH,
    check_spike_trains,
    constant,
    slope,
    spike_times,
    upward_crossings,
)
from spikeforge import HindmarshRose, ms
from spikeforge.neurons import HINDMARSH_ROSE_PRESETS, HindmarshRoseCell, hindmarsh_rose_seq
from spikeforge.neurons._hindmarsh_rose import PRESET_CURRENTS

CURRENTS = (2.5, 3.5, 5.0)
A, B, C, D, R, S, X_R = 1.0, 3.0, 1.0, 5.0, 0.006, 4.0, -1.6


@functools.cache
def reference(currents: tuple, duration: float):
    current = np.asarray(currents)
    n = len(current)

    def rhs(t, y):
        x, yy, z = y.reshape(3, n)
        return np.concatenate([yy - A * x**3 + B * x**2 - z + current, C - D * x**2 - yy, R * (S * (x - X_R) - z)])

    y0 = np.concatenate([np.full(n, X_R), np.full(n, C - D * X_R**2), np.zeros(n)])
    return upward_crossings(rhs, y0, duration, index=lambda y: y[:n], threshold=1.0, n=n)


def simulate(dt_ms: float, duration: float, currents=CURRENTS, **kwargs):
    model = HindmarshRose(dt=dt_ms * ms, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        z, states = model(constant(currents, round(duration / dt_ms)))
    return spike_times(z[:, :, 0], dt_ms), states


@pytest.mark.parametrize("duration", [60.0, pytest.param(1000.0, marks=FULL_LENGTH)])
def test_spike_times_match_solver_at_dt_0_01ms(duration):
    refs, _ = reference(CURRENTS, duration + 1.0)
    sims, _ = simulate(0.01, duration)
    for ref, sim in zip(refs, sims):
        assert np.sum(ref <= duration) >= 3
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    refs, _ = reference(CURRENTS, 300.0)
    sims, _ = simulate(0.1, 300.0, substeps=2)
    for ref, sim in zip(refs, sims):
        assert abs(len(sim) - len(ref)) <= 0.05 * len(ref), (len(sim), len(ref))


def test_fourth_order_convergence_of_the_trace():
    _, sol = reference(CURRENTS, 30.0)
    dts = [0.04, 0.02, 0.01]
    errors = []
    for dt in dts:
        _, states = simulate(dt, 30.0, record=True)
        t = np.arange(1, states.x.shape[0] + 1) * dt
        errors.append(np.max(np.abs(states.x[:, :, 0].numpy().T - sol.sol(t)[: len(CURRENTS)])))
    assert 3.4 < slope(dts, errors) < 4.8, errors


def test_bursting_and_tonic_regimes():
    currents = (PRESET_CURRENTS["bursting"], PRESET_CURRENTS["tonic"])
    sims, _ = simulate(0.05, 700.0, currents=currents, preset="bursting")
    burst, tonic = (np.diff(t[t > 300.0]) for t in sims)
    assert (burst < 25).sum() >= 4 and (burst > 60).sum() >= 2  # short intra-burst and long inter-burst gaps
    assert np.std(tonic) < 0.05 * np.mean(tonic) and len(tonic) >= 15  # regular single spikes


def test_presets_cell_sequence_and_warning():
    assert set(HINDMARSH_ROSE_PRESETS) == {"bursting", "tonic"}
    x = torch.full((50, 2, 3), 3.0)
    z_seq, states = HindmarshRose(3, record=True)(x)
    cell, state = HindmarshRoseCell(3), None
    for xt in x:
        _, state = cell(xt, state)
    assert torch.equal(state.z, states.z[-1]) and torch.equal(hindmarsh_rose_seq(x)[0], z_seq)
    with pytest.warns(RuntimeWarning, match="substeps"):
        HindmarshRose(dt=0.1 * ms)
