"""ANN-to-SNN conversion against references that are not the converter: the ANN itself, the closed-form spike count
of an IF neuron under constant input, the QCFS formula of Bu et al. (2022), and hand-built layers."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import spikeforge
from spikeforge.interop import load_model, save_model
from spikeforge.learning.conversion import (
    QCFS,
    ConversionError,
    UnsupportedLayerError,
    accuracy_by_timesteps,
    ann_accuracy,
    ann_model,
    convert,
    diagnose,
    outputs_by_timesteps,
    train_ann,
)
from spikeforge.models import MODELS, SpikingMaxPool, build_model


def _run(snn, x, t):
    with torch.no_grad():
        y, _ = snn(x.unsqueeze(0).expand(t, *x.shape))
    return y


def _spike_counts(snn, x, t):
    counts = {}
    handles = [
        layer.register_forward_hook(lambda m, i, o, n=name: counts.__setitem__(n, o[0].sum(0)))
        for name, layer in snn.neuron_layers().items()
    ]
    try:
        _run(snn, x, t)
    finally:
        for h in handles:
            h.remove()
    return counts


def _slope(ts, errors):
    """Least-squares slope of log(error) against log(T)."""
    lx = torch.tensor([math.log(t) for t in ts])
    ly = torch.tensor([math.log(e) for e in errors])
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


def _mlp():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 24), nn.ReLU(), nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


# -- IF rates against the ANN ------------------------------------------------------------------------------------


def test_first_layer_spike_count_is_the_closed_form():
    """Constant current a into IF(threshold lambda, v0 = lambda/2, subtract reset): floor(a T / lambda + 1/2) spikes,
    clipped to [0, T]; the ANN's own pre-activation gives a."""
    ann = _mlp()
    x = torch.rand(200, 6)
    snn = convert(ann, x)
    node = next(n for n in snn.nodes if n["op"] == "if")
    lam = torch.tensor(node["scale"], dtype=torch.float64)  # one scale per neuron of this linear layer
    assert lam.shape == (24,)
    a = F.relu(ann[0](x)).detach().double()
    for t in (7, 64):
        counts = _spike_counts(snn, x, t)[node["name"]].double()
        closed = torch.floor(a * t / lam + 0.5).clamp(0, t)
        assert (counts - closed).abs().max() <= 1  # float32 rounding can move a count sitting on a boundary
        assert float((counts == closed).double().mean()) > 0.99


def test_every_if_rate_approaches_activation_over_threshold_as_one_over_t():
    """Each IF neuron's rate over T steps -> its ANN activation / lambda (below saturation); the worst error over all
    neurons of every layer falls about as 1/T."""
    ann = _mlp()
    x = torch.rand(100, 6)
    snn = convert(ann, x, percentile=100.0)  # no neuron above its scale: every rate has a target below 1
    acts = {}
    handles = [
        m.register_forward_hook(lambda mod, i, o, k=k: acts.__setitem__(k, o.detach()))
        for k, m in ((1, ann[1]), (3, ann[3]))
    ]
    ann(x)
    for h in handles:
        h.remove()
    ifs = [n for n in snn.nodes if n["op"] == "if"]
    ts = [16, 64, 256, 1024]
    worst = {n["name"]: [] for n in ifs}
    for t in ts:
        counts = _spike_counts(snn, x, t)
        for node, k in zip(ifs, (1, 3)):
            target = acts[k] / torch.tensor(node["scale"])
            assert float(target.max()) <= 1.0 + 1e-6
            worst[node["name"]].append(float((counts[node["name"]] / t - target).abs().max()))
    first, second = worst.values()
    # measured worst errors at T = 16 ... 1024: 3.1e-2, 7.8e-3, 2.0e-3, 4.9e-4 (slope -1.0) in the first layer,
    # 1.3e-1, 4.1e-2, 1.2e-2, 2.9e-3 (slope -0.9) in the second, which is fed spikes
    assert all(e <= 0.5 / t + 1e-6 for e, t in zip(first, ts))  # the closed form's bound
    assert _slope(ts, first) == pytest.approx(-1.0, abs=0.15)
    assert _slope(ts, second) == pytest.approx(-1.0, abs=0.25)
    assert second[-1] < 4.0 / ts[-1]


