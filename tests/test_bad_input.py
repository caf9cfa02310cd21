"""Bad input, everywhere (issue 15): every public module fed wrong ranks, empty batches, NaN and inf, bad time steps
and constants, wrong dtypes and devices, non-contiguous tensors, T = 0, absurd sizes, missing and malformed files.

Each refusal must be a clear error that names the argument, the expectation and what arrived; NaN and inf are
reported as what they are. Where an odd input is accepted on purpose (an empty batch, a non-contiguous tensor, a
``meta`` tensor), the test checks that the result is right. The command line has its own file
(``tests/cli/test_bad_input_cli.py``) and the file readers are fuzzed in ``tests/test_fuzz_readers.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from spikeforge import encoding, synapses
from spikeforge import nn as sfnn
from spikeforge.neurons import NEURONS, DivergenceError, NeuronSpec

N, B, T = 5, 3, 8
SPECS = list(NEURONS.values())
each_neuron = pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
NAN, INF = float("nan"), float("inf")


def refuses(exc: type[BaseException], fn: Callable[[], object], *fragments: str) -> str:
    """Call ``fn``; it must raise ``exc`` whose message holds every fragment (case-insensitive). Returns it."""
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in the message {message!r}"
    return message


def module(spec: NeuronSpec, kind: str = "sequence", **kwargs):
    cls = spec.sequence if kind == "sequence" else spec.cell
    return cls(N, dt=spec.drive.dt, **{**spec.drive.kwargs, **kwargs})


def drive(spec: NeuronSpec, *shape: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return spec.drive.offset + spec.drive.amplitude * torch.rand(*(shape or (T, B, N)), generator=g)


# -- neurons: the input ------------------------------------------------------------------------------------------------
@each_neuron
@pytest.mark.parametrize("kind", ["sequence", "cell"])
def test_neuron_wrong_rank(spec, kind):
    x = drive(spec)[0] if kind == "sequence" else drive(spec)[0, 0]
    refuses(ValueError, lambda: module(spec, kind)(x), "input", "at least", str(tuple(x.shape)))


@each_neuron
@pytest.mark.parametrize("kind", ["sequence", "cell"])
def test_neuron_wrong_features(spec, kind):
    x = drive(spec, T, B, N + 1)
    x = x if kind == "sequence" else x[0]
    refuses(ValueError, lambda: module(spec, kind)(x), "input", f"features ({N},)", str(tuple(x.shape)))


@each_neuron
@pytest.mark.parametrize("kind", ["sequence", "cell"])
def test_neuron_nan_input_is_named(spec, kind):
    x = drive(spec)
    x[2, 1, 3] = NAN
    x = x if kind == "sequence" else x[2]
    message = refuses(ValueError, lambda: module(spec, kind)(x), "input", "NaN")
    assert "infinite" not in message


@each_neuron
@pytest.mark.parametrize("kind", ["sequence", "cell"])
@pytest.mark.parametrize("value", [INF, -INF])
def test_neuron_infinite_input_is_reported_as_infinite(spec, kind, value):
    x = drive(spec)
    x[2, 1, 3] = value
    x = x if kind == "sequence" else x[2]
    message = refuses(ValueError, lambda: module(spec, kind)(x), "input", "infinite", repr(value))
    assert "NaN" not in message


@each_neuron
def test_neuron_large_finite_input_whose_sum_overflows_is_accepted(spec):
    # the NaN/inf check sums the input: a sum that overflows to inf must not be taken for an infinite value
    x = torch.full((2, B, N), 3e38)
    assert torch.isinf(x.sum())
    module(spec, "cell")(x[0])  # no error; the value itself is finite


@each_neuron
@pytest.mark.parametrize("kind", ["sequence", "cell"])
def test_neuron_integer_input(spec, kind):
    x = drive(spec).long()
    x = x if kind == "sequence" else x[0]
    refuses(TypeError, lambda: module(spec, kind)(x), "input", "floating-point", "torch.int64")


@each_neuron
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_neuron_other_float_dtypes_run_or_are_refused_by_name(spec, dtype):
    x = drive(spec).to(dtype)
    try:
        out, _ = module(spec)(x)
    except TypeError as err:  # refused: the message names the input and the dtype that arrived
        assert "input" in str(err) and str(dtype) in str(err), str(err)
    else:
        assert out.shape == x.shape


@each_neuron
def test_neuron_not_a_tensor(spec):
    refuses(TypeError, lambda: module(spec)(drive(spec).tolist()), "input", "torch.Tensor", "list")


@each_neuron
def test_neuron_no_time_steps(spec):
    refuses(ValueError, lambda: module(spec)(drive(spec)[:0]), "input", "T >= 1", "(0, 3, 5)")


@each_neuron
@pytest.mark.parametrize("kind", ["sequence", "cell"])
def test_neuron_empty_batch_runs(spec, kind):
    x = drive(spec)[:, :0]
    x = x if kind == "sequence" else x[0]
    out, _ = module(spec, kind)(x)
    assert out.shape == x.shape


@each_neuron
def test_neuron_meta_input_gives_shapes(spec):
    out, _ = module(spec)(drive(spec).to("meta"))
    assert out.device.type == "meta" and out.shape == (T, B, N)


@each_neuron
@pytest.mark.parametrize("layout", ["batch-first transposed", "every other feature"])
def test_neuron_non_contiguous_input_equals_contiguous(spec, layout):
    if layout == "batch-first transposed":
        x = drive(spec, B, T, N).transpose(0, 1)
    else:
        x = drive(spec, T, B, 2 * N)[..., ::2]
    assert not x.is_contiguous()
    torch.manual_seed(0)
    a, _ = module(spec)(x)
    torch.manual_seed(0)
    b, _ = module(spec)(x.contiguous())
    assert torch.equal(a, b)


# -- neurons: the constructor ----------------------------------------------------------------------------------------
@each_neuron
@pytest.mark.parametrize("dt", [0.0, -1e-3, NAN, INF])
def test_neuron_bad_dt(spec, dt):
    refuses(ValueError, lambda: spec.sequence(N, dt=dt), "dt", repr(dt))


@each_neuron
@pytest.mark.parametrize("dt", ["1ms", None])
def test_neuron_dt_of_wrong_type(spec, dt):
    refuses(TypeError, lambda: spec.sequence(N, dt=dt), "dt", type(dt).__name__)


@each_neuron
@pytest.mark.parametrize("shape", [0, -3, (2, 0)])
def test_neuron_bad_shape(spec, shape):
    refuses(ValueError, lambda: spec.sequence(shape, dt=spec.drive.dt), "shape", "positive")


@each_neuron
def test_neuron_shape_of_wrong_type(spec):
    refuses((TypeError, ValueError), lambda: spec.sequence(2.5, dt=spec.drive.dt), "shape", "2.5")


#: (neuron, argument): every time constant is refused at 0, below 0 and NaN (inf is allowed: no leak)
TIME_CONSTANTS = [
    ("lif", "tau_mem"),
    ("lif", "tau_syn"),
    ("li", "tau_mem"),
    ("li", "tau_syn"),
    ("cubalif", "tau_mem"),
    ("cubalif", "tau_syn"),
    ("alif", "tau_mem"),
    ("alif", "tau_adapt"),
    ("rlif", "tau_mem"),
    ("ralif", "tau_adapt"),
    ("adex", "tau_w"),
]


@pytest.mark.parametrize(("name", "arg"), TIME_CONSTANTS, ids=[f"{n}-{a}" for n, a in TIME_CONSTANTS])
@pytest.mark.parametrize("value", [0.0, -0.01, NAN])
def test_neuron_bad_time_constant(name, arg, value):
    spec = NEURONS[name]
    refuses(ValueError, lambda: module(spec, **{arg: value}), arg, "positive", f"{value:.6g}")


#: firing thresholds at or below rest fire on every step: refused
THRESHOLDS = [
    ("lif", {}, 0.0),
    ("lif", {}, -1.0),
    ("lif", {"reset": "zero", "v_reset": 0.5}, 0.5),
    ("lif", {"reset": "none", "v_leak": 2.0}, 1.5),
    ("lif", {"reset": "subtract", "v_leak": -70.0}, -50.0),
    ("if", {}, 0.0),
    ("if", {"reset": "zero", "v_reset": 1.0}, 0.9),
    ("cubalif", {}, -0.5),
    ("rlif", {}, 0.0),
    ("alif", {}, 0.0),
    ("ralif", {}, -1.0),
]


@pytest.mark.parametrize(("name", "kwargs", "value"), THRESHOLDS, ids=[f"{n}-{v}-{k}" for n, k, v in THRESHOLDS])
def test_neuron_threshold_at_or_below_rest(name, kwargs, value):
    spec = NEURONS[name]
    refuses(
        ValueError,
        lambda: module(spec, threshold=value, **kwargs),
        "threshold",
        "positive" if name in ("alif", "ralif") else "above",
        f"{value:.6g}",
    )


def test_neuron_threshold_per_neuron_with_one_bad_value():
    refuses(
        ValueError, lambda: NEURONS["lif"].sequence(3, threshold=torch.tensor([1.0, 0.0, 2.0])), "threshold", "got 0"
    )


def test_neuron_biophysical_threshold_in_mv_is_fine():
    lif = NEURONS["lif"].sequence(3, reset="zero", v_leak=-65.0, v_reset=-70.0, threshold=-50.0)
    assert float(lif.get("threshold")) == -50.0


@pytest.mark.parametrize(
    ("name", "arg"),
    [("lif", "threshold"), ("if", "threshold"), ("cubalif", "threshold"), ("izhikevich", "a"), ("adex", "a")],
)
@pytest.mark.parametrize("value", [NAN, INF])
def test_neuron_non_finite_constant(name, arg, value):
    refuses(ValueError, lambda: module(NEURONS[name], **{arg: value}), arg, "nan" if math.isnan(value) else "inf")


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("lif", "v_reset"),
        ("lif", "v_leak"),
        ("if", "v_reset"),
        ("cubalif", "v_leak"),
        ("alif", "v_reset"),
        ("hodgkin_huxley", "v_threshold"),
        ("hodgkin_huxley", "temperature"),
        ("morris_lecar", "v_threshold"),
        ("hindmarsh_rose", "x_threshold"),
        ("izhikevich", "v_peak"),
        ("adex", "V_peak"),
    ],
)
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_neuron_non_finite_potential(name, arg, value):
    refuses(ValueError, lambda: module(NEURONS[name], **{arg: value}), arg, "finite", repr(value))


@pytest.mark.parametrize("name", ["hodgkin_huxley", "morris_lecar", "hindmarsh_rose"])
def test_neuron_substeps(name):
    refuses(ValueError, lambda: module(NEURONS[name], substeps=0), "substeps", "positive", "0")


# -- neurons: numerical blow-ups ------------------------------------------------------------------------------------------
BLOW_UPS = {"hodgkin_huxley": 1e6, "morris_lecar": 1e6, "hindmarsh_rose": 1e9}


@pytest.mark.parametrize("name", sorted(BLOW_UPS))
@pytest.mark.parametrize("record", [False, True])
def test_neuron_blow_up_names_step_and_variable(name, record):
    spec = NEURONS[name]
    x = torch.full((20, 2, N), 1.0, dtype=torch.float64)
    x[5:, 1, 2] = BLOW_UPS[name]  # sample 1, neuron 2 blows up from step 5
    m = spec.sequence(N, dt=spec.drive.dt, dtype=torch.float64, record=record)
    with pytest.raises(DivergenceError) as info:
        m(x)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.step in (5, 6) and err.index == (1, 2) and err.variable in spec.state._fields  # 6: inf, then NaN
    message = str(err)
    assert re.search(rf"diverged at step {err.step} of 20 .*state\.{err.variable} became (NaN|-?inf)", message), message
    assert f"{BLOW_UPS[name]:g}" in message


@pytest.mark.parametrize("name", sorted(BLOW_UPS))
def test_neuron_in_range_runs_do_not_trip_the_blow_up_check(name):
    spec = NEURONS[name]
    z, _ = module(spec)(drive(spec))
    assert torch.isfinite(z).all()


# -- encoders and decoders -------------------------------------------------------------------------------------------------
IMAGE = torch.rand(B, 4)


def _with(x: torch.Tensor, value: float) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[1] = value
    return x


@pytest.mark.parametrize("name", list(encoding.ENCODERS))
@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_encoder_bad_timesteps(name, steps):
    refuses(ValueError, lambda: encoding.encode(IMAGE, steps, name), "timesteps", repr(steps))


@pytest.mark.parametrize("name", ["rate", "poisson", "latency"])
def test_encoder_nan(name):
    refuses(ValueError, lambda: encoding.encode(_with(IMAGE, NAN), 4, name), "x", "NaN")


@pytest.mark.parametrize("name", ["rate", "poisson", "latency"])
@pytest.mark.parametrize("value", [INF, 1.5, -0.1])
def test_encoder_out_of_range(name, value):
    refuses(ValueError, lambda: encoding.encode(_with(IMAGE, value), 4, name), "x", "[0, 1]", f"{value:.3g}")


@pytest.mark.parametrize("name", list(encoding.ENCODERS))
def test_encoder_integer_input(name):
    refuses(TypeError, lambda: encoding.encode((IMAGE * 255).long(), 4, name), "x", "int64")


@pytest.mark.parametrize("name", list(encoding.ENCODERS))
def test_encoder_empty_batch(name):
    assert encoding.encode(IMAGE[:0], 4, name).shape == (4, 0, 4)


@pytest.mark.parametrize("name", list(encoding.ENCODERS))
def test_encoder_non_contiguous(name):
    x = torch.rand(4, B).t()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    kw = (lambda g: {"generator": g}) if name in ("rate", "poisson") else (lambda g: {})
    assert torch.equal(encoding.encode(x, 6, name, **kw(g1)), encoding.encode(x.contiguous(), 6, name, **kw(g2)))


def test_encoder_unknown_name():
    refuses(ValueError, lambda: encoding.encode(IMAGE, 4, "morse"), "encoding", "morse", "rate")


@pytest.mark.parametrize("max_rate", [-1.0, NAN, INF])
def test_poisson_bad_rate(max_rate):
    refuses(ValueError, lambda: encoding.poisson(IMAGE, 4, max_rate=max_rate), "max_rate", repr(max_rate))


def test_poisson_bad_dt():
    refuses(ValueError, lambda: encoding.poisson(IMAGE, 4, dt=0.0), "dt", "0.0")


def test_latency_bad_method():
    refuses(ValueError, lambda: encoding.latency(IMAGE, 4, method="cubic"), "method", "cubic")


@pytest.mark.parametrize("name", list(encoding.DECODERS))
def test_decoder_wrong_rank(name):
    refuses(ValueError, lambda: encoding.decode(torch.rand(4), name), "seq", "[T, B, ...]", "(4,)")


@pytest.mark.parametrize("name", list(encoding.DECODERS))
def test_decoder_no_time_steps(name):
    refuses(ValueError, lambda: encoding.decode(torch.rand(0, B, 3), name), "T >= 1", "(0, 3, 3)")


@pytest.mark.parametrize("name", list(encoding.DECODERS))
def test_decoder_non_contiguous(name):
    z = (torch.rand(3, B, 6) > 0.5).float().transpose(0, 1)
    assert torch.equal(encoding.decode(z, name), encoding.decode(z.contiguous(), name))


def test_decoder_unknown_name():
    refuses(ValueError, lambda: encoding.decode(torch.rand(2, 1, 3), "median"), "decoder", "median")


SIGNAL = torch.sin(torch.linspace(0, 6, 50))[:, None].repeat(1, 2)
SIGNAL_ENCODERS = {
    "delta": lambda x, **kw: encoding.delta(x, 0.1, **kw),
    "step_forward": lambda x, **kw: encoding.step_forward(x, 0.1, **kw),
    "level_crossing": lambda x, **kw: encoding.level_crossing(x, 0.1, **kw),
}


@pytest.mark.parametrize("name", list(SIGNAL_ENCODERS))
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_signal_encoder_non_finite(name, value):
    message = refuses(
        ValueError, lambda: SIGNAL_ENCODERS[name](_with(SIGNAL, value)), "x", "NaN" if math.isnan(value) else "infinite"
    )
    assert ("NaN" in message) == math.isnan(value)


@pytest.mark.parametrize("name", list(SIGNAL_ENCODERS))
def test_signal_encoder_empty_signal(name):
    refuses(ValueError, lambda: SIGNAL_ENCODERS[name](SIGNAL[:0]), "x", "T >= 1", "(0, 2)")


@pytest.mark.parametrize("name", list(SIGNAL_ENCODERS))
def test_signal_encoder_integer_signal(name):
    refuses(TypeError, lambda: SIGNAL_ENCODERS[name](SIGNAL.long()), "x", "floating-point", "int64")


@pytest.mark.parametrize("threshold", [0.0, -0.1, NAN, INF])
def test_signal_encoder_bad_threshold(threshold):
    refuses(ValueError, lambda: encoding.delta(SIGNAL, threshold), "threshold", "positive", repr(threshold))


@pytest.mark.parametrize("name", list(SIGNAL_ENCODERS))
def test_signal_encoder_non_contiguous(name):
    x = SIGNAL.t().contiguous().t()
    assert not x.is_contiguous()
    assert torch.equal(SIGNAL_ENCODERS[name](x), SIGNAL_ENCODERS[name](x.contiguous()))


def test_signal_encoder_initial_inf():
    refuses(ValueError, lambda: encoding.delta(SIGNAL, 0.1, initial=INF), "initial", "infinite")


@pytest.mark.parametrize("z", [torch.rand(5, 3), torch.rand(5)])
def test_signal_decoder_wrong_layout(z):
    refuses(ValueError, lambda: encoding.delta_decode(z, 0.1, initial=0.0), "z", "[T, ..., 2]")


def test_population_nan_and_bad_arguments():
    refuses(ValueError, lambda: encoding.population(_with(SIGNAL, NAN), 8, low=-1, high=1), "x", "NaN")
    refuses(ValueError, lambda: encoding.population(SIGNAL, 2, low=-1, high=1), "n_neurons", "2")
    refuses(ValueError, lambda: encoding.population(SIGNAL, 8, low=1, high=-1), "low, high", "low=1")
    refuses(ValueError, lambda: encoding.population(SIGNAL, 8, low=-1, high=1, threshold=1.5), "threshold", "1.5")
    refuses(ValueError, lambda: encoding.population_decode(-torch.ones(3, 8), low=-1, high=1), "z", "non-negative")


AUDIO = torch.sin(torch.arange(1600) / 16000 * 2 * math.pi * 440)


@pytest.mark.parametrize(
    ("waveform", "fragments"),
    [
        (_with(AUDIO, NAN), ("waveform", "NaN")),
        (_with(AUDIO, INF), ("waveform", "infinite")),
        (AUDIO[None].repeat(2, 1), ("waveform", "mono", "(2, 1600)")),
        ((AUDIO * 1000).long(), ("waveform", "int64")),
    ],
    ids=["nan", "inf", "stereo", "int"],
)
def test_audio_front_end_bad_waveform(waveform, fragments):
    refuses(ValueError, lambda: encoding.AudioToSpikes(16000, n_bands=8)(waveform), *fragments)


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"sample_rate": 0}, ("sample_rate", "0")),
        ({"sample_rate": 16000.5}, ("sample_rate", "16000.5")),
        ({"threshold": 0.0}, ("threshold", "0.0")),
        ({"threshold": NAN}, ("threshold", "nan")),
        ({"floor_db": INF}, ("floor_db", "inf")),
        ({"dt": 0.0}, ("dt", "0.0")),
        ({"dt": 1e-6}, ("dt", "one sample")),
        ({"window": 0.0}, ("window", "two samples")),
        ({"n_bands": 0}, ("n_bands", "0")),
        ({"f_min": 9000.0}, ("f_min", "9000")),
        ({"f_max": 9000.0}, ("f_max", "Nyquist")),
        ({"method": "fft"}, ("method", "fft")),
        ({"scale": "bark"}, ("scale", "bark")),
    ],
    ids=lambda v: str(v) if not isinstance(v, tuple) else "",
)
def test_audio_front_end_bad_settings(kwargs, fragments):
    refuses(ValueError, lambda: encoding.AudioToSpikes(**{"sample_rate": 16000, "n_bands": 8, **kwargs}), *fragments)


def test_audio_front_end_non_contiguous_waveform():
    x = torch.stack([AUDIO, AUDIO], 1)[:, 0]
    assert not x.is_contiguous()
    enc = encoding.AudioToSpikes(16000, n_bands=8)
    assert torch.equal(enc(x), enc(x.contiguous()))


@pytest.mark.filterwarnings("ignore::scipy.io.wavfile.WavFileWarning")
def test_read_wav_missing_directory_and_garbage(tmp_path):
    refuses(FileNotFoundError, lambda: encoding.read_wav(tmp_path / "nope.wav"), "nope.wav", "not found")
    refuses(ValueError, lambda: encoding.read_wav(tmp_path), str(tmp_path), "directory")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    refuses(ValueError, lambda: encoding.read_wav(bad), "bad.wav", "not a readable .wav")


def test_read_wav_non_finite_samples_and_rate(tmp_path):
    from scipy.io import wavfile

    path = tmp_path / "nan.wav"
    wavfile.write(path, 16000, np.array([0.0, np.nan, 0.5], dtype=np.float32))
    refuses(ValueError, lambda: encoding.read_wav(path), "nan.wav", "non-finite", "nan")
    wavfile.write(path, 8000, np.zeros(10, dtype=np.int16))
    refuses(ValueError, lambda: encoding.read_wav(path, 16000), "nan.wav", "8000 Hz", "16000 Hz")


# -- synapse layers ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda: synapses.event_linear(torch.ones(4, 5000), torch.randn(8, 10)), ("x", "[..., 10]", "(4, 5000)")),
        (
            lambda: synapses.event_linear(torch.ones(4, 10), torch.randn(8, 10), torch.randn(3)),
            ("bias", "(8,)", "(3,)"),
        ),
        (lambda: synapses.event_linear(torch.ones(4, 10), torch.randn(10)), ("weight", "matrix", "[10]")),
        (lambda: synapses.event_linear(torch.ones(4, 10), torch.randn(8, 10), mode="fast"), ("mode", "fast")),
        (lambda: synapses.EventLinear(10, 8)(torch.ones(3, 2, 11)), ("x", "[..., 10]", "(3, 2, 11)")),
        (lambda: synapses.EventLinear(10, 8, crossover=2.0), ("crossover", "2.0")),
        (lambda: synapses.EventLinear(10, 8, mode="event")(torch.full((2, 10), 0.5)), ("0 and 1", "dense")),
    ],
    ids=["x-wider-than-weight", "bias", "weight-1d", "mode", "layer-x", "crossover", "graded-event"],
)
def test_event_linear_refuses(call, fragments):
    refuses(ValueError, call, *fragments)


@pytest.mark.parametrize("grad", [False, True])
def test_event_linear_non_contiguous_input_and_weight(grad):
    layer = synapses.EventLinear(10, 8)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(10, 8).t())
    x = (torch.rand(6, 4, 20) < 0.1).float()[..., ::2].requires_grad_(grad)
    expected = nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: synapses.ChannelDelay(3, torch.tensor([0, -1, 2])), ValueError, ("delays", ">= 0", "-1")),
        (lambda: synapses.ChannelDelay(3, torch.tensor([0.5, 1.0, 2.0])), TypeError, ("delays", "integer", "float")),
        (lambda: synapses.ChannelDelay(0, 1), ValueError, ("n_channels", "0")),
        (lambda: synapses.ChannelDelay(3, torch.tensor([1, 2])), ValueError, ("delays", "[3]", "[2]")),
        (lambda: synapses.ChannelDelay(3, 1)(torch.rand(5, 2, 4)), ValueError, ("x_seq", "3", "[5, 2, 4]")),
        (lambda: synapses.ChannelDelay(3, 1)(torch.rand(5)), ValueError, ("x_seq", "[5]")),
        (lambda: synapses.ChannelDelay(3, 1, dt=-1.0), ValueError, ("dt", "-1.0")),
        (lambda: synapses.DelayedLinear(0, 3), ValueError, ("in_features", "0")),
        (lambda: synapses.DelayedLinear(4, 3, delays=-2), ValueError, ("delays", "-2")),
        (lambda: synapses.DelayedLinear(4, 3)(torch.rand(5, 2, 3)), ValueError, ("x_seq", "4", "[5, 2, 3]")),
        (lambda: synapses.LearnableDelayLinear(4, 3, max_delay=4, sigma_init=-1.0), ValueError, ("sigma_init", "-1.0")),
        (lambda: synapses.LearnableDelayLinear(4, 3, max_delay=4)(torch.rand(5, 2, 3)), ValueError, ("x_seq", "4")),
        (
            lambda: synapses.LearnableDelayLinear(4, 3, max_delay=4)(torch.rand(5, 2, 4, dtype=torch.float64)),
            TypeError,
            ("x_seq", "float64"),
        ),
    ],
)
def test_delay_layers_refuse(call, exc, fragments):
    refuses(exc, call, *fragments)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: synapses.ChannelDelay(6, torch.tensor([0, 1, 2, 3, 0, 1])),
        lambda: synapses.DelayedLinear(6, 3, delays=torch.randint(0, 4, (3, 6))),
        lambda: synapses.LearnableDelayLinear(6, 3, max_delay=4),
    ],
    ids=["ChannelDelay", "DelayedLinear", "LearnableDelayLinear"],
)
def test_delay_layers_non_contiguous_input(layer):
    torch.manual_seed(1)
    m = layer()
    x = torch.rand(2, 7, 6).transpose(0, 1)  # [T, B, C] view of a batch-first tensor
    assert not x.is_contiguous()
    assert torch.equal(m(x), m(x.contiguous()))


def test_delay_layers_empty_batch():
    m = synapses.DelayedLinear(6, 3, delays=torch.randint(0, 4, (3, 6)))
    assert m(torch.rand(7, 0, 6)).shape == (7, 0, 3)


# -- nn containers -----------------------------------------------------------------------------------------------------------
def _net():
    from spikeforge import LI, LIF

    return sfnn.SequentialState(nn.Linear(4, 6), LIF(6), nn.Linear(6, 2), LI(2))


@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: _net()(torch.rand(4)), ValueError, ("input", "[T, B, ...]", "(4,)")),
        (lambda: _net()(torch.rand(0, 2, 4)), ValueError, ("T >= 1",)),
        (lambda: _net()(torch.rand(5, 2, 4), state=[None]), ValueError, ("state", "4 entries", "got 1")),
        (lambda: sfnn.Lift(nn.Linear(4, 2))(torch.rand(4)), ValueError, ("input", "[T, B, ...]", "(4,)")),
        (lambda: sfnn.checkpoint_time(_net(), chunk=0), ValueError, ("chunk", "0")),
        (lambda: sfnn.checkpoint_time("net", chunk=2), TypeError, ("module", "str")),
        (lambda: sfnn.checkpoint_time(_net(), chunk=2)(torch.rand(4)), ValueError, ("x_seq", "[T, B, ...]")),
    ],
    ids=["rank", "T0", "state-length", "lift-rank", "chunk", "module", "checkpoint-rank"],
)
def test_containers_refuse(call, exc, fragments):
    refuses(exc, call, *fragments)


def test_containers_mixing_cells_and_sequences():
    from spikeforge import LIF, LIFCell

    refuses(ValueError, lambda: sfnn.SequentialState(LIF(3), LIFCell(3)), "mixes cells")


def test_containers_nan_weights_are_named_at_the_next_neuron():
    net = _net()
    with torch.no_grad():
        net[0].weight[0, 0] = NAN
    refuses(ValueError, lambda: net(torch.rand(5, 2, 4)), "input", "NaN")


def test_containers_non_contiguous_and_empty_batch():
    net = _net()
    x = torch.rand(2, 5, 4).transpose(0, 1)
    assert torch.equal(net(x)[0], net(x.contiguous())[0])
    assert net(torch.rand(5, 0, 4))[0].shape == (5, 0, 2)


# -- data loaders -----------------------------------------------------------------------------------------------------------
def _idx_folder(tmp_path, train_labels=None, test_labels=None):
    from formats import make_idx_folder, write_idx
    from spikeforge.data import IDX_FILES

    folder = make_idx_folder(tmp_path / "idx")
    if train_labels is not None:
        write_idx(folder / IDX_FILES["train_labels"], np.asarray(train_labels))
    if test_labels is not None:
        write_idx(folder / IDX_FILES["test_labels"], np.asarray(test_labels))
    return folder


def test_idx_label_255_among_ten_classes_is_refused(tmp_path):
    """The user's report: one label 255 in a 4-class IDX set trained a 256-class model."""
    from spikeforge.data import load_idx

    labels = np.arange(60) % 4
    labels[7] = 255
    folder = _idx_folder(tmp_path, train_labels=labels)
    refuses(ValueError, lambda: load_idx(folder), "training labels", "0..K-1", "up to 255", "never occur")


