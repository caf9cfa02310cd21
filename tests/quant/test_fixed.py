"""Integer CUBA neurons: against a plain-Python integer loop (Lava's rounding rule), against a float network
constrained to the integer grid, and the float -> integer twin."""

import math

import pytest
import torch
from torch import nn

from spikeforge import LI, LIF, CubaLIF, SequentialState
from spikeforge.quant import (
    FixedCUBA,
    FixedLinear,
    FixedParams,
    QuantMembrane,
    decay_to_int,
    fixed_seq,
    fixed_step,
    quantize_model,
    tau_from_int,
    to_fixed,
)


def _decay_ref(x: int, d: int, rounding: str) -> int:
    p = x * (4096 - d)
    if rounding == "floor":
        return p >> 12  # Python's >> on ints rounds towards minus infinity
    q = abs(p) >> 12  # Lava: sign(p) * (|p| >> 12)
    return -q if p < 0 else q


def _loop_reference(a, du, dv, vth, bias, reset, rounding, state_bits):
    """Explicit per-neuron loop over Python ints. ``a``: nested list [T][N]."""
    n = len(a[0])
    u, v = [0] * n, [0] * n
    out, events = [], 0
    for a_t in a:
        z_t = []
        for k in range(n):
            u[k] = _decay_ref(u[k], du[k], rounding) + a_t[k]
            if state_bits is not None:
                top = 2 ** (state_bits - 1)
                if u[k] > top:
                    u[k] -= 2 * top
                    events += 1
                elif u[k] <= -top:
                    u[k] += 2 * top
                    events += 1
            v[k] = _decay_ref(v[k], dv[k], rounding) + u[k] + bias[k]
            if state_bits is not None:
                events += abs(v[k]) > top - 1
                v[k] = max(-(top - 1), min(top - 1, v[k]))
            s = int(v[k] > vth[k])
            if s:
                v[k] = 0 if reset == "zero" else v[k] - (vth[k] + 1)
            z_t.append(s)
        out.append(z_t)
    return out, u, v, events