# -- a residual network with BatchNorm, max-pooling and concatenation ---------------------------------------------


class ResCat(nn.Module):
    """conv-BN-relu, a residual block, a channel concatenation, max-pooling, a clipped ReLU, global pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.mix = nn.Conv2d(16, 12, 1)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x):
        a = self.stem(x)
        b = F.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(a))))) + a)
        c = torch.cat([a, b], dim=1)
        d = self.pool(F.relu6(self.mix(c)))
        return self.head(self.drop(d).flatten(1))


def _rescat():
    torch.manual_seed(0)
    net = ResCat()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # running statistics that folding must use
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def test_residual_network_output_approaches_the_ann_with_t():
    net = _rescat()
    x = torch.rand(64, 1, 8, 8)
    snn = convert(net, x, percentile=100.0)  # no clipping: the SNN can reach the ANN exactly as T grows
    ops = [n["op"] for n in snn.nodes]
    assert ops.count("if") == 4 and "add" in ops and "cat" in ops and "maxpool" in ops
    assert "affine" not in ops  # every BatchNorm follows a convolution: folded
    with torch.no_grad():
        y_ann = net(x)
    ts = [16, 64, 256, 1024]
    outs = outputs_by_timesteps(snn, x, ts)
    errors = [float((outs[t] - y_ann).abs().mean() / y_ann.abs().mean()) for t in ts]
    assert all(b < a for a, b in itertools.pairwise(errors))
    # measured: 0.047, 0.0115, 0.0030, 0.00075 (relative mean absolute error): slope -0.99, error ~ 1/T
    assert _slope(ts, errors) == pytest.approx(-1.0, abs=0.15)
    assert errors[-1] < 0.0015


def test_fx_and_the_module_walk_give_the_same_network():
    net = _rescat()
    x = torch.rand(32, 1, 8, 8)
    a, b = convert(net, x, trace="fx"), convert(net, x, trace="walk")
    assert a.graph["trace"] == "fx" and b.graph["trace"] == "walk"
    assert [n["op"] for n in a.nodes] == [n["op"] for n in b.nodes]
    assert torch.equal(_run(a, x, 20), _run(b, x, 20))


def test_weight_and_threshold_normalisation_agree():
    net = _rescat()
    x = torch.rand(32, 1, 8, 8)
    w, t = convert(net, x, normalise="weights"), convert(net, x, normalise="threshold")
    for layer, node in zip(t.neuron_layers().values(), [n for n in t.nodes if n["op"] == "if"]):
        # threshold balancing: theta = lambda, per channel
        assert layer.get("threshold").flatten().tolist() == pytest.approx(node["scale"])
    assert all(float(layer.get("threshold").max()) == 1.0 for layer in w.neuron_layers().values())
    yw, yt = _run(w, x, 64), _run(t, x, 64)
    assert float((yw - yt).abs().mean()) < 1e-3 * float(yw.abs().mean()) + 1e-6


class Branchy(nn.Module):
    """Python control flow on the data: torch.fx refuses it, the module walk converts the executed path."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(5, 12), nn.Linear(12, 12), nn.Linear(12, 2)

    def forward(self, x):
        h = self.fc1(x).relu()
        if x.mean() > 0:  # always true for inputs in [0, 1)
            h = F.relu(self.fc2(h)) + h
        return self.fc3(h)


