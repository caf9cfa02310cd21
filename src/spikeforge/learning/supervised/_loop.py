"""The supervised training loop: surrogate-gradient training of classifiers (backpropagation through time)."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ...encoding import encode_batch
from ...metrics import SpikeRecorder
from ...nn import placement
from ._checkpoint import Checkpointer, TrainState, start_training
from ._config import TrainConfig
from ._distributed import Distributed
from ._penalty import RateTerm
from ._scoring import scores

__all__ = ["evaluate", "fit"]


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    rates: dict[str, float] = field(default_factory=dict)
    spikes_per_sample: float = 0.0
    seconds: float = 0.0


def _run(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    *,
    optimizer: torch.optim.Optimizer | None,
    generator: torch.Generator,
    on_batch: Callable[[int, float, float], None] | None = None,
    lengths: torch.Tensor | None = None,
    order: torch.Tensor | None = None,
    state: TrainState | None = None,
    device: torch.device | None = None,
    distributed: Distributed | None = None,
) -> EpochResult:
    """One pass over ``(x, y)``: training when ``optimizer`` is given (in ``order``, from batch ``state.batch`` on,
    adding to the running sums in ``state``), evaluation otherwise. Batches are cut and encoded on the CPU and moved
    to ``device``; with ``distributed``, each process trains on its share of every global batch."""
    training = optimizer is not None
    shard = distributed is not None and training
    dtype = placement(model)[1]  # inputs in the model's precision (float32, or float64 for a float64 model)
    model.train(training)
    n = len(y)
    if order is None:
        order = torch.randperm(n, generator=generator) if training else torch.arange(n)
    state = state if state is not None else TrainState()
    start = time.perf_counter()
    delay_layers = [m for m in model.modules() if hasattr(m, "clamp_positions_")] if training else []
    penalised = training and cfg.rate_penalty > 0
    with (
        SpikeRecorder(model, keep=False) as rec,
        RateTerm(model if penalised else nn.Identity()) as rate_term,
        torch.set_grad_enabled(training),
    ):
        for b in range(state.batch, math.ceil(n / cfg.batch_size)):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            mine = distributed.shard(torch.arange(len(idx))) if shard else slice(None)
            yb = y[idx][mine].to(device)
            if lengths is None:  # the whole global batch is encoded: stochastic encoders draw as one process would
                batch = x.index_select(0, idx)  # a plain gather (faster than x[idx] on large batches here)
                out_seq, _ = model(encode_batch(batch, cfg, generator)[:, mine].to(device, dtype))
                logits = scores(out_seq, cfg.readout)
            else:  # time-first series [T, N, C]: fed as input current, cut to the longest series of the batch
                lb = lengths[idx][mine]
                # index_select, not x[:, idx]: on a [100, 7336, 700] corpus 1.3 ms against 1.6-3.1 ms per batch
                batch = x[: int(lb.max())].index_select(1, idx[mine])
                out_seq, _ = model(batch.to(device, dtype))
                logits = scores(out_seq, cfg.readout, lb.to(device))
            smoothing = cfg.label_smoothing if training else 0.0
            if shard:  # this process's share of the global mean; DDP averages the gradients over the processes
                loss = F.cross_entropy(logits, yb, label_smoothing=smoothing, reduction="sum")
                loss = loss * (distributed.world / len(idx))
            else:
                loss = F.cross_entropy(logits, yb, label_smoothing=smoothing)
            if training:
                optimizer.zero_grad(set_to_none=True)
                if penalised:  # the firing-rate term, not part of the reported loss
                    (loss + cfg.rate_penalty * rate_term.mean_rate()).backward()
                    rate_term.clear()
                else:
                    loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                for m in delay_layers:  # learnable delays: keep positions within their taps
                    m.clamp_positions_()
            correct = int((logits.argmax(1) == yb).sum())
            if shard:
                loss_sum, correct = distributed.all_sum(float(loss.detach()) * len(idx) / distributed.world, correct)
                state.total_loss += loss_sum
                state.correct += int(correct)
            else:
                state.total_loss += float(loss.detach()) * len(idx)
                state.correct += correct
            state.seen += len(idx)
            state.batch = b + 1
            if on_batch is not None:
                on_batch(b, state.total_loss / state.seen, state.correct / state.seen)
    spikes = sum(rec.counts.values())
    return EpochResult(state.total_loss / n, state.correct / n, rec.rates(), spikes / n, time.perf_counter() - start)


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    lengths: torch.Tensor | None = None,
    *,
    device: torch.device | str | None = None,
) -> EpochResult:
    """Accuracy, loss, firing rate per spiking layer and spikes per sample on ``(x, y)``.

    Images ``x[N, ...]`` are encoded over ``cfg.timesteps``; with ``lengths[N]``, ``x`` is a padded time-first
    series ``[T, N, C]`` fed as it is, and readouts see only each series' valid steps. Stochastic encoders draw
    from a generator seeded with ``cfg.eval_seed``, so the result is reproducible.
    """
    device = _device_of(model) if device is None else torch.device(device)
    generator = torch.Generator().manual_seed(cfg.eval_seed)
    return _run(model, x, y, cfg, optimizer=None, generator=generator, lengths=lengths, device=device)


def _device_of(model: nn.Module) -> torch.device:
    return placement(model)[0]


def fit(
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
    """Train ``model`` on ``split`` (Adam, cosine learning-rate decay); keep the weights of the best validation
    epoch when ``cfg.restore_best`` (ties broken by the lower validation loss when ``cfg.select_by`` is
    ``"accuracy_then_loss"``). Returns the history, one dict per epoch.

    Layers with learnable delays (``anneal_sigma`` / ``clamp_positions_``) have their kernel width annealed once
    per epoch and their positions clamped after every step.

    ``split`` is an image :class:`~spikeforge.data.Split` or a :class:`~spikeforge.data.SeriesSplit` (padded
    series with ``len_train``/``len_val``, whose readouts ignore the padding).

    With ``checkpoints`` (a :class:`Checkpointer`), the full training state is written at every epoch end and every
    ``checkpoints.every`` steps; ``resume=True`` continues from its newest good checkpoint, and the run then ends
    with the same weights and history, bit for bit, as if it had never stopped (same machine and threads; the
    ``seconds`` of each epoch excepted).

    ``device`` (default: where the model is) receives the model and each batch. With ``distributed`` (see
    :mod:`._distributed`; the CLI joins the process group torchrun describes), the model is wrapped in
    DistributedDataParallel and each process trains on its share of every global batch of ``cfg.batch_size``; only
    the main process writes checkpoints, and a checkpoint resumes under any number of processes.
    """
    torch.manual_seed(cfg.seed)
    device = _device_of(model) if device is None else torch.device(device)
    model.to(device)
    session = start_training(model, cfg, len(split.y_train), checkpoints, resume)
    optimizer, scheduler, generator, state = session.optimizer, session.scheduler, session.generator, session.state
    order, best_state, objects = session.order, session.best_state, session.objects(model)
    batches = math.ceil(len(split.y_train) / cfg.batch_size)
    trained = distributed.wrap(model, device) if distributed is not None else model
    writes = distributed is None or distributed.is_main

    def save(order_now: torch.Tensor | None) -> None:
        if writes:
            checkpoints.save(state, order=order_now, best=best_state, **objects)

    for epoch in range(state.epoch, cfg.epochs):
        for m in model.modules():  # learnable delays: Gaussian kernels narrow towards single taps
            if hasattr(m, "anneal_sigma"):
                m.anneal_sigma(epoch, cfg.epochs)
        if on_epoch_start is not None:
            on_epoch_start(epoch, batches)
        if state.batch == 0:  # a new epoch (not one resumed in the middle): a new sample order
            order = torch.randperm(len(split.y_train), generator=generator)

        def batch_hook(b, loss, acc, order=order):
            scheduler.step()
            state.step += 1
            if on_batch is not None:
                on_batch(b, loss, acc)
            if checkpoints is not None and checkpoints.every and state.step % checkpoints.every == 0:
                if state.batch < batches:  # the epoch-end checkpoint follows right after the last batch
                    save(order)

        tr = _run(
            trained,
            split.x_train,
            split.y_train,
            cfg,
            optimizer=optimizer,
            generator=generator,
            on_batch=batch_hook,
            lengths=getattr(split, "len_train", None),
            order=order,
            state=state,
            device=device,
            distributed=distributed,
        )
        va = evaluate(model, split.x_val, split.y_val, cfg, getattr(split, "len_val", None), device=device)
        row = {
            "epoch": epoch + 1,
            "train_loss": tr.loss,
            "train_accuracy": tr.accuracy,
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "lr": scheduler.get_last_lr()[0],
            "seconds": tr.seconds,
        }
        state.history.append(row)
        better = va.accuracy > state.best_acc or (
            cfg.select_by == "accuracy_then_loss" and va.accuracy == state.best_acc and va.loss < state.best_loss
        )
        if cfg.restore_best and better:
            state.best_acc, state.best_loss = va.accuracy, va.loss
            best_state = copy.deepcopy(model.state_dict())
        state.epoch, state.batch, state.total_loss, state.correct, state.seen = epoch + 1, 0, 0.0, 0, 0
        if on_epoch_end is not None:  # before the checkpoint: a log the hook writes never misses an epoch
            on_epoch_end(epoch, row)
        if checkpoints is not None:
            save(None)
    if cfg.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return state.history
