"""The per-epoch log of a training run, written as the run goes: ``log.csv`` and, on request, TensorBoard."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .._files import atomic_path

__all__ = ["EpochLog"]

COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


class EpochLog:
    """Rewrites ``folder/log.csv`` (atomically) after every epoch with every epoch so far; an epoch that is run again
    after ``--resume`` replaces its earlier row. With ``tensorboard=True`` the same scalars also go to TensorBoard
    event files in ``folder/tensorboard`` (``tensorboard --logdir RUN/tensorboard``)."""

    def __init__(self, folder: Path, *, tensorboard: bool = False) -> None:
        self.path = Path(folder) / "log.csv"
        self.rows: list[dict] = []
        if self.path.is_file():  # a resumed run: keep the epochs already logged
            with self.path.open() as f:
                self.rows = [{k: int(v) if k == "epoch" else float(v) for k, v in r.items()} for r in csv.DictReader(f)]
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ValueError(
                    f"--tensorboard: needs the tensorboard package (pip install 'spikeforge[tensorboard]'): {err}"
                ) from None
            self.writer = SummaryWriter(str(Path(folder) / "tensorboard"))

    def __call__(self, epoch: int, row: dict) -> None:
        self.rows = [r for r in self.rows if int(r["epoch"]) < row["epoch"]] + [row]
        text = io.StringIO()
        out = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        out.writeheader()
        out.writerows(self.rows)
        with atomic_path(self.path) as tmp:
            tmp.write_text(text.getvalue())
        if self.writer is not None:
            for key in COLUMNS[1:]:
                self.writer.add_scalar(key, row[key], row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
