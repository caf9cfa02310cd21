"""Morris-Lecar against scipy's DOP853 (both presets as one heterogeneous batch); class I vs class II onset."""

import functools

import numpy as np
import pytest
import torch

from ode_reference import FULL_LENGTH, check_spike_trains, rate, slope, spike_times, upward_crossings
from spikeforge import MorrisLecar, ms
from spikeforge.neurons import MORRIS_LECAR_PRESETS, MorrisLecarCell, morris_lecar_seq
from spikeforge.neurons._morris_lecar import NAMES

CASES = (("class_I", 45.0), ("class_I", 80.0), ("class_II", 95.0), ("class_II", 120.0))


@functools.cache
def reference(duration: float):
    p = {k: np.array([MORRIS_LECAR_PRESETS[name][k] for name, _ in CASES]) for k in NAMES}
    current = np.array([c for _, c in CASES])
    n = len(CASES)

    def rhs(t, y):
        v, w = y.reshape(2, n)
        m_inf = 0.5 * (1 + np.tanh((v - p["V_1"]) / p["V_2"]))
        w_inf = 0.5 * (1 + np.tanh((v - p["V_3"]) / p["V_4"]))
        tau_w = 1 / np.cosh((v - p["V_3"]) / (2 * p["V_4"]))
        dv = (
            current - p["g_L"] * (v - p["V_L"]) - p["g_Ca"] * m_inf * (v - p["V_Ca"]) - p["g_K"] * w * (v - p["V_K"])
        ) / p["C"]
        return np.concatenate([dv, p["phi"] * (w_inf - w) / tau_w])

    v0 = np.full(n, -60.0)
    y0 = np.concatenate([v0, 0.5 * (1 + np.tanh((v0 - p["V_3"]) / p["V_4"]))])
    return upward_crossings(rhs, y0, duration, index=lambda y: y[:n], threshold=0.0, n=n)


def model_for(names, dt_ms: float, **kwargs) -> MorrisLecar:
    values = {k: torch.tensor([MORRIS_LECAR_PRESETS[n][k] for n in names], dtype=torch.float64) for k in NAMES}
    return MorrisLecar(len(names), **values, dt=dt_ms * ms, dtype=torch.float64, **kwargs)


def simulate(dt_ms: float, duration: float, **kwargs):
    model = model_for([name for name, _ in CASES], dt_ms, **kwargs)
    current = torch.tensor([c for _, c in CASES], dtype=torch.float64)
    with torch.no_grad():
        z, states = model(current.expand(round(duration / dt_ms), 1, -1))
    return spike_times(z[:, 0, :], dt_ms), states


@pytest.mark.parametrize("duration", [80.0, pytest.param(1000.0, marks=FULL_LENGTH)])
def test_spike_times_match_solver_at_dt_0_01ms(duration):
    refs, _ = reference(duration + 1.0)
    sims, _ = simulate(0.01, duration)
    for ref, sim in zip(refs, sims):
        assert np.sum(ref <= duration) >= 1
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    refs, _ = reference(300.0)
    sims, _ = simulate(0.1, 300.0)
    for ref, sim in zip(refs, sims):
        r = 1000.0 * (len(ref) - 1) / (ref[-1] - ref[0])
        assert abs(1000.0 * (len(sim) - 1) / (sim[-1] - sim[0]) - r) <= 0.05 * r


def test_fourth_order_convergence_of_the_trace():
    _, sol = reference(100.0)
    dts = [0.4, 0.2, 0.1]
    errors = []
    for dt in dts:
        _, states = simulate(dt, 60.0, record=True)
        t = np.arange(1, states.v.shape[0] + 1) * dt
        errors.append(np.max(np.abs(states.v[:, 0, :].numpy().T - sol.sol(t)[: len(CASES)])))
    assert 3.4 < slope(dts, errors) < 4.8, errors


def onset_rates(name: str, currents) -> np.ndarray:
    """Steady firing rate (Hz, from the last second of two) for each current, all currents as one batch."""
    model = model_for([name], 0.5)
    x = torch.tensor(currents, dtype=torch.float64).reshape(1, -1, 1).expand(4000, -1, -1)
    with torch.no_grad():
        z, _ = model(x)
    return np.array([rate(t, 2000.0, skip_ms=1000.0) for t in spike_times(z[:, :, 0], 0.5)])


def test_class_I_fires_at_arbitrarily_low_rate_class_II_jumps():
    class_1 = onset_rates("class_I", np.arange(39.0, 42.01, 0.25))
    class_2 = onset_rates("class_II", np.arange(86.0, 92.01, 0.5))
    lowest_1 = class_1[class_1 > 0].min()
    lowest_2 = class_2[class_2 > 0].min()
    assert lowest_1 <= 5.0, class_1  # rate grows continuously from zero (saddle-node on invariant circle)
    assert lowest_2 >= 8.0, class_2  # rate jumps to a finite value (Hopf)
    assert class_1[-1] > lowest_1 and class_2[-1] >= lowest_2


def test_presets_cell_and_sequence():
    assert set(MORRIS_LECAR_PRESETS) == {"class_I", "class_II"}
    assert float(MorrisLecar.preset("class_I").get("g_Ca")) == 4.0
    x = torch.full((50, 2, 3), 100.0)
    z_seq, states = MorrisLecar(3, record=True)(x)
    cell, state = MorrisLecarCell(3), None
    for xt in x:
        _, state = cell(xt, state)
    assert torch.equal(state.v, states.v[-1]) and torch.equal(morris_lecar_seq(x)[0], z_seq)
    with pytest.raises(TypeError, match="unknown"):
        MorrisLecar(gCa=4.0)
    with pytest.warns(RuntimeWarning, match="substeps"):
        MorrisLecar(dt=1 * ms)


def test_gradients_flow_through_the_smooth_spike_readout():
    model = MorrisLecar.preset("class_II", dt=0.2 * ms, dtype=torch.float64, surrogate="sigmoid")
    current = torch.tensor(100.0, dtype=torch.float64, requires_grad=True)
    z, _ = model(current.expand(500, 1, 1))
    assert z.sum() >= 1
    z.sum().backward()
    assert torch.isfinite(current.grad) and current.grad != 0
