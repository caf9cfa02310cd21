"""What a trained classifier does on its test split, gathered for a report: predictions and their confusion matrix,
the firing rate of every neuron, and a few samples recorded layer by layer (spikes and membrane potentials).

The data is plain tensors and dicts; :func:`spikeforge.viz.write_report` draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..encoding import encode_batch
from ..neurons import LI, LICell, NeuronModule
from ..nn import placement
from ._activity import SpikeRecorder, describe, spiking_layers

__all__ = ["SampleActivity", "SplitActivity", "confusion_matrix", "inspect_split"]


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts ``[n_classes, n_classes]`` (int64): row = true class, column = predicted class.

    >>> confusion_matrix(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2]), 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    """
    y_true = torch.as_tensor(y_true).long().flatten()
    y_pred = torch.as_tensor(y_pred).long().flatten()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred: expected {len(y_true)} predictions like y_true, got {len(y_pred)}")
    if n_classes < 1:
        raise ValueError(f"n_classes: expected a positive number of classes, got {n_classes}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(f"{name}: expected class indices in [0, {n_classes}), got {int(y.min())}..{int(y.max())}")
    return torch.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).view(n_classes, n_classes)


@dataclass
class SampleActivity:
    """One test sample through the network, time first, cut to its valid steps.

    ``input`` is ``[T, F]`` (features flattened); ``spikes[layer]`` and ``membranes[layer]`` are ``[T, N]`` per
    spiking layer (labelled as :func:`describe` does; a membrane only where the neuron can record its state);
    ``thresholds[layer]`` the firing threshold when it is one number; ``output`` the network's output ``[T, C]``.
    """

    index: int
    label: int
    predicted: int
    input: torch.Tensor
    spikes: dict[str, torch.Tensor]
    membranes: dict[str, torch.Tensor]
    thresholds: dict[str, float]
    output: torch.Tensor


@dataclass
class SplitActivity:
    """A classifier on its test split (see :func:`inspect_split`).

    ``confusion`` counts true (rows) against predicted (columns) classes; ``neuron_rates[layer]`` is each neuron's
    mean spikes per step ``[N]`` over the valid steps of every test sample; ``output_kind`` says what the output
    sequence is: ``"membrane"`` (a leaky-integrator read-out), ``"spikes"`` or ``"activation"`` (a non-spiking
    baseline's linear read-out).
    """

    dt: float
    y_true: torch.Tensor
    y_pred: torch.Tensor
    confusion: torch.Tensor
    class_names: list[str]
    neuron_rates: dict[str, torch.Tensor]
    samples: list[SampleActivity] = field(default_factory=list)
    output_kind: str = "membrane"
    input_kind: str = "encoded image"

    @property
    def accuracy(self) -> float:
        return float(self.confusion.diagonal().sum()) / max(int(self.confusion.sum()), 1)


def _threshold(module: NeuronModule) -> float | None:
    try:
        value = module.get("threshold")
    except AttributeError:
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    return None


def _output_kind(model: nn.Module) -> str:
    neurons = [m for m in model.modules() if isinstance(m, NeuronModule)]
    if not neurons:
        return "activation"
    return "membrane" if isinstance(neurons[-1], LI | LICell) else "spikes"


class _RateCounter:
    """Per-neuron spike sums of every spiking layer over the valid steps of each batch (forward hooks)."""

    def __init__(self, layers: dict[str, NeuronModule]) -> None:
        self.layers = layers
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0.0
        self.mask: torch.Tensor | None = None  # [T, B] valid steps of the batch being run (None: all)
        self._handles: list = []

    def _hook(self, name: str):
        def hook(module, inputs, output):
            z = output[0].detach().flatten(2).double()  # [T, B, N]
            if self.mask is not None:
                z = z * self.mask[: z.shape[0], :, None]
            total = z.sum((0, 1)).cpu()
            self.sums[name] = self.sums[name] + total if name in self.sums else total

        return hook

    def __enter__(self) -> _RateCounter:
        self._handles = [m.register_forward_hook(self._hook(n)) for n, m in self.layers.items()]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()

    def rates(self) -> dict[str, torch.Tensor]:
        return {n: (s / max(self.steps, 1.0)).float() for n, s in self.sums.items()}


