r"""Training loops for the online methods, e-prop and OTTT, with the signature and the behaviour of
:func:`spikeforge.learning.fit` (Adam with cosine decay, best-validation weights, checkpoints and resume, the same
history rows), so that ``spikeforge train --method eprop|ottt`` runs them like BPTT.

Each batch runs step by step, keeping only the network state and the methods' traces: memory does not grow with
the number of steps ``T``. The readout must sum over time: ``mean`` (score ``s = sum_{t < len} y_t / len``) or
``last`` (``s = y_{len - 1}``), with ``len`` each sample's valid steps; the weight ``c_t`` of each step in ``s``
also weighs the per-step losses.

- e-prop (:class:`~spikeforge.learning.online.EProp`), ``signal="sequence"`` (default): the loss is
  ``CE(s, label)``, as for BPTT; the traces are summed with weights ``c_t`` and the learning signal ``dE/ds``
  arrives once, at the end of the sequence. ``signal="step"``: the loss is ``sum_t c_t CE(y_t, label)``, its
  learning signal arrives at every step, and the optimiser steps every ``update_every`` steps (default: once per
  sequence).
- OTTT (:class:`~spikeforge.learning.online.OTTT`): the loss is ``sum_t c_t CE(y_t, label)``, backpropagated at
  every step through that step alone; the optimiser steps every ``update_every`` steps or once per sequence.

The reported loss and accuracy are those of the score ``s``, as :func:`~spikeforge.learning.evaluate` computes them.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ...encoding import encode_batch
from ...nn import placement
from ..supervised import Checkpointer, Distributed, TrainConfig, evaluate, start_training
from ._eprop import FEEDBACK, EProp
from ._ottt import OTTT

__all__ = ["check_online", "fit_eprop", "fit_ottt", "step_weights"]

#: readouts the online methods learn from (they sum over time)
READOUTS = ("mean", "last")
SIGNALS = ("sequence", "step")
_NAMES = {"eprop": "e-prop", "ottt": "OTTT"}


def step_weights(readout: str, t: int, lengths: torch.Tensor) -> torch.Tensor:
    """``c_t`` per sample (``[B]``): the weight of step ``t`` in the score (``mean``: ``1/len`` on valid steps,
    ``last``: 1 at step ``len - 1``), zero on padded steps."""
    if readout == "mean":
        return (t < lengths).to(torch.float64) / lengths.to(torch.float64)
    return (t == lengths - 1).to(torch.float64)


def check_online(method: str, model: nn.Module, cfg: TrainConfig, *, feedback: str = "symmetric") -> object:
    """Refuse what ``method`` cannot train (a ``ValueError`` naming the argument); returns its learner."""
    if cfg.readout not in READOUTS:
        raise ValueError(
            f"readout: {_NAMES[method]} learns from a readout that sums over time ({' or '.join(READOUTS)}), got "
            f"{cfg.readout!r}"
        )
    if getattr(cfg, "rate_penalty", 0.0):
        raise ValueError(f"rate_penalty: {_NAMES[method]} takes no firing-rate penalty; got {cfg.rate_penalty!r}")
    if method == "eprop":
        return EProp(model, feedback=feedback, generator=torch.Generator().manual_seed(cfg.seed + 1))
    return OTTT(model)


def _fit(
    method: str,
    model: nn.Module,
    split,
    cfg: TrainConfig,
    *,
    on_epoch_start: Callable[[int, int], None] | None,
    on_batch: Callable[[int, float, float], None] | None,
    on_epoch_end: Callable[[int, dict], None] | None,
    checkpoints: Checkpointer | None,
    resume: bool,
    device: torch.device | str | None,
    distributed: Distributed | None,
    feedback: str,
    signal: str,
    update_every: int | None,
) -> list[dict]:
    if distributed is not None:
        raise ValueError(f"distributed: {_NAMES[method]} trains on one process; run it without torchrun")
    if signal not in SIGNALS:
        raise ValueError(f"signal: expected one of {', '.join(SIGNALS)}, got {signal!r}")
    if update_every is not None and (
        not isinstance(update_every, int) or isinstance(update_every, bool) or update_every <= 0
    ):
        raise ValueError(f"update_every: expected a positive number of steps or None, got {update_every!r}")
    if feedback not in FEEDBACK:
        raise ValueError(f"feedback: expected one of {', '.join(FEEDBACK)}, got {feedback!r}")
    torch.manual_seed(cfg.seed)
    device = placement(model)[0] if device is None else torch.device(device)
    model.to(device)
    learner = check_online(method, model, cfg, feedback=feedback)
    dtype = placement(model)[1]
    session = start_training(model, cfg, len(split.y_train), checkpoints, resume)
    optimizer, scheduler, generator, state = session.optimizer, session.scheduler, session.generator, session.state
    order, best_state, objects = session.order, session.best_state, session.objects(model)
    n = len(split.y_train)
    batches = math.ceil(n / cfg.batch_size)
    lengths_all = getattr(split, "len_train", None)

    def update() -> None:
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def train_batch(idx: torch.Tensor) -> tuple[float, int]:
        yb = split.y_train[idx].to(device)
        if lengths_all is None:
            x_seq = encode_batch(split.x_train[idx], cfg, generator)
            lengths = torch.full((len(idx),), x_seq.shape[0])
        else:
            lengths = lengths_all[idx]
            x_seq = split.x_train[: int(lengths.max()), idx]
        lengths = lengths.to(device)
        learner.reset()
        optimizer.zero_grad(set_to_none=True)
        score = None
        bsz = len(idx)
        for t in range(x_seq.shape[0]):
            c = step_weights(cfg.readout, t, lengths).to(dtype)
            y_t = learner.step(x_seq[t].to(device, dtype))
            if method == "eprop" and signal == "sequence":
                learner.accumulate(c)
            else:
                yt = y_t.detach().requires_grad_(True) if method == "eprop" else y_t
                per_sample = F.cross_entropy(yt, yb, label_smoothing=cfg.label_smoothing, reduction="none")
                loss_t = (per_sample * c).sum() / bsz
                if method == "eprop":
                    (delta,) = torch.autograd.grad(loss_t, yt)
                    learner.learn(delta)
                else:
                    loss_t.backward()
                if update_every is not None and (t + 1) % update_every == 0:
                    update()
            contribution = y_t.detach() * c[:, None]
            score = contribution if score is None else score + contribution
        score = score.detach().requires_grad_(method == "eprop" and signal == "sequence")
        loss = F.cross_entropy(score, yb, label_smoothing=cfg.label_smoothing)
        if score.requires_grad:
            (dscore,) = torch.autograd.grad(loss, score)
            learner.learn_sequence(dscore)
        update()
        return float(loss.detach()) * bsz, int((score.detach().argmax(1) == yb).sum())

    for epoch in range(state.epoch, cfg.epochs):
        if on_epoch_start is not None:
            on_epoch_start(epoch, batches)
        if state.batch == 0:
            order = torch.randperm(n, generator=generator)
        model.train()
        start = time.perf_counter()
        for b in range(state.batch, batches):
            loss_sum, correct = train_batch(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            state.total_loss += loss_sum
            state.correct += correct
            state.seen += len(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            state.batch = b + 1
            scheduler.step()
            state.step += 1
            if on_batch is not None:
                on_batch(b, state.total_loss / state.seen, state.correct / state.seen)
            if checkpoints is not None and checkpoints.every and state.step % checkpoints.every == 0:
                if state.batch < batches:
                    checkpoints.save(state, order=order, best=best_state, **objects)
        seconds = time.perf_counter() - start
        va = evaluate(model, split.x_val, split.y_val, cfg, getattr(split, "len_val", None), device=device)
        row = {
            "epoch": epoch + 1,
            "train_loss": state.total_loss / max(state.seen, 1),
            "train_accuracy": state.correct / max(state.seen, 1),
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "lr": scheduler.get_last_lr()[0],
            "seconds": seconds,
        }
        state.history.append(row)
        better = va.accuracy > state.best_acc or (
            cfg.select_by == "accuracy_then_loss" and va.accuracy == state.best_acc and va.loss < state.best_loss
        )
        if cfg.restore_best and better:
            state.best_acc, state.best_loss = va.accuracy, va.loss
            best_state = copy.deepcopy(model.state_dict())
        state.epoch, state.batch, state.total_loss, state.correct, state.seen = epoch + 1, 0, 0.0, 0, 0
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if checkpoints is not None:
            checkpoints.save(state, order=None, best=best_state, **objects)
    if cfg.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return state.history


def fit_eprop(
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
    feedback: str = "symmetric",
    signal: str = "sequence",
    update_every: int | None = None,
) -> list[dict]:
    """Train with e-prop (see the module docstring); the arguments are :func:`~spikeforge.learning.fit`'s plus
    ``feedback`` (``symmetric`` or ``random``), ``signal`` (``sequence`` or ``step``) and ``update_every``."""
    return _fit(
        "eprop",
        model,
        split,
        cfg,
        on_epoch_start=on_epoch_start,
        on_batch=on_batch,
        on_epoch_end=on_epoch_end,
        checkpoints=checkpoints,
        resume=resume,
        device=device,
        distributed=distributed,
        feedback=feedback,
        signal=signal,
        update_every=update_every,
    )


def fit_ottt(
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
    update_every: int | None = None,
) -> list[dict]:
    """Train with OTTT (see the module docstring); the arguments are :func:`~spikeforge.learning.fit`'s plus
    ``update_every``."""
    return _fit(
        "ottt",
        model,
        split,
        cfg,
        on_epoch_start=on_epoch_start,
        on_batch=on_batch,
        on_epoch_end=on_epoch_end,
        checkpoints=checkpoints,
        resume=resume,
        device=device,
        distributed=distributed,
        feedback="symmetric",
        signal="step",
        update_every=update_every,
    )


fit_eprop.check = lambda model, cfg: check_online("eprop", model, cfg)  # type: ignore[attr-defined]
fit_ottt.check = lambda model, cfg: check_online("ottt", model, cfg)  # type: ignore[attr-defined]