def test_untraceable_model_converts_through_the_module_walk():
    net = Branchy().eval()
    x = torch.rand(128, 5)
    snn = convert(net, x)
    assert snn.graph["trace"] == "walk" and "torch.fx could not trace" in snn.graph["trace_note"]
    with pytest.raises(UnsupportedLayerError, match=r"torch\.fx cannot trace"):
        convert(net, x, trace="fx")
    y = outputs_by_timesteps(snn, x, [2048])[2048]
    with torch.no_grad():
        ref = net(x)
    assert float((y - ref).abs().max()) < 0.05 * float(ref.abs().max())


def test_a_path_that_changes_with_the_data_is_refused():
    net = Branchy().eval()
    batches = [torch.rand(16, 5), -torch.rand(16, 5)]  # the second batch skips the branch
    with pytest.raises(ConversionError, match=r"batch 1.*another path"):
        convert(net, batches)


def test_relu_in_every_spelling_becomes_if():
    class Spellings(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.l3, self.l4 = (nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8))
            self.act = nn.ReLU(inplace=True)
            self.out = nn.Linear(8, 2)

        def forward(self, x):
            x = self.act(self.l1(x))
            x = F.relu(self.l2(x))
            x = torch.relu(self.l3(x))
            x = self.l4(x).relu()
            return self.out(x)

    net = Spellings().eval()
    for how in ("fx", "walk"):
        snn = convert(net, torch.rand(32, 4), trace=how)
        assert [n["op"] for n in snn.nodes].count("if") == 4


def test_other_layers_convert_and_match_the_ann():
    """Conv1d, average and adaptive pooling, nearest upsampling, ReLU6, clamp, an unfolded BatchNorm, dropout."""
    torch.manual_seed(1)
    seq = nn.Sequential(
        nn.BatchNorm1d(2),  # before any layer: kept as a per-channel affine node
        nn.Conv1d(2, 6, 3, padding=1),
        nn.ReLU6(),
        nn.AvgPool1d(2),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv1d(6, 6, 3, padding=1),
        nn.Hardtanh(0.0, 2.0),
        nn.AdaptiveAvgPool1d(4),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(24, 3),
    )
    seq[0].running_mean.fill_(0.2)
    seq[0].running_var.fill_(0.5)
    seq.eval()
    x = torch.rand(64, 2, 16)
    snn = convert(seq, x)
    ops = [n["op"] for n in snn.nodes]
    assert ops == [
        "input",
        "affine",
        "conv",
        "if",
        "avgpool",
        "upsample",
        "conv",
        "if",
        "adaptive_avgpool",
        "reshape",
        "linear",
        "readout",
    ]
    clip_scales = [max(n["scale"]) for n in snn.nodes if n["op"] == "if"]
    assert clip_scales[0] <= 6.0 and clip_scales[1] <= 2.0
    y = outputs_by_timesteps(snn, x, [1024])[1024]
    with torch.no_grad():
        ref = seq(x)
    assert float((y - ref).abs().mean()) < 0.02 * float(ref.abs().mean())


def test_regression_outputs_are_rate_decoded_in_ann_units():
    torch.manual_seed(2)
    ann = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1)).eval()
    with torch.no_grad():
        ann[2].bias.fill_(5.0)  # an output far from 0: the read-out must return ANN units, not rates
    x = torch.rand(200, 3)
    snn = convert(ann, x, percentile=100.0)
    y = outputs_by_timesteps(snn, x, [512])[512]
    ref = ann(x).detach()
    assert float((y - ref).abs().max()) < 0.01 * float(ref.abs().mean())


def test_layer_or_channel_scales():
    net = _rescat()
    x = torch.rand(64, 1, 8, 8)
    layer = convert(net, x, per_channel=False)
    channel = convert(net, x)
    scales = [n["scale"] for n in layer.nodes if n["op"] == "if"]
    assert all(isinstance(v, float) for v in scales)
    with torch.no_grad():  # the first IF layer: each channel's own 99.9th percentile of the stem's positive outputs
        a = net.stem(x).transpose(0, 1).reshape(8, -1)
    expected = [float(torch.quantile(row[row > 0], 0.999)) for row in a]
    first = next(n for n in channel.nodes if n["op"] == "if")
    assert first["scale"] == pytest.approx(expected, rel=1e-5)


