"""Quantisation that leaves a layer silent is named: check_silent, quantize_model(calibration=...), the twin."""

import pytest
import torch

from spikeforge import LI, LIF
from spikeforge.nn import SequentialState
from spikeforge.quant import check_silent, quantize_model, spike_counts, to_fixed


def _net():
    torch.manual_seed(0)
    net = SequentialState(torch.nn.Linear(4, 6), LIF(6), torch.nn.Linear(6, 6), LIF(6), torch.nn.Linear(6, 2), LI(2))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.uniform_(0.2, 0.6)
            net[i].bias.zero_()
    return net.eval()


def test_spike_counts_are_the_number_of_ones():
    net, x = _net(), torch.ones(15, 2, 4)
    counts = spike_counts(net, x)
    with torch.no_grad():
        z1 = net[1](net[0](x))[0]
    assert list(counts) == ["1", "3"] and counts["1"] == int(z1.sum()) > 0


def test_a_narrow_membrane_silences_a_layer_and_qat_warns():
    net, x = _net(), torch.ones(15, 2, 4)
    # a 3-bit membrane on a grid of 4*theta/4 = theta: h < theta rounds down to 0 for these small inputs
    with pytest.warns(UserWarning, match=r"silent .*1 \("):
        quantize_model(net, bits=8, membrane_bits=3, rounding="floor", calibration=x * 0.3)
    # a wide membrane keeps them spiking: no warning, nothing silent
    wide = quantize_model(net, bits=8, membrane_bits=16, calibration=None)
    assert check_silent(net, wide, x, warn=False) == []


def test_an_integer_twin_with_a_too_narrow_state_is_reported_silent():
    net, x = _net(), torch.ones(15, 2, 4)
    twin = to_fixed(net, input_scale=1 / 16, state_bits=24)
    assert check_silent(net, twin, x, warn=False) == []
    narrow = to_fixed(net, input_scale=1 / 16, state_bits=8)  # thresholds beyond an 8-bit membrane: never reached
    silent = check_silent(net, narrow, x, warn=False)
    assert silent[0] == "1 (180 spikes before quantisation)"  # named as in the float network
    with pytest.raises(ValueError, match="spiking layers"):
        check_silent(net, SequentialState(torch.nn.Linear(4, 2), LI(2)), x)
