"""Operation counts of a spiking network, per layer, taken through forward hooks (the model is not changed).

Synaptic layers (``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d``, also inside :class:`~spikeforge.nn.Lift` or a
:class:`~spikeforge.nn.SequentialState`): every nonzero input element times its real fan-out, i.e. the nonzero
weights it reaches at output positions that exist (stride, padding, dilation, groups and edges included). This is
computed exactly as the layer applied to the binary mask of nonzero inputs with the binary mask of nonzero weights,
summed. When every input of a call is in {-1, 0, 1} (spikes) these are accumulates (ACs); otherwise (the first
layer fed real values, or spikes after average pooling) they are multiply-accumulates (MACs). The dense count is
the same layer with every input and weight present, at every time step. The equivalent ANN runs the same layers
on dense activations: once per sample for a static input (an image, however it is encoded over time;
``ann="once"``, the default), or at every step for a sequence (a time series, an event stream; ``ann="per_step"``),
as a recurrent ANN would.
Recurrent neuron layers (a ``recurrent`` ``nn.Linear`` whose weights the neuron applies inside its own update):
each spike at step t reaches its nonzero recurrent fan-out at step t + 1 (spikes of the last step reach nothing).
Neuron layers: membrane updates (neurons x steps), spikes, firing rate, sparsity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from .. import kernels
from ..neurons import LI, LICell, NeuronModule
from ._activity import describe
from ._energy import EnergyModel

__all__ = [
    "EfficiencyCounter",
    "EfficiencyReport",
    "NeuronCounts",
    "SynapseCounts",
    "profile_model",
    "synaptic_operations",
]

SYNAPTIC_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _is_spikes(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def synaptic_operations(layer: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """``(effective, dense)`` operation counts of one call ``layer(x)``; bias additions are not counted.

    ``effective``: sum over nonzero inputs of their fan-out to nonzero weights; ``dense``: the same with every
    input and weight present.

    >>> conv = torch.nn.Conv1d(1, 2, 3, padding=1)
    >>> synaptic_operations(conv, torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]))  # an edge spike reaches 2 of 3 taps
    (4, 20)
    """
    if not isinstance(layer, SYNAPTIC_LAYERS):
        raise TypeError(f"layer: expected one of {[c.__name__ for c in SYNAPTIC_LAYERS]}, got {type(layer).__name__}")
    with torch.no_grad():
        w = (layer.weight != 0).to(torch.float64)
        if isinstance(layer, nn.Linear):
            rows = x.reshape(-1, x.shape[-1])
            fan_out = w.sum(0)  # nonzero weights leaving each input feature
            effective = (rows != 0).to(torch.float64).sum(0) @ fan_out
            dense = rows.shape[0] * w.numel()
            return int(effective), int(dense)
        mask = (x != 0).to(torch.float64)
        effective = layer._conv_forward(mask, w, None).sum()
        dense = layer._conv_forward(torch.ones_like(mask), torch.ones_like(w), None).sum()
        return int(effective), int(dense)


@dataclass
class SynapseCounts:
    """Totals for one synaptic layer over everything the counter saw."""

    name: str
    layer: str
    index: int = 0  # position in ``model.named_modules()``, for tables
    acs: int = 0
    macs: int = 0
    dense: int = 0
    ann: float = 0.0  # multiply-accumulates of the equivalent ANN
    input_nonzeros: int = 0
    input_elements: int = 0

    @property
    def input_sparsity(self) -> float:
        return 1.0 - self.input_nonzeros / self.input_elements if self.input_elements else 0.0


@dataclass
class NeuronCounts:
    """Totals for one neuron layer: ``updates`` neuron-steps, ``spikes`` emitted (``None`` for readouts), and the
    ``backend`` its last training forward ran, else its last forward (``"cpu"``, ``"cpu_lean"``, ``"triton"`` fused
    kernels, ``"cpu+events"`` or ``"cpu+conv"`` fused with the event synapse or the convolution before it, or ``"torch"``, the reference; None for a cell
    module or before any run: :func:`spikeforge.kernels.train_backend_of`, :func:`~spikeforge.kernels.backend_of`)."""

    name: str
    layer: str
    index: int = 0  # position in ``model.named_modules()``, for tables
    updates: int = 0
    spikes: int | None = 0
    backend: str | None = None

    @property
    def rate(self) -> float | None:
        """Spikes per neuron per step."""
        if self.spikes is None:
            return None
        return self.spikes / self.updates if self.updates else 0.0


@dataclass
class EfficiencyReport:
    """Operation counts and energy estimates; figures per sample unless named total.

    ``ann_macs`` is the equivalent ANN (same layers, dense activations; one pass per sample when ``ann == "once"``,
    one per time step when ``"per_step"``); the energy entries
    are *estimates* from :class:`EnergyModel`, once from arithmetic alone and once with memory access.
    """

    samples: int
    timesteps: int
    synapses: list[SynapseCounts]
    neurons: list[NeuronCounts]
    energy: EnergyModel = field(default_factory=EnergyModel)
    ann: str = "once"

    def _per(self, value: float) -> float:
        return value / self.samples if self.samples else 0.0

    @property
    def acs(self) -> float:
        return self._per(sum(s.acs for s in self.synapses))

    @property
    def macs(self) -> float:
        return self._per(sum(s.macs for s in self.synapses))

    @property
    def synops(self) -> float:
        """Synaptic operations per sample (ACs + MACs)."""
        return self.acs + self.macs

    @property
    def dense(self) -> float:
        """Dense synaptic operations per sample, every time step."""
        return self._per(sum(s.dense for s in self.synapses))

    @property
    def ann_macs(self) -> float:
        """Multiply-accumulates of the equivalent ANN per sample (see ``ann``)."""
        return self._per(sum(s.ann for s in self.synapses))

    @property
    def membrane_updates(self) -> float:
        return self._per(sum(n.updates for n in self.neurons))

    @property
    def spikes(self) -> float:
        return self._per(sum(n.spikes or 0 for n in self.neurons))

    @property
    def activation_sparsity(self) -> float:
        """Share of zero outputs over every spiking layer, step and sample (as NeuroBench defines it)."""
        spiking = [n for n in self.neurons if n.spikes is not None]
        total = sum(n.updates for n in spiking)
        return 1.0 - sum(n.spikes for n in spiking) / total if total else 0.0

    def energy_pj(self) -> dict[str, float]:
        """Estimated picojoules per sample: SNN and ANN, arithmetic only and with memory access."""
        e = self.energy
        snn_arith = self.acs * e.add + self.macs * e.mac + self.membrane_updates * e.membrane_cost
        snn_memory = (self.synops + self.membrane_updates * e.state_reads_writes) * e.memory_read
        ann_arith = self.ann_macs * e.mac
        ann_memory = self.ann_macs * e.memory_read
        return {
            "snn_arithmetic": snn_arith,
            "snn_with_memory": snn_arith + snn_memory,
            "ann_arithmetic": ann_arith,
            "ann_with_memory": ann_arith + ann_memory,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (per sample); energy figures are labelled estimates."""
        per = self._per
        return {
            "samples": self.samples,
            "ann_passes": self.ann,
            "timesteps": self.timesteps,
            "per_sample": {
                "synaptic_operations": self.synops,
                "acs": self.acs,
                "macs": self.macs,
                "dense_operations": self.dense,
                "ann_macs": self.ann_macs,
                "membrane_updates": self.membrane_updates,
                "spikes": self.spikes,
            },
            "activation_sparsity": self.activation_sparsity,
            "synaptic_layers": {
                s.name: {
                    "layer": s.layer,
                    "acs": per(s.acs),
                    "macs": per(s.macs),
                    "dense_operations": per(s.dense),
                    "ann_macs": per(s.ann),
                    "input_sparsity": s.input_sparsity,
                }
                for s in self.synapses
            },
            "neuron_layers": {
                n.name: {
                    "layer": n.layer,
                    "membrane_updates": per(n.updates),
                    "spikes": None if n.spikes is None else per(n.spikes),
                    "firing_rate_per_step": n.rate,
                    "sparsity": None if n.rate is None else 1.0 - n.rate,
                    "backend": n.backend,
                }
                for n in self.neurons
            },
            "energy_estimate_pj_per_sample": self.energy_pj(),
            "energy_model": self.energy.to_dict(),
        }

    def _rows(self) -> tuple[list[str], list[list[str]], list[str]]:
        per = self._per
        head = ["layer", "ACs", "MACs", "ANN MACs", "mem. updates", "spikes", "rate", "sparsity", "backend"]
        rows: list[tuple[int, list[str]]] = []
        for s in self.synapses:
            ann = per(s.ann)
            rows.append(
                (
                    s.index,
                    [
                        s.layer,
                        f"{per(s.acs):,.0f}",
                        f"{per(s.macs):,.0f}",
                        f"{ann:,.0f}",
                        "",
                        "",
                        "",
                        f"{s.input_sparsity:.3f} in",
                        "",
                    ],
                )
            )
        for n in self.neurons:
            spiking = n.spikes is not None
            rows.append(
                (
                    n.index,
                    [
                        n.layer,
                        "",
                        "",
                        "",
                        f"{per(n.updates):,.0f}",
                        f"{per(n.spikes):,.1f}" if spiking else "-",
                        f"{n.rate:.4f}" if spiking else "-",
                        f"{1 - n.rate:.3f}" if spiking else "-",
                        n.backend or "-",
                    ],
                )
            )
        table = [r for _, r in sorted(rows, key=lambda item: item[0])]
        table.append(
            [
                "total",
                f"{self.acs:,.0f}",
                f"{self.macs:,.0f}",
                f"{self.ann_macs:,.0f}",
                f"{self.membrane_updates:,.0f}",
                f"{self.spikes:,.1f}",
                "",
                f"{self.activation_sparsity:.3f}",
                "",
            ]
        )
        e = self.energy_pj()
        notes = [
            f"per sample over {self.samples} samples, T={self.timesteps}; ANN = same layers, dense, "
            + ("one pass" if self.ann == "once" else "one pass per time step (a sequence)"),
            f"energy ESTIMATE per sample ({self.energy.source}): SNN {e['snn_arithmetic'] / 1e6:.4g} uJ "
            f"arithmetic, {e['snn_with_memory'] / 1e6:.4g} uJ with weight/state reads; ANN "
            f"{e['ann_arithmetic'] / 1e6:.4g} uJ arithmetic, {e['ann_with_memory'] / 1e6:.4g} uJ with "
            "weight reads",
        ]
        return head, table, notes

    def table(self) -> str:
        """Plain-text table, one row per layer, then the totals and the energy estimate."""
        head, rows, notes = self._rows()
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows), *notes])

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table

        head, rows, notes = self._rows()
        table = Table(title="efficiency (per sample)")
        for i, h in enumerate(head):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*r, style="bold" if r[0] == "total" else None)
        return Group(table, *notes)


