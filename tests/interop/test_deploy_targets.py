"""Hardware targets: the registry's limits all cite a source, docs/hardware_targets.md matches it, and the fit
counts (fan-in, synapses, cores) agree with hand counts."""

import math
from pathlib import Path

import pytest
import torch

from spikeforge import ALIF, LI, LIF, RLIF
from spikeforge.interop import TARGETS, deploy_check, network_layers
from spikeforge.interop._targets import SOURCES, HardwareTarget
from spikeforge.models._sequence import WholeSequence
from spikeforge.nn import SequentialState
from spikeforge.synapses import DelayedLinear

DOC = Path(__file__).resolve().parents[2] / "docs" / "hardware_targets.md"
FIELDS = [
    "cores",
    "neurons_per_core",
    "synapses_per_core",
    "fan_in",
    "fan_out",
    "weight_bits",
    "state_bits",
    "max_delay",
    "neuron_models",
    "layer_types",
]


def _limits(target: HardwareTarget):
    return [(f, getattr(target, f)) for f in FIELDS] + list(target.extra.items())


def test_every_limit_cites_a_source_and_unconfirmed_ones_say_why():
    assert list(TARGETS) == ["loihi2", "akida", "xylo", "speck", "spinnaker2"]
    for name, target in TARGETS.items():
        for field, limit in _limits(target):
            assert limit.source in SOURCES, (name, field)
            assert limit.confirmed or limit.note, (name, field)


def test_the_docs_table_lists_every_limit_as_the_registry_holds_it():
    text = DOC.read_text()

    def fmt(v):
        if v is None:
            return "not published"
        if isinstance(v, tuple):
            return ", ".join(v) if v else "none"
        return f"{v:,}"

    for name, target in TARGETS.items():
        for field, limit in _limits(target):
            confirmed = "yes" if limit.confirmed else "**unconfirmed**"
            row = f"| {name} | {field.replace('_', ' ')} | {fmt(limit.value)} | [{limit.source}] | {confirmed} |"
            assert row in text, row
    for key in SOURCES:
        assert f"**[{key}]**" in text


def test_layer_counts_match_hand_counts():
    net = SequentialState(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        LIF((4, 6, 6)),
        torch.nn.Flatten(),
        torch.nn.Linear(144, 20),
        RLIF(20),
        WholeSequence(DelayedLinear(20, 5, torch.randint(0, 4, (5, 20)))),
        LIF(5),
        torch.nn.Linear(5, 3),
        LI(3),
    )
    conv, rec, delayed, out = network_layers(net, [2, 6, 6])
    assert (conv.neurons, conv.fan_in, conv.kind) == (144, 2 * 9, "conv")
    assert conv.fan_out == 20  # each conv neuron feeds the 20 dense neurons
    assert (rec.neurons, rec.fan_in, rec.recurrent, rec.fan_out) == (20, 144 + 20, True, 5 + 20)
    assert (delayed.fan_in, delayed.max_delay) == (20, int(net[5].module.delays.max()))
    assert (out.neurons, out.synapses, out.fan_out) == (3, 15, 0)


def test_cores_and_verdicts_follow_the_limits():
    net = SequentialState(torch.nn.Linear(10, 3000), LIF(3000), torch.nn.Linear(3000, 4), LI(4))
    loihi = deploy_check(net, [10], "loihi2")
    n_core = TARGETS["loihi2"].neurons_per_core.value
    s_core = TARGETS["loihi2"].synapses_per_core.value
    hand = max(math.ceil(3000 / n_core), math.ceil(3000 * 10 / s_core)) + max(1, math.ceil(4 * 3000 / s_core))
    assert loihi.fits and loihi.cores == hand and loihi.cores_exact
    xylo = deploy_check(net, [10], "xylo")
    assert not xylo.fits
    assert any("hidden neurons: 3,000 > 1,000" in c for c in xylo.changes)
    assert any("fan-in: 3,000 > 32" in c for c in xylo.changes)
    assert xylo.cores == math.ceil(3004 / TARGETS["xylo"].neurons_per_core.value)  # one shared core per 1008
    adaptive = deploy_check(SequentialState(torch.nn.Linear(4, 8), ALIF(8), torch.nn.Linear(8, 2), LI(2)), [4], "speck")
    assert any("neuron model ALIF not supported" in c for c in adaptive.changes)
    assert not adaptive.cores_exact and adaptive.cores == 2
    delayed = SequentialState(WholeSequence(DelayedLinear(4, 3, torch.tensor([[0, 1, 2, 3]] * 3))), LIF(3))
    assert any("delay connections not supported" in c for c in deploy_check(delayed, [4], "akida").changes)
    with pytest.raises(ValueError, match="target: expected one of"):
        deploy_check(net, [10], "truenorth")
