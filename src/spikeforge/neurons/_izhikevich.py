r"""Izhikevich (2003) simple model: a quadratic membrane with one recovery variable and a hard reset.

Continuous dynamics, with time ``t`` in ms, ``v`` in mV and input ``I`` in the paper's units (mV/ms, often quoted
as "pA"):

.. math::
    \dot v = 0.04 v^2 + 5 v + 140 - u + I, \qquad \dot u = a (b v - u), \qquad
    v \ge v_{peak} \Rightarrow v \leftarrow c,\; u \leftarrow u + d

Discrete update over one step ``dt`` (converted from seconds to ms internally): forward Euler on ``v`` and the exact
solution of the linear ``u`` equation with ``v`` held at its start-of-step value (first order overall):

.. math::
    h = v_t + \Delta t\,(0.04 v_t^2 + 5 v_t + 140 - u_t + I_t), \qquad
    \tilde u = b v_t + (u_t - b v_t) e^{-a \Delta t}, \qquad z_{t+1} = H(h - v_{peak}),

    v_{t+1} = h - z_{t+1} (h - c), \qquad u_{t+1} = \tilde u + d\, z_{t+1}

The surrogate gradient sees ``(h - v_peak) / (v_peak - c)``, a dimensionless distance to the peak. Forward Euler on
the quadratic term is stable below ``dt`` of about 1 ms (Izhikevich used 0.5 ms); larger steps warn.

Presets (:data:`PRESETS`, ``Izhikevich.preset("chattering")``) are the firing classes of the 2003 paper.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, ms
from ._base import CellModule, NeuronModule, SequenceModule, finite_float, fused_call_supports, scan, surrogate_settings
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = [
    "IZHIKEVICH_PRESETS",
    "Izhikevich",
    "IzhikevichCell",
    "IzhikevichParams",
    "IzhikevichState",
    "izhikevich_init",
    "izhikevich_seq",
    "izhikevich_step",
]

Value = float | torch.Tensor

#: (a, b, c, d) of the named firing classes in Izhikevich (2003), Fig. 2.
PRESETS: dict[str, dict[str, float]] = {
    "regular_spiking": {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},
    "intrinsically_bursting": {"a": 0.02, "b": 0.2, "c": -55.0, "d": 4.0},
    "chattering": {"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0},
    "fast_spiking": {"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0},
    "low_threshold_spiking": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 2.0},
    "thalamo_cortical": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 0.05},
    "resonator": {"a": 0.1, "b": 0.26, "c": -65.0, "d": 2.0},
}
IZHIKEVICH_PRESETS = PRESETS
#: a step current (paper units) at which each preset shows its pattern from rest
PRESET_CURRENTS: dict[str, float] = {
    "regular_spiking": 10.0,
    "intrinsically_bursting": 10.0,
    "chattering": 10.0,
    "fast_spiking": 10.0,
    "low_threshold_spiking": 10.0,
    "thalamo_cortical": 10.0,
    "resonator": 0.5,
}
V_INIT = -65.0  # mV: the initial membrane of the paper's code (u starts at b * v)
_MAX_STABLE_DT_MS = 1.0


class IzhikevichParams(NamedTuple):
    """``a`` (1/ms) recovery rate, ``b`` (1) recovery sensitivity, ``c`` (mV) reset, ``d`` (mV/ms) recovery jump,
    ``v_peak`` (mV) spike cut-off, ``detach_reset`` stop gradients through the reset."""

    a: Value = 0.02
    b: Value = 0.2
    c: Value = -65.0
    d: Value = 8.0
    v_peak: Value = 30.0
    detach_reset: bool = False


class IzhikevichState(NamedTuple):
    """``v``: membrane (mV); ``u``: recovery variable (mV/ms)."""

    v: torch.Tensor
    u: torch.Tensor


def resolve_preset(
    presets: dict[str, dict[str, float]],
    preset: str | None,
    model: str,
    given: dict[str, object],
    defaults: dict[str, object],
) -> dict[str, object]:
    """Merge ``defaults`` < ``presets[preset]`` < explicitly ``given`` (non-None) values."""
    values = dict(defaults)
    if preset is not None:
        if preset not in presets:
            raise ValueError(f"preset: {model} knows {sorted(presets)}, got {preset!r}")
        values.update(presets[preset])
    values.update({k: v for k, v in given.items() if v is not None})
    return values


def _check_stability(dt_ms: float) -> None:
    if dt_ms > _MAX_STABLE_DT_MS:
        warnings.warn(
            f"dt: {dt_ms:g} ms is above {_MAX_STABLE_DT_MS:g} ms, where forward Euler on the Izhikevich "
            "quadratic is inaccurate or unstable; use dt <= 0.5 ms",
            RuntimeWarning,
            stacklevel=3,
        )


def izhikevich_init(like: torch.Tensor, params: IzhikevichParams = IzhikevichParams()) -> IzhikevichState:
    """Initial state shaped like ``like`` ([B, ...]): ``v = -65 mV``, ``u = b v``."""
    v = torch.full_like(like, V_INIT)
    return IzhikevichState(v=v, u=v * torch.as_tensor(params.b, dtype=like.dtype, device=like.device))


def spike(surrogate: _surrogate.Surrogate, x: torch.Tensor) -> torch.Tensor:
    """Heaviside spike of ``x``; through the surrogate only when autograd is recording (it is slower)."""
    return surrogate(x) if torch.is_grad_enabled() else _surrogate.heaviside(x)


def _update(x, state: IzhikevichState, params: IzhikevichParams, dt_ms: float, decay_u, surrogate):
    v, u = state
    h = v + dt_ms * (v * (0.04 * v + 5.0) + (140.0 + x - u))
    bv = params.b * v
    u = bv + (u - bv) * decay_u
    z = spike(surrogate, (h - params.v_peak) / (params.v_peak - params.c))
    zr = z.detach() if params.detach_reset else z
    v = h - zr * (h - params.c)
    u = u + zr * params.d
    return z, IzhikevichState(v, u)


def _decay(params: IzhikevichParams, dt_ms: float, like: torch.Tensor) -> torch.Tensor:
    return torch.exp(-dt_ms * torch.as_tensor(params.a, dtype=like.dtype, device=like.device))


def izhikevich_step(
    x: torch.Tensor,
    state: IzhikevichState | None,
    params: IzhikevichParams = IzhikevichParams(),
    *,
    dt: float = 0.1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, IzhikevichState]:
    """One Izhikevich step. ``x``: input current (paper units) ``[B, ...]``; ``dt`` in seconds.

    >>> import torch
    >>> z, s = izhikevich_step(torch.full((1, 1), 10.0), None)
    >>> z.item(), round(s.v.item(), 3)
    (0.0, -64.3)
    """
    dt_ms = check_dt(dt) / ms
    _check_stability(dt_ms)
    state = izhikevich_init(x, params) if state is None else state
    return _update(x, state, params, dt_ms, _decay(params, dt_ms, x), _surrogate.get(surrogate))


def _no_grad_scan(x_seq, state, params, dt_ms, decay_u):
    """The scan of :func:`_update` without autograd: in-place into preallocated buffers, bit for bit the same
    arithmetic (same operations in the same order), about 5x faster on large populations. None if it cannot apply."""
    v0, u0 = state
    tensors = [t for t in (params.a, params.b, params.c, params.d, params.v_peak) if isinstance(t, torch.Tensor)]
    if any(t.requires_grad for t in (x_seq, v0, u0, *tensors)) or not isinstance(params.v_peak, int | float):
        return None
    if v0.dtype != x_seq.dtype or u0.dtype != x_seq.dtype or any(t.device != x_seq.device for t in (v0, u0, *tensors)):
        return None
    shape = torch.broadcast_shapes(x_seq.shape[1:], v0.shape, u0.shape, *(t.shape for t in tensors))
    c = torch.as_tensor(params.c, dtype=x_seq.dtype, device=x_seq.device)
    if not bool((params.v_peak - c > 0).all()):  # the spike test below is h >= v_peak only when v_peak > c
        return None
    b = torch.as_tensor(params.b, dtype=x_seq.dtype, device=x_seq.device)
    d = torch.as_tensor(params.d, dtype=x_seq.dtype, device=x_seq.device)
    v = torch.empty(shape, dtype=x_seq.dtype, device=x_seq.device).copy_(v0)
    u = torch.empty_like(v).copy_(u0)
    h, t2, bv, r = (torch.empty_like(v) for _ in range(4))
    z_seq = torch.empty((x_seq.shape[0], *shape), dtype=x_seq.dtype, device=x_seq.device)
    for x, z in zip(x_seq.unbind(0), z_seq.unbind(0)):
        # h = v + dt_ms * (v * (0.04 * v + 5.0) + (140.0 + x - u))
        torch.mul(v, 0.04, out=h).add_(5.0).mul_(v)
        torch.add(x, 140.0, out=t2).sub_(u)
        h.add_(t2).mul_(dt_ms).add_(v)
        # u = b v + (u - b v) decay_u
        torch.mul(v, b, out=bv)
        u.sub_(bv).mul_(decay_u).add_(bv)
        # z = H((h - v_peak) / (v_peak - c)) = [h >= v_peak]; v = h - z (h - c); u = u + z d
        torch.ge(h, params.v_peak, out=z)  # a float output: boolean tensors are several times slower here
        torch.sub(h, c, out=r).mul_(z)
        torch.sub(h, r, out=v)
        u.addcmul_(z, d)
    return z_seq, IzhikevichState(v, u)


def _izhikevich_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    dt_ms = dt / ms
    decay_u = _decay(params, dt_ms, x_seq)
    if not record and not torch.is_grad_enabled():
        out = _no_grad_scan(x_seq, state, params, dt_ms, decay_u)
        if out is not None:
            return out
    return scan(lambda x, s: _update(x, s, params, dt_ms, decay_u, surrogate), x_seq, state, record=record)


def _izhikevich_seq_cpu(x_seq, state, params, *, dt, surrogate):
    dt_ms = dt / ms
    settings = surrogate_settings(surrogate, detach=params.detach_reset)
    z, v, u = kernels.cpu.izhikevich(
        x_seq,
        state.v,
        state.u,
        _decay(params, dt_ms, x_seq),  # the reference's own coefficient, bit for bit
        params.b,
        params.c,
        params.d,
        dt_ms=dt_ms,
        v_peak=params.v_peak,
        settings=settings,
    )
    return z, IzhikevichState(v, u)


def _fused_supports(x=None, params=None, surrogate=None, **_) -> bool | kernels.Refused:
    """The fused kernel takes a CPU float tensor, a spikeforge surrogate (any: a custom one's derivative is
    evaluated over the stored sequence), a state of the input's dtype, one number for ``v_peak`` above every
    ``c`` (its spike test is ``h >= v_peak``), and is not traced by ``torch.compile``."""
    verdict = fused_call_supports(x, params, surrogate)
    if not verdict:
        return verdict
    if kernels.cpu.scalar(params.v_peak) is None:
        return kernels.Refused("v_peak is a tensor; the kernel takes one number")
    values = [p for p in (params.a, params.b, params.c, params.d) if isinstance(p, torch.Tensor)]
    if any(p.device != x.device or (p.is_floating_point() and p.dtype != x.dtype) for p in values):
        return kernels.Refused("a parameter is on another device or of another dtype than the input")
    c = params.c.detach() if isinstance(params.c, torch.Tensor) else params.c
    if not bool(torch.as_tensor(float(params.v_peak) > c).all()):
        return kernels.Refused("v_peak is not above every c")
    return True


kernels.register("izhikevich", "torch", _izhikevich_seq_torch)
kernels.register("izhikevich", "cpu", _izhikevich_seq_cpu, available=kernels.cpu.available, supports=_fused_supports)


def izhikevich_seq(
    x_seq: torch.Tensor,
    state: IzhikevichState | None = None,
    params: IzhikevichParams = IzhikevichParams(),
    *,
    dt: float = 0.1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, IzhikevichState]:
    """Izhikevich neurons over ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    _check_stability(dt / ms)
    state = izhikevich_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _izhikevich_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "izhikevich", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _IzhikevichBase(NeuronModule):
    #: named parameter sets and a current at which each shows its behaviour
    PRESETS = PRESETS
    PRESET_CURRENTS = PRESET_CURRENTS
    learnable = ("a", "b", "c", "d")
    names = ("a", "b", "c", "d")

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        preset: str | None = None,
        a: Value | Distribution | None = None,
        b: Value | Distribution | None = None,
        c: Value | Distribution | None = None,
        d: Value | Distribution | None = None,
        v_peak: float = 30.0,
        detach_reset: bool = False,
        dt: float = 0.1 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        _check_stability(self.dt / ms)
        values = resolve_preset(
            PRESETS, preset, "Izhikevich", {"a": a, "b": b, "c": c, "d": d}, PRESETS["regular_spiking"]
        )
        self.preset_name = preset
        for name in self.names:
            self._add(name, values[name])
        if not (isinstance(v_peak, int | float) and math.isfinite(v_peak)):
            raise ValueError(f"v_peak: expected a finite number of mV, got {v_peak!r}")
        self.v_peak = finite_float("v_peak", v_peak, " (mV)")
        self.detach_reset = bool(detach_reset)

    @classmethod
    def preset(cls, name: str, shape: int | Sequence[int] | None = None, **kwargs):
        """Build the module with the parameters of a named firing class (keys of :data:`PRESETS`)."""
        return cls(shape, preset=name, **kwargs)

    def params(self) -> IzhikevichParams:
        """Current hyperparameters as :class:`IzhikevichParams` (differentiable when learned)."""
        return IzhikevichParams(*(self.get(n) for n in self.names), v_peak=self.v_peak, detach_reset=self.detach_reset)

    def extra_repr(self) -> str:
        values = ", ".join(f"{n}={_fmt(self.get(n))}" for n in self.names)
        preset = f"preset={self.preset_name!r}, " if self.preset_name else ""
        return f"{preset}{values}, v_peak={self.v_peak:g} mV, dt={self.dt / ms:g} ms"


