r"""Event-driven linear synapses: for binary spike input, add the weight rows of the active inputs.

For spikes ``x \in \{0, 1\}``, ``y = W x + b`` is ``b`` plus the sum of the columns of ``W`` whose input spiked: no
multiplications, and work proportional to the number of spikes instead of the number of synapses. The backward is
event-driven too: ``dL/dW[:, c]`` collects ``dL/dy`` of the rows where input ``c`` spiked; ``dL/dx = dL/dy W`` stays
dense (a surrogate gradient reaches silent inputs too). Only the spike indices are kept for the backward
(4 bytes per spike instead of 4 bytes per input).

``mode="auto"`` measures the input's density on every call and takes the event path below ``crossover`` (measured
by ``benchmarks/density.py`` on a 2-core CPU), the dense ``torch.nn.functional.linear`` otherwise, or when the
input is not binary. ``mode="measure"`` (what the model builders use) decides by timing instead of by a fixed
crossover: the first call of a shape, density octave, dtype and grad setting times both paths here, forward and
backward, interleaved (:mod:`spikeforge._choice`), and that answer is reused; the event path is taken only
where it measured clearly faster, never where it is slower; input denser than ``MEASURE_MAX`` goes dense untimed.
``"event"`` and ``"dense"`` force a path. Results equal the dense layer's up to the order of floating-point
additions.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from .. import _choice
from ..kernels.cpu import build_error, kernel, library, threads
from ..kernels.cpu import spike_index as _index

__all__ = ["EventLinear", "event_linear", "synapse_paths"]

Mode = Literal["auto", "measure", "event", "dense"]
MODES = ("auto", "measure", "event", "dense")
#: default density below which "auto" takes the event path: the training crossover measured by
#: benchmarks/density.py on 2 shared cores was 8-10% (inference: about 20%)
CROSSOVER = 0.1
#: ``mode="measure"``: binary input denser than this goes dense without timing (no CPU measured here came close)
MEASURE_MAX = 0.3


def _threads(work: int) -> int:
    """OpenMP threads for ``work`` entries: the neuron kernels' rule (one for small work, else torch's count unless
    the thread guard measured that fewer are faster here now)."""
    return threads(work)


def _direct(x2: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor | None:
    """One-pass event-driven product for inference; None if the input is not binary."""
    rows, width = x2.shape
    wt = weight.detach().t().contiguous()
    b = None if bias is None else bias.detach().contiguous()
    out = torch.empty((rows, weight.shape[0]), dtype=x2.dtype)
    bad = ctypes.c_int(0)
    kernel("events_direct", x2.dtype)(
        x2.data_ptr(),
        wt.data_ptr(),
        None if b is None else b.data_ptr(),
        out.data_ptr(),
        rows,
        width,
        weight.shape[0],
        ctypes.byref(bad),
        _threads(x2.numel()),
    )
    return None if bad.value else out


class _EventLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, weight, bias, cols, offsets):  # type: ignore[override]
        rows = x2.shape[0]
        out_features = weight.shape[0]
        wt = weight.detach().t().contiguous()
        out = torch.empty((rows, out_features), dtype=x2.dtype)
        b = None if bias is None else bias.detach().contiguous()
        kernel("events_gather", x2.dtype)(
            cols.data_ptr(),
            offsets.data_ptr(),
            wt.data_ptr(),
            None if b is None else b.data_ptr(),
            out.data_ptr(),
            rows,
            out_features,
            _threads(rows * out_features),
        )
        ctx.save_for_backward(cols, offsets, weight)
        ctx.in_features = x2.shape[1]
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        cols, offsets, weight = ctx.saved_tensors
        grad = grad.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = grad @ weight
        if ctx.needs_input_grad[1]:
            gwt = torch.empty((ctx.in_features, weight.shape[0]), dtype=grad.dtype)
            kernel("events_scatter", grad.dtype)(
                cols.data_ptr(),
                offsets.data_ptr(),
                grad.data_ptr(),
                gwt.data_ptr(),
                grad.shape[0],
                ctx.in_features,
                weight.shape[0],
                _threads(grad.numel()),
            )
            gw = gwt.t()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum(0)
        return gx, gw, gb, None, None


def _event_ok(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and weight.dtype == x.dtype
        and not torch.compiler.is_compiling()
        and not torch._C._are_functorch_transforms_active()
    )


def _check_shapes(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    """The checks that keep the C kernels inside their buffers: they index ``weight`` by the input's columns."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor [..., in_features], got {type(x).__name__}")
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError(
            f"weight: expected a matrix [out_features, in_features], got {getattr(weight, 'shape', type(weight).__name__)}"
        )
    if x.dim() < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x: expected [..., {weight.shape[1]}] (the weight's in_features), got shape {tuple(x.shape)}")
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (weight.shape[0],)):
        raise ValueError(
            f"bias: expected shape ({weight.shape[0]},) (the weight's out_features), got "
            f"{tuple(getattr(bias, 'shape', ())) if isinstance(bias, torch.Tensor) else type(bias).__name__}"
        )


