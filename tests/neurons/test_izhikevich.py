"""Izhikevich (2003) against scipy's DOP853 with event resets, preset firing patterns, and surrogate training."""

import functools

import numpy as np
import pytest
import torch

from ode_reference import (
    FULL_LENGTH,
    check_spike_trains,
    constant,
    mean_time_error,
    rate,
    slope,
    spike_times,
    spikes_with_resets,
    train_counts,
)
from spikeforge import Izhikevich, ms
from spikeforge.neurons import IZHIKEVICH_PRESETS, IzhikevichCell, izhikevich_seq, izhikevich_step

CURRENTS = (5.0, 10.0, 20.0)
A, B, C, D = 0.02, 0.2, -65.0, 8.0  # regular spiking


def reference(current: float, duration: float) -> np.ndarray:
    """Reference spike times up to ``duration`` (ms), cut from one shared run of at least 1000 ms."""
    times = _solve(current, max(duration, 1000.0))
    return times[times <= duration]


@functools.cache
def _solve(current: float, duration: float) -> np.ndarray:
    def rhs(t, y):
        v, u = y
        return [0.04 * v * v + 5 * v + 140 - u + current, A * (B * v - u)]

    return spikes_with_resets(
        rhs, [-65.0, B * -65.0], duration, crossing=lambda y: y[0] - 30.0, reset=lambda y: [C, y[1] + D]
    )


def simulate(dt_ms: float, duration: float, currents=CURRENTS) -> list[np.ndarray]:
    model = Izhikevich(preset="regular_spiking", dt=dt_ms * ms, dtype=torch.float64, backend="torch")
    with torch.no_grad():
        z, _ = model(constant(currents, round(duration / dt_ms)))
    return spike_times(z[:, :, 0], dt_ms)


@pytest.mark.parametrize("duration", [200.0, pytest.param(1000.0, marks=FULL_LENGTH)])
def test_spike_times_match_solver_at_dt_0_01ms(duration):
    for current, sim in zip(CURRENTS, simulate(0.01, duration)):
        ref = reference(current, duration + 1.0)
        assert len(ref) >= 2
        check_spike_trains(ref, sim, duration)


def test_rate_within_5_percent_at_dt_0_1ms():
    for current, sim in zip(CURRENTS, simulate(0.1, 1000.0)):
        ref = reference(current, 1000.0)
        assert abs(rate(sim, 1000.0) - rate(ref, 1000.0)) <= 0.05 * rate(ref, 1000.0)


def test_first_order_convergence():
    dts = [0.2, 0.1, 0.05, 0.025]
    errors = []
    for dt in dts:
        sims = simulate(dt, 150.0)
        errors.append(np.mean([mean_time_error(reference(c, 150.0), s) for c, s in zip(CURRENTS, sims)]))
    assert all(np.diff(errors) < 0), errors
    assert 0.7 < slope(dts, errors) < 1.5, (errors, slope(dts, errors))


PATTERNS = [
    "regular_spiking",
    "fast_spiking",
    "intrinsically_bursting",
    "chattering",
    "low_threshold_spiking",
    "thalamo_cortical",
]


def preset_isis(duration=600.0, dt=0.2) -> dict[str, np.ndarray]:
    """All tonic-drive presets as one batch of neurons with per-neuron (a, b, c, d), 10 units of current each."""
    values = {k: torch.tensor([IZHIKEVICH_PRESETS[p][k] for p in PATTERNS], dtype=torch.float64) for k in "abcd"}
    model = Izhikevich(len(PATTERNS), **values, dt=dt * ms, dtype=torch.float64)
    with torch.no_grad():
        z, _ = model(torch.full((round(duration / dt), 1, len(PATTERNS)), 10.0, dtype=torch.float64))
    return {p: np.diff(t) for p, t in zip(PATTERNS, spike_times(z[:, 0, :], dt))}