def _fmt(t: torch.Tensor) -> str:
    return f"{float(t):g}" if t.numel() == 1 else f"[{float(t.min()):g}..{float(t.max()):g}]"


class IzhikevichCell(_IzhikevichBase, CellModule):
    """One Izhikevich step as a module: ``IzhikevichCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample; needed for learned or distribution-drawn parameters. Default None.
        preset: a key of :data:`PRESETS` (e.g. ``"chattering"``); explicit ``a..d`` override it.
            Default: regular spiking.
        a: recovery rate (1/ms). b: recovery sensitivity to ``v`` (dimensionless). c: reset potential (mV).
            d: recovery increment per spike (mV/ms). Each a number, a per-neuron tensor or a distribution.
        v_peak: spike cut-off (mV). Default 30.
        detach_reset: stop gradients through the reset. Default False.
        dt: time step in seconds (converted to ms inside). Default 0.1 ms.
        learn: names among ``a``, ``b``, ``c``, ``d`` to train.
        surrogate: surrogate gradient of the spike. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]`` input current (paper units); z and state fields: the same.

    >>> import torch
    >>> cell = IzhikevichCell.preset("fast_spiking")
    >>> z, state = cell(torch.full((2, 3), 10.0))
    >>> tuple(z.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: IzhikevichState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = izhikevich_init(x, params) if state is None else state
        self._check_state(state, x)
        dt_ms = self.dt / ms
        return _update(x, state, params, dt_ms, _decay(params, dt_ms, x), self.surrogate)


class Izhikevich(_IzhikevichBase, SequenceModule):
    """Izhikevich neurons over a sequence: ``Izhikevich(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`IzhikevichCell`'s arguments plus ``backend`` and ``record`` (return ``v`` and ``u`` at every
    step, ``[T, B, ...]``).

    >>> import torch
    >>> model = Izhikevich.preset("chattering", dt=0.5 * ms)
    >>> z, state = model(torch.full((400, 1, 1), 10.0))
    >>> int(z.sum()) > 5
    True
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: IzhikevichState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        params = self.params()
        return self._run_checked(izhikevich_seq, x_seq, state, params)


SPEC = register(
    NeuronSpec(
        name="izhikevich",
        cell=IzhikevichCell,
        sequence=Izhikevich,
        step=izhikevich_step,
        seq=izhikevich_seq,
        init=izhikevich_init,
        params=IzhikevichParams,
        state=IzhikevichState,
        drive=Drive(amplitude=40.0, dt=0.5 * ms),
        simulate=SimulateInfo("izhikevich", "paper units (mV/ms)", "v", "mV", ("a", "b", "c", "d", "v_peak")),
    )
)
