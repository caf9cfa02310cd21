r"""Quantisation-aware training: fake quantisation with straight-through estimators (STE).

A symmetric ``b``-bit quantiser with step (scale) ``s`` maps a value to the grid ``s * k`` with
``k in [-q, q]``, ``q = 2**(b - 1) - 1`` (8 bits: 127, 4 bits: 7, 2 bits: 1, i.e. ternary):

.. math::
    Q(x) = s \cdot \mathrm{clip}(\mathrm{round}(x / s), -q, q), \qquad
    \frac{\partial Q}{\partial x} := \mathbb{1}[\,|x| \le q s\,]

The forward pass uses the quantised value; the backward pass treats the rounding as the identity inside the clip
range and passes no gradient outside it (the straight-through estimator). ``round`` is round-half-to-even
(``torch.round``). Scales are treated as constants (no gradient flows into them).

The pieces: :func:`fake_quantize` (the STE function), :func:`weight_scale` (choose ``s`` per tensor or per output
channel, optionally a power of two as fixed-point hardware wants), :class:`QuantLinear` / :class:`QuantConv2d`
(layers whose forward uses the fake-quantised weight), :class:`QuantMembrane` (wraps a sequence neuron and
quantises its membrane and current to a grid after every step) and :func:`quantize_model`, which swaps them in.
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..neurons import LI, NeuronModule
from ..neurons._base import check_finite
from ..synapses import EventLinear

__all__ = ["QuantConv2d", "QuantLinear", "QuantMembrane", "fake_quantize", "quantize_model", "weight_scale"]

Rounding = Literal["nearest", "floor", "trunc"]
ScaleMethod = Literal["max", "mse"]
_ROUNDING = ("nearest", "floor", "trunc")


def _check_bits(bits: int, name: str = "bits", low: int = 2, high: int = 32) -> int:
    if not isinstance(bits, int) or isinstance(bits, bool) or not low <= bits <= high:
        raise ValueError(f"{name}: expected an integer number of bits in [{low}, {high}], got {bits!r}")
    return bits


def _round(x: torch.Tensor, rounding: str) -> torch.Tensor:
    if rounding == "nearest":
        return torch.round(x)
    if rounding == "floor":
        return torch.floor(x)
    return torch.trunc(x)


class _FakeQuantSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, qmin, qmax, rounding):
        k = x / scale
        ctx.save_for_backward((k >= qmin) & (k <= qmax))
        return _round(k, rounding).clamp(qmin, qmax) * scale

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None


def fake_quantize(
    x: torch.Tensor,
    scale: float | torch.Tensor,
    bits: int = 8,
    *,
    rounding: Rounding = "nearest",
    qmin: int | None = None,
) -> torch.Tensor:
    """Quantise ``x`` to the grid ``scale * k``, ``k in [qmin, 2**(bits-1) - 1]``, with a straight-through gradient.

    Args:
        x: values to quantise (any shape).
        scale: grid step, a positive number or a tensor that broadcasts against ``x`` (per channel).
        bits: signed integer width. Default 8.
        rounding: ``"nearest"`` (half to even), ``"floor"`` or ``"trunc"`` (towards zero). Default nearest.
        qmin: lowest integer code. Default ``-(2**(bits-1) - 1)`` (symmetric).

    Returns:
        ``scale * clip(round(x / scale), qmin, qmax)``; its gradient is ``grad * [qmin <= x / scale <= qmax]``.

    >>> import torch
    >>> x = torch.tensor([0.26, -0.4, 3.0], requires_grad=True)
    >>> y = fake_quantize(x, 0.5, bits=2)
    >>> y.tolist()
    [0.5, -0.5, 0.5]
    >>> y.sum().backward(); x.grad.tolist()
    [1.0, 1.0, 0.0]
    """
    _check_bits(bits, high=53)
    if rounding not in _ROUNDING:
        raise ValueError(f"rounding: expected one of {_ROUNDING}, got {rounding!r}")
    scale_t = torch.as_tensor(scale, dtype=x.dtype, device=x.device)
    if (scale_t <= 0).any() or not torch.isfinite(scale_t).all():
        raise ValueError(f"scale: expected positive finite grid steps, got {scale_t.flatten()[:4].tolist()}")
    qmax = 2 ** (bits - 1) - 1
    qmin = -qmax if qmin is None else int(qmin)
    return _FakeQuantSTE.apply(x, scale_t, qmin, qmax, rounding)


def weight_scale(
    w: torch.Tensor, bits: int = 8, *, per_channel: bool = False, pow2: bool = True, method: ScaleMethod = "mse"
) -> torch.Tensor:
    """Grid step for symmetric ``bits``-bit weights: one per tensor, or one per output channel (dim 0).

    ``method="max"`` maps the largest magnitude to the largest code (no clipping); ``"mse"`` picks, among
    candidate steps (powers of two with ``pow2``, else 32 fractions of the max step), the one with the smallest
    squared quantisation error, which clips outliers (what 4- and 2-bit weights need). With ``pow2`` the step is
    a power of two (``max`` rounds up, so nothing clips), so that fixed-point hardware can apply it as a shift.

    Returns:
        a detached tensor: shape ``[]`` per tensor, ``[C_out, 1, ...]`` per channel (broadcasts against ``w``).

    >>> import torch
    >>> weight_scale(torch.tensor([[0.5, -0.25], [0.1, 0.0]]), 8, method="max").item() == 2 ** -7
    True
    """
    _check_bits(bits)
    if method not in ("max", "mse"):
        raise ValueError(f"method: expected 'max' or 'mse', got {method!r}")
    w = w.detach()
    if not torch.isfinite(w.sum()):
        check_finite("w", w)  # NaN or inf weights have no grid step
    qmax = 2 ** (bits - 1) - 1
    dims = tuple(range(1, w.dim())) if per_channel and w.dim() > 1 else tuple(range(w.dim()))
    amax = w.abs().amax(dim=dims, keepdim=True) if dims else w.abs()
    amax = amax.clamp_min(torch.finfo(w.dtype).tiny * qmax)
    top = amax / qmax
    if pow2:
        top = torch.exp2(torch.ceil(torch.log2(top)))
    if method == "mse":
        if pow2:
            cands = top[None] * torch.exp2(-torch.arange(8, dtype=w.dtype, device=w.device)).view(-1, *[1] * w.dim())
        else:
            frac = torch.linspace(1.0, 1.0 / 32, 32, dtype=w.dtype, device=w.device)
            cands = top[None] * frac.view(-1, *[1] * w.dim())
        q = torch.round(w[None] / cands).clamp(-qmax, qmax) * cands
        err = (q - w[None]).square().sum(dim=tuple(d + 1 for d in dims), keepdim=True)
        best = err.argmin(dim=0, keepdim=True)
        top = torch.take_along_dim(cands, best, dim=0)[0]
    return top if per_channel and w.dim() > 1 else top.reshape(())


class _QuantWeight:
    """Mixin: fake-quantised ``weight`` for Linear / Conv layers."""

    def _setup(self, bits: int, per_channel: bool, pow2: bool, method: ScaleMethod) -> None:
        self.bits = _check_bits(bits)
        self.per_channel = bool(per_channel)
        self.pow2 = bool(pow2)
        self.method = method

    def weight_scale(self) -> torch.Tensor:
        """The current grid step of the weight (see :func:`weight_scale`)."""
        return weight_scale(self.weight, self.bits, per_channel=self.per_channel, pow2=self.pow2, method=self.method)

    def quantized_weight(self) -> torch.Tensor:
        """The weight the forward pass uses: on the grid, with a straight-through gradient."""
        return fake_quantize(self.weight, self.weight_scale(), self.bits)

    def integer_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(codes, scale)`` with integer ``codes`` (int64) such that ``codes * scale == quantized_weight()``."""
        scale = self.weight_scale()
        qmax = 2 ** (self.bits - 1) - 1
        codes = torch.round(self.weight.detach() / scale).clamp(-qmax, qmax).to(torch.int64)
        return codes, scale

    def _quant_repr(self) -> str:
        kind = "per-channel" if self.per_channel else "per-tensor"
        return f"bits={self.bits}, {kind}, pow2={self.pow2}, method={self.method!r}"