@pytest.mark.parametrize("rounding", ["trunc", "floor"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("state_bits", [None, 24, 14])
def test_integer_model_equals_python_loop(rounding, reset, state_bits, generator):
    n, steps = 6, 400
    du = [4096, 1, 300, 2048, 4000, 77]
    dv = [0, 205, 1024, 4095, 13, 600]
    vth = [5000, 800, 3000, 100, 60000, 7]
    bias = [0, -3, 10, 0, 5, -50]
    scale = 6000 if state_bits == 14 else 2000  # 14 bits: the current wraps and the membrane saturates
    a = torch.randint(-scale, scale + 300, (steps, 1, n), generator=generator)
    params = FixedParams(
        torch.tensor(du), torch.tensor(dv), torch.tensor(vth), torch.tensor(bias), reset, rounding, state_bits
    )
    z, state = fixed_seq(a, None, params)
    ref_z, ref_u, ref_v, events = _loop_reference(a[:, 0].tolist(), du, dv, vth, bias, reset, rounding, state_bits)
    assert z[:, 0].tolist() == ref_z
    assert state.u[0].tolist() == ref_u and state.v[0].tolist() == ref_v
    assert 0.02 < z.float().mean() < 0.9  # the test exercises spikes and resets
    assert (events > 10) == (state_bits == 14)  # 14 bits: wrap-around and saturation are exercised


def test_rounding_rules_differ_only_for_negative_states():
    x = torch.tensor([[-1000, 1000]])
    p = FixedParams(du=4096, dv=3, vth=None, state_bits=None)
    v_trunc, _ = fixed_step(torch.zeros_like(x), fixed_step(x, None, p)[1], p._replace(rounding="trunc"))
    v_floor, _ = fixed_step(torch.zeros_like(x), fixed_step(x, None, p)[1], p._replace(rounding="floor"))
    # 1000 * 4093 / 4096 = 999.27: trunc gives -999 / 999, floor gives -1000 / 999
    assert v_trunc.tolist() == [[-999, 999]] and v_floor.tolist() == [[-1000, 999]]


def test_decay_mapping():
    dt = 1e-3
    for tau in (2e-3, 5e-3, 20e-3, 100e-3):
        assert decay_to_int(tau, dt).item() == round(4096 * (1 - math.exp(-dt / tau)))
    assert decay_to_int(None, dt).item() == 4096
    for d in (1, 200, 1229, 2048, 2129):
        tau = tau_from_int(d, dt)
        assert torch.exp(torch.tensor(-dt / tau, dtype=torch.float64)).item() == (4096 - d) / 4096
        assert decay_to_int(tau, dt).item() == d
    with pytest.raises(ValueError, match="du"):
        fixed_step(torch.zeros(1, 1, dtype=torch.int64), None, FixedParams(du=5000))
    with pytest.raises(TypeError, match="integer"):
        fixed_step(torch.zeros(1, 1), None, FixedParams())


def _grid_float_network(codes1, codes2, du, dv, theta_int, unit1, unit2, reset, quantise=True):
    """Float64 spikeforge network on the integer grid: Linear -> LI (the current u) -> LIF (the membrane v)."""
    f64 = torch.float64

    def linear(codes, s_w):
        layer = nn.Linear(codes.shape[1], codes.shape[0], bias=False, dtype=f64)
        with torch.no_grad():
            layer.weight.copy_(codes.double() * s_w)
        return layer

    def pair(unit):
        cur = LI(tau_mem=tau_from_int(du, 1e-3), dtype=f64)
        mem = LIF(tau_mem=tau_from_int(dv, 1e-3), threshold=theta_int * unit, reset=reset, dtype=f64)
        if not quantise:
            return [cur, mem]
        return [
            QuantMembrane(cur, bits=48, step=unit, rounding="floor"),
            QuantMembrane(mem, bits=48, step=unit, rounding="floor"),
        ]

    return SequentialState(linear(codes1, 2**-7), *pair(unit1), linear(codes2, 2**-6), *pair(unit2))


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_float_model_on_integer_grid_gives_identical_spikes(reset, generator):
    """Weights, decays and thresholds on the grid, float64 update with floor rounding == integer model."""
    n_in, n_hid, n_out, steps = 12, 20, 8, 700
    du, dv, theta_int = 1229, 205, 1 << 12
    s_x = 1 / 16
    codes1 = torch.randint(-127, 128, (n_hid, n_in), generator=generator)
    codes2 = torch.randint(-127, 128, (n_out, n_hid), generator=generator)
    unit1, unit2 = 2**-7 * s_x, 2**-6 * 1.0  # membrane unit = weight step x input step (shift 0)
    x_int = torch.randint(-8, 17, (steps, 3, n_in), generator=generator)
    x = x_int.double() * s_x

    net = list(_grid_float_network(codes1, codes2, du, dv, theta_int, unit1, unit2, reset))
    plain = _grid_float_network(codes1, codes2, du, dv, theta_int, unit1, unit2, reset, quantise=False)
    with torch.no_grad():
        hidden_float, _ = SequentialState(*net[:3])(x)
        z_float, _ = SequentialState(*net[3:])(hidden_float)
        z_plain, _ = plain(x[:300])

    p = dict(du=du, dv=dv, vth=theta_int - 1, reset=reset, rounding="floor", state_bits=None)
    z1, _ = FixedCUBA(**p)(FixedLinear(codes1, shift=0)(x_int))
    z2, _ = FixedCUBA(**p)(FixedLinear(codes2, shift=0)(z1))
    assert z1.float().mean() > 0.05 and z2.float().mean() > 0.02  # both layers spike
    assert torch.equal(hidden_float, z1.double())
    assert torch.equal(z_float, z2.double())
    # without the grid rounding the float model drifts away: the test can tell the two apart
    assert not torch.equal(z_plain, z2[:300].double())


def test_trunc_rounding_equals_float_grid_model_for_nonnegative_states(generator):
    """Lava's rule (towards zero) equals floor while the state stays >= 0: positive weights and inputs."""
    codes = torch.randint(0, 128, (10, 6), generator=generator)
    x_int = torch.randint(0, 17, (800, 2, 6), generator=generator)
    du, dv, theta_int = 4096, 410, 1 << 12
    layer = nn.Linear(6, 10, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(codes.double() * 2**-12)
    lif = LIF(tau_mem=tau_from_int(dv, 1e-3), threshold=theta_int * 2**-16, dtype=torch.float64)
    net = SequentialState(layer, QuantMembrane(lif, bits=48, step=2**-16, rounding="trunc"))
    with torch.no_grad():
        z_float, _ = net(x_int.double() / 16)
    z_int, _ = fixed_seq(
        FixedLinear(codes, shift=0)(x_int),
        None,
        FixedParams(du, dv, theta_int - 1, reset="subtract", rounding="trunc", state_bits=None),
    )
    assert 0.05 < z_int.float().mean() < 0.95
    assert torch.equal(z_float, z_int.double())


def _small_net(neuron, tau_syn=None):
    torch.manual_seed(3)
    kw = {} if neuron is CubaLIF else {"tau_syn": tau_syn}
    return SequentialState(
        nn.Flatten(), nn.Linear(16, 32), neuron(32, tau_mem=20e-3, **kw), nn.Linear(32, 5), LI(5, tau_mem=10e-3)
    )


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("tau_syn", [None, 5e-3])
def test_twin_of_8bit_lif_network_reproduces_its_spikes(per_channel, tau_syn, generator):
    """The twin of an 8-bit (QAT) LIF network: same integer weights, rounding only in the decays (shift 6)."""
    net = quantize_model(_small_net(LIF, tau_syn), bits=8, per_channel=per_channel)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(torch.linspace(0.5, 4.0, m.out_features)[:, None])  # rows of different sizes
    x = torch.randint(0, 17, (40, 50, 1, 4, 4), generator=generator) / 16
    twin = to_fixed(net, input_scale=1 / 16)
    with torch.no_grad():
        out_f, _ = net(x)
        hid_f, _ = SequentialState(*list(net)[:3])(x)
        out_i, _ = twin(x)
    flatten, fixed_linear, fixed_lif = list(twin.layers)[:3]
    h = twin.quantize_input(x)
    hid_i, _ = fixed_lif(fixed_linear(flatten(h.reshape(-1, 1, 4, 4)).reshape(40, 50, 16)))
    assert 0.05 < hid_f.mean() < 0.8
    agree = (hid_i.float() == hid_f).float().mean().item()
    assert agree > 0.995, agree
    decided = (out_i.amax(0).argmax(1) == out_f.amax(0).argmax(1)).float().mean().item()
    rel = ((out_i - out_f).abs().max() / out_f.abs().max()).item()
    assert decided >= 0.96 and rel < 0.1, (decided, rel)


def test_twin_of_cubalif_matches_steady_state():
    """CubaLIF's twin rescales the membrane unit so that a constant drive gives the same firing rate (approx.)."""
    layer = nn.Linear(1, 3, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.5], [2.0], [3.0]]))
    net = SequentialState(layer, CubaLIF(3, tau_mem=20e-3, tau_syn=5e-3, reset="zero"))
    x = torch.ones(2000, 1, 1)
    with torch.no_grad():
        z_f, _ = net(x)
        z_i, _ = to_fixed(net, input_scale=1.0)(x)
    rate_f, rate_i = z_f.sum(0)[0], z_i.sum(0)[0]
    assert (rate_f > 10).all()
    assert ((rate_i - rate_f).abs() <= 0.1 * rate_f).all(), (rate_f, rate_i)


def test_to_fixed_rejects_what_it_cannot_map():
    with pytest.raises(TypeError, match="Conv2d"):
        to_fixed(SequentialState(nn.Conv2d(1, 2, 3), LIF(2)), input_scale=1.0)
    with pytest.raises(ValueError, match="reset"):
        to_fixed(SequentialState(nn.Linear(2, 2), LIF(2, reset="none")), input_scale=1.0)
    with pytest.raises(ValueError, match="input_scale"):
        to_fixed(SequentialState(nn.Linear(2, 2), LIF(2)), input_scale=0.0)
    twin = to_fixed(SequentialState(nn.Linear(2, 2), LIF(2)), input_scale=0.25)
    with pytest.raises(ValueError, match="grid"):
        twin(torch.full((3, 1, 2), 0.3))