def _mean_errors(net, snn, x, t):
    """Per IF layer: the mean over channels of |mean over samples and positions of a - r lambda|."""
    from spikeforge.learning.conversion import trace_model
    from spikeforge.learning.conversion._trace import run_graph

    ifs = [n for n in snn.nodes if n["op"] == "if"]
    with torch.no_grad():
        _, acts = run_graph(trace_model(net, x), x, {n["traced"] for n in ifs})
    counts = _spike_counts(snn, x, t)
    out = []
    for n in ifs:
        a = acts[n["traced"]]
        lam = torch.tensor(n["scale"]).view(1, -1, 1, 1)
        diff = a - counts[n["name"]] / t * lam
        out.append(float(diff.transpose(0, 1).reshape(a.shape[1], -1).mean(1).abs().mean()))
    return out


def test_low_latency_calibration_removes_the_mean_error_of_a_short_run():
    """Bias correction for T steps (Li et al. 2021): after it, each IF layer's mean rate estimate per channel after
    T = 2 steps is closer to the ANN's mean activation, on held-out samples too; only biases change."""
    net = _rescat()
    x, held_out = torch.rand(256, 1, 8, 8), torch.rand(128, 1, 8, 8)
    plain = convert(net, x)
    tuned = convert(net, x, timesteps=2, calibration_samples=256)
    assert tuned.graph["calibrated_timesteps"] == 2 and tuned.graph["not_calibrated"] == []
    before, after = _mean_errors(net, plain, held_out, 2), _mean_errors(net, tuned, held_out, 2)
    # measured: [0.0039, 0.0068, 0.0435, 0.0222] -> [0.0006, 0.0022, 0.0182, 0.0027] on the calibration samples
    assert all(b < 0.6 * a for a, b in zip(before, after))
    for key, value in plain.state_dict().items():
        if not key.endswith("bias"):
            torch.testing.assert_close(tuned.state_dict()[key], value)
    with pytest.raises(ValueError, match="timesteps: expected a positive number"):
        convert(net, x, timesteps=0)


def test_the_model_is_left_as_it_was():
    """Conversion runs the ANN in eval mode (BatchNorm statistics kept, dropout off) and gives back its modes and
    tensors unchanged, the low-latency calibration included."""
    net = _rescat().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a = convert(net, torch.rand(64, 1, 8, 8), timesteps=4, calibration_samples=32)
    b = convert(net, torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)), timesteps=4)
    assert all(m.training for m in net.modules())
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert a.graph["calibrated_timesteps"] == b.graph["calibrated_timesteps"] == 4


def test_chunks_with_state_equal_one_run():
    net = _rescat()
    x = torch.rand(8, 1, 8, 8)
    snn = convert(net, x)
    x_seq = x.unsqueeze(0).expand(24, *x.shape)
    with torch.no_grad():
        whole, _ = snn(x_seq)
        parts, state = [], None
        for chunk in x_seq.split(8):
            y, state = snn(chunk, state)
            parts.append(y)
    torch.testing.assert_close(torch.cat(parts), whole)


def test_saved_network_rebuilds_from_config_and_safetensors(tmp_path):
    net = _rescat()
    x = torch.rand(16, 1, 8, 8)
    snn = convert(net, x, normalise="threshold")
    cfg = snn.model_config()
    assert cfg["model"] == "converted" and not MODELS["converted"].trainable
    save_model(tmp_path / "m.safetensors", snn, cfg)
    back, back_cfg = load_model(tmp_path / "m.safetensors")
    assert back_cfg["graph"] == cfg["graph"]
    assert torch.equal(_run(back, x, 16), _run(snn, x, 16))
    assert any(k.endswith(".threshold") for k in back.state_dict())
    with pytest.raises(ValueError, match="graph"):
        build_model({"model": "converted", "input_shape": [1, 8, 8], "n_classes": 5})