class _StateRecorder:
    """Membrane potentials (state field ``v``) of the neuron modules that can record their state over time."""

    def __init__(self, layers: dict[str, NeuronModule]) -> None:
        self.layers = {n: m for n, m in layers.items() if isinstance(getattr(m, "record", None), bool)}
        self.v: dict[str, torch.Tensor] = {}
        self._saved: dict[str, bool] = {}
        self._handles: list = []

    def _hook(self, name: str):
        def hook(module, inputs, output):
            v = getattr(output[1], "v", None)
            if isinstance(v, torch.Tensor) and v.dim() >= 3:
                self.v[name] = v.detach().flatten(2).cpu()

        return hook

    def __enter__(self) -> _StateRecorder:
        for n, m in self.layers.items():
            self._saved[n] = m.record
            m.record = True  # the state at every step (the torch reference scan)
            self._handles.append(m.register_forward_hook(self._hook(n)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        for n, m in self.layers.items():
            m.record = self._saved[n]


def inspect_split(
    model: nn.Module,
    split: Any,
    cfg: Any,
    *,
    score: Callable[..., torch.Tensor],
    samples: int = 3,
    dt: float | None = None,
) -> SplitActivity:
    """Run ``model`` over the test split as :func:`spikeforge.learning.evaluate` does and gather what a report shows.

    Args:
        model: the trained network (time first), e.g. from :func:`spikeforge.interop.load_model`.
        split: an image :class:`~spikeforge.data.Split` (encoded with ``cfg``) or a split of padded time-first
            series ``x_test[T, N, C]`` with ``len_test`` (fed as they are, the readouts seeing only valid steps).
        cfg: the run's :class:`~spikeforge.learning.TrainConfig` (encoding, timesteps, readout, batch size, eval
            seed).
        score: class scores ``[B, C]`` from the output sequence, called as ``score(out_seq, lengths=...)`` with the
            valid steps per sample (``None`` for images): the read-out the model was trained with, e.g.
            ``functools.partial(spikeforge.learning.scores, readout=cfg.readout)``.
        samples: how many test samples (the first ones) to record layer by layer.
        dt: the time step (s) of the time axes and rates (default: that of the model's neurons, else 1 ms); pass
            the run's ``model_config["dt"]`` for a model without neurons.

    Returns:
        A :class:`SplitActivity`. Its predictions are those of ``evaluate`` (same batches, same encoder draws),
        so ``accuracy`` reproduces the run's test accuracy.

    >>> import spikeforge as sf
    >>> from types import SimpleNamespace
    >>> net = sf.SequentialState(torch.nn.Flatten(), torch.nn.Linear(4, 6), sf.LIF(6), torch.nn.Linear(6, 2), sf.LI(2))
    >>> split = SimpleNamespace(x_test=torch.rand(5, 1, 2, 2), y_test=torch.tensor([0, 1, 0, 1, 1]), n_classes=2)
    >>> cfg = SimpleNamespace(encoding="direct", timesteps=4, batch_size=2, eval_seed=0)
    >>> act = inspect_split(net, split, cfg, score=lambda out, lengths: out.amax(0), samples=2)
    >>> int(act.confusion.sum()), list(act.neuron_rates), tuple(act.samples[0].spikes["2: LIF(6)"].shape)
    (5, ['2: LIF(6)'], (4, 6))
    """
    if samples < 0:
        raise ValueError(f"samples: expected a number of samples >= 0, got {samples}")
    lengths = getattr(split, "len_test", None)
    series = lengths is not None
    x, y = split.x_test, split.y_test
    n = len(y)
    layers = spiking_layers(model)
    labels = {name: describe(name, m) for name, m in layers.items()}
    was_training = model.training
    model.eval()
    predictions = []
    generator = torch.Generator().manual_seed(cfg.eval_seed)  # the draws of `evaluate`
    dtype = placement(model)[1]
    try:
        with torch.no_grad(), _RateCounter(layers) as counter:
            for lo in range(0, n, cfg.batch_size):
                if series:
                    lb = lengths[lo : lo + cfg.batch_size]
                    steps = int(lb.max())
                    counter.mask = (torch.arange(steps)[:, None] < lb[None, :]).double()
                    counter.steps += float(lb.sum())
                    out_seq, _ = model(x[:steps, lo : lo + cfg.batch_size].to(dtype))
                    logits = score(out_seq, lengths=lb)
                else:
                    x_seq = encode_batch(x[lo : lo + cfg.batch_size], cfg, generator)
                    counter.steps += float(x_seq.shape[0] * x_seq.shape[1])
                    out_seq, _ = model(x_seq.to(dtype))
                    logits = score(out_seq, lengths=None)
                predictions.append(logits.argmax(1).cpu())
        y_pred = torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.long)
        recorded = _record_samples(model, split, cfg, score, min(samples, n), layers, labels) if samples else []
    finally:
        model.train(was_training)
    n_classes = int(getattr(split, "n_classes", 0) or (int(y.max()) + 1 if n else 1))
    names = getattr(split, "class_names", None) or [str(c) for c in range(n_classes)]
    if dt is None:
        dt = next((float(m.dt) for m in model.modules() if isinstance(m, NeuronModule)), 1e-3)
    return SplitActivity(
        dt=float(dt),
        y_true=y.cpu(),
        y_pred=y_pred,
        confusion=confusion_matrix(y.cpu(), y_pred, n_classes),
        class_names=[str(c) for c in names],
        neuron_rates={labels[k]: v for k, v in counter.rates().items()},
        samples=recorded,
        output_kind=_output_kind(model),
        input_kind="series" if series else f"{cfg.encoding} encoding",
    )


def _record_samples(model, split, cfg, score, k, layers, labels) -> list[SampleActivity]:
    """The first ``k`` test samples, encoded exactly as the first batch of ``evaluate`` encodes them."""
    lengths = getattr(split, "len_test", None)
    if lengths is not None:
        lb = lengths[:k]
        x_seq = split.x_test[: int(lb.max()), :k]
    else:
        generator = torch.Generator().manual_seed(cfg.eval_seed)
        first = split.x_test[: max(k, min(cfg.batch_size, len(split.y_test)))]  # evaluate's first batch, or more
        x_seq = encode_batch(first, cfg, generator)[:, :k]
        lb = torch.full((k,), x_seq.shape[0])
    x_seq = x_seq.to(placement(model)[1])
    with torch.no_grad(), SpikeRecorder(model) as rec, _StateRecorder(layers) as states:
        out_seq, _ = model(x_seq)
    predicted = score(out_seq, lengths=lb if lengths is not None else None).argmax(1)
    thresholds = {labels[n]: t for n, m in layers.items() if (t := _threshold(m)) is not None}
    result = []
    for b in range(k):
        steps = int(lb[b])
        result.append(
            SampleActivity(
                index=b,
                label=int(split.y_test[b]),
                predicted=int(predicted[b]),
                input=x_seq[:steps, b].reshape(steps, -1).float().cpu(),
                spikes={labels[n]: z[0][:steps, b].reshape(steps, -1) for n, z in rec.spikes.items() if z},
                membranes={labels[n]: v[:steps, b] for n, v in states.v.items()},
                thresholds=thresholds,
                output=out_seq[:steps, b].reshape(steps, -1).float().cpu(),
            )
        )
    return result