def test_idx_test_label_outside_the_training_classes(tmp_path):
    from spikeforge.data import load_idx

    labels = np.arange(20) % 4
    labels[3] = 9
    refuses(ValueError, lambda: load_idx(_idx_folder(tmp_path, test_labels=labels)), "test labels", "[9]", "0..3")


def test_idx_labels_with_a_gap(tmp_path):
    from spikeforge.data import load_idx

    labels = np.where(np.arange(60) % 4 == 2, 3, np.arange(60) % 4)  # no class 2
    refuses(ValueError, lambda: load_idx(_idx_folder(tmp_path, train_labels=labels, test_labels=np.zeros(20))), "[2]")


def test_idx_good_labels_still_load(tmp_path):
    from spikeforge.data import load_idx

    assert load_idx(_idx_folder(tmp_path)).n_classes == 4


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"", ("not an IDX file",)),
        (b"\x00\x00\x08\x03\x00\x00", ("cannot read IDX",)),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", ("header promises 5 bytes", "holds 2")),
        (b"\x00\x00\x09\x01\x00\x00\x00\x01\x01", ("not an IDX file of unsigned bytes",)),
        (b"\x00\x00\x08\x04" + b"\xff" * 16, ("header promises",)),
    ],
    ids=["empty", "truncated-dims", "short-data", "wrong-type", "absurd-dims"],
)
def test_read_idx_malformed(tmp_path, content, fragments):
    from spikeforge.data import read_idx

    path = tmp_path / "f-idx1-ubyte"
    path.write_bytes(content)
    refuses(ValueError, lambda: read_idx(path), str(path), *fragments)


