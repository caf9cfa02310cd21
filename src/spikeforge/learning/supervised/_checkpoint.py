"""Training checkpoints: everything :func:`~spikeforge.learning.fit` needs to continue a run bit for bit.

A checkpoint holds the model, the optimiser and scheduler, the best-so-far weights, the global torch RNG and the
data generator, the epoch's sample order and the position in it, the running loss and accuracy sums and the history
so far. Tensors go in a safetensors file and the rest in its JSON metadata (no pickle anywhere), written atomically
and durably (``fsync``) with a ``.sha256`` file beside it; loading checks the checksum and falls back to the previous
good checkpoint, with a warning, when the newest is missing its checksum, truncated or corrupt. The last ``keep``
checkpoints are kept.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ... import _tensorfile

__all__ = ["CheckpointError", "Checkpointer", "Session", "TrainState", "start_training"]

FORMAT = "spikeforge-checkpoint"
_NAME = re.compile(r"^ckpt-(\d{9})\.safetensors$")


class CheckpointError(ValueError):
    """No usable checkpoint (none written, or every one corrupt), or one from another configuration."""


@dataclass
class TrainState:
    """Where :func:`~spikeforge.learning.fit` stands: the next batch ``batch`` of epoch ``epoch`` (0-based), the
    running sums of the epoch so far, the history of finished epochs and the best validation result."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    total_loss: float = 0.0
    correct: int = 0
    seen: int = 0
    history: list[dict] = field(default_factory=list)
    best_acc: float = -1.0
    best_loss: float = float("inf")
    config: dict = field(default_factory=dict)


class Checkpointer:
    """Writes checkpoints of one training run into ``folder`` (every ``every`` optimiser steps, when set, and at every
    epoch end) and reads back the newest good one.

    ``on_write(state)`` is called after each checkpoint (the CLI records the progress in the run's marker).
    """

    def __init__(self, folder: str | Path, *, every: int | None = None, keep: int = 2, on_write=None) -> None:
        if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every <= 0):
            raise ValueError(f"checkpoint_every: expected a positive number of steps, got {every!r}")
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep: expected at least 1 checkpoint, got {keep!r}")
        self.folder = Path(folder)
        self.every = every
        self.keep = keep
        self.on_write = on_write

    # -- writing -------------------------------------------------------------------------------------------------
    def save(
        self,
        state: TrainState,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        generator: torch.Generator,
        order: torch.Tensor | None,
        best: dict[str, torch.Tensor] | None,
    ) -> Path:
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        opt = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, entries in opt["state"].items():
            for name, value in entries.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{index}.{name}"] = value
                else:
                    scalars.setdefault(str(index), {})[name] = value
        if best is not None:
            tensors |= {f"best.{k}": v for k, v in best.items()}
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.generator"] = generator.get_state()
        if order is not None:
            tensors["order"] = order
        meta = {
            "state": asdict(state),
            "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
            "scheduler": scheduler.state_dict(),
            "has_best": best is not None,
        }
        data = _tensorfile.encode(tensors, {"format": FORMAT, "meta": json.dumps(meta, sort_keys=True)})
        path = self.folder / f"ckpt-{state.step:09d}.safetensors"
        _tensorfile.write(path, data)
        _tensorfile.write(path.with_suffix(".sha256"), (_tensorfile.sha256(data) + "\n").encode())
        for old in self._files()[: -self.keep]:
            old.unlink(missing_ok=True)
            old.with_suffix(".sha256").unlink(missing_ok=True)
        if self.on_write is not None:
            self.on_write(state)
        return path

    def latest(self) -> Path | None:
        """The newest checkpoint file (not checked), or None."""
        files = self._files()
        return files[-1] if files else None

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _NAME.match(p.name))

    # -- reading -------------------------------------------------------------------------------------------------
    def load(self) -> tuple[TrainState, dict[str, torch.Tensor], dict[str, Any]]:
        """The newest good checkpoint: ``(state, tensors, meta)``; a bad newer one is skipped with a warning."""
        problems = []
        for path in reversed(self._files()):
            what = f"checkpoint {path}"
            try:
                data = path.read_bytes()
                expected = path.with_suffix(".sha256").read_text().strip()
            except OSError as err:
                problems.append(f"{path.name}: unreadable or without its checksum ({err.strerror})")
                continue
            if _tensorfile.sha256(data) != expected:
                problems.append(f"{path.name}: checksum mismatch (truncated or corrupt)")
                continue
            try:
                tensors, header = _tensorfile.decode(data, what=what)
                if header.get("format") != FORMAT:
                    raise CheckpointError(f"{what}: not a spikeforge checkpoint")
                meta = json.loads(header["meta"])
                state = TrainState(**meta["state"])
            except (ValueError, KeyError, TypeError) as err:
                problems.append(f"{path.name}: {err}")
                continue
            if problems:
                warnings.warn(
                    f"resuming from {path.name}: skipped newer checkpoints ({'; '.join(problems)})",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return state, tensors, meta
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise CheckpointError(f"no usable checkpoint in {self.folder}{detail}")

    @staticmethod
    def restore(
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor] | None]:
        """Put a loaded checkpoint back into the training objects; returns ``(order, best_state)``. A checkpoint
        that does not fit them (another model, damaged metadata) raises :class:`CheckpointError`."""
        try:
            return Checkpointer._restore(
                tensors, meta, model=model, optimizer=optimizer, scheduler=scheduler, generator=generator
            )
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as err:
            raise CheckpointError(
                f"the checkpoint does not fit this training run ({type(err).__name__}: {err})"
            ) from None

    @staticmethod
    def _restore(tensors, meta, *, model, optimizer, scheduler, generator):
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        for index, entries in meta["optimizer"]["scalars"].items():
            state.setdefault(int(index), {}).update(entries)
        optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
        scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
        generator.set_state(tensors["rng.generator"])
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} if meta["has_best"] else None
        return tensors.get("order"), best


