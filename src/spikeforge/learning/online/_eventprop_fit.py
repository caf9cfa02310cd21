r"""``spikeforge train --method eventprop``: EventProp on a model of the command line, with the signature of
:func:`spikeforge.learning.fit`; and :func:`evaluate_eventprop`, which scores a saved run the same way.

What it trains: the ``mlp`` model with current-based LIF hidden layers (``--neuron cubalif``), read out either by
the first spike of current-based LIF output neurons (``--readout first --output cubalif``, the time-to-first-spike
loss :func:`ttfs_loss`; the command's default) or by the maximum over time of leaky integrators (``--readout max
--output li``, :func:`max_membrane_loss`), on a time-series data set (``yinyang``: the exact input spike latencies;
any other series: its ``[T, N, C]`` values arrive as current jumps at ``t = k dt``). One ``tau_mem``, ``tau_syn``
and threshold per layer, nothing but weights learned; anything else is refused before the run starts
(``fit_eventprop.check``), naming the argument.

How: the model's layers become an event-driven network in continuous time (:func:`event_lif`; the readout
:func:`event_lif` with ``first_spike_only`` or :func:`event_lif_max`), simulated up to ``t_end = T dt`` and trained
with exact adjoint gradients, Adam with cosine decay, the best validation epoch kept (what
``benchmarks/eventprop_yinyang.py`` does). Initial current jumps, drawn with a generator seeded by ``cfg.seed``: a
hidden layer of fan-in ``n`` from ``N(7.5 / n, (2.7 / sqrt(n))^2)`` (a few coincident input spikes make a neuron
fire; EventProp has no gradient for a neuron that never fires), a first-spike output layer from
``N(45 / n, (10 / sqrt(n))^2)``, a max readout from ``N(0, 1 / n)``.

The network that is trained is the one that is scored. Its weights are kept in the model's ``nn.Linear`` layers by
what one input spike does in the discrete update: a weight ``W_lin`` in front of a current-based layer is the
current jump ``(1 - alpha) W_lin`` (``alpha = exp(-dt / tau_syn)``), one in front of a leaky integrator the membrane
jump ``W_lin``; biases are zero. :func:`evaluate_eventprop` reads them back and runs the exact event-driven
simulation, so ``spikeforge evaluate`` on an EventProp run folder reproduces the recorded accuracy (the run's
metrics are measured the same way; the command builds EventProp models in float64, so no weight is rounded). Running the saved model in discrete time instead
(``spikeforge simulate``, ``profile``) gives another network: it integrates each input over its whole step, so it
fires more (on Yin-Yang, with the weights of the default run: 36% more hidden spikes, and 66.9% test accuracy
where the exact network has 94.9%).

Checkpoints: at every epoch end (network, Adam, scheduler, data order generator, best weights, history), so
``--resume`` continues a stopped run from its last finished epoch; checkpoints within an epoch
(``--checkpoint-every``) are refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from ...neurons import LI, CubaLIF
from ..supervised import Checkpointer, Distributed, TrainConfig
from ..supervised._checkpoint import start_training
from ..supervised._loop import EpochResult
from ._eventprop_lif import EventLIFParams, SpikeList, event_lif, event_lif_max
from ._eventprop_loss import first_spike_times, max_membrane_loss, ttfs_loss

__all__ = ["check_eventprop", "evaluate_eventprop", "fit_eventprop"]

#: readouts EventProp trains -> the output neuron they need
_READOUTS = {"first": "cubalif", "max": "li"}


def _float(x) -> float:
    return float(x.detach().flatten()[0]) if isinstance(x, torch.Tensor) else float(x)


def _lif_params(neuron: CubaLIF, what: str) -> EventLIFParams:
    """One layer's constants; a ``ValueError`` for what the event-driven LIF does not have."""
    p = neuron.params()
    for name in ("tau_mem", "tau_syn", "threshold"):
        value = getattr(p, name)
        if isinstance(value, torch.Tensor) and value.numel() > 1 and not bool((value == value.flatten()[0]).all()):
            raise ValueError(
                f"{name}: EventProp here takes one {name} per layer, got per-neuron values in the {what}; set a "
                'number (e.g. {"tau_mem": 0.02, "learn": []} in --config)'
            )
    if any(getattr(prm, "requires_grad", False) for prm in neuron.parameters()):
        raise ValueError(
            f'learn: EventProp trains the weights only, got learned constants in the {what}; set "learn": []'
        )
    if _float(p.v_leak) != 0 or _float(p.v_reset) != 0:
        raise ValueError(f"neuron: EventProp's LIF rests and resets at 0 (v_leak = v_reset = 0), not in the {what}")
    return EventLIFParams(_float(p.tau_mem), _float(p.tau_syn), _float(p.threshold))