def test_read_idx_missing_directory_and_bad_gzip(tmp_path):
    from spikeforge.data import read_idx

    refuses(FileNotFoundError, lambda: read_idx(tmp_path / "nope"), "nope", "not found")
    refuses(ValueError, lambda: read_idx(tmp_path), "directory")
    gz = tmp_path / "x.gz"
    gz.write_bytes(b"not gzip at all")
    refuses(ValueError, lambda: read_idx(gz), "x.gz", "cannot read IDX")


def test_idx_images_of_different_sizes(tmp_path):
    from formats import write_idx
    from spikeforge.data import IDX_FILES, load_idx

    folder = _idx_folder(tmp_path)
    write_idx(folder / IDX_FILES["test_images"], np.zeros((20, 9, 9)))
    refuses(ValueError, lambda: load_idx(folder), "(8, 8)", "(9, 9)")


def test_idx_empty_parts(tmp_path):
    from formats import write_idx
    from spikeforge.data import IDX_FILES, load_idx

    folder = _idx_folder(tmp_path)
    write_idx(folder / IDX_FILES["test_images"], np.zeros((0, 8, 8)))
    write_idx(folder / IDX_FILES["test_labels"], np.zeros(0))
    refuses(ValueError, lambda: load_idx(folder), "test", "no samples")


