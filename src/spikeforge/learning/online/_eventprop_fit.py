r"""``spikeforge train --method eventprop``: EventProp on a model of the command line, with the signature of
:func:`spikeforge.learning.fit`.

What it trains: the ``mlp`` model with current-based LIF hidden layers and a leaky-integrator readout
(``--model mlp --neuron cubalif --output li --readout max``), on a time-series data set (``yinyang``: the exact
input spike latencies; any other series: its ``[T, N, C]`` values arrive as current jumps at ``t = k dt``).
Anything else is refused before the run starts (``fit_eventprop.check``), naming the argument: among it per-neuron
or learnable time constants, which the command's series models use by default, so the run needs
``--config`` with ``{"model_config": {"tau_mem": 0.02, "learn": []}}``.

How: the model's layers become an event-driven network in continuous time (:func:`event_lif`,
:func:`event_lif_max` with ``synapse=False``), trained with the max-over-time membrane loss
(:func:`max_membrane_loss`) and exact adjoint gradients. The weights map both ways by what one input spike does in
the model's discrete update: a hidden weight ``W_lin`` makes the current jump by ``(1 - alpha) W_lin``
(``alpha = exp(-dt / tau_syn)``), a readout weight makes the membrane jump by ``W_lin``; biases are held at zero
(the continuous model has none). The weights are drawn afresh, seeded by ``cfg.seed``: a hidden layer of fan-in
``n`` from ``N(7.5 / n, (2.7 / sqrt(n))^2)`` (current jumps that make a neuron fire on a few coincident input
spikes; EventProp has no gradient for a neuron that never fires), the readout from ``N(0, 1 / n)``. After every epoch the weights go back into the model, and the validation figures
of the history are the model's own (:func:`spikeforge.learning.evaluate`, discrete time), so the best epoch and the
final test accuracy of the run are those of the model that is saved; ``val_accuracy_exact`` is the continuous
network's. The two differ: the discrete model integrates an input over its whole step and fires more (about 37%
more hidden spikes at the initial weights on Yin-Yang; the arg-max of the readout agreed on 68% of samples there),
so the run's test accuracy (82% on Yin-Yang, 120 hidden, lr 1e-3, 10 epochs) is below what the continuous network
reaches with the time-to-first-spike loss (``benchmarks/eventprop_yinyang.py``, 95%).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import torch
from torch import nn

from ...neurons import LI, CubaLIF
from ..supervised import Checkpointer, Distributed, TrainConfig, evaluate
from ._eventprop_lif import EventLIFParams, SpikeList, event_lif, event_lif_max
from ._eventprop_loss import max_membrane_loss

__all__ = ["check_eventprop", "fit_eventprop"]


def _float(x) -> float:
    return float(x.detach().flatten()[0]) if isinstance(x, torch.Tensor) else float(x)


def check_eventprop(model: nn.Module, cfg: TrainConfig) -> tuple[list[tuple[nn.Linear, CubaLIF]], nn.Linear, LI]:
    """The model's (Linear, CubaLIF) hidden pairs and its (Linear, LI) readout; a ``ValueError`` naming the argument
    for anything EventProp cannot train here."""
    if cfg.readout != "max":
        raise ValueError(f"readout: EventProp trains the max-over-time membrane readout ('max'), got {cfg.readout!r}")
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
    if not isinstance(pairs[-1][1], LI):
        raise ValueError(f"output: EventProp reads out leaky integrators ('li'), got {kinds[-1]}")
    for _, neuron in pairs[:-1]:
        p = neuron.params()
        for name in ("tau_mem", "tau_syn", "threshold"):
            value = getattr(p, name)
            if isinstance(value, torch.Tensor) and value.numel() > 1 and not bool((value == value.flatten()[0]).all()):
                raise ValueError(
                    f"{name}: EventProp here takes one {name} per layer, got per-neuron values; set a number "
                    '(e.g. {"tau_mem": 0.02, "learn": []} in --config)'
                )
        if any(getattr(prm, "requires_grad", False) for prm in neuron.parameters()):
            raise ValueError('learn: EventProp trains the weights only; set "learn": [] (in --config)')
        if _float(p.v_leak) != 0 or _float(p.v_reset) != 0:
            raise ValueError("neuron: EventProp's LIF rests and resets at 0 (v_leak = v_reset = 0)")
    if pairs[-1][1].params().tau_syn is not None:
        raise ValueError("output: EventProp's readout has no synaptic current (tau_syn None)")
    return pairs[:-1], pairs[-1][0], pairs[-1][1]


def _inputs(split, part: str, idx: torch.Tensor, dtype) -> SpikeList | torch.Tensor:
    if hasattr(split, "spike_times"):  # Yin-Yang: the exact latencies
        t, order = torch.sort(split.spike_times(part)[idx].to(dtype), 1)
        return SpikeList(t, order, t.shape[1])
    x = getattr(split, f"x_{part}")[:, idx].to(dtype)
    lengths = getattr(split, f"len_{part}")[idx]
    steps = torch.arange(x.shape[0])[:, None]
    return x * (steps < lengths[None, :]).to(dtype)[:, :, None]  # nothing arrives after a series' end


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
    weights kept when ``cfg.restore_best``. Returns the history, one dict per epoch."""
    hidden, readout_lin, readout = check_eventprop(model, cfg)
    if distributed is not None:
        raise ValueError("distributed: EventProp trains in one process; run it without torchrun")
    if resume:
        raise ValueError("resume: EventProp runs do not resume from checkpoints; start the run again")
    if device is not None and torch.device(device).type != "cpu":
        raise ValueError(f"device: EventProp's event-driven loop runs on the CPU, got {device!r}")
    if not getattr(split, "time_first", False):
        raise ValueError("dataset: EventProp trains on time series or spike data (e.g. 'yinyang'), not images")
    del checkpoints  # written by nothing here: a stopped EventProp run starts again
    dt = float(hidden[0][1].dt)
    if hasattr(split, "encoding") and abs(split.encoding["dt"] - dt) > 1e-12:
        raise ValueError(f"dt: the model's step ({dt} s) must equal the data's grid ({split.encoding['dt']} s)")
    torch.manual_seed(cfg.seed)
    dtype = torch.float64
    t_end = (split.x_train.shape[0] - 1) * dt
    params, scale, weights = [], [], []
    for _, neuron in hidden:
        p = neuron.params()
        tau_m, tau_s = _float(p.tau_mem), _float(p.tau_syn)
        params.append(EventLIFParams(tau_m, tau_s, _float(p.threshold)))
        scale.append(1 - math.exp(-dt / tau_s))
    tau_out = _float(readout.params().tau_mem)
    read_p = EventLIFParams(tau_out, tau_out / 2, 1.0)  # only tau_mem matters without a synapse
    draw = torch.Generator().manual_seed(cfg.seed)
    for lin, _ in hidden:  # current jumps drawn so that a few coincident input spikes make a neuron fire
        n_in = lin.in_features
        w = torch.randn(lin.out_features, n_in, generator=draw, dtype=dtype) * (2.7 / math.sqrt(n_in)) + 7.5 / n_in
        weights.append(nn.Parameter(w))
    n_in = readout_lin.in_features
    weights.append(nn.Parameter(torch.randn(readout_lin.out_features, n_in, generator=draw, dtype=dtype) / n_in**0.5))
    linears = [lin for lin, _ in hidden] + [readout_lin]

    def write_back() -> None:
        with torch.no_grad():
            for lin, w, s in zip(linears, weights, [*scale, 1.0], strict=True):
                lin.weight.copy_(w / s)
                if lin.bias is not None:
                    lin.bias.zero_()

    def forward(x) -> torch.Tensor:
        for (_, _), w, p in zip(hidden, weights[:-1], params, strict=True):
            x = event_lif(x, w, params=p, t_end=t_end, dt=dt)
        return event_lif_max(x, weights[-1], params=read_p, t_end=t_end, dt=dt, synapse=False)

    optimizer = torch.optim.Adam(weights, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(split.y_train)
    batches = math.ceil(n / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * batches)
    generator = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    best_acc, best_loss, best_state = -1.0, math.inf, None
    write_back()
    for epoch in range(cfg.epochs):
        if on_epoch_start is not None:
            on_epoch_start(epoch, batches)
        started, total, correct = time.perf_counter(), 0.0, 0
        for b, idx in enumerate(torch.randperm(n, generator=generator).split(cfg.batch_size)):
            v_max = forward(_inputs(split, "train", idx, dtype))
            loss = max_membrane_loss(v_max, split.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(weights, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
            correct += int((v_max.argmax(1) == split.y_train[idx]).sum())
            if on_batch is not None:
                on_batch(b, loss.item(), float((v_max.argmax(1) == split.y_train[idx]).double().mean()))
        seconds = time.perf_counter() - started
        write_back()
        with torch.no_grad():
            exact = forward(_inputs(split, "val", torch.arange(len(split.y_val)), dtype))
        va = evaluate(model, split.x_val, split.y_val, cfg, getattr(split, "len_val", None))
        row = {
            "epoch": epoch + 1,
            "train_loss": total / n,
            "train_accuracy": correct / n,
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "val_accuracy_exact": float((exact.argmax(1) == split.y_val).double().mean()),
            "lr": scheduler.get_last_lr()[0],
            "seconds": seconds,
        }
        history.append(row)
        better = va.accuracy > best_acc or (
            cfg.select_by == "accuracy_then_loss" and va.accuracy == best_acc and va.loss < best_loss
        )
        if cfg.restore_best and better:
            best_acc, best_loss, best_state = va.accuracy, va.loss, copy.deepcopy(model.state_dict())
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    if cfg.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history


fit_eventprop.check = check_eventprop  # type: ignore[attr-defined]
