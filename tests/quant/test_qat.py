"""Fake quantisation with straight-through estimators, QAT layers, membrane quantisation, quantize_model."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikeforge import LI, LIF, SequentialState
from spikeforge.quant import QuantConv2d, QuantLinear, QuantMembrane, fake_quantize, quantize_model, weight_scale


def _explicit(w: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Reference STE written as a formula: clamp (gradient 1 inside, 0 outside) plus a detached rounding residue."""
    qmax = 2 ** (bits - 1) - 1
    clipped = torch.maximum(torch.minimum(w, qmax * scale), -qmax * scale)
    codes = np.clip(np.round(w.detach().numpy() / scale.numpy()), -qmax, qmax)  # numpy: half to even, like torch
    q = torch.from_numpy(codes) * scale
    return clipped + (q - clipped).detach()


@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("per_channel", [False, True])
def test_fake_quantize_forward_and_straight_through_backward(bits, per_channel, generator):
    w = torch.randn(16, 9, generator=generator, dtype=torch.float64)
    qmax = 2 ** (bits - 1) - 1
    scale = torch.tensor(2.0 ** round(np.log2(1.5 / qmax)), dtype=torch.float64)  # powers of two: exact codes
    if per_channel:
        scale = scale * torch.exp2(torch.arange(16, dtype=torch.float64) % 3 - 1)[:, None]
    grad_out = torch.randn(16, 9, generator=generator, dtype=torch.float64)

    w1 = w.clone().requires_grad_(True)
    y = fake_quantize(w1, scale, bits)
    y.backward(grad_out)
    w2 = w.clone().requires_grad_(True)
    y_ref = _explicit(w2, scale, bits)
    y_ref.backward(grad_out)

    assert torch.equal(y, y_ref.detach())
    codes = y.detach() / scale
    assert torch.equal(codes, codes.round()) and codes.abs().max() <= qmax
    assert len(torch.unique(codes)) <= 2 * qmax + 1
    inside = (w / scale).abs() <= qmax
    assert 0 < inside.float().mean() < 1  # both regions are exercised
    assert torch.equal(w1.grad, w2.grad)
    assert torch.equal(w1.grad, grad_out * inside)


def test_fake_quantize_rounding_modes():
    x = torch.tensor([-1.5, -0.6, 0.6, 1.5, 2.5])
    assert fake_quantize(x, 1.0, 8).tolist() == [-2.0, -1.0, 1.0, 2.0, 2.0]  # half to even
    assert fake_quantize(x, 1.0, 8, rounding="floor").tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert fake_quantize(x, 1.0, 8, rounding="trunc").tolist() == [-1.0, -0.0, 0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="bits"):
        fake_quantize(x, 1.0, 1)
    with pytest.raises(ValueError, match="scale"):
        fake_quantize(x, 0.0, 8)


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_weight_scale_max_and_mse(bits, generator):
    w = torch.randn(32, 20, generator=generator)
    qmax = 2 ** (bits - 1) - 1
    s_max = weight_scale(w, bits, method="max")
    # power of two, and the smallest one that does not clip the largest weight
    assert float(torch.log2(s_max)) == round(float(torch.log2(s_max)))
    assert w.abs().max() <= qmax * s_max < 2 * w.abs().max()

    def mse(s):
        return float(((torch.round(w / s).clamp(-qmax, qmax) * s - w) ** 2).mean())

    s_mse = weight_scale(w, bits, method="mse")
    brute = min((s_max * 2.0**-k for k in range(8)), key=mse)  # explicit search over the same candidates
    assert float(s_mse) == float(brute) and mse(s_mse) <= mse(s_max)
    # per channel: rows of very different magnitude get their own scales
    rows = w * torch.logspace(-2, 0, 32)[:, None]
    s_rows = weight_scale(rows, bits, per_channel=True, method="max")
    assert s_rows.shape == (32, 1) and s_rows[0] < s_rows[-1]
    assert (rows.abs().amax(1, keepdim=True) <= qmax * s_rows).all()
    s_lin = weight_scale(w, bits, pow2=False, method="max")
    assert torch.isclose(s_lin, w.abs().max() / qmax)