TS_HEADER = "@problemName toy\n@univariate true\n@classLabel true a b\n@data\n"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ("no '@data' line",)),
        ("@classLabel true a b\n", ("no '@data' line",)),
        (TS_HEADER, ("no cases",)),
        ("hello\n@data\n1,2:a\n", ("header line", "hello")),
        (TS_HEADER + "1,2,3:c\n", ("labels ['c']", "declared classes")),
        (TS_HEADER + "1,x,3:a\n", ("expected a number", "'x'")),
        (TS_HEADER + "1,2,3:4,5:a\n", ("ragged", "[3, 2]")),
        (TS_HEADER + "1,2:a\n1,2:3,4:b\n", ("2 channels", "first case has 1")),
        (TS_HEADER + "a\n", ("one field",)),
        (TS_HEADER + "(0,1),(1,2):a\n", ("time-stamped",)),
        ("@classLabel false\n@data\n1,2:3\n", ("classLabel false",)),
        ("@targetLabel true\n@data\n1,2:0.5\n", ("regression",)),
    ],
    ids=[
        "empty",
        "no-data",
        "no-cases",
        "junk-header",
        "unknown-label",
        "bad-number",
        "ragged",
        "channels-change",
        "no-label",
        "timestamps",
        "class-false",
        "regression",
    ],
)
def test_read_ts_malformed(tmp_path, text, fragments):
    from spikeforge.data import read_ts

    path = tmp_path / "toy_TRAIN.ts"
    path.write_text(text)
    refuses(ValueError, lambda: read_ts(path), str(path), *fragments)


