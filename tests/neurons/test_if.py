"""IF: the rate-exact neuron of ANN-to-SNN conversion, and its cell against its sequence module."""

import torch

import spikeforge as sf


def test_if_rate_equals_input_with_subtract_reset():
    # the property ANN-to-SNN conversion relies on: spike count over T = floor(T * x / threshold) (+-1)
    x = torch.tensor([0.0, 0.13, 0.5, 0.77, 1.0], dtype=torch.float64)
    steps = 1000
    z, _ = sf.IF()(x.expand(steps, 1, 5).clone())
    counts = z.sum((0, 1))
    assert torch.all((counts - steps * x).abs() <= 1)


def test_if_cell_equals_sequence():
    x = torch.randn(20, 3, 4)
    z_seq, s_seq = sf.IF(reset="zero")(x)
    cell, state, zs = sf.IFCell(reset="zero"), None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    torch.testing.assert_close(torch.stack(zs), z_seq)
    torch.testing.assert_close(state.v, s_seq.v)