def test_presets_show_their_firing_patterns():
    isi = preset_isis()
    rs, fs, ib, ch, lts, tc = (isi[p] for p in PATTERNS)
    assert rs.min() > 15 and rs[-1] > 1.3 * rs[0]  # tonic, adapting
    assert len(fs) > 4 * len(rs) and np.std(fs[5:]) < 0.05 * np.mean(fs[5:])  # fast, regular
    assert ib[:2].max() < 8 and np.median(ib[5:]) > 4 * ib[0]  # an initial burst, then tonic spikes
    late = ch[len(ch) // 3 :]
    assert (late < 10).sum() >= 5 and (late > 20).sum() >= 3  # repeated bursts: short and long intervals
    assert lts[0] < 0.5 * rs[0] and lts[-1] > 1.3 * lts[0]  # fast onset, adaptation
    assert np.std(tc[-20:]) < 0.1 * np.mean(tc[-20:])  # thalamo-cortical: tonic at depolarised drive ...


def test_thalamo_cortical_rebound_and_resonator_oscillation():
    names = ["thalamo_cortical", "resonator"]
    values = {k: torch.tensor([IZHIKEVICH_PRESETS[p][k] for p in names], dtype=torch.float64) for k in "abcd"}
    model = Izhikevich(2, **values, dt=0.2 * ms, dtype=torch.float64, record=True)
    x = torch.zeros(2000, 1, 2, dtype=torch.float64)
    x[:1000, 0, 0] = -10.0  # the thalamo-cortical cell is held hyperpolarised for 200 ms, then released
    with torch.no_grad():
        z, states = model(x)
    tc = spike_times(z[:, 0, :], 0.2)[0]
    assert len(tc) >= 1 and tc.min() > 200  # ... and fires a rebound spike after release from inhibition
    # after its first transient the resonator settles through a damped oscillation without spiking: v crosses
    # its final value repeatedly
    v = states.v[500:, 0, 1].numpy()
    assert z[500:, 0, 1].sum() == 0 and np.sum(np.diff(np.sign(v - v[-1])) != 0) >= 2


def test_presets_dict_and_constructor():
    assert set(IZHIKEVICH_PRESETS) >= {
        "regular_spiking",
        "intrinsically_bursting",
        "chattering",
        "fast_spiking",
        "low_threshold_spiking",
        "thalamo_cortical",
        "resonator",
    }
    model = Izhikevich.preset("chattering", d=3.0)
    assert float(model.get("c")) == -50.0 and float(model.get("d")) == 3.0
    assert Izhikevich.PRESETS is IZHIKEVICH_PRESETS
    with pytest.raises(ValueError, match="preset"):
        Izhikevich(preset="bogus")


def test_per_neuron_parameters_equal_separate_runs():
    names = ["regular_spiking", "chattering", "fast_spiking"]
    values = {k: torch.tensor([IZHIKEVICH_PRESETS[n][k] for n in names], dtype=torch.float64) for k in "abcd"}
    hetero = Izhikevich(3, **values, dtype=torch.float64)
    x = torch.full((500, 1, 3), 10.0, dtype=torch.float64)
    z, _ = hetero(x)
    for k, name in enumerate(names):
        zk, _ = Izhikevich.preset(name, dtype=torch.float64)(x[:, :, k : k + 1])
        assert torch.equal(z[:, :, k : k + 1], zk)


def test_cell_functional_and_record_agree():
    x = torch.full((200, 2, 3), 12.0)
    seq = Izhikevich(3, record=True)
    z_seq, states = seq(x)
    cell, state, zs = IzhikevichCell(3), None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    assert torch.equal(torch.stack(zs), z_seq) and torch.equal(state.v, states.v[-1])
    z_f, final = izhikevich_seq(x, dt=0.1 * ms)
    assert torch.equal(z_f, z_seq) and torch.equal(final.u, states.u[-1])
    z1, s1 = izhikevich_step(x[0], None)
    assert torch.equal(z1, z_seq[0]) and torch.equal(s1.v, states.v[0])


def test_large_dt_warns_and_bad_input_raises():
    with pytest.warns(RuntimeWarning, match="dt"):
        Izhikevich(dt=2 * ms)
    with pytest.raises(ValueError, match="input"):
        Izhikevich(3)(torch.zeros(10, 2, 4))


def test_surrogate_training_learns_target_counts():
    model = Izhikevich.preset("regular_spiking", dt=0.5 * ms, dtype=torch.float64, detach_reset=True)
    targets = [2, 3, 5, 7]
    counts, losses = train_counts(
        model, start=12.0, scale=10.0, targets=targets, steps=200, iterations=40, lr=0.1, stop_within=1
    )
    # bar: every neuron within one spike of its target (100 ms at dt = 0.5 ms), from a mean squared error of ~4
    assert max(abs(c - t) for c, t in zip(counts, targets)) <= 1, (counts, losses[::5])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_grad_fast_path_equals_the_autograd_scan(dtype):
    g = torch.Generator().manual_seed(3)
    n = 64
    x = torch.rand(300, 2, n, generator=g, dtype=dtype) * 25
    model = Izhikevich(
        n,
        a=0.02 + 0.08 * torch.rand(n, generator=g, dtype=dtype),
        c=-65 + 15 * torch.rand(n, generator=g, dtype=dtype),
        d=8 * torch.rand(n, generator=g, dtype=dtype),
        dt=0.5 * ms,
        dtype=dtype,
    )
    with torch.no_grad():
        z_fast, s_fast = model(x)  # in-place buffers, no autograd
    z_ref, s_ref = model(x)  # the plain scan, recording a graph
    assert z_fast.sum() > 100
    assert torch.equal(z_fast, z_ref) and torch.equal(s_fast.v, s_ref.v) and torch.equal(s_fast.u, s_ref.u)