# -- the spiking max-pool ----------------------------------------------------------------------------------------


def test_spiking_max_pool_rate_approaches_the_largest_input_rate(generator):
    rates = torch.tensor([0.1, 0.35, 0.6, 0.3])  # one 2x2 window
    t = 4000
    z = (torch.rand(t, 1, 1, 4, generator=generator) < rates).float().view(t, 1, 1, 2, 2)
    out, acc = SpikingMaxPool(2, 2)(z)
    assert out.shape == (t, 1, 1, 1, 1)
    assert set(out.unique().tolist()) <= {0.0, 1.0}  # spikes stay spikes
    assert float(out.mean()) == pytest.approx(float(z.view(t, 4).mean(0).max()), abs=0.01)
    torch.testing.assert_close(acc, z.sum(0))


# -- QCFS ----------------------------------------------------------------------------------------------------------


def test_qcfs_is_the_published_formula_with_its_gradients():
    lam, levels = 1.5, 4
    act = QCFS(levels, lam)
    x = torch.linspace(-1, 3, 401, dtype=torch.float64)
    expected = lam * torch.clamp(torch.floor(x * levels / lam + 0.5) / levels, 0, 1)
    torch.testing.assert_close(act(x.float()).double(), expected, atol=1e-6, rtol=0)
    xs = torch.tensor([-0.5, 0.7, 2.5], requires_grad=True)
    act(xs).sum().backward()
    # d/dx: 1 inside (0, lambda) by the straight-through floor, 0 outside; d/dlambda: 0 below, h/lambda - x/lambda
    # inside (floor(0.7 * 4 / 1.5 + 0.5) / 4 = 0.5, so 0.5 - 0.7 / 1.5), 1 where clipped at the top
    assert xs.grad.tolist() == [0.0, 1.0, 0.0]
    for value, grad in ((-0.5, 0.0), (0.7, 0.5 - 0.7 / lam), (2.5, 1.0)):
        act.threshold.grad = None
        act(torch.tensor([value])).sum().backward()
        assert float(act.threshold.grad) == pytest.approx(grad, abs=1e-6)


def test_qcfs_layer_converts_exactly_at_t_equal_levels():
    """IF with threshold lambda started at lambda/2, run T = L steps on constant input: rate * lambda = QCFS."""
    torch.manual_seed(4)
    levels = 8
    ann = nn.Sequential(nn.Linear(5, 16), QCFS(levels, 1.3), nn.Linear(16, 2)).eval()
    x = torch.rand(100, 5)
    snn = convert(ann, x)
    node = next(n for n in snn.nodes if n["op"] == "if")
    assert node["scale"] == pytest.approx(1.3) and node["scale_from"] == "qcfs"
    counts = _spike_counts(snn, x, levels)[node["name"]]
    expected = ann[1](ann[0](x)).detach() / 1.3 * levels
    assert float((counts - expected).abs().max()) < 1e-3


@pytest.mark.parametrize(("module", "name"), [(nn.Sigmoid(), "Sigmoid"), (nn.Tanh(), "Tanh"), (nn.GELU(), "GELU")])
def test_unsupported_layer_is_named_with_its_position(module, name):
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), module, nn.Linear(4, 2))
    for how in ("fx", "walk"):
        with pytest.raises(UnsupportedLayerError) as err:
            convert(net, torch.rand(8, 4), trace=how)
        message = str(err.value)
        assert f"'2' ({name})" in message and "operation 3 of" in message and "has no spiking equivalent" in message


