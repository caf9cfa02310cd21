"""Config-built sequence models: shapes, save/load round trip, heterogeneous learnable tau, the GRU against
torch's, and padding that never changes a prediction (RALIF's own tests: tests/neurons/test_ralif.py)."""

import math

import pytest
import torch

from spikeforge.interop import load_model, save_model
from spikeforge.learning import scores
from spikeforge.models import GRU, build_model, resolve_model_config

LOG_UNIFORM = {"dist": "log_uniform", "low": 0.005, "high": 0.2}


def config(model, **kw):
    return {"model": model, "hidden": [16], "input_shape": [3], "n_classes": 4, **kw}


@pytest.mark.parametrize(
    "cfg",
    [
        config("mlp", tau_mem=LOG_UNIFORM, learn=["tau_mem"]),
        config("mlp", neuron="alif", tau_adapt=LOG_UNIFORM, learn=["tau_mem", "tau_adapt"]),
        config("recurrent", tau_mem=LOG_UNIFORM, learn=["tau_mem"]),
        config("recurrent", neuron="alif", learn=["tau_mem"]),
        config("recurrent", output="lif"),
        config("gru", hidden=[16, 16]),
        config("delay", max_delay=5, tau_mem=LOG_UNIFORM),
    ],
    ids=["mlp-lif", "mlp-alif", "recurrent-lif", "recurrent-alif", "recurrent-lif-out", "gru", "delay"],
)
def test_model_file_round_trip_rebuilds_the_same_network(tmp_path, cfg):
    model = build_model(cfg)
    x = torch.randn(12, 5, 3) * 2
    out, _ = model(x)
    assert out.shape == (12, 5, 4)
    save_model(tmp_path / "m.safetensors", model, resolve_model_config(cfg))
    torch.manual_seed(99)  # a different draw of the per-neuron time constants: the file must win
    again, _ = load_model(tmp_path / "m.safetensors")
    model.eval()
    torch.testing.assert_close(again(x)[0], model(x)[0], rtol=0, atol=0)


def test_heterogeneous_time_constants_are_per_neuron_in_range_and_learned():
    model = build_model(config("recurrent", tau_mem=LOG_UNIFORM, learn=["tau_mem"]))
    layer = model[1]
    tau = layer.get("tau_mem").detach()
    assert tau.shape == (16,) and len(set(tau.tolist())) == 16
    assert float(tau.min()) >= 0.005 and float(tau.max()) < 0.2
    out, _ = model(torch.randn(20, 4, 3) * 3)
    out.sum().backward()
    assert layer.log_tau_mem.grad is not None and layer.log_tau_mem.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"tau_mem: expected a number or \{'dist': one of"):
        build_model(config("mlp", tau_mem={"dist": "gamma", "k": 1}))


def test_gru_layer_is_torch_gru_time_first():
    torch.manual_seed(0)
    layer = GRU(3, 5)
    x = torch.randn(7, 2, 3)
    y, h = layer(x)
    ref = torch.nn.GRU(3, 5)
    ref.load_state_dict(layer.gru.state_dict())
    y_ref, h_ref = ref(x)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(h, h_ref)


@pytest.mark.parametrize(
    ("model_name", "readout"),
    [
        (m, r)
        for m in ("mlp", "recurrent", "delay", "gru")
        for r in ("max", "mean", "last", "count")
        if not (m == "gru" and r == "count")
    ],  # the GRU has no spikes to count
)
def test_padding_never_changes_a_score(model_name, readout):
    torch.manual_seed(1)
    output = "lif" if readout == "count" else "li"
    model = build_model(config(model_name, output=output, tau_mem=LOG_UNIFORM)).eval()
    lengths = torch.tensor([9, 4, 13])
    x = torch.randn(13, 3, 3) * 3
    for n, t in enumerate(lengths.tolist()):
        x[t:, n] = 0
    padded = torch.cat([x, torch.randn(8, 3, 3) * 5])  # garbage after every series' end
    for n, t in enumerate(lengths.tolist()):
        padded[t:13, n] = torch.randn(13 - t, 3) * 5
    with torch.no_grad():
        batch = scores(model(padded)[0], readout, lengths)
        for n, t in enumerate(lengths.tolist()):  # reference: each series alone, unpadded, no mask
            alone = scores(model(x[:t, n : n + 1])[0], readout)
            torch.testing.assert_close(batch[n : n + 1], alone, rtol=1e-5, atol=1e-5)


def test_masked_readouts_against_explicit_formulas():
    out = torch.randn(6, 3, 2)
    lengths = torch.tensor([6, 2, 4])
    for n, t in enumerate(lengths.tolist()):
        v = out[:t, n]
        torch.testing.assert_close(scores(out, "max", lengths)[n], v.max(0).values)
        torch.testing.assert_close(scores(out, "mean", lengths)[n], v.sum(0) / t)
        torch.testing.assert_close(scores(out, "last", lengths)[n], v[-1])
        torch.testing.assert_close(scores(out, "count", lengths)[n], v.sum(0))
    z = (out > 0.5).float()
    for n, t in enumerate(lengths.tolist()):
        times = [next((k for k in range(t) if z[k, n, c] > 0), 6) for c in range(2)]
        assert scores(z, "first", lengths)[n].tolist() == [-float(k) for k in times]
    with pytest.raises(ValueError, match=r"lengths: expected 3 valid-step counts in \[1, 6\]"):
        scores(out, "max", torch.tensor([7, 1, 1]))
    assert not math.isinf(float(scores(out, "max", torch.tensor([1, 1, 1])).abs().max()))


def test_delay_model_sees_the_whole_sequence_and_fit_anneals_its_kernels():
    from types import SimpleNamespace

    from spikeforge.learning import TrainConfig, fit

    model = build_model(config("delay", max_delay=6, hidden=[8]))
    delay = model[0].module
    # an impulse at t=0 reaches the hidden layer after each synapse's delay: time is not folded into the batch
    x = torch.zeros(10, 1, 3)
    x[0] = 1.0
    delay.set_sigma(0.0)
    with torch.no_grad():
        drive = model[0](x)[0]
        torch.testing.assert_close(drive, delay.rounded()(x))
        late = (drive[1:] - delay.bias).abs().sum()
    assert late > 0 and bool((delay.delays > 0).any())
    # fit narrows the Gaussian kernels on their schedule and keeps positions within the taps
    n = 12
    split = SimpleNamespace(
        x_train=torch.randn(10, n, 3),
        y_train=torch.arange(n) % 4,
        len_train=torch.full((n,), 10),
        x_val=torch.randn(10, 4, 3),
        y_val=torch.arange(4),
        len_val=torch.full((4,), 10),
    )
    with torch.no_grad():
        delay.position.fill_(5.9)
    fit(model, split, TrainConfig(epochs=3, batch_size=4, lr=0.5, restore_best=False))
    assert float(delay.sigma) == pytest.approx(0.05)
    assert float(delay.position.detach().max()) <= 5.0 and float(delay.position.detach().min()) >= 0.0
