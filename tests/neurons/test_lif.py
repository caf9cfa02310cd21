"""LIF against closed forms and invariances (DESIGN.md: how we test numerical code)."""

import math

import pytest
import torch

import spikeforge as sf
from spikeforge.functional import lif_seq, lif_step
from spikeforge.init import LogNormal, Uniform
from spikeforge.neurons import LIFParams, LIFState
from spikeforge.units import ms


def test_subthreshold_trace_equals_continuous_closed_form():
    # tau dv/dt = -v + R I with constant R I: v(t) = R I (1 - exp(-t / tau)); the per-step charge is (1-beta) R I
    tau, dt, ri = 20 * ms, 0.5 * ms, 0.8
    beta = math.exp(-dt / tau)
    steps = 400
    x = torch.full((steps, 1, 1), (1 - beta) * ri, dtype=torch.float64)
    lif = sf.LIF(tau_mem=tau, dt=dt, threshold=10.0, record=True, dtype=torch.float64)
    _, states = lif(x)
    t = torch.arange(1, steps + 1, dtype=torch.float64) * dt
    torch.testing.assert_close(states.v[:, 0, 0], ri * (1 - torch.exp(-t / tau)), rtol=1e-12, atol=1e-12)


def test_current_based_impulse_response_equals_double_exponential():
    # one input impulse: i_n = alpha^(n-1) q, v_n = q (beta^n - alpha^n) / (beta - alpha)
    tau_mem, tau_syn, dt, q = 10 * ms, 3 * ms, 1 * ms, 0.3
    x = torch.zeros(60, 1, 1, dtype=torch.float64)
    x[0] = q
    _, states = sf.LIF(tau_mem=tau_mem, tau_syn=tau_syn, dt=dt, threshold=5.0, record=True, dtype=torch.float64)(x)
    beta, alpha = math.exp(-dt / tau_mem), math.exp(-dt / tau_syn)
    n = torch.arange(1, 61, dtype=torch.float64)
    torch.testing.assert_close(states.v[:, 0, 0], q * (beta**n - alpha**n) / (beta - alpha), rtol=1e-12, atol=1e-14)


def test_firing_rate_matches_analytic_fi_curve():
    # rate = 1 / (t_ref + tau ln(RI / (RI - theta))); a discrete ISI is the continuous one rounded up to a step.
    # The four currents run as four neurons of one batch.
    ris = (1.05, 1.3, 2.0, 5.0)
    tau, theta, t_ref, dt, duration = 20 * ms, 1.0, 2 * ms, 0.05 * ms, 1.0
    steps = round(duration / dt)
    beta = math.exp(-dt / tau)
    x = torch.tensor([(1 - beta) * ri for ri in ris], dtype=torch.float64).expand(steps, 1, len(ris))
    with torch.no_grad():
        z, _ = sf.LIF(tau_mem=tau, threshold=theta, reset="zero", t_ref=t_ref, dt=dt, dtype=torch.float64)(x)
    for k, ri in enumerate(ris):
        isi = t_ref + tau * math.log(ri / (ri - theta))
        count = int(z[:, 0, k].sum())
        low = math.floor(duration / (isi + dt)) - 1
        high = math.ceil(duration / isi) + 1
        assert low <= count <= high, (ri, count, duration / isi)
        spike_times = torch.nonzero(z[:, 0, k]).flatten().double() * dt
        mean_isi = float(spike_times.diff().mean())
        assert isi - 1e-12 <= mean_isi <= isi + dt, (ri, mean_isi, isi)


def test_below_rheobase_never_fires():
    x = torch.full((2000, 1, 1), (1 - math.exp(-1 / 20)) * 0.999, dtype=torch.float64)
    z, _ = sf.LIF(tau_mem=20 * ms)(x)
    assert z.sum() == 0


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("tau_syn", [None, 5 * ms])
def test_two_chunks_equal_one_sequence(reset, tau_syn):
    x = torch.rand(40, 3, 7, dtype=torch.float64) * 0.6
    lif = sf.LIF(7, reset=reset, tau_syn=tau_syn, t_ref=2 * ms, dtype=torch.float64)
    z_all, s_all = lif(x)
    z1, s1 = lif(x[:20])
    z2, s2 = lif(x[20:], s1)
    torch.testing.assert_close(torch.cat([z1, z2]), z_all)
    for a, b in zip(s2, s_all):
        torch.testing.assert_close(a, b)


def test_cell_loop_equals_sequence_module_and_functional():
    kwargs = dict(tau_mem=15 * ms, tau_syn=4 * ms, threshold=0.7, reset="zero", t_ref=3 * ms)
    x = torch.rand(30, 4, 5)
    z_seq, s_seq = sf.LIF(5, **kwargs)(x)
    cell, state, zs = sf.LIFCell(5, **kwargs), None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    torch.testing.assert_close(torch.stack(zs), z_seq)
    torch.testing.assert_close(state.v, s_seq.v)
    params = LIFParams(tau_mem=15 * ms, tau_syn=4 * ms, threshold=0.7, reset="zero", t_ref=3 * ms)
    z_f, _ = lif_seq(x, None, params)
    torch.testing.assert_close(z_f, z_seq)
    state, zs = None, []
    for xt in x:
        z, state = lif_step(xt, state, params)
        zs.append(z)
    torch.testing.assert_close(torch.stack(zs), z_seq)


def test_batch_of_n_equals_n_batches_of_one():
    x = torch.rand(25, 6, 4) * 0.5
    lif = sf.LIF(4, tau_syn=5 * ms)
    z_all, _ = lif(x)
    for b in range(6):
        z_b, _ = lif(x[:, b : b + 1])
        torch.testing.assert_close(z_b, z_all[:, b : b + 1])