def check_eventprop(model: nn.Module, cfg: TrainConfig) -> tuple[list[tuple[nn.Linear, CubaLIF]], nn.Linear, nn.Module]:
    """The model's (Linear, CubaLIF) hidden pairs and its readout pair; a ``ValueError`` naming the argument for
    anything EventProp cannot train here."""
    if cfg.readout not in _READOUTS:
        raise ValueError(
            "readout: EventProp trains the first-spike ('first', output 'cubalif') or max-over-time membrane "
            f"('max', output 'li') readout, got {cfg.readout!r}"
        )
    layers = [m for m in model.children() if not isinstance(m, nn.Flatten | nn.Identity)]
    if any(isinstance(m, nn.Dropout) for m in layers):
        raise ValueError("dropout: EventProp trains without dropout; set dropout 0")
    kinds = [type(m).__name__ for m in layers]
    pairs = list(zip(layers[0::2], layers[1::2], strict=False))
    shape_ok = len(layers) >= 4 and len(layers) % 2 == 0 and all(isinstance(lin, nn.Linear) for lin, _ in pairs)
    if not shape_ok or not all(isinstance(n, CubaLIF) for _, n in pairs[:-1]):
        raise ValueError(
            "neuron: EventProp trains current-based LIF layers (--model mlp --neuron cubalif), got layers "
            + " -> ".join(kinds)
        )
    out = pairs[-1][1]
    want = CubaLIF if cfg.readout == "first" else LI
    if type(out) is not want:
        raise ValueError(
            f"output: EventProp's {cfg.readout!r} readout needs output {_READOUTS[cfg.readout]!r}, got {kinds[-1]}"
        )
    for k, (_, neuron) in enumerate(pairs[:-1]):
        _lif_params(neuron, f"hidden layer {k}")
    if cfg.readout == "first":
        _lif_params(out, "output layer")
    elif out.params().tau_syn is not None:
        raise ValueError("output: EventProp's max readout has no synaptic current (tau_syn None)")
    return pairs[:-1], pairs[-1][0], out