def _ts_pair(tmp_path, train_rows, test_rows=None):
    train, test = tmp_path / "p_TRAIN.ts", tmp_path / "p_TEST.ts"
    train.write_text(TS_HEADER + "".join(train_rows))
    test.write_text(TS_HEADER + "".join(test_rows or train_rows))
    return train, test


def test_ts_missing_values_and_infinite_values(tmp_path):
    from spikeforge.data import load_ts_pair

    train, test = _ts_pair(tmp_path, ["1,?,3:a\n", "1,2,3:b\n"] * 3)
    refuses(ValueError, lambda: load_ts_pair(train, test), "p_TRAIN.ts", "missing", "interpolate")
    train, test = _ts_pair(tmp_path, ["1,inf,3:a\n", "1,2,3:b\n"] * 3)
    refuses(ValueError, lambda: load_ts_pair(train, test), "p_TRAIN.ts", "inf")


def test_ts_bad_options_and_missing_pair(tmp_path):
    from spikeforge.data import load_series, load_ts_pair, read_ts

    train, test = _ts_pair(tmp_path, ["1,2,3:a\n", "1,2,3:b\n"] * 3)
    refuses(ValueError, lambda: load_ts_pair(train, test, missing="zero"), "missing", "zero")
    refuses(ValueError, lambda: load_ts_pair(train, test, val_fraction=1.5), "val_fraction", "1.5")
    refuses(FileNotFoundError, lambda: read_ts(tmp_path / "nope.ts"), "nope.ts", "not found")
    refuses(FileNotFoundError, lambda: load_series(str(tmp_path / "q_TRAIN.ts")), "q_TRAIN.ts", "q_TEST.ts")


