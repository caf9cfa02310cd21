"""Terminal output of the CLI: progress bars and summary tables (rich)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Reporter", "accuracy_line"]


def _backends(metrics: dict) -> str:
    """One line: each linear synapse layer's path (event-driven or dense) and each neuron layer's kernel backend,
    in the model's order (module names sort as the layers run: ``0``, ``1``, ... ``10``)."""
    parts: list[tuple[list, str]] = []
    for name, path in metrics.get("synapse_paths", {}).items():
        parts.append((name.split("."), f"{name}: linear {path}"))
    eff = metrics.get("efficiency") or {}
    for name, row in eff.get("neuron_layers", {}).items():
        parts.append((name.split("."), f"{row.get('layer') or name} {row.get('backend') or '-'}"))

    def order(item: tuple[list, str]) -> list:
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in item[0]]

    return "; ".join(text for _, text in sorted(parts, key=order))


class Reporter:
    def __init__(self, *, quiet: bool = False) -> None:
        from rich.console import Console

        self.console = Console()
        self.quiet = quiet

    def header(self, config: dict, split, n_params: int, out: Path) -> None:
        # sizes from the labels: images are [N, ...] but series are time-first [T, N, C]
        t = config["train"]
        self.console.print(
            f"[bold]spikeforge train[/] {config['dataset']} ({len(split.y_train)}/{len(split.y_val)}/"
            f"{len(split.y_test)} train/val/test) model={config['model_config']['model']} "
            f"hidden={config['model_config']['hidden']} params={n_params:,} T={t['timesteps']} "
            f"encoding={t['encoding']} readout={t['readout']} seed={t['seed']} -> {out}"
        )

    @contextmanager
    def progress(self, epochs: int):
        """Hooks for :func:`~spikeforge.learning.fit`: a progress bar on a terminal, one line per epoch otherwise
        (a log file, a batch job's output)."""
        if self.quiet:
            yield {}
            return
        if not self.console.is_terminal:

            def on_epoch_end_line(epoch: int, row: dict) -> None:
                self.console.print(
                    f"epoch {epoch + 1}/{epochs}  loss {row['train_loss']:.4f}  acc {row['train_accuracy']:.2%}  "
                    f"val {row['val_accuracy']:.2%}  {row['seconds']:.1f} s",
                    highlight=False,
                    soft_wrap=True,
                )

            yield {"on_epoch_end": on_epoch_end_line}
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [
            TextColumn("epoch {task.fields[epoch]:>3}/" + str(epochs)),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:6.2%}  {task.fields[val]}"),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=self.console) as bar:
            state: dict[str, Any] = {}

            def on_epoch_start(epoch: int, batches: int) -> None:
                state["task"] = bar.add_task("", total=batches, epoch=epoch + 1, loss=0.0, acc=0.0, val="")

            def on_batch(b: int, loss: float, acc: float) -> None:
                bar.update(state["task"], completed=b + 1, loss=loss, acc=acc)

            def on_epoch_end(epoch: int, row: dict) -> None:
                bar.update(state["task"], val=f"val {row['val_accuracy']:6.2%}")

            yield {"on_epoch_start": on_epoch_start, "on_batch": on_batch, "on_epoch_end": on_epoch_end}

    def summary(self, metrics: dict, out: Path) -> None:
        from rich.table import Table

        table = Table(title="spikeforge train: summary", show_header=True)
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_row("test accuracy", f"{metrics['test_accuracy']:.2%} ({metrics['n_test']} samples)")
        if "test_accuracy_rounded_delays" in metrics:
            table.add_row("test accuracy, delays rounded to steps", f"{metrics['test_accuracy_rounded_delays']:.2%}")
        table.add_row("validation accuracy", f"{metrics['val_accuracy']:.2%}")
        for name, rate in metrics["firing_rate_per_step"].items():
            table.add_row(
                f"mean firing rate, {metrics['layers'].get(name, name)}",
                f"{rate:.4f} spikes/neuron/step ({metrics['firing_rate_hz'][name]:.1f} Hz)",
            )
        table.add_row("spikes per sample", f"{metrics['spikes_per_sample']:.1f}")
        eff = metrics.get("efficiency")
        if eff is not None:
            per = eff["per_sample"]
            table.add_row(
                "synaptic operations per sample",
                f"{per['acs']:,.0f} additions + {per['macs']:,.0f} multiply-accumulates",
            )
            table.add_row("equivalent ANN per sample", f"{per['ann_macs']:,.0f} multiply-accumulates")
            table.add_row("activation sparsity", f"{eff['activation_sparsity']:.1%}")
            energy = eff["energy_estimate_pj_per_sample"]
            table.add_row(
                "energy per sample (ESTIMATE, 45 nm table)",
                f"SNN {energy['snn_arithmetic'] / 1e6:.3f} uJ / ANN {energy['ann_arithmetic'] / 1e6:.3f} uJ "
                f"arithmetic; with weight reads SNN {energy['snn_with_memory'] / 1e6:.3f} uJ / "
                f"ANN {energy['ann_with_memory'] / 1e6:.3f} uJ",
            )
        backends = _backends(metrics)
        if backends:
            table.add_row("backend per layer (synapses: as trained)", backends)
        table.add_row("parameters", f"{metrics['n_parameters']:,}")
        table.add_row("training time", f"{metrics['train_seconds']:.1f} s")
        table.add_row("wall time", f"{metrics['wall_seconds']:.1f} s")
        self.console.print(table)
        self.console.print(
            f"wrote {out}/: model.safetensors config.json metrics.json log.csv raster.png curves.png"
            + (f"; per-layer operation counts: spikeforge profile {out}" if eff is not None else "")
        )


def accuracy_line(folder: Path, accuracy: float, n: int, recorded: float | None) -> str:
    """``RUN: test accuracy A on N samples``, and whether it matches the accuracy the run recorded."""
    match = ""
    if recorded is not None:
        same = abs(recorded - accuracy) < 1e-12
        match = " (matches metrics.json)" if same else f" (metrics.json says {recorded:.2%})"
    return f"{folder}: test accuracy {accuracy:.2%} on {n} samples{match}"
