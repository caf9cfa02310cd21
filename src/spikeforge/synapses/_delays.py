r"""Synaptic delays over whole sequences: fixed integer delays and learnable (DCLS-style) delays.

A delayed linear layer maps ``x_seq[T, B, in]`` to ``y_seq[T, B, out]`` with one integer delay per synapse:

.. math::
    y_o(t) = b_o + \sum_i W_{oi}\, x_i(t - d_{oi}), \qquad x_i(t) = 0 \text{ for } t < 0

It is causal and stateless over time (no state crosses the end of the sequence). Delays are in time steps: with
``dt = 1 ms`` a delay of ``d`` steps is ``d`` ms.

One delay convention holds across the library: a delay of ``d`` steps delivers at step ``t + d`` what was sent at
``t``; ``d = 0`` is no delay. :class:`ChannelDelay` (functional form :func:`channel_delay`) is the fixed per-channel
delay, also what NIR ``Delay`` nodes import as (then stateful: it carries the last ``max(delays)`` steps across
chunks); the network simulator's :class:`~spikeforge.sim.DelayBuffer` delivers per synapse with the same convention,
streaming, and needs ``d >= 1``.

:class:`LearnableDelayLinear` follows the idea of dilated convolutions with learnable spacings (Hammouamri,
Khalfaoui-Hassani & Masquelier, 2023): each synapse has a temporal kernel over ``D`` taps whose mass is a normalised
Gaussian of width :math:`\sigma` centred on a learnable real position :math:`p_{oi} \in [0, D - 1]`,

.. math::
    K_{oik} = W_{oi}\, \frac{\exp(-(k - p_{oi})^2 / 2\sigma^2)}{\sum_{k'=0}^{D-1} \exp(-(k' - p_{oi})^2 / 2\sigma^2)},
    \qquad y_o(t) = b_o + \sum_i \sum_{k=0}^{D-1} K_{oik}\, x_i(t - k)

As :math:`\sigma \to 0` the kernel collapses onto the nearest tap, :math:`\mathrm{round}(p_{oi})`, so after training
:meth:`LearnableDelayLinear.rounded` returns the equivalent :class:`DelayedLinear`.

Cost: the learnable layer builds ``K`` once per forward and runs one causal ``conv1d`` over the whole sequence
(``out x in x D`` multiply-adds per step and sample, but no per-step kernel and nothing ``T x out x in x D`` kept for
the backward). :class:`DelayedLinear` takes ``out x in`` multiply-adds per step when the delays depend only on the
input channel or only on the output (shift, then one matmul); otherwise one matmul per *distinct* delay value, or one
``conv1d`` with a one-hot kernel when most values ``0 .. max_delay`` occur (``out x in x (max_delay + 1)`` per step).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..units import check_dt

Schedule = Literal["geometric", "linear"]

__all__ = [
    "ChannelDelay",
    "DelayedLinear",
    "LearnableDelayLinear",
    "channel_delay",
    "gaussian_delay_kernel",
    "round_delays",
]


def _as_delays(delays: int | torch.Tensor | list, shape: tuple[int, ...], name: str = "delays") -> torch.Tensor:
    """Validate integer delays >= 0 and broadcast them to ``shape`` (int64, on the CPU)."""
    if isinstance(delays, bool):
        raise TypeError(f"{name}: expected integer delays in steps, got a bool")
    t = torch.as_tensor(delays)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer delays in steps (an int or an integer tensor), got dtype {t.dtype}")
    if t.numel() and int(t.min()) < 0:
        raise ValueError(
            f"{name}: expected delays >= 0 (steps; outputs cannot depend on the future), got {int(t.min())}"
        )
    try:
        return torch.broadcast_to(t.to(torch.int64), shape).clone()
    except RuntimeError:
        raise ValueError(f"{name}: expected a shape broadcastable to {list(shape)}, got {list(t.shape)}") from None


def _check_seq(x_seq: torch.Tensor, features: int, name: str = "x_seq") -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor [T, B, ..., {features}], got {type(x_seq).__name__}")
    if x_seq.dim() < 2 or x_seq.shape[-1] != features:
        raise ValueError(f"{name}: expected shape [T, B, ..., {features}] (time first), got {list(x_seq.shape)}")


def channel_delay(x_seq: torch.Tensor, delays: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
    """Delay each feature of ``x_seq[T, ..., *F]`` by its own whole number of steps, with zeros before the start.

    ``out[t, ..., f] = x_seq[t - delays[f], ..., f]`` (0 where ``t < delays[f]``). ``delays`` is an integer tensor
    over the trailing feature axes ``F`` (``[C]`` delays the channels of the last axis; ``[C, H, W]`` every feature of
    a feature map; a 0-d tensor shifts everything). A delay of ``d`` steps delivers at ``t + d`` what arrived at
    ``t``; ``d = 0`` passes the step through. Differentiable in ``x_seq`` (and ``history``).

    Args:
        x_seq: the sequence, time first.
        delays: integer delays (steps, >= 0) over the trailing axes of ``x_seq``.
        history: the ``max(delays)`` steps that came before ``x_seq[0]`` (``[max(delays), *x_seq.shape[1:]]``), to
            continue a sequence cut in chunks; None means zeros.

    >>> x = torch.arange(1.0, 5.0)[:, None, None].expand(4, 1, 2)
    >>> channel_delay(x, torch.tensor([0, 2]))[:, 0].tolist()
    [[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 2.0]]
    >>> channel_delay(x[2:], torch.tensor([0, 2]), history=x[:2])[:, 0].tolist()  # the last two steps, continued
    [[3.0, 1.0], [4.0, 2.0]]
    """
    delays = delays.to(device=x_seq.device, dtype=torch.int64)
    steps = x_seq.shape[0]
    top = int(delays.max()) if delays.numel() else 0
    if history is not None and (history.dim() != x_seq.dim() or tuple(history.shape) != (top, *x_seq.shape[1:])):
        raise ValueError(
            f"history: expected the last max(delays) = {top} steps, shape {[top, *x_seq.shape[1:]]}, "
            f"got {list(history.shape)}"
        )
    if top == 0:
        return x_seq
    if history is None and bool((delays == top).all()):  # one shift for every channel
        pad = x_seq.new_zeros((min(top, steps), *x_seq.shape[1:]))
        return torch.cat([pad, x_seq[: max(steps - top, 0)]], 0)
    before = x_seq.new_zeros((top, *x_seq.shape[1:])) if history is None else history
    padded = torch.cat([before, x_seq], 0)
    # index[t, ..., f] = t + top - delays[f]: delays broadcast over the trailing axes
    index = torch.arange(steps, device=x_seq.device).view(steps, *([1] * (x_seq.dim() - 1))) + (top - delays)
    return padded.gather(0, index.expand(x_seq.shape))


def gaussian_delay_kernel(position: torch.Tensor, sigma: float, taps: int) -> torch.Tensor:
    """Normalised Gaussian weights over ``taps`` delay taps centred on ``position`` (steps): ``[*position.shape, taps]``.

    Computed as a softmax over taps, so it stays finite for any ``sigma``; ``sigma == 0`` gives the one-hot kernel at
    ``round(position)`` (the ``sigma -> 0`` limit; ties round half to even, like :func:`torch.round`), through which no
    gradient reaches ``position``.

    >>> gaussian_delay_kernel(torch.tensor([1.0]), 0.0, 4).tolist()
    [[0.0, 1.0, 0.0, 0.0]]
    >>> [round(v, 3) for v in gaussian_delay_kernel(torch.tensor([1.5]), 1.0, 4)[0].tolist()]
    [0.134, 0.366, 0.366, 0.134]
    """
    if sigma == 0:
        index = position.detach().round().clamp(0, taps - 1).long()
        return F.one_hot(index, taps).to(position.dtype)
    grid = torch.arange(taps, dtype=position.dtype, device=position.device)
    return torch.softmax(-0.5 * ((grid - position[..., None]) / sigma) ** 2, dim=-1)


def _causal_conv(x_seq: torch.Tensor, flipped: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``y(t) = bias + sum_k flipped[..., k] x(t - (K - 1 - k))`` over the whole sequence: one ``conv1d``."""
    steps, batch_shape, taps = x_seq.shape[0], x_seq.shape[1:-1], flipped.shape[-1]
    x = x_seq.reshape(steps, -1, x_seq.shape[-1]).permute(1, 2, 0)  # [N, in, T]
    y = F.conv1d(F.pad(x, (taps - 1, 0)), flipped, bias)  # [N, out, T]
    return y.permute(2, 0, 1).reshape(steps, *batch_shape, flipped.shape[0])