class QuantLinear(nn.Linear, _QuantWeight):
    """``nn.Linear`` whose forward uses its weight fake-quantised to ``bits`` (bias stays float).

    Args:
        in_features, out_features, bias: as :class:`torch.nn.Linear`.
        bits: weight width (2 to 32). Default 8.
        per_channel: one scale per output feature instead of one per tensor. Default False.
        pow2: power-of-two scales. Default True.
        method: ``"mse"`` or ``"max"`` (see :func:`weight_scale`). Default ``"mse"``.

    >>> import torch
    >>> layer = QuantLinear(4, 3, bits=2)
    >>> codes, scale = layer.integer_weight()
    >>> sorted(set(codes.flatten().tolist())) <= [-1, 0, 1]
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        bits: int = 8,
        per_channel: bool = False,
        pow2: bool = True,
        method: ScaleMethod = "mse",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self._setup(bits, per_channel, pow2, method)

    @classmethod
    def from_float(cls, layer: nn.Linear, **kwargs) -> QuantLinear:
        """A QuantLinear holding a copy of ``layer``'s weight and bias."""
        new = cls(
            layer.in_features,
            layer.out_features,
            layer.bias is not None,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
            **kwargs,
        )
        new.load_state_dict(layer.state_dict())
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, {self._quant_repr()}"


