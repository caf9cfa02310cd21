"""AdEx against scipy's DOP853 with event resets (three Naud et al. presets as one heterogeneous batch); firing
patterns of the presets; surrogate training."""

import functools

import numpy as np
import pytest
import torch

from ode_reference import (
    FULL_LENGTH,
    check_spike_trains,
    convergence_errors,
    rate,
    slope,
    spike_times,
    spikes_with_resets,
    train_counts,
)
from spikeforge import AdEx, ms
from spikeforge.neurons import ADEX_PRESETS, AdExCell, adex_seq, adex_step
from spikeforge.neurons._adex import NAMES, PRESET_CURRENTS

CASES = ("tonic", "adapting", "initial_burst")
V_PEAK = 0.0


def reference(preset: str, duration: float) -> np.ndarray:
    """Reference spike times up to ``duration`` (ms), cut from one shared run of at least 500 ms."""
    times = _solve(preset, max(duration, 500.0))
    return times[times <= duration]


@functools.cache
def _solve(preset: str, duration: float) -> np.ndarray:
    p = ADEX_PRESETS[preset]
    current, tau_w = PRESET_CURRENTS[preset], p["tau_w"] / ms

    def rhs(t, y):
        v, w = y
        dv = (
            -p["g_L"] * (v - p["E_L"]) + p["g_L"] * p["Delta_T"] * np.exp((v - p["V_T"]) / p["Delta_T"]) - w + current
        ) / p["C"]
        return [dv, (p["a"] * (v - p["E_L"]) - w) / tau_w]

    return spikes_with_resets(
        rhs, [p["E_L"], 0.0], duration, crossing=lambda y: y[0] - V_PEAK, reset=lambda y: [p["V_r"], y[1] + p["b"]]
    )


def model_for(presets, dt_ms: float, **kwargs) -> AdEx:
    values = {k: torch.tensor([ADEX_PRESETS[p][k] for p in presets], dtype=torch.float64) for k in NAMES}
    return AdEx(len(presets), **values, V_peak=V_PEAK, dt=dt_ms * ms, dtype=torch.float64, **kwargs)


def simulate(dt_ms: float, duration: float, presets=CASES) -> list[np.ndarray]:
    current = torch.tensor([PRESET_CURRENTS[p] for p in presets], dtype=torch.float64)
    with torch.no_grad():
        z, _ = model_for(presets, dt_ms)(current.expand(round(duration / dt_ms), 1, -1))
    return spike_times(z[:, 0, :], dt_ms)


@pytest.mark.parametrize("duration", [200.0, pytest.param(1000.0, marks=FULL_LENGTH)])
def test_spike_times_match_solver_at_dt_0_01ms(duration):
    for preset, sim in zip(CASES, simulate(0.01, duration)):
        ref = reference(preset, duration + 1.0)
        assert len(ref) >= 3
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    for preset, sim in zip(CASES, simulate(0.1, 500.0)):
        ref = rate(reference(preset, 500.0), 500.0)
        assert abs(rate(sim, 500.0) - ref) <= 0.05 * ref, preset


def test_first_order_convergence_of_spike_times():
    dts = [0.2, 0.1, 0.05, 0.025]
    errors = convergence_errors(simulate, reference, CASES, dts, 100.0)
    assert 0.7 < slope(dts, errors) < 1.5, errors


def test_presets_show_their_firing_patterns():
    names = ["tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating", "transient_spiking"]
    isi = dict(zip(names, (np.diff(t) for t in simulate(0.05, 500.0, names))))
    assert np.std(isi["tonic"][3:]) < 0.05 * np.mean(isi["tonic"][3:])
    assert isi["adapting"][-1] > 3 * isi["adapting"][0]
    assert isi["initial_burst"][:2].max() < 10 and isi["initial_burst"][-1] > 4 * isi["initial_burst"][0]
    rb = isi["regular_bursting"]
    assert (rb < 10).sum() >= 2 and (rb > 50).sum() >= 2  # bursts separated by long pauses
    assert isi["delayed_accelerating"][-1] < 0.8 * isi["delayed_accelerating"][0]
    assert len(isi["transient_spiking"]) < 8 and isi["transient_spiking"][0] < 10


def test_presets_and_errors():
    assert set(ADEX_PRESETS) >= {"tonic", "adapting", "initial_burst", "regular_bursting"}
    model = AdEx.preset("tonic", b=5.0)
    assert float(model.get("b")) == 5.0 and float(model.get("C")) == 200.0
    with pytest.raises(ValueError, match="preset"):
        AdEx(preset="nope")
    with pytest.raises(ValueError, match="Delta_T"):
        AdEx(Delta_T=0.0)
    with pytest.warns(RuntimeWarning, match="dt"):
        AdEx(dt=2 * ms)


def test_cell_functional_and_sequence_agree():
    x = torch.full((300, 2, 3), 500.0)
    z_seq, states = AdEx(3, record=True)(x)
    cell, state, zs = AdExCell(3), None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    assert torch.equal(torch.stack(zs), z_seq) and torch.equal(state.w, states.w[-1])
    assert torch.equal(adex_seq(x)[0], z_seq) and torch.equal(adex_step(x[0], None)[1].v, states.v[0])


def test_surrogate_training_learns_target_counts():
    model = AdEx.preset("tonic", dt=0.5 * ms, dtype=torch.float64, detach_reset=True)
    targets = [2, 3, 5, 7]
    counts, losses = train_counts(
        model, start=400.0, scale=200.0, targets=targets, steps=200, iterations=40, lr=0.1, stop_within=1
    )
    assert max(abs(c - t) for c, t in zip(counts, targets)) <= 1, (counts, losses[::5])