def test_recurrent_layer_is_named():
    class Rec(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.rnn, self.out = nn.Linear(4, 4), nn.LSTM(4, 4, batch_first=True), nn.Linear(4, 2)

        def forward(self, x):
            return self.out(self.rnn(torch.relu(self.fc(x)))[0])

    with pytest.raises(UnsupportedLayerError, match=r"'rnn' \(LSTM\).*it returns several tensors"):
        convert(Rec(), torch.rand(8, 3, 4))


def test_unsupported_function_and_attention_are_named():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return F.softmax(self.fc(x), dim=-1)

    with pytest.raises(UnsupportedLayerError, match=r"F\.softmax \('softmax'\).*operation 2 of 2"):
        convert(Attn(), torch.rand(4, 4))

    class MHA(nn.Module):
        def __init__(self):
            super().__init__()
            self.att = nn.MultiheadAttention(4, 1, batch_first=True)

        def forward(self, x):
            return self.att(x, x, x)[0]

    with pytest.raises(UnsupportedLayerError, match=r"'att' \(MultiheadAttention\)"):
        convert(MHA(), torch.rand(2, 3, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percentile": 0}, "percentile: expected a number in \\(0, 100\\]"),
        ({"normalise": "layers"}, "normalise: expected 'weights' or 'threshold'"),
        ({"v_init": 1.0}, "v_init: expected a fraction"),
        ({"trace": "jit"}, "trace: expected 'auto', 'fx' or 'walk'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        convert(_mlp(), torch.rand(4, 6), **kwargs)


def test_bad_calibration_data_is_named():
    with pytest.raises(ValueError, match="calibration_data: is empty"):
        convert(_mlp(), [])
    with pytest.raises(ValueError, match="calibration_data: batch 0 holds NaN"):
        convert(_mlp(), torch.full((4, 6), float("nan")))
    with pytest.raises(TypeError, match=r"calibration_data: batch 0 has dtype torch\.int64"):
        convert(_mlp(), torch.ones(4, 6, dtype=torch.long))
    with pytest.raises(TypeError, match=r"model: expected a torch\.nn\.Module"):
        convert(lambda x: x, torch.rand(4, 6))


# -- diagnostics ---------------------------------------------------------------------------------------------------


def test_diagnostics_show_where_a_bad_scale_loses_accuracy():
    ann = _mlp()
    x = torch.rand(200, 6)
    good = diagnose(ann, convert(ann, x), x, timesteps=256)
    bad = diagnose(ann, convert(ann, x, percentile=50.0), x, timesteps=256)
    assert [d.correlation for d in good.layers] == pytest.approx([1.0, 1.0], abs=0.01)
    assert good.argmax_agreement > 0.95
    # half of the positive activations above the scale: clipped, and the rate saturates where they are
    assert bad.layers[0].clipped > 0.1 and bad.layers[0].saturated == pytest.approx(bad.layers[0].clipped, abs=0.01)
    assert good.layers[0].clipped < 0.01
    assert bad.layers[0].correlation < good.layers[0].correlation
    assert bad.output_error > good.output_error
    # the first layer's rates against the closed form: its error is at most 1/(2T) per neuron
    assert good.layers[0].rate_error <= 0.5 / 256 + 1e-6
    assert "readout" in good.table()


# -- digits, end to end --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("qcfs", "timesteps"), [(True, 32), (False, 128)])
def test_converted_cnn_on_digits_is_within_one_point_of_the_ann(qcfs, timesteps):
    from spikeforge.data import load_digits

    split = load_digits()
    torch.manual_seed(0)
    ann = ann_model("cnn", split.input_shape, split.n_classes, qcfs=qcfs)
    train_ann(ann, split, epochs=8, seed=0)
    reference = ann_accuracy(ann, split.x_test, split.y_test)
    assert reference > 0.95
    snn = spikeforge.convert(ann, split.x_train)
    accuracy = accuracy_by_timesteps(snn, split.x_test, split.y_test, [timesteps])[timesteps]
    assert accuracy >= reference - 0.01