def test_reset_modes():
    x = torch.tensor([[[1.5]], [[0.0]]])
    z, s = sf.LIF(tau_mem=1e9, reset="subtract")(x)
    assert z[0].item() == 1.0 and s.v.item() == pytest.approx(0.5)
    _, s = sf.LIF(tau_mem=1e9, reset="zero", v_reset=-0.2)(x)
    assert s.v.item() == pytest.approx(-0.2)
    z, s = sf.LIF(tau_mem=1e9, reset="none")(x)
    assert z.flatten().tolist() == [1.0, 1.0] and s.v.item() == pytest.approx(1.5)


def test_refractory_period_blocks_spikes_for_whole_steps():
    x = torch.full((20, 1, 1), 5.0)
    z, _ = sf.LIF(reset="zero", t_ref=3 * ms, dt=1 * ms)(x)
    assert torch.nonzero(z.flatten()).flatten().tolist() == [0, 4, 8, 12, 16]


def test_detach_reset_removes_reset_path_from_gradient():
    x = torch.full((5, 1, 1), 0.8, requires_grad=True)
    z1, _ = sf.LIF(tau_mem=1e9)(x)
    (g_attached,) = torch.autograd.grad(z1.sum(), x)
    z2, _ = sf.LIF(tau_mem=1e9, detach_reset=True)(x)
    (g_detached,) = torch.autograd.grad(z2.sum(), x)
    torch.testing.assert_close(z1, z2)
    assert not torch.allclose(g_attached, g_detached)


def test_learnable_tau_stays_positive_and_threshold_learns():
    lif = sf.LIF(8, learn=("tau_mem", "threshold"), tau_mem=LogNormal(20 * ms, 0.3))
    names = dict(lif.named_parameters())
    assert set(names) == {"log_tau_mem", "threshold"}
    assert names["threshold"].shape == (8,)
    opt = torch.optim.SGD(lif.parameters(), lr=50.0)
    for _ in range(5):
        z, _ = lif(torch.rand(20, 4, 8))
        opt.zero_grad()
        (z.mean() * 100).backward()  # a huge push to spike more: shrinks thresholds, moves tau far
        opt.step()
    assert (lif.get("tau_mem") > 0).all() and torch.isfinite(lif.get("tau_mem")).all()


def test_heterogeneous_initialisation_distributions():
    torch.manual_seed(0)
    lif = sf.LIF(5000, tau_mem=Uniform(5 * ms, 50 * ms))
    tau = lif.get("tau_mem")
    assert tau.shape == (5000,) and tau.min() >= 5 * ms and tau.max() < 50 * ms
    assert float(tau.mean()) == pytest.approx(27.5 * ms, rel=0.03)
    lif = sf.LIF(5000, tau_mem=LogNormal(20 * ms, 0.5))
    assert float(lif.get("tau_mem").median()) == pytest.approx(20 * ms, rel=0.05)
    assert float(lif.get("tau_mem").log().std()) == pytest.approx(0.5, rel=0.05)
    per_neuron = torch.tensor([10 * ms, 20 * ms, 30 * ms])
    z, _ = sf.LIF(3, tau_mem=per_neuron)(torch.full((50, 1, 3), 0.06))
    counts = z.sum((0, 1))
    assert counts[0] <= counts[1] <= counts[2]  # longer memory, more charge kept, more spikes
    assert "ms" in repr(lif)


def test_cell_state_mismatch_is_explained():
    cell = sf.LIFCell(4)
    _, state = cell(torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"state\.v.*pass state=None"):
        cell(torch.rand(3, 4), state)
    with pytest.raises(ValueError, match="float64"):
        cell(torch.rand(2, 4, dtype=torch.float64), state)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: sf.LIF(tau_mem=0.0), "tau_mem: expected a positive"),
        (lambda: sf.LIF(tau_mem=-1 * ms), "tau_mem"),
        (lambda: sf.LIF(dt=0.0), "dt"),
        (lambda: sf.LIF(dt=-1.0), "dt"),
        (lambda: sf.LIF(reset="soft"), "reset: expected one of 'subtract', 'zero', 'none', got 'soft'"),
        (lambda: sf.LIF(surrogate="magic"), "surrogate: unknown name 'magic'"),
        (lambda: sf.LIF(learn=("beta",)), "learn: LIF can learn"),
        (lambda: sf.LIF(tau_mem=LogNormal(0.02, 0.1)), "needs the layer's shape"),
        (lambda: sf.LIF(3, tau_mem=torch.ones(4) * ms), "do not broadcast"),
        (lambda: sf.LIF(t_ref=-1.0), "t_ref"),
    ],
)
def test_bad_construction_is_explained(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_are_explained():
    lif = sf.LIF(256)
    with pytest.raises(ValueError, match=r"expected \[T, B, \*features\] \(at least 3 dims\), got shape \(32, 100\)"):
        lif(torch.rand(32, 100))
    with pytest.raises(ValueError, match="transpose"):
        lif(torch.rand(32, 100, 3))
    with pytest.raises(TypeError, match=r"floating-point.*torch\.int64"):
        lif(torch.ones(5, 2, 256, dtype=torch.long))
    x = torch.rand(5, 2, 256)
    x[2, 1, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        lif(x)
    with pytest.raises(ValueError, match="at least 2 dims"):
        sf.LIFCell()(torch.rand(4))


def test_state_is_a_named_tuple_and_module_repr_in_ms():
    _, state = sf.LIFCell()(torch.rand(1, 2))
    assert isinstance(state, LIFState) and state._fields == ("v", "i", "ref")
    assert "tau_mem=20 ms" in repr(sf.LIF())