def _key(x2: torch.Tensor, weight: torch.Tensor, density: float, grads: tuple[bool, ...]) -> str:
    """Cache key of one timing decision: everything the two paths' relative speed depends on."""
    rows, width = x2.shape
    return (
        f"linear {str(x2.dtype).removeprefix('torch.')} rows={rows} in={width} out={weight.shape[0]} "
        f"density_octave={_choice.density_bucket(density)} grads={''.join(str(int(g)) for g in grads)} "
        + _choice.machine()
    )


def _graded_head(x2: torch.Tensor) -> bool:
    """Whether the first rows of ``x2[R, I]`` hold a value other than 0 and 1: graded input (images, pooled spikes)
    shows there, and ``mode="measure"`` then goes dense without the full index pass."""
    first = x2[:8]
    return not bool(((first == 0) | (first == 1)).all())


def _train_candidates(x2, weight, bias, cols, offsets, x_grad: bool) -> dict:
    """Forward + backward of each path on copies (the layer's own gradients are not touched)."""
    w = weight.detach().clone().requires_grad_(weight.requires_grad)
    b = None if bias is None else bias.detach().clone().requires_grad_(bias.requires_grad)
    xx = x2.detach().clone().requires_grad_(x_grad)
    grad = torch.ones((x2.shape[0], weight.shape[0]), dtype=x2.dtype)
    trial = [t for t in (xx, w, b) if t is not None and t.requires_grad]

    def run(out: torch.Tensor) -> None:
        torch.autograd.grad(out, trial, grad)

    def dense() -> None:
        run(nn.functional.linear(xx, w, b))

    def event() -> None:
        run(_EventLinear.apply(xx, w, b, *_index(x2)[2:]))

    return {"dense": dense, "event": event}


