"""Supervised surrogate-gradient training of classifiers (backpropagation through time)."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..encoding import decode, encode, first_spike, max_membrane, spike_count
from ..metrics import SpikeRecorder

__all__ = ["TrainConfig", "encode_batch", "evaluate", "fit", "scores"]

Encoding = Literal["direct", "rate", "poisson", "latency"]
Readout = Literal["max", "mean", "count", "first", "last"]


@dataclass
class TrainConfig:
    """Training hyperparameters (all JSON-able)."""

    epochs: int = 30
    timesteps: int = 16
    encoding: Encoding = "direct"
    readout: Readout = "max"
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    seed: int = 0
    eval_seed: int = 12345
    label_smoothing: float = 0.0
    restore_best: bool = True
    grad_clip: float = 0.0
    select_by: Literal["accuracy", "accuracy_then_loss"] = "accuracy"

    def __post_init__(self) -> None:
        for name in ("epochs", "timesteps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: expected a positive learning rate, got {self.lr!r}")
        if not (isinstance(self.weight_decay, int | float) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay: expected a number >= 0, got {self.weight_decay!r}")
        if self.encoding not in ("direct", "rate", "poisson", "latency"):
            raise ValueError(f"encoding: expected one of direct, rate, poisson, latency; got {self.encoding!r}")
        if self.readout not in ("max", "mean", "count", "first", "last"):
            raise ValueError(f"readout: expected one of max, mean, count, first, last; got {self.readout!r}")
        if self.select_by not in ("accuracy", "accuracy_then_loss"):
            raise ValueError(f"select_by: expected 'accuracy' or 'accuracy_then_loss', got {self.select_by!r}")
        if not (isinstance(self.grad_clip, int | float) and self.grad_clip >= 0):
            raise ValueError(f"grad_clip: expected a gradient-norm bound >= 0 (0 = off), got {self.grad_clip!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def encode_batch(x: torch.Tensor, cfg: TrainConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images ``[B, ...]`` in [0, 1] -> network input ``[T, B, ...]``."""
    kwargs: dict[str, Any] = {}
    if cfg.encoding in ("rate", "poisson"):
        kwargs["generator"] = generator
    if cfg.encoding == "poisson":
        kwargs["max_rate"] = 500.0
    return encode(x, cfg.timesteps, cfg.encoding, **kwargs)


