r"""Fixed-point twin of a trained float network (``Linear`` + ``LIF`` / ``CubaLIF`` / ``LI`` layers).

How the float quantities map to integers, layer by layer (``s_in``: the input's grid step, ``1`` for spikes):

- weights: ``w = s_w * k`` with ``k`` signed ``weight_bits``-bit codes and a power-of-two ``s_w`` (per tensor, or
  per output neuron); a :class:`~spikeforge.quant.QuantLinear` keeps its own codes and scale, so the twin uses
  exactly the weights its forward pass used;
- membrane and current: integers in units of ``unit = s_w * s_in / 2**shift`` (``shift = 6``, Loihi's input
  alignment), so the synaptic input ``a = (k @ x) << shift`` is exact and only the decays round;
- the float bias becomes ``round(bias / unit)``, added to ``a`` every step (an input current);
- decays: ``d = round(4096 * (1 - exp(-dt / tau)))``; ``LIF`` without ``tau_syn`` gets ``du = 4096``;
- threshold: the float neuron spikes when ``v >= theta``, the integer one when ``v > vth``, so
  ``vth = ceil(theta / unit) - 1``; subtract reset removes ``vth + 1``, zero reset sets 0.

``LIF`` and ``LI`` have the integer model's update form (``i = alpha i + x``, ``v = beta v + i``), so the twin
differs from the float network only by rounding. ``CubaLIF`` integrates exactly for step-held input and has a
different discrete form; its twin uses the same decays and rescales the membrane unit by ``du dv / 4096**2`` so
that the steady state matches (``v -> x`` for constant drive ``x``): an approximation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..neurons import LI, LIF, CubaLIF
from ..neurons._base import check_finite
from ._fixed import DECAY_ONE, FixedCUBA, FixedRounding, decay_to_int
from ._qat import QuantLinear, QuantMembrane, weight_scale

__all__ = ["FixedLinear", "FixedNetwork", "to_fixed"]

_STRUCTURAL = (nn.Flatten, nn.Dropout, nn.Identity)


class FixedLinear(nn.Module):
    """Integer dense layer: ``a = (x @ codes.T) << shift + bias`` on int64 sequences ``[T, B, in]``.

    >>> import torch
    >>> layer = FixedLinear(torch.tensor([[1, -2]]), torch.tensor([3]), shift=2)
    >>> layer(torch.tensor([[[5, 1]]])).tolist()
    [[[15]]]
    """

    def __init__(self, codes: torch.Tensor, bias: torch.Tensor | None = None, *, shift: int = 6) -> None:
        super().__init__()
        if codes.is_floating_point() or codes.dim() != 2:
            raise TypeError(f"codes: expected a 2-d integer weight [out, in], got {codes.dtype} {tuple(codes.shape)}")
        self.register_buffer("codes", codes.to(torch.int64))
        self.register_buffer("bias", None if bias is None else bias.to(torch.int64))
        self.shift = int(shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.matmul(x.to(torch.int64), self.codes.T) << self.shift
        return a if self.bias is None else a + self.bias

    def extra_repr(self) -> str:
        return f"in={self.codes.shape[1]}, out={self.codes.shape[0]}, shift={self.shift}"


class FixedNetwork(nn.Module):
    """A chain of integer layers built by :func:`to_fixed`; ``forward(x_seq)`` takes the float input on its grid.

    Returns ``(out_seq, states)``: the readout membrane converted back to float (``v * unit``) when the network
    ends in a leaky integrator, else the last layer's spikes as float 0/1. ``int_forward`` keeps integers.
    """

    stateful = True

    def __init__(self, layers: list[nn.Module], *, input_scale: float, output_scale: torch.Tensor | None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_scale = float(input_scale)
        self.register_buffer("output_scale", output_scale)

    def quantize_input(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Float input on the grid ``input_scale * k`` -> int64 codes ``k`` (raises if off the grid)."""
        if not x_seq.is_floating_point():
            return x_seq.to(torch.int64)
        k = torch.round(x_seq.double() / self.input_scale)
        off = (k * self.input_scale - x_seq.double()).abs().max().item() if x_seq.numel() else 0.0
        if off > 1e-6 * self.input_scale:
            raise ValueError(
                f"x_seq: expected values on the grid input_scale * k (input_scale={self.input_scale:g}),"
                f" found one {off:.3g} away; quantise the input first or pass input_scale to to_fixed"
            )
        return k.to(torch.int64)

    def int_forward(self, x_seq: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        x = self.quantize_input(x_seq)
        state = [None] * len(self.layers) if state is None else state
        new_state = []
        for layer, s in zip(self.layers, state):
            if isinstance(layer, FixedCUBA):
                x, s = layer(x, s)
            else:
                t, b = x.shape[:2]
                x = layer(x.reshape(t * b, *x.shape[2:]))
                x = x.reshape(t, b, *x.shape[1:])
            new_state.append(s)
        return x, new_state

    def forward(self, x_seq: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        out, state = self.int_forward(x_seq, state)
        if self.output_scale is not None:
            return (out.double() * self.output_scale).float(), state
        return out.float(), state


def _codes(layer: nn.Linear, bits: int, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(layer, QuantLinear):
        codes, scale = layer.integer_weight()
    else:
        check_finite(f"{type(layer).__name__}.weight", layer.weight.detach())
        scale = weight_scale(layer.weight, bits, per_channel=per_channel, pow2=True, method="max")
        qmax = 2 ** (bits - 1) - 1
        codes = torch.round(layer.weight.detach() / scale).clamp(-qmax, qmax).to(torch.int64)
    scale = scale.double().reshape(-1) if scale.dim() else scale.double()
    return codes, scale


def _threshold(theta: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    return (torch.ceil(theta.double() / unit) - 1).to(torch.int64)


def _neuron(neuron: nn.Module, unit: torch.Tensor, rounding: FixedRounding, state_bits: int | None):
    """(FixedCUBA, membrane unit used) for one float neuron module."""
    if isinstance(neuron, LI):
        du = decay_to_int(neuron.get("tau_syn"), neuron.dt)
        return FixedCUBA(
            du=du, dv=decay_to_int(neuron.get("tau_mem"), neuron.dt), vth=None, rounding=rounding, state_bits=state_bits
        ), unit
    if isinstance(neuron, LIF | CubaLIF):
        if neuron.reset not in ("subtract", "zero"):
            raise ValueError(
                f"{type(neuron).__name__}: reset {neuron.reset!r} has no fixed-point twin; expected "
                "'subtract' or 'zero'"
            )
        if neuron.v_leak != 0 or (neuron.reset == "zero" and neuron.v_reset != 0):
            raise ValueError(
                f"{type(neuron).__name__}: expected v_leak = 0 and v_reset = 0, got {neuron.v_leak}, {neuron.v_reset}"
            )
        if getattr(neuron, "t_ref", 0.0):
            raise ValueError("LIF: a refractory period (t_ref > 0) has no fixed-point twin here; expected t_ref = 0")
        du = decay_to_int(neuron.get("tau_syn"), neuron.dt)
        dv = decay_to_int(neuron.get("tau_mem"), neuron.dt)
        if isinstance(neuron, CubaLIF):
            if (du == 0).any() or (dv == 0).any():
                raise ValueError("CubaLIF: a time constant too long for 12-bit decays (d rounds to 0)")
            unit = unit * (du.double() * dv.double() / DECAY_ONE**2)
        vth = _threshold(torch.as_tensor(neuron.get("threshold")), unit)
        return FixedCUBA(du=du, dv=dv, vth=vth, reset=neuron.reset, rounding=rounding, state_bits=state_bits), unit
    raise TypeError(f"{type(neuron).__name__}: no fixed-point twin; expected LIF, CubaLIF or LI")


def to_fixed(
    model: nn.Module,
    *,
    input_scale: float,
    weight_bits: int = 8,
    per_channel: bool = False,
    shift: int = 6,
    rounding: FixedRounding = "trunc",
    state_bits: int | None = 24,
) -> FixedNetwork:
    """Integer twin of a sequential float network (see the module docstring for the mapping).

    Args:
        model: an iterable chain (e.g. :class:`~spikeforge.nn.SequentialState`) of ``nn.Linear`` /
            :class:`QuantLinear`, ``LIF`` / ``CubaLIF`` / ``LI`` (bare or in :class:`QuantMembrane`), and
            ``Flatten`` / ``Dropout`` / ``Identity``.
        input_scale: grid step of the network input (e.g. ``1 / 16`` for scikit-learn digits).
        weight_bits: width of float ``nn.Linear`` weights (power-of-two scale, no clipping). Default 8.
        per_channel: one weight scale per output neuron for float ``nn.Linear`` layers. Default False.
        shift: extra fraction bits of the state over the synaptic input. Default 6 (Loihi).
        rounding, state_bits: as :class:`~spikeforge.quant.FixedCUBA`.

    >>> import torch
    >>> from spikeforge import LIF, LI, SequentialState
    >>> net = SequentialState(torch.nn.Linear(4, 8), LIF(8), torch.nn.Linear(8, 2), LI(2))
    >>> twin = to_fixed(net, input_scale=1 / 16)
    >>> out, _ = twin(torch.randint(0, 17, (10, 3, 4)) / 16)
    >>> tuple(out.shape)
    (10, 3, 2)
    """
    if not (isinstance(input_scale, int | float) and math.isfinite(input_scale) and input_scale > 0):
        raise ValueError(f"input_scale: expected the input's positive grid step, got {input_scale!r}")
    layers: list[nn.Module] = []
    scale_in: torch.Tensor | None = torch.tensor(float(input_scale), dtype=torch.float64)
    unit: torch.Tensor | None = None
    output_scale: torch.Tensor | None = None
    for layer in model:
        if isinstance(layer, QuantMembrane):
            layer = layer.neuron
        if isinstance(layer, nn.Linear):
            if scale_in is None or unit is not None:
                raise ValueError(
                    "to_fixed: a Linear layer must take the network input or spikes; expected "
                    "Linear, neuron, Linear, neuron ..."
                )
            codes, s_w = _codes(layer, weight_bits, per_channel)
            unit = s_w * scale_in / 2**shift
            bias = None if layer.bias is None else torch.round(layer.bias.detach().double() / unit).to(torch.int64)
            layers.append(FixedLinear(codes, bias, shift=shift))
            output_scale = None
        elif isinstance(layer, LIF | CubaLIF | LI):
            if unit is None:
                raise ValueError(
                    f"to_fixed: {type(layer).__name__} without a Linear layer before it; expected "
                    "Linear, neuron, Linear, neuron ..."
                )
            fixed, used = _neuron(layer, unit, rounding, state_bits)
            layers.append(fixed)
            if isinstance(layer, LI):
                output_scale = used.float().clone() if used.dim() else used.reshape(1).float()
                scale_in = None
            else:
                scale_in = torch.tensor(1.0, dtype=torch.float64)
            unit = None
        elif isinstance(layer, _STRUCTURAL):
            layers.append(nn.Identity() if isinstance(layer, nn.Dropout) else layer)
        else:
            raise TypeError(
                f"to_fixed: no fixed-point twin for {type(layer).__name__}; expected Linear, LIF, "
                "CubaLIF, LI, QuantMembrane, Flatten or Dropout"
            )
    return FixedNetwork(layers, input_scale=float(input_scale), output_scale=output_scale)