def test_ts_channel_count_differs_between_train_and_test(tmp_path):
    from spikeforge.data import load_ts_pair

    train, test = _ts_pair(tmp_path, ["1,2,3:a\n", "1,2,3:b\n"] * 3, ["1,2:3,4:a\n", "1,2:3,4:b\n"])
    refuses(ValueError, lambda: load_ts_pair(train, test), "2 channels", "has 1")


def _h5(tmp_path, name="shd_train.h5", **kw):
    from formats import write_heidelberg

    samples = [(np.array([0.001, 0.02, 0.5]), np.array([0, 5, 699]))] * 4
    return write_heidelberg(tmp_path / name, samples, kw.pop("labels", [0, 1, 2, 3]), **kw)


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragments"),
    [
        ({"dt": 0.0}, ValueError, ("dt", "0.0")),
        ({"dt": 1e-3, "duration": -1.0}, ValueError, ("duration", "-1.0")),
        ({"dt": 1e-3, "n_steps": 0}, ValueError, ("n_steps", "0")),
        ({"dt": 1e-3, "duration": 1.0, "n_steps": 10}, ValueError, ("duration or n_steps",)),
        ({"dt": 1e-3, "pool": 3}, ValueError, ("pool", "700", "3")),
        ({"dt": 1e-3, "on_invalid": "ignore"}, ValueError, ("on_invalid", "ignore")),
        ({"dt": 1e-3, "indices": [0, 9]}, ValueError, ("indices", "[0, 4)", "9")),
    ],
    ids=["dt", "duration", "n_steps", "both", "pool", "on_invalid", "indices"],
)
def test_heidelberg_bad_options(tmp_path, kwargs, exc, fragments):
    from spikeforge.data import HeidelbergSpikes

    path = _h5(tmp_path)
    refuses(exc, lambda: HeidelbergSpikes(path, **kwargs), *fragments)


def test_heidelberg_files_missing_wrong_format_and_keys(tmp_path):
    from spikeforge.data import HeidelbergSpikes, load_shd

    refuses(FileNotFoundError, lambda: load_shd(tmp_path, dt=1e-3), "shd_train.h5", "not found")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    refuses(ValueError, lambda: HeidelbergSpikes(junk, dt=1e-3), "junk.h5", "HDF5")
    refuses(ValueError, lambda: HeidelbergSpikes(tmp_path, dt=1e-3), str(tmp_path), "directory")
    path = _h5(tmp_path, drop=("labels",))
    refuses(ValueError, lambda: HeidelbergSpikes(path, dt=1e-3), "missing key 'labels'")


def test_heidelberg_bad_labels_and_spikes(tmp_path):
    import h5py

    from spikeforge.data import HeidelbergSpikes

    path = _h5(tmp_path)
    with h5py.File(path, "a") as f:
        del f["labels"]
        f["labels"] = np.array([0.5, 1.0, 2.0, 3.0])
    refuses(ValueError, lambda: HeidelbergSpikes(path, dt=1e-3), "labels", "float64")
    path = _h5(tmp_path, name="u.h5")
    with h5py.File(path, "a") as f:
        f["spikes/units"][1] = np.array([0, 5, 900], dtype=np.uint16)
    data = HeidelbergSpikes(path, dt=1e-3)
    refuses(ValueError, lambda: data[1], "u.h5 sample 1", "900")


@pytest.mark.parametrize(
    ("times", "units", "fragments"),
    [
        ([0.1, NAN], [1, 2], ("NaN",)),
        ([0.1, INF], [1, 2], ("inf",)),
        ([0.1, -0.5], [1, 2], ("-0.5",)),
        ([0.1, 0.2], [1, 7], ("7", "[0, 4)")),
        ([0.1, 0.2], [1], ("2 times and 1 units",)),
    ],
    ids=["nan", "inf", "negative", "unit-range", "count"],
)
def test_bin_spikes_invalid(times, units, fragments):
    from spikeforge.data import bin_spikes

    refuses(ValueError, lambda: bin_spikes(np.array(times), np.array(units), dt=0.01, n_channels=4), *fragments)


def test_bin_spikes_float_units_and_empty_batch():
    from spikeforge.data import bin_spikes, collate_spikes

    refuses(TypeError, lambda: bin_spikes(np.array([0.1]), np.array([1.5]), dt=0.01, n_channels=4), "units", "float")
    refuses(ValueError, lambda: collate_spikes([]), "batch", "empty")


@pytest.mark.parametrize(
    ("events", "kwargs", "fragments"),
    [
        (np.zeros((3, 4)), {"sensor_size": (4, 4, 2)}, ("layout",)),
        (np.array([[0, 0, 5, 3]]), {"sensor_size": (4, 4, 2), "layout": "xytp"}, ("p", "3")),
        (np.array([[9, 0, 5, 1]]), {"sensor_size": (4, 4, 2), "layout": "xytp"}, ("x", "9")),
        (np.array([[0, 0, -5, 1]]), {"sensor_size": (4, 4, 2), "layout": "xytp"}, ("-5",)),
        (np.array([[0, 0, 5, 1]]), {"sensor_size": (4, 4, 2), "layout": "xyzp"}, ("layout", "xyzp")),
    ],
    ids=["no-layout", "polarity", "x-range", "negative-time", "bad-layout"],
)
def test_events_to_tensor_invalid(events, kwargs, fragments):
    from spikeforge.data import events_to_tensor

    refuses((ValueError, TypeError), lambda: events_to_tensor(events, dt=1e-3, **kwargs), *fragments)


