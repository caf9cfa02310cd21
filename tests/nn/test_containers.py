import pytest
import torch

import spikeforge as sf
from spikeforge.units import ms


def test_sequential_state_folds_time_for_stateless_layers():
    conv = torch.nn.Conv2d(1, 3, 3, padding=1)
    net = sf.SequentialState(
        conv, sf.LIF((3, 6, 6)), torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(27, 4), sf.LI(4)
    )
    x = torch.rand(7, 2, 1, 6, 6)
    out, states = net(x)
    assert out.shape == (7, 2, 4)
    assert states[0] is None and states[1] is not None
    # the stateless layer ran on every step exactly as if applied per step
    torch.testing.assert_close(torch.stack([conv(xt) for xt in x]), sf.Lift(conv)(x))


def test_sequential_state_chunks_equal_whole_sequence():
    net = sf.SequentialState(torch.nn.Linear(3, 5), sf.LIF(5, tau_syn=5 * ms), torch.nn.Linear(5, 2), sf.LI(2))
    x = torch.rand(20, 4, 3) * 2
    out, _ = net(x)
    out1, s = net(x[:8])
    out2, _ = net(x[8:], s)
    torch.testing.assert_close(torch.cat([out1, out2]), out)


def test_step_mode_with_cells_equals_sequence_mode():
    lin1, lin2 = torch.nn.Linear(3, 5), torch.nn.Linear(5, 2)
    seq = sf.SequentialState(lin1, sf.LIF(5), lin2, sf.LI(2))
    cells = sf.SequentialState(lin1, sf.LIFCell(5), lin2, sf.LICell(2))
    x = torch.rand(10, 4, 3) * 2
    out, _ = seq(x)
    stateful = sf.Stateful(cells)
    steps = torch.stack([stateful(xt) for xt in x])
    torch.testing.assert_close(steps, out)
    stateful.detach()
    stateful.reset()
    assert stateful.state is None


def test_mixing_cells_and_sequences_is_refused():
    with pytest.raises(ValueError, match="mixes cells"):
        sf.SequentialState(sf.LIF(), sf.LIFCell())


def test_state_list_length_is_checked():
    net = sf.SequentialState(torch.nn.Linear(2, 2), sf.LIF(2))
    with pytest.raises(ValueError, match="2 entries"):
        net(torch.rand(3, 1, 2), [None])


def test_torch_compile_of_a_whole_model_matches_eager():
    net = sf.SequentialState(torch.nn.Linear(4, 8), sf.LIF(8), torch.nn.Linear(8, 3), sf.LI(3))
    x = torch.rand(6, 2, 4) * 2
    eager, _ = net(x)
    compiled = torch.compile(net, backend="eager")
    out, _ = compiled(x)
    torch.testing.assert_close(out, eager)