class EfficiencyCounter:
    """Counts operations during forward passes of a time-first model ``model(x_seq[T, B, ...])``.

    >>> import torch, spikeforge as sf
    >>> net = sf.SequentialState(torch.nn.Linear(3, 4), sf.LIF(4), torch.nn.Linear(4, 2), sf.LI(2))
    >>> with EfficiencyCounter(net) as counter:
    ...     _ = net(torch.rand(10, 5, 3))
    >>> report = counter.report()
    >>> report.macs, report.ann_macs, report.membrane_updates
    (120.0, 20.0, 60.0)
    """

    def __init__(self, model: nn.Module, *, ann: Literal["once", "per_step"] = "once") -> None:
        if ann not in ("once", "per_step"):
            raise ValueError(f"ann: expected 'once' (static inputs) or 'per_step' (sequences), got {ann!r}")
        self.model = model
        self.ann = ann
        self._rec_mark: int | None = None
        modules = list(model.named_modules())
        self.synapses = {
            n: SynapseCounts(n, f"{n}: {type(m).__name__}({_shape(m)})", i)
            for i, (n, m) in enumerate(modules)
            if isinstance(m, SYNAPTIC_LAYERS)
        }
        self.neurons = {
            n: NeuronCounts(n, describe(n, m), i, spikes=None if isinstance(m, LI | LICell) else 0)
            for i, (n, m) in enumerate(modules)
            if isinstance(m, NeuronModule)
        }
        self.samples = 0
        self.steps = 0  # time steps x samples seen at the model's input
        self._ann_passes = 1.0  # of the current call: distinct input steps / steps
        self._handles: list = []

    # A hook fires only for the module it was registered on: tools that deep-copy a hooked layer to count
    # (NeuroBench does) copy its hooks too, and those copies must not be counted.
    def _synapse_hook(self, name: str, owner: nn.Module):
        def hook(module, inputs):
            if module is not owner:
                return
            x = inputs[0].detach()
            effective, dense = synaptic_operations(module, x)
            c = self.synapses[name]
            if _is_spikes(x):
                c.acs += effective
            else:
                c.macs += effective
            c.dense += dense
            c.ann += dense * self._ann_passes
            c.input_nonzeros += int(torch.count_nonzero(x))
            c.input_elements += x.numel()

        return hook

    def _neuron_hook(self, name: str, owner: nn.Module):
        def hook(module, inputs, output):
            if module is not owner:
                return
            c = self.neurons[name]
            c.updates += inputs[0].numel()
            if c.spikes is not None:
                c.spikes += int(torch.count_nonzero(output[0].detach()))
            rec = self.synapses.get(f"{name}.recurrent" if name else "recurrent")
            z = output[0].detach()
            if (
                rec is not None
                and getattr(owner, "is_sequence", False)
                and z.dim() >= 3
                and rec.dense == self._rec_mark
            ):
                # the neuron applied its recurrent weights itself (no call of the Linear): count from its spikes
                w = owner.recurrent.weight
                fan_out = (w != 0).to(torch.float64).sum(0)  # nonzero weights leaving each neuron
                active = (z[:-1] != 0).to(torch.float64).reshape(-1, z.shape[-1]).sum(0)
                rec.acs += int(active @ fan_out)
                steps = (z.shape[0] - 1) * z[0].reshape(-1, z.shape[-1]).shape[0]
                rec.dense += steps * w.numel()
                rec.ann += steps * w.numel()
                rec.input_nonzeros += int(active.sum())
                rec.input_elements += steps * z.shape[-1]

        return hook

    def _neuron_pre_hook(self, name: str, owner: nn.Module):
        def hook(module, inputs):
            if module is owner:
                rec = self.synapses.get(f"{name}.recurrent" if name else "recurrent")
                self._rec_mark = None if rec is None else rec.dense

        return hook

    def _model_hook(self, module, inputs):
        if module is not self.model:
            return
        x = inputs[0]
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError(
                f"x_seq: expected a time-first tensor [T, B, ...], got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        self.samples += x.shape[1]
        self.steps += x.shape[0] * x.shape[1]
        self._ann_passes = 1.0 / x.shape[0] if self.ann == "once" else 1.0

    def __enter__(self) -> EfficiencyCounter:
        modules = dict(self.model.named_modules())
        self._handles = [self.model.register_forward_pre_hook(self._model_hook)]
        self._handles += [
            modules[n].register_forward_pre_hook(self._synapse_hook(n, modules[n])) for n in self.synapses
        ]
        self._handles += [modules[n].register_forward_hook(self._neuron_hook(n, modules[n])) for n in self.neurons]
        self._handles += [
            modules[n].register_forward_pre_hook(self._neuron_pre_hook(n, modules[n])) for n in self.neurons
        ]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def report(self, energy: EnergyModel | None = None) -> EfficiencyReport:
        modules = dict(self.model.named_modules())
        for name, rec in self.neurons.items():  # the backend each neuron layer trained with, else last ran
            rec.backend = kernels.train_backend_of(modules[name]) or kernels.backend_of(modules[name])
        timesteps = round(self.steps / self.samples) if self.samples else 0
        return EfficiencyReport(
            self.samples,
            timesteps,
            list(self.synapses.values()),
            list(self.neurons.values()),
            energy or EnergyModel(),
            self.ann,
        )


def _shape(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return f"{m.in_features}->{m.out_features}"
    return f"{m.in_channels}->{m.out_channels}, k={'x'.join(map(str, m.kernel_size))}"


def profile_model(
    model: nn.Module,
    x_seq: torch.Tensor,
    *,
    energy: EnergyModel | None = None,
    batch_size: int | None = None,
    ann: Literal["once", "per_step"] = "once",
) -> EfficiencyReport:
    """Run ``model`` on ``x_seq[T, B, ...]`` (eval mode, no gradients) and count its operations.

    Args:
        model: a time-first model, e.g. a :class:`~spikeforge.nn.SequentialState`; it is not changed (its
            train/eval mode is restored afterwards).
        x_seq: network input ``[T, B, ...]`` (already encoded).
        energy: the per-operation table; default :class:`EnergyModel` (Horowitz 2014, 45 nm, 32-bit float).
        batch_size: split ``B`` into chunks of this size to bound memory (same counts).
        ann: how often the equivalent ANN runs per sample: ``"once"`` for static inputs (images, whatever their
            encoding over time), ``"per_step"`` for sequences (time series, event streams).

    Returns:
        An :class:`EfficiencyReport` (``.to_dict()``, ``.table()``).
    """
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
        raise ValueError(
            f"x_seq: expected a time-first tensor [T, B, ...], got "
            f"{tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__}"
        )
    if x_seq.shape[0] == 0:
        raise ValueError(f"x_seq: expected at least one time step (T >= 1), got shape {tuple(x_seq.shape)}")
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0):
        raise ValueError(f"batch_size: expected a positive number of samples, got {batch_size!r}")
    chunk = batch_size or max(1, x_seq.shape[1])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), EfficiencyCounter(model, ann=ann) as counter:
            for lo in range(0, x_seq.shape[1], chunk):
                model(x_seq[:, lo : lo + chunk])
    finally:
        model.train(was_training)
    return counter.report(energy)