def _event_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mode: Mode, crossover: float
) -> tuple[torch.Tensor, str]:
    """``event_linear`` and the path it took (``"event"`` or ``"dense"``)."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    _check_shapes(x, weight, bias)
    dense = "dense"
    if mode == "dense" or x.numel() == 0:
        return nn.functional.linear(x, weight, bias), dense
    usable = _event_ok(x, weight) and library() is not None
    if not usable:
        if mode == "event":
            why = build_error() or "needs a float32/float64 CPU tensor outside torch.compile / torch.func"
            raise RuntimeError(f"EventLinear(mode='event') cannot run here: {why}; use mode='dense' or 'auto'")
        return nn.functional.linear(x, weight, bias), dense
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    )
    shape = (*x.shape[:-1], weight.shape[0])
    if mode == "measure" and _graded_head(x2):
        return nn.functional.linear(x, weight, bias), dense
    if not needs_grad:
        # inference: estimate the density (from a few rows unless timing), then one pass that scans and adds
        head = x2 if mode == "measure" else x2[:64]
        density = int(torch.count_nonzero(head)) / head.numel()
        if (mode == "auto" and density > crossover) or (mode == "measure" and density > MEASURE_MAX):
            return nn.functional.linear(x, weight, bias), dense
        key = _key(x2, weight, density, (False,)) if mode == "measure" else ""
        if mode == "measure" and _choice.CHOOSER.cached(key) == "dense":
            return nn.functional.linear(x, weight, bias), dense
        out = _direct(x2, weight, bias)
        if out is None:
            if mode == "event":
                raise ValueError(
                    "EventLinear(mode='event'): input must hold only 0 and 1 (spikes); use mode='dense' for graded input"
                )
            return nn.functional.linear(x, weight, bias), dense
        if mode == "measure":

            def dense_fn() -> None:
                nn.functional.linear(x2, weight, bias)

            def event_fn() -> None:
                _direct(x2, weight, bias)

            dense_fn.__name__, event_fn.__name__ = "dense", "event"
            path = _choice.CHOOSER.choose(key, {"dense": dense_fn, "event": event_fn})
            if path == "dense":
                return nn.functional.linear(x, weight, bias), dense
        return out.reshape(shape), "event"
    events = _train_events(x, x2, weight, bias, mode, crossover)
    if events is None:
        return nn.functional.linear(x, weight, bias), dense
    out = _EventLinear.apply(x2, weight, bias, *events)
    return out.reshape(shape), "event"


def _train_events(
    x: torch.Tensor, x2: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mode: Mode, crossover: float
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For a training call that may take the event path: the events ``(cols, offsets)`` of ``x2 = x`` as rows where
    ``mode`` takes the event path, None where it goes dense."""
    total, binary, cols, offsets = _index(x2)
    if not binary:
        if mode == "event":
            raise ValueError(
                "EventLinear(mode='event'): input must hold only 0 and 1 (spikes); use mode='dense' for graded input"
            )
        return None
    if mode == "auto" and total > crossover * x2.numel():
        return None
    if mode == "measure":
        if total > MEASURE_MAX * x2.numel():
            return None
        grads = (x.requires_grad, weight.requires_grad, bias is not None and bias.requires_grad)
        key = _key(x2, weight, total / x2.numel(), grads)
        path = _choice.CHOOSER.cached(key)
        if path is None:
            path = _choice.choose(key, _train_candidates(x2, weight, bias, cols, offsets, x.requires_grad))
        if path == "dense":
            return None
    return cols, offsets


def event_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    mode: Mode = "auto",
    crossover: float = CROSSOVER,
) -> torch.Tensor:
    """``x @ weight.T + bias`` computed from the spikes of ``x[..., in]`` where that is faster (see module doc)."""
    return _event_linear(x, weight, bias, mode, crossover)[0]