@pytest.mark.parametrize(
    ("spec", "exc", "fragments"),
    [
        ("cifar10", ValueError, ("dataset", "cifar10", "digits")),
        ("idx:/nonexistent/folder", FileNotFoundError, ("/nonexistent/folder", "not found")),
        ("shd:", ValueError, ("dataset", "shd:")),
        ("uea:NoSuchSet", (ValueError, ImportError), ("NoSuchSet",)),
        ("", ValueError, ("dataset", "''")),
    ],
)
def test_load_split_bad_specs(spec, exc, fragments):
    from spikeforge.data import load_split

    refuses(exc, lambda: load_split(spec), *fragments)


# -- metrics ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"add": -1.0}, ("add", "-1.0")),
        ({"add": NAN}, ("add", "nan")),
        ({"mul": INF}, ("mul", "inf")),
        ({"add": "cheap"}, ("add", "cheap")),
        ({"adds": 1.0}, ("unknown", "adds")),
        ({"preset": "7nm"}, ("7nm",)),
        ([1, 2], ("mapping", "list")),
    ],
    ids=["negative", "nan", "inf", "text", "unknown", "preset", "list"],
)
def test_energy_model_bad_tables(data, fragments):
    from spikeforge.metrics import EnergyModel

    refuses(ValueError, lambda: EnergyModel.from_dict(data), *fragments)


def test_energy_model_files(tmp_path):
    from spikeforge.metrics import EnergyModel

    refuses(FileNotFoundError, lambda: EnergyModel.from_file(tmp_path / "nope.json"), "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refuses(ValueError, lambda: EnergyModel.from_file(bad), "bad.json")


def test_profile_model_and_synaptic_operations_refuse():
    from spikeforge.metrics import profile_model, synaptic_operations

    refuses(ValueError, lambda: profile_model(_net(), torch.rand(4)), "x_seq", "[T, B, ...]", "(4,)")
    refuses(ValueError, lambda: profile_model(_net(), torch.rand(0, 2, 4)), "T >= 1")
    refuses(TypeError, lambda: synaptic_operations(nn.ReLU(), torch.rand(2, 4)), "layer", "ReLU")
    refuses(ValueError, lambda: profile_model(_net(), torch.rand(5, 2, 4), batch_size=0), "batch_size", "0")


def test_profile_model_empty_batch_and_non_contiguous():
    from spikeforge.metrics import profile_model

    x = torch.rand(2, 5, 4).transpose(0, 1)
    a, b = profile_model(_net(), x).to_dict(), profile_model(_net(), x.contiguous()).to_dict()
    assert a["layers"] == b["layers"] if "layers" in a else a.keys() == b.keys()


# -- quantisation ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: __import__("spikeforge.quant").quant.fake_quantize(torch.rand(3), 0.0), ValueError, ("scale", "0")),
        (lambda: __import__("spikeforge.quant").quant.fake_quantize(torch.rand(3), NAN), ValueError, ("scale", "nan")),
        (lambda: __import__("spikeforge.quant").quant.fake_quantize(torch.rand(3), 0.1, 1), ValueError, ("bits", "1")),
        (
            lambda: __import__("spikeforge.quant").quant.fake_quantize(torch.rand(3), 0.1, 64),
            ValueError,
            ("bits", "64"),
        ),
        (
            lambda: __import__("spikeforge.quant").quant.fake_quantize(torch.rand(3), 0.1, rounding="up"),
            ValueError,
            ("rounding", "up"),
        ),
        (
            lambda: __import__("spikeforge.quant").quant.weight_scale(torch.tensor([1.0, NAN])),
            ValueError,
            ("w", "NaN"),
        ),
        (
            lambda: __import__("spikeforge.quant").quant.weight_scale(torch.tensor([1.0, INF])),
            ValueError,
            ("w", "infinite"),
        ),
        (lambda: __import__("spikeforge.quant").quant.QuantLinear(4, 2, bits=0), ValueError, ("bits", "0")),
        (lambda: __import__("spikeforge.quant").quant.decay_to_int(-1.0, 1e-3), ValueError, ("tau", "-1")),
        (lambda: __import__("spikeforge.quant").quant.decay_to_int(0.01, 0.0), ValueError, ("dt", "0.0")),
        (lambda: __import__("spikeforge.quant").quant.FixedCUBA(dv=5000), ValueError, ("dv", "5000")),
        (lambda: __import__("spikeforge.quant").quant.FixedCUBA(reset="none"), ValueError, ("reset", "none")),
        (
            lambda: __import__("spikeforge.quant").quant.FixedCUBA()(torch.rand(4, 2, 3)),
            TypeError,
            ("integer", "float32"),
        ),
        (
            lambda: __import__("spikeforge.quant").quant.to_fixed(_net(), input_scale=0.0),
            ValueError,
            ("input_scale", "0"),
        ),
        (
            lambda: __import__("spikeforge.quant").quant.to_fixed(_net(), input_scale=NAN),
            ValueError,
            ("input_scale", "nan"),
        ),
    ],
    ids=[
        "scale-zero",
        "scale-nan",
        "bits-1",
        "bits-64",
        "rounding",
        "weights-nan",
        "weights-inf",
        "layer-bits",
        "tau",
        "dt",
        "dv",
        "reset",
        "float-input",
        "input-scale",
        "input-scale-nan",
    ],
)
def test_quant_refuses(call, exc, fragments):
    refuses(exc, call, *fragments)


def test_quant_nan_weights_in_a_model_are_named():
    from spikeforge.quant import quantize_model, to_fixed

    net = _net()
    with torch.no_grad():
        net[2].weight[0, 1] = NAN
    refuses(ValueError, lambda: quantize_model(net), "weight", "NaN")
    refuses(ValueError, lambda: to_fixed(net, input_scale=1.0), "weight", "NaN")


# -- interop ------------------------------------------------------------------------------------------------------------------
def test_model_file_missing_directory_and_garbage(tmp_path):
    from spikeforge.interop import ModelFileError, load_model, read_model_file

    refuses(FileNotFoundError, lambda: load_model(tmp_path / "nope.safetensors"), "nope.safetensors", "not found")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 3)
    refuses(ModelFileError, lambda: read_model_file(junk), "junk.safetensors")
    assert issubclass(ModelFileError, ValueError)


def _saved_model(tmp_path, poison: float | None = None):
    from spikeforge.interop import save_model
    from spikeforge.models import build_model

    config = {"model": "mlp", "input_shape": [4], "n_classes": 2, "hidden": [6]}
    model = build_model(config)
    if poison is not None:
        with torch.no_grad():
            next(model.parameters()).view(-1)[0] = poison
    return save_model(tmp_path / "m.safetensors", model, config)


@pytest.mark.parametrize("value", [NAN, INF])
def test_model_file_with_non_finite_weights_is_refused(tmp_path, value):
    from spikeforge.interop import ModelFileError, load_model

    path = _saved_model(tmp_path, value)
    refuses(ModelFileError, lambda: load_model(path), "m.safetensors", "NaN" if math.isnan(value) else "inf")


