"""RLIF: its own recurrent weights, the recurrence against a hand-unrolled update, and its options."""

import math

import pytest
import torch

import spikeforge as sf
from spikeforge.units import ms


def test_rlif_cell_equals_sequence_and_uses_its_own_weights():
    torch.manual_seed(3)
    seq = sf.RLIF(6, tau_syn=5 * ms)
    cell = sf.RLIFCell(6, tau_syn=5 * ms)
    cell.load_state_dict(seq.state_dict())
    x = torch.rand(30, 2, 6)
    z_seq, _ = seq(x)
    state, zs = None, []
    for xt in x:
        z, state = cell(xt, state)
        zs.append(z)
    torch.testing.assert_close(torch.stack(zs), z_seq)
    # the same input through plain LIF differs once recurrent spikes arrive
    z_plain, _ = sf.LIF(6, tau_syn=5 * ms)(x)
    assert not torch.equal(z_plain, z_seq)


def test_rlif_recurrence_matches_hand_unrolled_update():
    torch.manual_seed(1)
    rlif = sf.RLIF(4, dtype=torch.float64)
    w = rlif.recurrent.weight.detach()
    x = torch.rand(15, 1, 4, dtype=torch.float64)
    z_seq, _ = rlif(x)
    beta = math.exp(-1 / 20)
    v = torch.zeros(1, 4, dtype=torch.float64)
    z = torch.zeros(1, 4, dtype=torch.float64)
    for t in range(15):
        h = beta * v + x[t] + z @ w.t()
        z = (h >= 1).double()
        v = h - z
        torch.testing.assert_close(z, z_seq[t])


def test_rlif_without_self_connections_and_bad_shape():
    rlif = sf.RLIF(5, self_connections=False)
    assert torch.all(rlif._weight().diagonal() == 0)
    with pytest.raises(ValueError, match="positive int"):
        sf.RLIF((2, 3))