class EventLinear(nn.Linear):
    """A ``torch.nn.Linear`` that adds weight rows of active inputs when its input is sparse binary spikes.

    Same parameters and state dict as ``nn.Linear``. Works on any ``[..., in_features]`` input, so a time-first
    ``[T, B, in]`` sequence runs in one call.

    Args:
        in_features, out_features, bias, device, dtype: as ``nn.Linear``.
        mode: ``"auto"`` (event path below ``crossover`` density for binary input), ``"measure"`` (the path timed
            faster here for this shape and density, see module doc), ``"event"`` or ``"dense"``.
        crossover: input density (fraction of ones) below which ``"auto"`` uses the event path.

    ``path`` is the path the last forward took (``"event"``, ``"dense"``; None before the first), ``train_path``
    that of the last forward that recorded gradients.

    >>> import torch
    >>> layer = EventLinear(100, 8)
    >>> x = (torch.rand(20, 4, 100) < 0.05).float()
    >>> torch.allclose(layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias), atol=1e-6)
    True
    """

    #: its output for a sample depends on that sample alone: static (direct) input is computed once, not T times
    #: (``spikeforge.nn.SequentialState``)
    per_sample = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        mode: Mode = "auto",
        crossover: float = CROSSOVER,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        if not 0.0 <= float(crossover) <= 1.0:
            raise ValueError(f"crossover: expected a density in [0, 1], got {crossover!r}")
        self.mode = mode
        self.crossover = float(crossover)
        self.path: str | None = None
        self.train_path: str | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, self.path = _event_linear(x, self.weight, self.bias, self.mode, self.crossover)
        if out.requires_grad:
            self.train_path = self.path
        return out

    def fused_events(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """For a following neuron layer that fuses this synapse into its kernel (``LIF.forward_synapse``, called by
        :class:`~spikeforge.nn.SequentialState`): the events ``(cols, offsets)`` of the spikes ``x[..., in]`` (rows
        of ``x`` flattened, see :func:`spikeforge.kernels.cpu.event_lif`) when this layer would take the event path
        of a training call and ``x`` needs no gradient; None otherwise (no hooks either: the fused kernel runs no
        forward of this module), and then the layers run one after the other. Records the path like ``forward``."""
        weight, bias = self.weight, self.bias
        if self.mode == "dense" or self._forward_hooks or self._forward_pre_hooks or x.requires_grad:
            return None
        if not torch.is_grad_enabled() or not (weight.requires_grad or (bias is not None and bias.requires_grad)):
            return None
        if x.numel() == 0 or not _event_ok(x, weight) or library() is None:
            return None
        _check_shapes(x, weight, bias)
        x2 = x.reshape(-1, x.shape[-1]).contiguous()
        if self.mode == "measure" and _graded_head(x2):
            return None
        events = _train_events(x, x2, weight, bias, self.mode, self.crossover)
        if events is not None:
            self.path = self.train_path = "event"
        return events

    def events_current(self, x: torch.Tensor, events: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """This layer's output for the spikes ``x[..., in]`` from their events (as :meth:`fused_events` gave them):
        the event path of ``forward`` without a second index pass."""
        x2 = x.reshape(-1, x.shape[-1])
        self.path = self.train_path = "event"
        return _EventLinear.apply(x2, self.weight, self.bias, *events).reshape(*x.shape[:-1], self.out_features)

    def prefer_fused(
        self,
        x: torch.Tensor,
        events: tuple[torch.Tensor, torch.Tensor],
        fused: Callable[[], torch.Tensor],
        separate: Callable[[], torch.Tensor],
        tag: str,
    ) -> bool:
        """Whether the fused kernel of this layer and the neuron layer after it (``fused()``, its spikes) trains at
        least as fast here as the two run one after the other (``separate()``): both are timed forward and backward,
        interleaved, once per shape, density octave and neuron kind ``tag`` (:mod:`spikeforge._choice`, no margin: the fused
        kernel, which keeps no ``[T, B, out]`` current, is taken unless the pair is faster at all). The first call
        of a shape runs each path four times, so its memory peak is the unfused pair's."""
        x2 = x.reshape(-1, x.shape[-1])
        params = [p for p in (self.weight, self.bias) if p is not None and p.requires_grad]
        density = int(events[1][-1]) / max(1, x2.numel())
        grads = (False, self.weight.requires_grad, self.bias is not None and self.bias.requires_grad)
        key = f"fused {tag} steps={x.shape[0]} " + _key(x2, self.weight, density, grads)

        def timed(name: str, run: Callable[[], torch.Tensor]) -> Callable[[], None]:
            def step() -> None:
                torch.autograd.grad(run().sum(), params)

            step.__name__ = name
            return step

        candidates = {"fused": timed("fused", fused), "separate": timed("separate", separate)}
        path = _choice.choose(key, candidates, margin=0.0)
        return path == "fused"

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode!r}, crossover={self.crossover:g}"


def synapse_paths(model: nn.Module) -> dict[str, str]:
    """``{module name: path}`` for every linear synapse layer of ``model``: ``"event"`` / ``"dense"`` as an
    :class:`EventLinear` last trained (else last ran; ``"not run"`` before its first call), ``"dense"`` for a plain
    ``nn.Linear``."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, EventLinear):
            out[name] = m.train_path or m.path or "not run"
        elif type(m) is nn.Linear:
            out[name] = "dense"
    return out
