"""Choosing event-driven or dense synapses by measurement: the decision logic with fake timings (no timed tests)."""

import json

import pytest
import torch

from spikeforge import _choice
from spikeforge._choice import PathChooser, density_bucket
from spikeforge.models import SYNAPSES, build_model
from spikeforge.synapses import EventLinear, _event, synapse_paths


class FakeClock:
    """``measure(fn)``: runs ``fn`` and returns the preset seconds of the candidate it is, counting calls."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.calls: dict[str, int] = dict.fromkeys(seconds, 0)
        self.names: dict[int, str] = {}

    def candidates(self) -> dict:
        out = {}
        for name in self.seconds:
            fn = lambda: None  # noqa: E731
            self.names[id(fn)] = name
            out[name] = fn
        return out

    def __call__(self, fn) -> float:
        name = self.names.get(id(fn)) or fn.__name__  # the layer's own candidates are named dense / event
        self.calls[name] += 1
        fn()
        return self.seconds[name]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ({"dense": 2.0, "event": 1.0}, "event"),  # clearly faster: taken
        ({"dense": 1.0, "event": 2.0}, "dense"),  # slower: never taken
        ({"dense": 1.0, "event": 0.95}, "dense"),  # within the 10 % margin: the default stays
        ({"dense": 1.0, "event": 1.0}, "dense"),
    ],
)
def test_the_faster_path_is_chosen_and_never_the_slower(seconds, expected):
    clock = FakeClock(seconds)
    chooser = PathChooser(measure=clock, reps=2)
    assert chooser.choose("k", clock.candidates()) == expected
    assert clock.calls == {"dense": 3, "event": 3}  # one warm-up round and two timed rounds, each
    assert chooser.decisions["k"] == {"path": expected, "seconds": seconds}


def test_the_minimum_over_rounds_decides_not_one_slow_round():
    times = iter([9.0, 9.0, 5.0, 1.0, 1.0, 3.0])  # warm-up (ignored), then dense 5 / event 1, dense 1 / event 3
    chooser = PathChooser(measure=lambda fn: next(times), reps=2)
    # dense's best 1.0 against event's best 1.0: not clearly faster, so dense
    assert chooser.choose("k", {"dense": lambda: None, "event": lambda: None}) == "dense"


def test_a_decision_is_measured_once_per_key_and_cached():
    clock = FakeClock({"dense": 2.0, "event": 1.0})
    chooser = PathChooser(measure=clock, reps=1)
    assert chooser.choose("shape A", clock.candidates()) == "event"
    assert chooser.choose("shape A", clock.candidates()) == "event"
    assert clock.calls == {"dense": 2, "event": 2}  # not measured again
    assert chooser.cached("shape A") == "event" and chooser.cached("shape B") is None
    chooser.choose("shape B", clock.candidates())
    assert clock.calls == {"dense": 4, "event": 4}  # another shape is measured


def test_a_cached_name_that_is_no_candidate_is_measured_again():
    clock = FakeClock({"dense": 2.0, "event": 1.0})
    chooser = PathChooser(measure=clock, reps=1)
    chooser.decisions["k"] = {"path": "gone", "seconds": {}}
    assert chooser.choose("k", clock.candidates()) == "event"


def test_the_cache_file_is_written_atomically_and_read_by_the_next_process(tmp_path):
    file = tmp_path / "cache" / "paths.json"
    clock = FakeClock({"dense": 2.0, "event": 1.0})
    PathChooser(file=file, measure=clock, reps=1).choose("k", clock.candidates())
    assert json.loads(file.read_text())["k"]["path"] == "event"
    assert [p.name for p in file.parent.iterdir()] == ["paths.json"]  # no temporary file left behind
    fresh = FakeClock({"dense": 1.0, "event": 2.0})  # would now choose dense, but the file already decided
    assert PathChooser(file=file, measure=fresh, reps=1).choose("k", fresh.candidates()) == "event"
    assert fresh.calls == {"dense": 0, "event": 0}


def test_an_unreadable_cache_file_is_measured_over_and_rewritten(tmp_path):
    file = tmp_path / "paths.json"
    file.write_text("{ not json")
    clock = FakeClock({"dense": 1.0, "event": 2.0})
    assert PathChooser(file=file, measure=clock, reps=1).choose("k", clock.candidates()) == "dense"
    assert json.loads(file.read_text())["k"]["path"] == "dense"


def test_the_cache_file_setting(monkeypatch, tmp_path):
    for off in ("", "0", "off"):
        monkeypatch.setenv(_choice.ENV, off)
        assert _choice.cache_file() is None
    monkeypatch.setenv(_choice.ENV, "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _choice.cache_file() == tmp_path / "spikeforge" / "paths.json"
    monkeypatch.setenv(_choice.ENV, str(tmp_path / "mine.json"))
    assert _choice.cache_file() == tmp_path / "mine.json"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="reps"):
        PathChooser(reps=0)
    with pytest.raises(ValueError, match="margin"):
        PathChooser(margin=1.0)
    with pytest.raises(ValueError, match="candidates"):
        PathChooser().choose("k", {})
    with pytest.raises(ValueError, match="density"):
        density_bucket(float("nan"))


def test_density_octaves():
    # ceil(log2(1000 d)): 0.1 % and 0.2 % share octave 1, 5 % lies in (3.2 %, 6.4 %]
    assert [density_bucket(d) for d in (0.0, 0.0005, 0.002, 0.003, 0.05, 0.064, 0.07)] == [0, 1, 1, 2, 6, 6, 7]


def _spikes(shape, density, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < density).float()


@pytest.mark.parametrize(
    ("seconds", "path"), [({"dense": 2.0, "event": 1.0}, "event"), ({"dense": 1.0, "event": 2.0}, "dense")]
)
def test_measure_mode_follows_the_timing_and_keeps_the_dense_results(monkeypatch, seconds, path):
    clock = FakeClock(seconds)
    monkeypatch.setattr(_choice, "CHOOSER", PathChooser(measure=clock, reps=1))
    torch.manual_seed(0)
    layer = EventLinear(40, 6, mode="measure").double()
    x = _spikes((5, 3, 40), 0.05).double().requires_grad_()
    out = layer(x)
    assert layer.path == path and layer.train_path == path
    ref = torch.nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(out, ref)
    grads = torch.autograd.grad(out.square().sum(), (x, layer.weight, layer.bias))
    ref_grads = torch.autograd.grad(ref.square().sum(), (x, layer.weight, layer.bias))
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)
    assert clock.calls == {"dense": 2, "event": 2}
    layer(x)  # same shape and density octave: the cached decision, no new timing
    assert clock.calls == {"dense": 2, "event": 2}
    with torch.no_grad():  # inference is a decision of its own (no backward)
        torch.testing.assert_close(layer(x), ref.detach())
    assert layer.path == path and layer.train_path == path


def test_measure_mode_does_not_time_graded_or_dense_input(monkeypatch):
    clock = FakeClock({"dense": 2.0, "event": 1.0})
    monkeypatch.setattr(_choice, "CHOOSER", PathChooser(measure=clock, reps=1))
    layer = EventLinear(40, 6, mode="measure")
    layer(torch.rand(5, 3, 40))  # graded input (currents, pooled spikes)
    assert layer.path == "dense"
    layer(_spikes((5, 3, 40), 0.6))  # spikes above MEASURE_MAX
    assert layer.path == "dense" and _event.MEASURE_MAX < 0.6
    assert clock.calls == {"dense": 0, "event": 0}


def test_builders_make_the_synapses_the_config_asks_for():
    base = {"model": "mlp", "hidden": [16], "input_shape": [30], "n_classes": 3}
    auto, dense = build_model(base), build_model({**base, "synapses": "dense"})
    assert SYNAPSES["auto"] == "measure"
    linears = [m for m in auto.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 and all(type(m) is EventLinear and m.mode == "measure" for m in linears)
    assert all(type(m) is torch.nn.Linear for m in dense.modules() if isinstance(m, torch.nn.Linear))
    dense.load_state_dict(auto.state_dict())  # the same parameters: model files load either way
    assert synapse_paths(dense) == {"1": "dense", "3": "dense"}
    assert synapse_paths(auto) == {"1": "not run", "3": "not run"}
    with pytest.raises(ValueError, match=r"synapses: expected one of \['auto', 'event', 'dense'\], got 'fast'"):
        build_model({**base, "synapses": "fast"})


def test_the_training_summary_names_each_layers_path_and_backend_in_layer_order():
    from spikeforge.cli._output import _backends

    metrics = {
        "synapse_paths": {"10": "dense", "1": "event"},
        "efficiency": {
            "neuron_layers": {"2": {"layer": "2: LIF(256)", "backend": "cpu"}, "11": {"layer": "11: LI(20)"}}
        },
    }
    assert _backends(metrics) == "1: linear event; 2: LIF(256) cpu; 10: linear dense; 11: LI(20) -"
    assert _backends({}) == ""


def test_lean_storage_for_the_hidden_layers_leaves_the_read_out_on_its_own_kernel():
    from spikeforge import kernels

    if "cpu_lean" not in kernels.available("lif"):
        pytest.skip("no compiled CPU kernels here")
    base = {"model": "mlp", "hidden": [8], "input_shape": [5], "n_classes": 3, "backend": "cpu_lean"}
    net = build_model(base)
    net(_spikes((4, 2, 5), 0.3))  # LI has no lean kernel: it runs its default instead of failing
    assert [kernels.backend_of(m) for m in net if hasattr(m, "_kernel_backend")] == ["cpu_lean", "cpu"]