def scores(out_seq: torch.Tensor, readout: str, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Class scores ``[B, C]`` from the output sequence ``[T, B, C]`` with the readout named ``readout``.

    ``lengths[B]`` (valid steps per sample) restricts every readout to the steps ``t < lengths[b]``: the maximum
    or mean over valid steps, the last valid step, spikes counted (or first spike) within them. Padded steps
    never change a score.

    >>> import torch
    >>> out = torch.tensor([[[1.0]], [[3.0]], [[9.0]]])  # T=3, B=1, C=1; step 2 is padding
    >>> scores(out, "max", torch.tensor([2])).item(), scores(out, "mean", torch.tensor([2])).item()
    (3.0, 2.0)
    >>> scores(out, "last", torch.tensor([2])).item()
    3.0
    """
    if lengths is None:
        if readout == "last":
            return out_seq[-1]
        return decode(out_seq, readout)
    t, b = out_seq.shape[:2]
    lengths = torch.as_tensor(lengths, device=out_seq.device)
    if lengths.shape != (b,) or int(lengths.min()) < 1 or int(lengths.max()) > t:
        raise ValueError(f"lengths: expected {b} valid-step counts in [1, {t}], got {lengths.tolist()[:8]}")
    valid = torch.arange(t, device=out_seq.device)[:, None] < lengths[None, :]
    valid = valid.view(t, b, *([1] * (out_seq.dim() - 2)))
    if readout == "max":
        return max_membrane(out_seq.masked_fill(~valid, float("-inf")))
    if readout == "mean":
        return spike_count(out_seq * valid) / lengths.view(b, *([1] * (out_seq.dim() - 2))).to(out_seq.dtype)
    if readout == "count":
        return spike_count(out_seq * valid)
    if readout == "first":
        return first_spike(out_seq * valid)
    if readout == "last":
        index = (lengths - 1).view(1, b, *([1] * (out_seq.dim() - 2))).expand(1, *out_seq.shape[1:])
        return out_seq.gather(0, index)[0]
    raise ValueError(f"readout: expected one of max, mean, count, first, last; got {readout!r}")


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
) -> EpochResult:
    training = optimizer is not None
    model.train(training)
    n = len(y)
    order = torch.randperm(n, generator=generator) if training else torch.arange(n)
    total_loss, correct = 0.0, 0
    start = time.perf_counter()
    delay_layers = [m for m in model.modules() if hasattr(m, "clamp_positions_")] if training else []
    with SpikeRecorder(model, keep=False) as rec, torch.set_grad_enabled(training):
        for b, lo in enumerate(range(0, n, cfg.batch_size)):
            idx = order[lo : lo + cfg.batch_size]
            yb = y[idx]
            if lengths is None:
                out_seq, _ = model(encode_batch(x[idx], cfg, generator))
                logits = scores(out_seq, cfg.readout)
            else:  # time-first series [T, N, C]: fed as input current, cut to the longest series of the batch
                lb = lengths[idx]
                out_seq, _ = model(x[: int(lb.max()), idx])
                logits = scores(out_seq, cfg.readout, lb)
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing if training else 0.0)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                for m in delay_layers:  # learnable delays: keep positions within their taps
                    m.clamp_positions_()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            if on_batch is not None:
                on_batch(b, total_loss / (lo + len(idx)), correct / (lo + len(idx)))
    spikes = sum(rec.counts.values())
    return EpochResult(total_loss / n, correct / n, rec.rates(), spikes / n, time.perf_counter() - start)


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, lengths: torch.Tensor | None = None
) -> EpochResult:
    """Accuracy, loss, firing rate per spiking layer and spikes per sample on ``(x, y)``.

    Images ``x[N, ...]`` are encoded over ``cfg.timesteps``; with ``lengths[N]``, ``x`` is a padded time-first
    series ``[T, N, C]`` fed as it is, and readouts see only each series' valid steps. Stochastic encoders draw
    from a generator seeded with ``cfg.eval_seed``, so the result is reproducible.
    """
    return _run(
        model, x, y, cfg, optimizer=None, generator=torch.Generator().manual_seed(cfg.eval_seed), lengths=lengths
    )


def fit(
    model: nn.Module,
    split,
    cfg: TrainConfig,
    *,
    on_epoch_start: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int, float, float], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Train ``model`` on ``split`` (Adam, cosine learning-rate decay); keep the weights of the best validation
    epoch when ``cfg.restore_best`` (ties broken by the lower validation loss when ``cfg.select_by`` is
    ``"accuracy_then_loss"``). Returns the history, one dict per epoch.

    Layers with learnable delays (``anneal_sigma`` / ``clamp_positions_``) have their kernel width annealed once
    per epoch and their positions clamped after every step.

    ``split`` is an image :class:`~spikeforge.data.Split` or a :class:`~spikeforge.data.SeriesSplit` (padded
    series with ``len_train``/``len_val``, whose readouts ignore the padding)."""
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = math.ceil(len(split.y_train) / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * batches)

    history: list[dict] = []
    best_acc, best_loss, best_state = -1.0, math.inf, None
    for epoch in range(cfg.epochs):
        for m in model.modules():  # learnable delays: Gaussian kernels narrow towards single taps
            if hasattr(m, "anneal_sigma"):
                m.anneal_sigma(epoch, cfg.epochs)
        if on_epoch_start is not None:
            on_epoch_start(epoch, batches)

        def batch_hook(b, loss, acc):
            scheduler.step()
            if on_batch is not None:
                on_batch(b, loss, acc)

        tr = _run(
            model,
            split.x_train,
            split.y_train,
            cfg,
            optimizer=optimizer,
            generator=generator,
            on_batch=batch_hook,
            lengths=getattr(split, "len_train", None),
        )
        va = evaluate(model, split.x_val, split.y_val, cfg, getattr(split, "len_val", None))
        row = {
            "epoch": epoch + 1,
            "train_loss": tr.loss,
            "train_accuracy": tr.accuracy,
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "lr": scheduler.get_last_lr()[0],
            "seconds": tr.seconds,
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