class _EventNet(nn.Module):
    """The continuous-time network of a checked model: ``weights[l]`` ``[n_out, n_in]`` current (or, for a max
    readout, membrane) jumps per input spike; ``forward`` gives first spike times or max membranes ``[B, K]``."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, dt: float, t_end: float):
        super().__init__()
        hidden, readout_lin, out = check_eventprop(model, cfg)
        self.readout, self.dt, self.t_end = cfg.readout, float(dt), float(t_end)
        self.params = [_lif_params(n, f"hidden layer {k}") for k, (_, n) in enumerate(hidden)]
        if self.readout == "first":
            self.out_params = _lif_params(out, "output layer")
            self.scale = [1 - math.exp(-dt / p.tau_syn) for p in [*self.params, self.out_params]]
        else:
            tau = _float(out.params().tau_mem)
            self.out_params = EventLIFParams(tau, tau / 2, 1.0)  # only tau_mem matters without a synapse
            self.scale = [1 - math.exp(-dt / p.tau_syn) for p in self.params] + [1.0]
        self.linears = [lin for lin, _ in hidden] + [readout_lin]
        self.names = [n for n, m in model.named_children() if any(m is neuron for _, neuron in hidden)]
        self.weights = nn.ParameterList(
            nn.Parameter(lin.weight.detach().to(torch.float64) * s)
            for lin, s in zip(self.linears, self.scale, strict=True)
        )

    def draw(self, seed: int) -> None:
        """Fresh initial weights (see the module docstring)."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for k, w in enumerate(self.weights):
                n_out, n = w.shape
                if k < len(self.weights) - 1:
                    mean, std = 7.5 / n, 2.7 / math.sqrt(n)
                elif self.readout == "first":
                    mean, std = 45.0 / n, 10.0 / math.sqrt(n)
                else:
                    mean, std = 0.0, 1.0 / math.sqrt(n)
                w.copy_(torch.randn(n_out, n, generator=g, dtype=w.dtype) * std + mean)

    def write_back(self) -> None:
        """The weights into the model's linear layers (as ``W / scale``), biases zero."""
        with torch.no_grad():
            for lin, w, s in zip(self.linears, self.weights, self.scale, strict=True):
                lin.weight.copy_(w / s)
                if lin.bias is not None:
                    lin.bias.zero_()

    def forward(self, x: SpikeList | torch.Tensor, counts: list | None = None) -> torch.Tensor:
        for w, p in zip(self.weights[:-1], self.params, strict=True):
            x = event_lif(x, w, params=p, t_end=self.t_end, dt=self.dt)
            if counts is not None:
                counts.append(x.count().double())
        if self.readout == "max":
            return event_lif_max(
                x, self.weights[-1], params=self.out_params, t_end=self.t_end, dt=self.dt, synapse=False
            )
        out = event_lif(x, self.weights[-1], params=self.out_params, t_end=self.t_end, first_spike_only=True)
        return first_spike_times(out, self.t_end)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return -output if self.readout == "first" else output

    def loss(self, output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return ttfs_loss(output, labels) if self.readout == "first" else max_membrane_loss(output, labels)


def _inputs(split, part: str, idx: torch.Tensor, dtype) -> SpikeList | torch.Tensor:
    if hasattr(split, "spike_times"):  # Yin-Yang: the exact latencies
        t, order = torch.sort(split.spike_times(part)[idx].to(dtype), 1)
        return SpikeList(t, order, t.shape[1])
    x = getattr(split, f"x_{part}")[:, idx].to(dtype)
    lengths = getattr(split, f"len_{part}")[idx]
    steps = torch.arange(x.shape[0])[:, None]
    return x * (steps < lengths[None, :]).to(dtype)[:, :, None]  # nothing arrives after a series' end


def _network(model: nn.Module, split, cfg: TrainConfig) -> _EventNet:
    if not getattr(split, "time_first", False):
        raise ValueError("dataset: EventProp trains on time series or spike data (e.g. 'yinyang'), not images")
    hidden, _, _ = check_eventprop(model, cfg)
    dt = float(hidden[0][1].dt)
    if hasattr(split, "encoding") and abs(split.encoding["dt"] - dt) > 1e-12:
        raise ValueError(f"dt: the model's step ({dt} s) must equal the data's grid ({split.encoding['dt']} s)")
    return _EventNet(model, cfg, dt, split.x_train.shape[0] * dt)


def _score(net: _EventNet, split, part: str, cfg: TrainConfig) -> EpochResult:
    labels = getattr(split, f"y_{part}")
    n, started = len(labels), time.perf_counter()
    total, correct, counts = 0.0, 0, [0.0] * len(net.params)
    with torch.no_grad():
        for idx in torch.arange(n).split(max(cfg.batch_size, 256)):
            per_layer: list = []
            out = net(_inputs(split, part, idx, torch.float64), per_layer)
            total += float(net.loss(out, labels[idx])) * len(idx)
            correct += int((net.scores(out).argmax(1) == labels[idx]).sum())
            counts = [c + float(s.sum()) for c, s in zip(counts, per_layer, strict=True)]
    steps = round(net.t_end / net.dt)
    rates = {name: c / (n * w.shape[0] * steps) for name, c, w in zip(net.names, counts, net.weights[:-1], strict=True)}
    return EpochResult(
        total / max(n, 1), correct / max(n, 1), rates, sum(counts) / max(n, 1), time.perf_counter() - started
    )


def evaluate_eventprop(model: nn.Module, split, part: str, cfg: TrainConfig) -> EpochResult:
    """Loss, accuracy, hidden firing rate per step and hidden spikes per sample of ``model`` on ``split``'s ``part``
    (``train``, ``val`` or ``test``), by the exact event-driven simulation of the network EventProp trained."""
    if part not in ("train", "val", "test"):
        raise ValueError(f"part: expected 'train', 'val' or 'test', got {part!r}")
    return _score(_network(model, split, cfg), split, part, cfg)


def fit_eventprop(
    model: nn.Module,
    split,
    cfg: TrainConfig,
    *,
    on_epoch_start: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int, float, float], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    checkpoints: Checkpointer | None = None,
    resume: bool = False,
    device: torch.device | str | None = None,
    distributed: Distributed | None = None,
) -> list[dict]:
    """Train ``model`` with EventProp (see the module docstring); Adam with cosine decay, the best validation epoch's
    weights kept when ``cfg.restore_best``. Returns the history, one dict per epoch; its validation figures are
    those of the exact network (what :func:`evaluate_eventprop` measures)."""
    check_eventprop(model, cfg)
    if distributed is not None:
        raise ValueError("distributed: EventProp trains in one process; run it without torchrun")
    if device is not None and torch.device(device).type != "cpu":
        raise ValueError(f"device: EventProp's event-driven loop runs on the CPU, got {device!r}")
    if checkpoints is not None and checkpoints.every is not None:
        raise ValueError(
            f"checkpoint_every: EventProp runs checkpoint at epoch ends only, got every {checkpoints.every} steps"
        )
    if resume and checkpoints is None:
        raise ValueError("resume: needs checkpoints=Checkpointer(folder) to resume from")
    net = _network(model, split, cfg)
    net.draw(cfg.seed)
    session = start_training(net, cfg, len(split.y_train), checkpoints, resume)
    optimizer, scheduler, generator, state = session.optimizer, session.scheduler, session.generator, session.state
    best_state = session.best_state
    n = len(split.y_train)
    batches = math.ceil(n / cfg.batch_size)
    history = list(state.history)
    for epoch in range(state.epoch, cfg.epochs):
        if on_epoch_start is not None:
            on_epoch_start(epoch, batches)
        started, total, correct = time.perf_counter(), 0.0, 0
        for b, idx in enumerate(torch.randperm(n, generator=generator).split(cfg.batch_size)):
            out = net(_inputs(split, "train", idx, torch.float64))
            loss = net.loss(out, split.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            hits = int((net.scores(out).argmax(1) == split.y_train[idx]).sum())
            total, correct = total + loss.item() * len(idx), correct + hits
            if on_batch is not None:
                on_batch(b, loss.item(), hits / len(idx))
        seconds = time.perf_counter() - started
        va = _score(net, split, "val", cfg)
        row = {
            "epoch": epoch + 1,
            "train_loss": total / n,
            "train_accuracy": correct / n,
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "lr": scheduler.get_last_lr()[0],
            "seconds": seconds,
        }
        history.append(row)
        better = va.accuracy > state.best_acc or (
            cfg.select_by == "accuracy_then_loss" and va.accuracy == state.best_acc and va.loss < state.best_loss
        )
        if cfg.restore_best and better:
            state.best_acc, state.best_loss = va.accuracy, va.loss
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        state.epoch, state.step, state.history = epoch + 1, (epoch + 1) * batches, history
        if checkpoints is not None:
            checkpoints.save(
                state,
                model=net,
                optimizer=optimizer,
                scheduler=scheduler,
                generator=generator,
                order=None,
                best=best_state,
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    if cfg.restore_best and best_state is not None:
        net.load_state_dict(best_state)
    net.write_back()
    return history


fit_eventprop.check = check_eventprop  # type: ignore[attr-defined]
fit_eventprop.evaluate = evaluate_eventprop  # type: ignore[attr-defined]