def _nir_file(tmp_path, poison: float | None = None, tau: float | None = None):
    import nir

    n = 3
    nodes = {
        "input": nir.Input(input_type=np.array([n])),
        "fc": nir.Affine(weight=np.eye(n, dtype=np.float32), bias=np.zeros(n, dtype=np.float32)),
        "lif": nir.LIF(
            tau=np.full(n, 0.02 if tau is None else tau, dtype=np.float32),
            r=np.ones(n, dtype=np.float32),
            v_leak=np.zeros(n, dtype=np.float32),
            v_threshold=np.ones(n, dtype=np.float32),
        ),
        "output": nir.Output(output_type=np.array([n])),
    }
    if poison is not None:
        nodes["fc"].weight[0, 1] = poison
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    return path


def test_nir_reader_missing_directory_and_garbage(tmp_path):
    from spikeforge.interop import read_nir

    refuses(FileNotFoundError, lambda: read_nir(tmp_path / "nope.nir"), "nope.nir", "not found")
    refuses(ValueError, lambda: read_nir(tmp_path), str(tmp_path), "directory")
    junk = tmp_path / "junk.nir"
    junk.write_text("hello")
    refuses(ValueError, lambda: read_nir(junk), "junk.nir", "not a readable NIR")


@pytest.mark.parametrize("value", [NAN, INF])
def test_nir_import_non_finite_weights(tmp_path, value):
    from spikeforge.interop import import_nir

    path = _nir_file(tmp_path, poison=value)
    refuses(ValueError, lambda: import_nir(path, dt=1e-3), "fc", "weight", "NaN" if math.isnan(value) else "infinite")


@pytest.mark.parametrize("tau", [0.0, -0.01, NAN])
def test_nir_import_bad_time_constants(tmp_path, tau):
    from spikeforge.interop import import_nir

    refuses(ValueError, lambda: import_nir(_nir_file(tmp_path, tau=tau), dt=1e-3), "lif", "tau")


@pytest.mark.parametrize("dt", [0.0, -1e-3, NAN])
def test_nir_import_bad_dt(tmp_path, dt):
    from spikeforge.interop import import_nir

    refuses(ValueError, lambda: import_nir(_nir_file(tmp_path), dt=dt), "dt")


@pytest.mark.filterwarnings("ignore:NIR export")
def test_nir_writer_onto_a_directory(tmp_path):
    from spikeforge.interop import export_nir, write_nir

    graph = export_nir(_net(), [4])
    refuses(ValueError, lambda: write_nir(tmp_path, graph), str(tmp_path), "directory")
    assert list(tmp_path.iterdir()) == []  # nothing half-written beside it


def test_nir_export_bad_input_shape():
    from spikeforge.interop import export_nir

    refuses(ValueError, lambda: export_nir(_net(), [5]), "input_shape", "[5]")
    refuses(ValueError, lambda: export_nir(_net(), [4], integrator="rk4"), "integrator", "rk4")


# -- the network simulator ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: _sim().simulate_network("hopfield", duration=0.01), ValueError, ("name", "hopfield", "brunel")),
        (lambda: _sim().simulate_network("brunel", regime="chaos", duration=0.01), ValueError, ("regime", "chaos")),
        (lambda: _sim().simulate_network("brunel", duration=0.0), ValueError, ("duration", "0.0")),
        (lambda: _sim().simulate_network("brunel", duration=NAN), ValueError, ("duration", "nan")),
        (lambda: _sim().simulate_network("brunel", duration=0.01, dt=0.0), ValueError, ("dt", "0.0")),
        (lambda: _sim().simulate_network("brunel", duration=0.01, seed=-1), ValueError, ("seed", "-1")),
        (lambda: _sim().simulate_network("brunel", duration=0.01, seed=2**70), ValueError, ("seed", str(2**70))),
        (lambda: _sim().simulate_network("brunel", duration=0.01, n_exc=-5), ValueError, ("n_exc", "-5")),
        (lambda: _sim().simulate_network("brunel", duration=0.01, bogus=1), (ValueError, TypeError), ("bogus",)),
        (lambda: _sim().fixed_probability(range(0, 4), range(0, 4), p=1.5, weight=1.0), ValueError, ("p", "1.5")),
        (
            lambda: _sim().fixed_probability(range(0, 4), range(0, 4), p=0.5, weight=NAN),
            ValueError,
            ("weight", "nan"),
        ),
        (
            lambda: _sim().fixed_indegree(range(0, 4), range(0, 4), k=9, weight=1.0),
            ValueError,
            ("k", "9"),
        ),
        (lambda: _sim().PoissonInput(range(0, 4), rate=-1.0, weight=1.0), ValueError, ("rate", "-1.0")),
        (lambda: _sim().PoissonInput(range(0, 4), rate=10.0, weight=INF), ValueError, ("weight", "inf")),
        (lambda: _sim().StateMonitor(["v"], [0], every=0), ValueError, ("every", "0")),
        (lambda: _sim().DeltaLIF(tau_mem=0.0), ValueError, ("tau_mem", "0.0")),
        (lambda: _sim().DeltaLIF(threshold=5.0, v_reset=10.0), ValueError, ("v_reset", "10.0")),
        (lambda: _sim().CurrentLIF(v_rest=NAN), ValueError, ("v_rest", "nan")),
        (lambda: _sim().poisson_counts(NAN, (3,)), ValueError, ("lam", "nan")),
    ],
    ids=[
        "name",
        "regime",
        "duration-0",
        "duration-nan",
        "dt",
        "seed-negative",
        "seed-huge",
        "size",
        "unknown-override",
        "p",
        "weight-nan",
        "indegree",
        "rate",
        "bg-weight",
        "monitor",
        "tau",
        "reset-above-threshold",
        "v_rest-nan",
        "lam",
    ],
)
def test_simulator_refuses(call, exc, fragments):
    refuses(exc, call, *fragments)


def _sim():
    from spikeforge import sim

    return sim


def test_heidelberg_label_outside_the_declared_classes(tmp_path):
    from spikeforge.data import HeidelbergSpikes

    path = _h5(tmp_path, labels=[0, 1, 2, 9])  # the file declares 4 class names (extra/keys)
    refuses(ValueError, lambda: HeidelbergSpikes(path, dt=1e-3), "labels", "9", "extra/keys", "4 classes")


def test_shd_stray_label_in_the_test_file(tmp_path):
    from spikeforge.data import load_shd

    _h5(tmp_path, keys=[f"w{k}".encode() for k in range(40)])
    _h5(tmp_path, name="shd_test.h5", labels=[0, 1, 2, 30], keys=[f"w{k}".encode() for k in range(40)])
    refuses(ValueError, lambda: load_shd(tmp_path, dt=1e-3), "shd_test.h5", "[30]", "training labels")
