"""Cross-check against NeuroBench's own workload metrics (runs only where ``neurobench`` is importable).

NeuroBench's wheel declares torchaudio, which would replace torch; install it without dependencies beside
snntorch (see the ``bench`` extra and benchmarks/neurobench_crosscheck.sh). Its metrics modules import without
torchaudio.
"""

import itertools
import math

import pytest
import torch
from torch import nn

import spikeforge as sf
from spikeforge.metrics import profile_model
from spikeforge.nn import Lift, SequentialState

pytest.importorskip("neurobench")
snn = pytest.importorskip("snntorch")
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import SNNTorchModel, TorchModel  # noqa: E402

BETA = 0.5


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def neurobench_metrics(nb_model, data, inputs=None) -> tuple[dict, float]:
    """Run NeuroBench's wrapped model on ``inputs`` (default: the batch-first ``data[0]``) and read its two
    metrics as its Benchmark does; ``data[0].size(0)`` is the batch size it divides by."""
    nb_model.register_hooks()
    try:
        preds = nb_model(data[0] if inputs is None else inputs)
        synops = SynapticOperations()(nb_model, preds, data)
        sparsity = ActivationSparsity()(nb_model, preds, data)
    finally:
        nb_model.cleanup_hooks()
    return synops, sparsity


def twins(sizes=(6, 5, 3)):
    """The same network twice: spikeforge (time-first, sequence neurons) and snntorch (one step per call)."""
    tau = sf.ms / math.log(1 / BETA)  # beta = exp(-dt / tau) with dt = 1 ms
    ours, theirs = [], []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(n_in, n_out)
        with torch.no_grad():
            lin.weight.mul_(3.0)
        copy = nn.Linear(n_in, n_out)
        copy.load_state_dict(lin.state_dict())
        ours += [lin, sf.LIF(n_out, tau_mem=tau, reset="subtract")]
        last = k == len(sizes) - 2
        theirs += [
            copy,
            snn.Leaky(
                beta=BETA, threshold=1.0, reset_mechanism="subtract", reset_delay=False, init_hidden=True, output=last
            ),
        ]
    return SequentialState(*ours), nn.Sequential(*theirs)


@pytest.mark.parametrize("spiking_input", [True, False])
def test_synaptic_operations_and_activation_sparsity_agree_with_neurobench(spiking_input):
    ours, theirs = twins()
    t, b = 20, 8
    x_seq = (torch.rand(t, b, 6) < 0.3).float() if spiking_input else torch.rand(t, b, 6)
    with torch.no_grad():
        z_ours, _ = ours(x_seq)
        z_theirs = SNNTorchModel(theirs)(x_seq.transpose(0, 1)).transpose(0, 1)
    assert torch.equal(z_ours, z_theirs), "the twins must spike identically for the comparison to mean anything"
    assert 0 < float(z_ours.mean()) < 1

    synops, sparsity = neurobench_metrics(SNNTorchModel(theirs), (x_seq.transpose(0, 1), torch.zeros(b)))
    report = profile_model(ours, x_seq)
    assert report.acs == pytest.approx(synops["Effective_ACs"])
    assert report.macs == pytest.approx(synops["Effective_MACs"])
    assert report.dense == pytest.approx(synops["Dense"])
    assert report.activation_sparsity == pytest.approx(sparsity)
    assert (report.macs > 0) == (not spiking_input)


def test_conv_network_synaptic_operations_agree_with_neurobench_on_the_same_model():
    """The spikeforge model itself, wrapped in NeuroBench's TorchModel: strided/padded convolutions, average
    pooling (real-valued input to the next layer, so MACs), a pruned weight tensor."""
    net = SequentialState(
        Lift(nn.Conv2d(2, 4, 3, stride=2, padding=1)),
        sf.LIF((4, 5, 5)),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1),
        sf.LIF((6, 2, 2)),
        nn.Flatten(),
        nn.Linear(24, 3),
        sf.LI(3),
    )
    with torch.no_grad():
        net[0].module.weight.mul_(4.0)
        net[3].weight.mul_(6.0)
        net[6].weight[:, ::2] = 0.0
    t, b = 6, 4
    x_seq = (torch.rand(t, b, 2, 10, 10) < 0.4).float()
    # TorchModel calls the net on what it is given: our time-first sequence; data[0] only tells it the batch size
    synops, _ = neurobench_metrics(TorchModel(net), (x_seq.transpose(0, 1), torch.zeros(b)), x_seq)
    report = profile_model(net, x_seq)
    assert report.acs > 0 and report.macs > 0
    assert report.acs == pytest.approx(synops["Effective_ACs"])
    assert report.macs == pytest.approx(synops["Effective_MACs"])
    assert report.dense == pytest.approx(synops["Dense"])
