r"""Fixed-point current-based LIF in the form of Loihi's CUBA neuron: integer state, 12-bit decays.

One step, with integer synaptic input ``a[t]`` (already aligned to the state's units), 12-bit decay constants
``du, dv in [0, 4096]`` and an integer bias:

.. math::
    u[t] = D(u[t-1], d_u) + a[t], \qquad v[t] = D(v[t-1], d_v) + u[t] + \mathrm{bias}, \qquad
    z[t] = [\,v[t] > v_{th}\,]

then ``v = 0`` where ``z`` (``reset="zero"``, Loihi) or ``v -= v_th + 1`` (``reset="subtract"``: the smallest
value that spikes is removed, which reproduces a float model's ``v -= threshold`` for ``v >= threshold``).

**Rounding.** ``D(x, d) = (x * (4096 - d)) / 4096`` rounded by one of two rules, computed exactly in int64:

- ``"trunc"`` (default; Lava's bit-accurate Loihi model): sign-magnitude, ``sign(p) * (|p| >> 12)`` with
  ``p = x * (4096 - d)``, i.e. rounding towards zero. The state decays symmetrically to 0 from both sides.
- ``"floor"``: plain arithmetic right shift ``p >> 12`` (two's complement), i.e. rounding towards minus infinity.

**State width.** With ``state_bits=24`` (Loihi) the current wraps around like Lava's model (``u > 2**23`` becomes
``u - 2**24``, ``u <= -2**23`` becomes ``u + 2**24``) and the membrane saturates at ``+-(2**23 - 1)``.
``state_bits=None`` keeps the full int64 range.

**Time constants.** ``d = round(4096 * (1 - exp(-dt / tau)))`` (:func:`decay_to_int`); ``tau=None`` (no memory:
the current is the input of the step) maps to ``d = 4096``. Loihi stores ``du`` in a 12-bit register plus a fixed
offset of 1 (``du_register = d - 1``) and ``dv`` as is, so ``d_u`` spans 1..4096 and ``d_v`` 0..4095; here both
are given as the effective decay. Lava left-shifts synaptic input and the threshold by 6 bits; here ``a`` and
``vth`` are given in the state's units, and :func:`~spikeforge.quant.to_fixed` applies the shift.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import nn

from ..units import check_dt

__all__ = [
    "DECAY_ONE",
    "FixedCUBA",
    "FixedParams",
    "FixedState",
    "decay_to_int",
    "fixed_init",
    "fixed_seq",
    "fixed_step",
    "tau_from_int",
]

DECAY_BITS = 12
DECAY_ONE = 1 << DECAY_BITS
IntValue = int | torch.Tensor
FixedRounding = Literal["trunc", "floor"]


class FixedParams(NamedTuple):
    """Integer CUBA parameters; tensors broadcast per neuron. ``vth=None``: a leaky integrator (never spikes)."""

    du: IntValue = DECAY_ONE
    dv: IntValue = 205
    vth: IntValue | None = 1 << 12
    bias: IntValue = 0
    reset: Literal["zero", "subtract"] = "zero"
    rounding: FixedRounding = "trunc"
    state_bits: int | None = 24


class FixedState(NamedTuple):
    """``u``: synaptic current; ``v``: membrane (both int64, in the same integer units)."""

    u: torch.Tensor
    v: torch.Tensor


def decay_to_int(tau: float | torch.Tensor | None, dt: float) -> torch.Tensor:
    """12-bit decay constant ``round(4096 * (1 - exp(-dt / tau)))`` (int64); ``tau=None`` gives 4096.

    >>> decay_to_int(20e-3, 1e-3).item(), decay_to_int(None, 1e-3).item()
    (200, 4096)
    """
    dt = check_dt(dt)
    if tau is None:
        return torch.tensor(DECAY_ONE)
    tau_t = torch.as_tensor(tau, dtype=torch.float64)
    if (tau_t <= 0).any():
        raise ValueError(f"tau: expected time constants > 0 s, got {tau_t.min().item()!r}")
    return torch.round(DECAY_ONE * -torch.expm1(-dt / tau_t)).to(torch.int64)


def tau_from_int(d: int, dt: float) -> float:
    """A time constant whose float64 decay ``exp(-dt / tau)`` is exactly ``(4096 - d) / 4096``, for ``0 < d < 4096``.

    The value from the closed form ``-dt / log(1 - d / 4096)`` is nudged by a few ulps until ``torch.exp`` in
    float64 lands on the grid, so that a float model built with it multiplies by exactly the integer model's factor.
    At ``dt = 1 ms`` such a value exists for every ``d <= 2129`` (``dt / tau`` up to about 0.75); for faster decays
    one ulp of ``tau`` can move the factor by more than one ulp, and where no value lands on the grid this raises.

    >>> import torch
    >>> tau = tau_from_int(200, 1e-3)
    >>> torch.exp(torch.tensor(-1e-3 / tau, dtype=torch.float64)).item() == 3896 / 4096
    True
    """
    dt = check_dt(dt)
    if not isinstance(d, int) or not 0 < d < DECAY_ONE:
        raise ValueError(f"d: expected an integer decay in 1..{DECAY_ONE - 1}, got {d!r}")
    target = (DECAY_ONE - d) / DECAY_ONE
    tau = -dt / math.log(target)
    for _ in range(200):
        got = torch.exp(torch.tensor(-dt / tau, dtype=torch.float64)).item()
        if got == target:
            return tau
        tau = math.nextafter(tau, math.inf if got < target else -math.inf)
    raise ValueError(
        f"d: found no float64 time constant whose decay is exactly {target!r} at dt={dt!r}; "
        "slower decays (d <= 2129) always have one"
    )


def fixed_init(like: torch.Tensor) -> FixedState:
    """Resting state (``u = v = 0``, int64) shaped like ``like`` ([B, ...])."""
    zeros = torch.zeros(like.shape, dtype=torch.int64, device=like.device)
    return FixedState(zeros, zeros.clone())


def _as_int(name: str, value: IntValue, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value, device=like.device)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"{name}: expected integers, got dtype {t.dtype}")
    return t.to(torch.int64)


def _decay(x: torch.Tensor, d: torch.Tensor, rounding: str) -> torch.Tensor:
    p = x * (DECAY_ONE - d)
    if rounding == "floor":
        return p >> DECAY_BITS
    return torch.sign(p) * (p.abs() >> DECAY_BITS)


def _check_params(params: FixedParams) -> None:
    for name in ("du", "dv"):
        d = torch.as_tensor(getattr(params, name))
        if d.is_floating_point() or (d < 0).any() or (d > DECAY_ONE).any():
            raise ValueError(f"{name}: expected integer decays in 0..{DECAY_ONE}, got {d.flatten()[:4].tolist()}")
    if params.reset not in ("zero", "subtract"):
        raise ValueError(f"reset: expected 'zero' or 'subtract', got {params.reset!r}")
    if params.rounding not in ("trunc", "floor"):
        raise ValueError(f"rounding: expected 'trunc' or 'floor', got {params.rounding!r}")
    if params.state_bits is not None and not (isinstance(params.state_bits, int) and 2 <= params.state_bits <= 62):
        raise ValueError(f"state_bits: expected None or an int in 2..62, got {params.state_bits!r}")


def _update(a: torch.Tensor, state: FixedState, params: FixedParams):
    like = state.v
    du, dv = _as_int("du", params.du, like), _as_int("dv", params.dv, like)
    u = _decay(state.u, du, params.rounding) + a
    v = _decay(state.v, dv, params.rounding)
    if params.state_bits is not None:
        top = 1 << (params.state_bits - 1)
        u = torch.where(u > top, u - 2 * top, torch.where(u <= -top, u + 2 * top, u))
        v = (v + u + _as_int("bias", params.bias, like)).clamp(-(top - 1), top - 1)
    else:
        v = v + u + _as_int("bias", params.bias, like)
    if params.vth is None:
        return v, FixedState(u, v)
    vth = _as_int("vth", params.vth, like)
    z = (v > vth).to(torch.int64)
    v = v * (1 - z) if params.reset == "zero" else v - z * (vth + 1)
    return z, FixedState(u, v)


def fixed_step(
    a: torch.Tensor, state: FixedState | None, params: FixedParams = FixedParams()
) -> tuple[torch.Tensor, FixedState]:
    """One integer CUBA step. ``a``: integer input ``[B, ...]``. Returns ``(z, state)`` (``(v, state)`` if
    ``vth`` is None); ``z`` is int64 0/1.

    >>> import torch
    >>> p = FixedParams(du=4096, dv=2048, vth=100)
    >>> z, s = fixed_step(torch.tensor([[80]]), None, p)
    >>> z, s = fixed_step(torch.tensor([[80]]), s, p)
    >>> z.item(), s.v.item()
    (1, 0)
    """
    if not isinstance(a, torch.Tensor) or a.is_floating_point() or a.dtype == torch.bool:
        raise TypeError(f"a: expected an integer tensor, got {getattr(a, 'dtype', type(a).__name__)}")
    _check_params(params)
    state = fixed_init(a) if state is None else state
    return _update(a.to(torch.int64), state, params)


def fixed_seq(
    a_seq: torch.Tensor, state: FixedState | None = None, params: FixedParams = FixedParams()
) -> tuple[torch.Tensor, FixedState]:
    """Integer CUBA over ``a_seq[T, B, ...]``; returns ``(z_seq, state)`` (membrane sequence if ``vth`` is None)."""
    if not isinstance(a_seq, torch.Tensor) or a_seq.is_floating_point() or a_seq.dtype == torch.bool:
        raise TypeError(f"a_seq: expected an integer tensor, got {getattr(a_seq, 'dtype', type(a_seq).__name__)}")
    _check_params(params)
    state = fixed_init(a_seq[0]) if state is None else state
    outs = []
    for a in a_seq.to(torch.int64).unbind(0):
        out, state = _update(a, state, params)
        outs.append(out)
    return torch.stack(outs), state


class FixedCUBA(nn.Module):
    """Integer CUBA neurons as a sequence module: ``FixedCUBA(...)(a_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Args:
        du: current decay, 0..4096 (4096: no current memory, a plain LIF). Default 4096.
        dv: membrane decay, 0..4096. Default 205 (20 ms at dt = 1 ms).
        vth: integer threshold (spike when ``v > vth``); None for a non-spiking readout. Default 4096.
        bias: integer bias added to ``v`` each step. Default 0.
        reset: ``"zero"`` (Loihi) or ``"subtract"`` (remove ``vth + 1``). Default zero.
        rounding: ``"trunc"`` (Loihi/Lava) or ``"floor"``. Default trunc.
        state_bits: state width (24 on Loihi) or None. Default 24.

    Per-neuron values are integer tensors broadcasting against ``[B, *features]``.

    >>> import torch
    >>> z, s = FixedCUBA(du=1024, dv=256, vth=500)(torch.full((20, 1, 2), 60))
    >>> z.sum(0).tolist(), s.v.dtype
    ([[6, 6]], torch.int64)
    """

    stateful = True

    def __init__(
        self,
        *,
        du: IntValue = DECAY_ONE,
        dv: IntValue = 205,
        vth: IntValue | None = 1 << 12,
        bias: IntValue = 0,
        reset: Literal["zero", "subtract"] = "zero",
        rounding: FixedRounding = "trunc",
        state_bits: int | None = 24,
    ) -> None:
        super().__init__()
        _check_params(FixedParams(du, dv, vth, bias, reset, rounding, state_bits))
        self.register_buffer("du", torch.as_tensor(du, dtype=torch.int64))
        self.register_buffer("dv", torch.as_tensor(dv, dtype=torch.int64))
        self.register_buffer("vth", None if vth is None else torch.as_tensor(vth, dtype=torch.int64))
        self.register_buffer("bias", torch.as_tensor(bias, dtype=torch.int64))
        self.reset = reset
        self.rounding = rounding
        self.state_bits = state_bits

    def params(self) -> FixedParams:
        return FixedParams(self.du, self.dv, self.vth, self.bias, self.reset, self.rounding, self.state_bits)

    def forward(self, a_seq: torch.Tensor, state: FixedState | None = None) -> tuple[torch.Tensor, FixedState]:
        return fixed_seq(a_seq, state, self.params())

    def extra_repr(self) -> str:
        def short(t):
            return "None" if t is None else (str(t.item()) if t.numel() == 1 else f"[{t.numel()} values]")

        return (
            f"du={short(self.du)}, dv={short(self.dv)}, vth={short(self.vth)}, reset={self.reset!r}, "
            f"rounding={self.rounding!r}, state_bits={self.state_bits}"
        )
