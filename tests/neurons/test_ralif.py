"""RALIF: the recurrence against an explicit loop of ALIF steps, its options, and the state-dict keys that model
files store."""

import pytest
import torch

from spikeforge.interop import load_model, save_model
from spikeforge.models import build_model, resolve_model_config
from spikeforge.neurons import RALIF, ALIFParams, ALIFState, RALIFCell, alif_step, ralif_step


def test_ralif_equals_an_explicit_loop_of_alif_steps_with_recurrent_input():
    torch.manual_seed(0)
    layer = RALIF(6, tau_mem=0.01, tau_adapt=0.05, beta=0.3, recurrent_scale=2.0)
    x = torch.rand(30, 2, 6) * 2.5
    z_seq, state = layer(x)
    w = layer.recurrent.weight.detach()
    s, z = None, torch.zeros(2, 6)
    params = ALIFParams(tau_mem=0.01, tau_adapt=0.05, beta=0.3)
    expected = []
    for t in range(30):
        z, s = alif_step(
            x[t] + z @ w.t(), s if s is not None else ALIFState(torch.zeros(2, 6), torch.zeros(2, 6)), params, dt=1e-3
        )
        expected.append(z)
    torch.testing.assert_close(z_seq, torch.stack(expected))
    assert z_seq.sum() > 0 and torch.equal(state.z, z_seq[-1])


def test_ralif_step_is_one_step_of_the_sequence_module():
    torch.manual_seed(2)
    layer = RALIF(5, self_connections=False, dtype=torch.float64)
    x = torch.rand(12, 2, 5, dtype=torch.float64) * 3
    z_seq, _ = layer(x)
    weight, state, zs = layer._weight(), None, []
    assert torch.all(weight.diagonal() == 0)
    for xt in x:
        z, state = ralif_step(xt, state, weight, layer.params(), dt=layer.dt)
        zs.append(z)
    torch.testing.assert_close(torch.stack(zs), z_seq, rtol=0, atol=0)


def test_bad_shape_and_record():
    with pytest.raises(ValueError, match="positive int"):
        RALIFCell((2, 3))
    z, states = RALIF(3, record=True)(torch.rand(7, 2, 3) * 3)
    assert tuple(states.a.shape) == (7, 2, 3) and torch.equal(states.z, z)


def test_model_files_keep_their_tensor_names(tmp_path):
    # files written before RALIF moved to spikeforge.neurons store these keys; they must load unchanged
    layer = RALIF(4, learn=("tau_mem",))
    assert list(layer.state_dict()) == ["log_tau_mem", "log_tau_adapt", "threshold", "beta", "recurrent.weight"]
    cfg = resolve_model_config(
        {"model": "recurrent", "neuron": "alif", "hidden": [6], "input_shape": [3], "n_classes": 2}
    )
    model = build_model(cfg)
    assert isinstance(model[1], RALIF)
    save_model(tmp_path / "m.safetensors", model, cfg)
    again, _ = load_model(tmp_path / "m.safetensors")
    x = torch.randn(9, 2, 3) * 2
    model.eval()
    torch.testing.assert_close(again(x)[0], model(x)[0], rtol=0, atol=0)