class QuantConv2d(nn.Conv2d, _QuantWeight):
    """``nn.Conv2d`` whose forward uses its weight fake-quantised to ``bits``; arguments as :class:`QuantLinear`."""

    def __init__(
        self, *args, bits: int = 8, per_channel: bool = False, pow2: bool = True, method: ScaleMethod = "mse", **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self._setup(bits, per_channel, pow2, method)

    @classmethod
    def from_float(cls, layer: nn.Conv2d, **kwargs) -> QuantConv2d:
        """A QuantConv2d with ``layer``'s geometry, weight and bias."""
        new = cls(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
            bias=layer.bias is not None,
            padding_mode=layer.padding_mode,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
            **kwargs,
        )
        new.load_state_dict(layer.state_dict())
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, {self._quant_repr()}"


class QuantMembrane(nn.Module):
    """Wrap a sequence neuron so that its membrane ``v`` and current ``i`` live on a fixed grid.

    The neuron runs one step at a time, unchanged; after each step the ``v`` and ``i`` fields of its state are
    fake-quantised (:func:`fake_quantize`, straight-through gradient) to ``step * k``,
    ``k in [-2**(bits-1), 2**(bits-1) - 1]``, saturating outside. For a leaky-integrator readout (:class:`LI`)
    the output is the quantised membrane. Spikes are decided by the neuron before quantisation: with a threshold
    on the grid and ``rounding="floor"``, ``h >= threshold`` iff ``floor(h) >= threshold``, so this is the same.

    Args:
        neuron: a sequence neuron (``LIF``, ``CubaLIF``, ``LI`` ...), called as ``neuron(x_seq, state)``.
        bits: membrane width, 3 to 53 (float64 holds 53-bit integers exactly). Default 16.
        step: grid step in membrane units. Default ``4 * max(threshold) / 2**(bits-1)`` (1 for LI readouts
            without a threshold: ``4 / 2**(bits-1)``).
        rounding: ``"nearest"``, ``"floor"`` or ``"trunc"``. Default nearest.

    Shape:
        as the wrapped neuron.

    >>> import torch
    >>> from spikeforge import LIF
    >>> q = QuantMembrane(LIF(3), bits=8)
    >>> z, state = q(torch.rand(5, 2, 3))
    >>> bool(((state.v / q.step) == (state.v / q.step).round()).all())
    True
    """

    stateful = True

    def __init__(
        self, neuron: NeuronModule, *, bits: int = 16, step: float | None = None, rounding: Rounding = "nearest"
    ) -> None:
        super().__init__()
        if not isinstance(neuron, NeuronModule) or not neuron.is_sequence:
            raise TypeError(
                f"neuron: expected a sequence neuron module (LIF, CubaLIF, LI ...), got {type(neuron).__name__}"
            )
        if rounding not in _ROUNDING:
            raise ValueError(f"rounding: expected one of {_ROUNDING}, got {rounding!r}")
        self.neuron = neuron
        self.bits = _check_bits(bits, low=3, high=53)
        if step is None:
            thr = neuron.get("threshold") if "threshold" in getattr(neuron, "_specs", {}) else None
            top = 4.0 * (float(torch.as_tensor(thr).abs().max()) if thr is not None else 1.0)
            step = top / 2 ** (bits - 1)
        if not (isinstance(step, int | float) and math.isfinite(step) and step > 0):
            raise ValueError(f"step: expected a positive grid step in membrane units, got {step!r}")
        self.step = float(step)
        self.rounding = rounding
        self.readout = isinstance(neuron, LI)

    def _quantize(self, x: torch.Tensor) -> torch.Tensor:
        half = 2 ** (self.bits - 1)  # codes -half .. half - 1; step and rounding were checked in __init__
        return _FakeQuantSTE.apply(x, self.step, -half, half - 1, self.rounding)

    def forward(self, x_seq: torch.Tensor, state=None):
        if x_seq.dim() < 3:
            raise ValueError(f"x_seq: expected a sequence [T, B, *features], got shape {tuple(x_seq.shape)}")
        outs = []
        for t in range(x_seq.shape[0]):
            out, state = self.neuron(x_seq[t : t + 1], state)
            fields = {f: self._quantize(getattr(state, f)) for f in ("v", "i") if f in state._fields}
            state = state._replace(**fields)
            outs.append(state.v[None] if self.readout else out)
        return torch.cat(outs), state

    def extra_repr(self) -> str:
        return f"bits={self.bits}, step={self.step:g}, rounding={self.rounding!r}"


def quantize_model(
    model: nn.Module,
    bits: int = 8,
    membrane_bits: int | None = None,
    *,
    per_channel: bool = False,
    pow2: bool = True,
    method: ScaleMethod = "mse",
    rounding: Rounding = "nearest",
    readout: bool = False,
    calibration: torch.Tensor | None = None,
) -> nn.Module:
    """A copy of ``model`` ready for quantisation-aware training.

    Every ``nn.Linear`` becomes a :class:`QuantLinear` and every ``nn.Conv2d`` a :class:`QuantConv2d` with
    ``bits``-bit weights (same values); with ``membrane_bits`` every spiking sequence neuron is wrapped in
    :class:`QuantMembrane` (also leaky-integrator readouts when ``readout=True``). ``model`` is not changed.
    With ``calibration`` (an input ``[T, B, ...]``), both networks run on it and a ``UserWarning`` names every layer
    that spikes in ``model`` but falls silent after quantisation (:func:`~spikeforge.quant.check_silent`).

    >>> import torch
    >>> from spikeforge import LIF, LI, SequentialState
    >>> net = SequentialState(torch.nn.Linear(4, 8), LIF(8), torch.nn.Linear(8, 2), LI(2))
    >>> q = quantize_model(net, bits=4, membrane_bits=12)
    >>> [type(m).__name__ for m in q]
    ['QuantLinear', 'QuantMembrane', 'QuantLinear', 'LI']
    """
    _check_bits(bits)
    kwargs = dict(bits=bits, per_channel=per_channel, pow2=pow2, method=method)

    def swap(parent: nn.Module, prefix: str = "") -> None:
        for name, child in parent.named_children():
            if type(child) in (nn.Linear, EventLinear, nn.Conv2d):
                check_finite(f"{prefix}{name}.weight", child.weight.detach())
            if type(child) in (nn.Linear, EventLinear):  # the builders' synapses: same parameters
                setattr(parent, name, QuantLinear.from_float(child, **kwargs))
            elif type(child) is nn.Conv2d:
                setattr(parent, name, QuantConv2d.from_float(child, **kwargs))
            elif (
                membrane_bits is not None
                and isinstance(child, NeuronModule)
                and child.is_sequence
                and (readout or not isinstance(child, LI))
            ):
                setattr(parent, name, QuantMembrane(child, bits=membrane_bits, rounding=rounding))
            elif not isinstance(child, QuantMembrane):
                swap(child, f"{prefix}{name}.")

    original = model
    model = copy.deepcopy(model)
    swap(model)
    if calibration is not None:
        from ._silence import check_silent

        check_silent(original, model, calibration)
    return model