@dataclass
class Session:
    """The objects of one training run that checkpoints carry: the optimiser (Adam), its cosine learning-rate
    schedule, the sample-order generator, where training stands, and what a resumed checkpoint held (the current
    epoch's sample ``order`` and the best epoch's weights)."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    generator: torch.Generator
    state: TrainState
    order: torch.Tensor | None = None
    best_state: dict[str, torch.Tensor] | None = None

    def objects(self, model: nn.Module) -> dict[str, Any]:
        """The keyword arguments of :meth:`Checkpointer.save` / :meth:`Checkpointer.restore` for ``model``."""
        return {"model": model, "optimizer": self.optimizer, "scheduler": self.scheduler, "generator": self.generator}


def start_training(
    model: nn.Module, cfg, n_train: int, checkpoints: Checkpointer | None = None, resume: bool = False
) -> Session:
    """Adam over ``model``'s parameters with a cosine decay over ``cfg.epochs`` epochs of ``n_train`` samples in
    batches of ``cfg.batch_size``, and a sample-order generator seeded with ``cfg.seed``; with ``resume``, all of it
    restored from the newest good checkpoint of ``checkpoints`` (refused when that checkpoint was written with other
    training settings, named)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = -(-n_train // cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * batches)
    session = Session(optimizer, scheduler, torch.Generator().manual_seed(cfg.seed), TrainState(config=cfg.to_dict()))
    if resume:
        if checkpoints is None:
            raise ValueError("resume: needs checkpoints=Checkpointer(folder) to resume from")
        state, tensors, meta = checkpoints.load()
        settings = cfg.to_dict()
        if state.config != settings:
            changed = sorted(k for k in settings if state.config.get(k) != settings[k])
            raise CheckpointError(f"resume: the checkpoint was written with other training settings ({changed})")
        session.state = state
        session.order, session.best_state = Checkpointer.restore(tensors, meta, **session.objects(model))
    return session