def test_quant_linear_and_conv_use_quantised_weights(generator):
    lin = QuantLinear(6, 4, bits=4, per_channel=True)
    x = torch.randn(5, 6, generator=generator, requires_grad=True)
    codes, scale = lin.integer_weight()
    assert codes.abs().max() <= 7 and scale.shape == (4, 1)
    assert torch.allclose(lin(x), F.linear(x, codes.float() * scale, lin.bias))
    lin(x).sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0

    conv = nn.Conv2d(2, 3, 3, padding=1)
    qconv = QuantConv2d.from_float(conv, bits=8)
    xi = torch.randn(2, 2, 5, 5, generator=generator)
    ref = F.conv2d(xi, fake_quantize(conv.weight, weight_scale(conv.weight, 8), 8), conv.bias, padding=1)
    assert torch.allclose(qconv(xi), ref)
    assert torch.allclose(qconv(xi), conv(xi), atol=0.05)


def test_quant_membrane_keeps_state_on_grid_and_tracks_float(generator):
    x = torch.rand(60, 4, 10, generator=generator) * 0.3
    lif = LIF(10, tau_mem=10e-3, tau_syn=5e-3)
    fine = QuantMembrane(lif, bits=24)
    coarse = QuantMembrane(lif, bits=6, step=1 / 8, rounding="floor")
    z_ref, s_ref = lif(x)
    z_fine, s_fine = fine(x)
    z_coarse, s_coarse = coarse(x)
    assert torch.equal(z_fine, z_ref) and torch.allclose(s_fine.v, s_ref.v, atol=1e-5)
    for v in (s_coarse.v, s_coarse.i):
        k = v / coarse.step
        assert torch.equal(k, k.round()) and k.min() >= -32 and k.max() <= 31
    assert not torch.equal(z_coarse, z_ref)
    # a leaky-integrator readout outputs its quantised membrane
    out, state = QuantMembrane(LI(10), bits=8, step=0.25)(x)
    assert torch.equal(out[-1], state.v) and torch.equal(out / 0.25, (out / 0.25).round())
    with pytest.raises(TypeError, match="sequence neuron"):
        QuantMembrane(nn.Linear(2, 2))


def test_quantize_model_swaps_layers_without_touching_the_original(generator):
    net = SequentialState(nn.Flatten(), nn.Linear(16, 32), LIF(32), nn.Linear(32, 4), LI(4))
    q = quantize_model(net, bits=8, membrane_bits=16)
    assert [type(m).__name__ for m in net] == ["Flatten", "Linear", "LIF", "Linear", "LI"]
    assert [type(m).__name__ for m in q] == ["Flatten", "QuantLinear", "QuantMembrane", "QuantLinear", "LI"]
    x = torch.rand(20, 3, 1, 4, 4, generator=generator)
    out, _ = net(x)
    out_q, _ = quantize_model(net, bits=16, membrane_bits=24)(x)
    assert torch.allclose(out, out_q, atol=1e-3 * float(out.detach().abs().max()))
    # gradients reach every weight through the straight-through estimators
    out8, _ = q(x)
    out8.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in q.named_parameters() if "weight" in n)


def test_8bit_qat_learns_digits_like_float():
    """A short run: 8-bit weights with a 16-bit membrane learn digits as well as float (within 3 points here)."""
    from spikeforge.data import load_digits
    from spikeforge.learning import TrainConfig, evaluate, fit

    split = load_digits()
    cfg = TrainConfig(epochs=6, timesteps=4, lr=1e-2, seed=0)
    accs = {}
    for name in ("float", "qat"):
        torch.manual_seed(0)
        net = SequentialState(
            nn.Flatten(), nn.Linear(64, 48), LIF(48, backend="torch"), nn.Linear(48, 10), LI(10, backend="torch")
        )
        if name == "qat":
            net = quantize_model(net, bits=8, membrane_bits=16)
        fit(net, split, cfg)
        accs[name] = evaluate(net, split.x_test, split.y_test, cfg).accuracy
    assert accs["float"] > 0.85 and accs["qat"] > accs["float"] - 0.03, accs