class ChannelDelay(nn.Module):
    """Fixed integer delay per channel: ``out[t, ..., c] = x_seq[t - delays[c], ..., c]``, zero before the start.

    The library's one fixed per-channel delay over sequences (see :func:`channel_delay` for the convention: a delay
    of ``d`` steps delivers at ``t + d``; ``d = 0`` is no delay). NIR ``Delay`` nodes import as a stateful
    ``ChannelDelay`` and every ``ChannelDelay`` exports as one. The network simulator's
    :class:`~spikeforge.sim.DelayBuffer` applies the same convention per synapse, step by step (there ``d >= 1``).

    Args:
        n_channels: size of the last axis; or a tuple, the shape ``F`` of the trailing feature axes (e.g.
            ``(C, H, W)``) for one delay per feature (``()``: one delay for the whole input).
        delays: delay in steps per channel: an int (the same for all) or an integer tensor broadcastable to
            ``[n_channels]`` (or to ``F``).
        dt: the time step (s) the delays count, used only to export them to NIR in seconds. Default None: the dt of
            the model's neurons.
        stateful: called as ``(x_seq, state) -> (out, state)`` instead of ``x_seq -> out``, where ``state`` holds the
            last ``max(delays)`` input steps (``None``: zeros), so a sequence cut in chunks gives the output of the
            whole sequence, and :class:`~spikeforge.nn.SequentialState` runs it over the whole sequence and keeps
            that state. Default False.

    Shape:
        x_seq: ``[T, B, ..., n_channels]`` (``[T, B, *F]`` for a tuple); output: the same.

    >>> delay = ChannelDelay(2, torch.tensor([0, 1]))
    >>> delay(torch.ones(3, 1, 2))[:, 0].tolist()
    [[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
    >>> out, state = ChannelDelay(2, torch.tensor([0, 2]), stateful=True)(torch.ones(3, 1, 2))
    >>> out[:, 0].tolist(), tuple(state.shape)
    ([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]], (2, 1, 2))
    """

    delays: torch.Tensor

    def __init__(
        self,
        n_channels: int | tuple[int, ...],
        delays: int | torch.Tensor,
        *,
        dt: float | None = None,
        stateful: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(n_channels, tuple | list):
            if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in n_channels):
                raise ValueError(f"n_channels: expected a positive int or a tuple of them, got {n_channels!r}")
            n_channels = tuple(n_channels)
            shape = n_channels
        else:
            if not isinstance(n_channels, int) or n_channels <= 0:
                raise ValueError(f"n_channels: expected a positive int, got {n_channels!r}")
            shape = (n_channels,)
        self.n_channels = n_channels
        self.shape = shape
        self.register_buffer("delays", _as_delays(delays, shape))
        self.dt = None if dt is None else check_dt(dt)
        self.stateful = bool(stateful)  # read by spikeforge.nn.is_stateful

    @property
    def max_delay(self) -> int:
        """The largest delay in steps (the length of the state)."""
        return int(self.delays.max()) if self.delays.numel() else 0

    def _check(self, x_seq: torch.Tensor) -> None:
        if isinstance(self.n_channels, int):
            _check_seq(x_seq, self.n_channels)
            return
        k = len(self.shape)
        if not isinstance(x_seq, torch.Tensor):
            raise TypeError(f"x_seq: expected a tensor [T, B, *{list(self.shape)}], got {type(x_seq).__name__}")
        if x_seq.dim() < 2 + k or tuple(x_seq.shape[x_seq.dim() - k :]) != self.shape:
            raise ValueError(f"x_seq: expected shape [T, B, *{list(self.shape)}] (time first), got {list(x_seq.shape)}")

    def forward(
        self, x_seq: torch.Tensor, state: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        self._check(x_seq)
        if not self.stateful:
            if state is not None:
                raise ValueError("state: this ChannelDelay is not stateful; build it with stateful=True")
            return channel_delay(x_seq, self.delays)
        depth = self.max_delay
        if state is None:
            state = x_seq.new_zeros((depth, *x_seq.shape[1:]))
        out = channel_delay(x_seq, self.delays, history=state)
        history = torch.cat([state, x_seq], 0)
        return out, history[history.shape[0] - depth :]

    def extra_repr(self) -> str:
        parts = [f"n_channels={self.n_channels}", f"max_delay={self.max_delay}"]
        if self.dt is not None:
            parts.append(f"dt={self.dt * 1e3:g} ms")
        if self.stateful:
            parts.append("stateful=True")
        return ", ".join(parts)


class DelayedLinear(nn.Module):
    r"""Linear layer with a fixed integer delay per synapse: :math:`y_o(t) = b_o + \sum_i W_{oi} x_i(t - d_{oi})`.

    The result is the exact shifted sum. Delays that depend only on the input (``[in]`` or equal rows) shift the input
    then run one matmul; delays that depend only on the output (``[out, 1]``) run one matmul then shift the output;
    otherwise the synapses are grouped by delay value, one matmul per distinct delay on the shifted input, or, when
    most delay values occur, one causal ``conv1d`` with the one-hot kernel (see :meth:`structure`).

    Args:
        in_features: inputs per step.
        out_features: outputs per step.
        delays: delays in steps (integers >= 0): an int, or a tensor broadcastable to ``[out_features, in_features]``.
        bias: add a learnable bias. Default True.
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shape:
        x_seq: ``[T, B, ..., in_features]``; output: ``[T, B, ..., out_features]``.

    >>> layer = DelayedLinear(2, 1, delays=torch.tensor([[0, 2]]), bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[1.0, 10.0]]))
    >>> x = torch.zeros(4, 1, 2)
    >>> x[0] = 1.0  # both inputs spike at t = 0
    >>> layer(x)[:, 0, 0].tolist()
    [1.0, 0.0, 10.0, 0.0]
    """

    delays: torch.Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        delays: int | torch.Tensor = 0,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.register_buffer("delays", _as_delays(delays, (out_features, in_features)).to(device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform initialisation of ``torch.nn.Linear`` (bound ``1/sqrt(in_features)``)."""
        bound = 1 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def max_delay(self) -> int:
        """The largest delay in steps."""
        return int(self.delays.max())

    def structure(self) -> str:
        """How the layer computes its exact shifted sum.

        ``"input"``: delays depend only on the input channel: shift the input, one matmul. ``"output"``: only on the
        output: one matmul, shift the output. Otherwise ``"grouped"``: one matmul per distinct delay value on the
        shifted input (taken when fewer than half of the delay values ``0 .. max_delay`` occur), or ``"kernel"``: one
        causal ``conv1d`` with the one-hot kernel ``[out, in, max_delay + 1]`` (the same work, in one pass).
        """
        if bool((self.delays == self.delays[:1]).all()):
            return "input"
        if bool((self.delays == self.delays[:, :1]).all()):
            return "output"
        if 2 * len(torch.unique(self.delays)) < self.max_delay + 1:
            return "grouped"
        return "kernel"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_seq(x_seq, self.in_features)
        kind = self.structure()
        if kind == "input":
            y = F.linear(channel_delay(x_seq, self.delays[0]), self.weight)
        elif kind == "output":
            y = channel_delay(F.linear(x_seq, self.weight), self.delays[:, 0])
        elif kind == "grouped":
            steps, top = x_seq.shape[0], self.max_delay
            padded = torch.cat([x_seq.new_zeros((top, *x_seq.shape[1:])), x_seq], 0)
            y = None
            for d in torch.unique(self.delays).tolist():  # one matmul per distinct delay, on a shifted view
                part = F.linear(padded[top - d : top - d + steps], self.weight * (self.delays == d))
                y = part if y is None else y + part
        else:  # tap k of the flipped kernel holds the synapses of delay max_delay - k
            flipped = (self.max_delay - self.delays)[..., None]
            kernel = self.weight.new_zeros((*self.weight.shape, self.max_delay + 1))
            return _causal_conv(x_seq, kernel.scatter(2, flipped, self.weight[..., None]), self.bias)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, max_delay={self.max_delay}, "
            f"bias={self.bias is not None}"
        )


class LearnableDelayLinear(nn.Module):
    r"""Linear layer with a learnable real delay per synapse (Gaussian temporal kernel, DCLS-style).

    Each synapse has a weight and a position ``p`` in ``[0, D - 1]`` steps; its kernel over the ``D`` taps is a
    normalised Gaussian of width :attr:`sigma` centred on ``p`` (see the module docstring). Anneal :attr:`sigma`
    during training (:meth:`anneal_sigma` once per epoch, or :meth:`set_sigma`) towards a single tap, then
    :meth:`rounded` gives the :class:`DelayedLinear` with delays ``round(p)``; its output equals this layer's in the
    ``sigma -> 0`` limit (``set_sigma(0)`` evaluates that limit directly).

    Positions outside ``[0, D - 1]`` act as the nearest bound in the forward pass (the gradient passes straight
    through); call :meth:`clamp_positions_` after each optimiser step to keep the stored values in range.

    Args:
        in_features: inputs per step.
        out_features: outputs per step.
        max_delay: number of taps ``D``: delays range over ``0 .. D - 1`` steps. ``max_delay=1`` is a plain linear
            layer (no delays).
        sigma_init: initial kernel width in steps. Default ``D / 2`` (broad kernels: every position gets a gradient).
        bias: add a learnable bias. Default True.
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shape:
        x_seq: ``[T, B, ..., in_features]``; output: ``[T, B, ..., out_features]``.

    >>> layer = LearnableDelayLinear(3, 2, max_delay=5)
    >>> y = layer(torch.rand(10, 4, 3))
    >>> tuple(y.shape), layer.position.shape
    ((10, 4, 2), torch.Size([2, 3]))
    >>> layer.set_sigma(0.0)
    >>> torch.allclose(layer(torch.ones(10, 1, 3)), layer.rounded()(torch.ones(10, 1, 3)), atol=1e-6)
    True
    """

    sigma: torch.Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        max_delay: int,
        *,
        sigma_init: float | None = None,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features), ("max_delay", max_delay)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.max_delay = max_delay
        self.sigma_init = max_delay / 2 if sigma_init is None else float(sigma_init)
        self._check_sigma("sigma_init", self.sigma_init)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.position = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.register_buffer("sigma", torch.tensor(self.sigma_init, dtype=torch.float64))
        self.reset_parameters()

    @staticmethod
    def _check_sigma(name: str, value: float) -> None:
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name}: expected a kernel width >= 0 in steps, got {value!r}")

    def reset_parameters(self) -> None:
        """Weights as ``torch.nn.Linear``; positions uniform in ``[0, D - 1]``; sigma back to ``sigma_init``."""
        bound = 1 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.position, 0.0, self.max_delay - 1)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)
        self.sigma.fill_(self.sigma_init)

    def set_sigma(self, value: float) -> None:
        """Set the kernel width (steps). 0 evaluates the ``sigma -> 0`` limit: one tap at ``round(position)``."""
        self._check_sigma("value", value)
        self.sigma.fill_(float(value))

    def anneal_sigma(
        self, epoch: int, n_epochs: int, *, final: float = 0.05, schedule: Schedule = "geometric"
    ) -> float:
        """Set sigma on a schedule from ``sigma_init`` (epoch 0) to ``final`` (epoch ``n_epochs - 1`` and later).

        ``"geometric"`` multiplies sigma by the same factor every epoch (``final`` must be > 0), so training spends
        more epochs at narrow kernels, where positions settle on whole taps and rounding loses little;
        ``"linear"`` interpolates linearly (``final`` may be 0). Returns the new sigma.

        >>> layer = LearnableDelayLinear(1, 1, max_delay=9, sigma_init=4.0)
        >>> [layer.anneal_sigma(e, 5, final=0.0, schedule="linear") for e in range(6)]
        [4.0, 3.0, 2.0, 1.0, 0.0, 0.0]
        >>> [round(layer.anneal_sigma(e, 3, final=1.0), 6) for e in range(3)]
        [4.0, 2.0, 1.0]
        """
        if not isinstance(n_epochs, int) or n_epochs <= 0:
            raise ValueError(f"n_epochs: expected a positive int, got {n_epochs!r}")
        self._check_sigma("final", final)
        frac = 1.0 if n_epochs == 1 else min(max(epoch / (n_epochs - 1), 0.0), 1.0)
        if schedule == "linear":
            value = self.sigma_init + (final - self.sigma_init) * frac
        elif schedule == "geometric":
            if final <= 0 or self.sigma_init <= 0:
                raise ValueError(f"final: a geometric schedule needs sigma_init and final > 0, got {final!r}")
            value = self.sigma_init * (final / self.sigma_init) ** frac
        else:
            raise ValueError(f"schedule: expected 'geometric' or 'linear', got {schedule!r}")
        self.set_sigma(value)
        return value

    def clamped_position(self) -> torch.Tensor:
        """Positions limited to ``[0, D - 1]`` (straight-through gradient)."""
        p = self.position
        return p + (p.clamp(0, self.max_delay - 1) - p).detach()

    @torch.no_grad()
    def clamp_positions_(self) -> None:
        """Clamp the stored positions into ``[0, D - 1]`` in place (call after ``optimizer.step()``)."""
        self.position.clamp_(0, self.max_delay - 1)

    @property
    def delays(self) -> torch.Tensor:
        """The rounded integer delays ``[out, in]`` (steps) that :meth:`rounded` would use."""
        return self.position.detach().clamp(0, self.max_delay - 1).round().long()

    def kernel(self) -> torch.Tensor:
        """The temporal kernel ``K[out, in, D]`` (weight times normalised Gaussian over taps)."""
        return self.weight[..., None] * gaussian_delay_kernel(
            self.clamped_position(), float(self.sigma), self.max_delay
        )

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_seq(x_seq, self.in_features)
        if x_seq.dtype != self.weight.dtype:
            raise TypeError(f"x_seq: expected dtype {self.weight.dtype} (the layer's), got {x_seq.dtype}")
        return _causal_conv(x_seq, self.kernel().flip(-1), self.bias)

    def rounded(self) -> DelayedLinear:
        """The fixed-delay layer with delays ``round(position)`` and copies of the weights (and bias)."""
        fixed = DelayedLinear(
            self.in_features,
            self.out_features,
            self.delays,
            bias=self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            fixed.weight.copy_(self.weight)
            if self.bias is not None and fixed.bias is not None:
                fixed.bias.copy_(self.bias)
        return fixed

    to_fixed = rounded

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, max_delay={self.max_delay}, "
            f"sigma={float(self.sigma):g}, bias={self.bias is not None}"
        )


def round_delays(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every :class:`LearnableDelayLinear` replaced by its :meth:`~LearnableDelayLinear.rounded`
    fixed-delay layer (an exact delayed sum); ``model`` itself is not changed. Evaluating both gives the accuracy
    before and after rounding.

    >>> net = torch.nn.Sequential(LearnableDelayLinear(3, 2, max_delay=4))
    >>> type(round_delays(net)[0]).__name__, type(net[0]).__name__
    ('DelayedLinear', 'LearnableDelayLinear')
    """
    import copy

    clone = copy.deepcopy(model)
    if isinstance(clone, LearnableDelayLinear):
        return clone.rounded()
    for parent in clone.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, LearnableDelayLinear):
                setattr(parent, name, child.rounded())
    return clone
