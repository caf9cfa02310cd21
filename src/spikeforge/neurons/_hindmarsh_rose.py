r"""Hindmarsh-Rose (1984) three-variable bursting neuron (dimensionless).

Continuous dynamics, with the model's time unit taken as 1 ms (``dt`` in seconds is converted) and a
dimensionless input current ``I``:

.. math::
    \dot x = y - a x^3 + b x^2 - z + I, \qquad \dot y = c - d x^2 - y, \qquad \dot z = r\,(s (x - x_R) - z)

``x`` plays the membrane potential, ``y`` the fast recovery and ``z`` the slow adaptation current whose time scale
``1/r`` sets the burst length. Discrete update: classical RK4 on ``(x, y, z)`` over ``substeps`` equal sub-steps of
``dt``; sub-steps above 0.05 time units warn (RK4 leaves its stability region on the spike upswing near 0.1).
No reset: a spike is the upward crossing of ``x_threshold`` (1.0),
:math:`s_{t+1} = H(x_{t+1} - \theta) H(\theta - x_t)`, both factors through the surrogate.

Presets (:data:`PRESETS`, with a typical drive in :data:`PRESET_CURRENTS`): ``bursting`` (the classic regime,
r = 0.006, I = 2.5: bursts of three spikes every ~125 time units) and ``tonic`` (same parameters, I = 5: regular
single spikes, inter-spike interval ~10.8).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, ms
from ._base import CellModule, NeuronModule, SequenceModule, finite_float, scan
from ._izhikevich import resolve_preset, spike
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = [
    "HINDMARSH_ROSE_PRESETS",
    "HindmarshRose",
    "HindmarshRoseCell",
    "HindmarshRoseParams",
    "HindmarshRoseState",
    "hindmarsh_rose_init",
    "hindmarsh_rose_seq",
    "hindmarsh_rose_step",
]

Value = float | torch.Tensor
NAMES = ("a", "b", "c", "d", "r", "s", "x_R")
_STANDARD = dict(a=1.0, b=3.0, c=1.0, d=5.0, s=4.0, x_R=-1.6)
PRESETS: dict[str, dict[str, float]] = {
    "bursting": dict(_STANDARD, r=0.006),
    "tonic": dict(_STANDARD, r=0.006),
}
HINDMARSH_ROSE_PRESETS = PRESETS
PRESET_CURRENTS: dict[str, float] = {"bursting": 2.5, "tonic": 5.0}
_MAX_STEP = 0.05


class HindmarshRoseParams(NamedTuple):
    """Dimensionless parameters of the model; ``r`` is per time unit (1 ms)."""

    a: Value = 1.0
    b: Value = 3.0
    c: Value = 1.0
    d: Value = 5.0
    r: Value = 0.006
    s: Value = 4.0
    x_R: Value = -1.6
    x_threshold: float = 1.0
    substeps: int = 1


class HindmarshRoseState(NamedTuple):
    """``x`` membrane-like, ``y`` fast recovery, ``z`` slow adaptation (the paper's names; all dimensionless)."""

    x: torch.Tensor
    y: torch.Tensor
    z: torch.Tensor


def hindmarsh_rose_init(like: torch.Tensor, params: HindmarshRoseParams = HindmarshRoseParams()) -> HindmarshRoseState:
    """State shaped like ``like`` at the resting point of the fast subsystem for ``I = 0``: ``x = x_R``,
    ``y = c - d x_R^2``, ``z = 0``."""
    x = torch.full_like(like, 0.0) + torch.as_tensor(params.x_R, dtype=like.dtype, device=like.device)
    return HindmarshRoseState(x, params.c - params.d * x * x, torch.zeros_like(like))


def _check_stability(params: HindmarshRoseParams, dt: float) -> None:
    if not isinstance(params.substeps, int) or params.substeps < 1:
        raise ValueError(f"substeps: expected a positive int, got {params.substeps!r}")
    step = dt / ms / params.substeps
    if step > _MAX_STEP:
        warnings.warn(
            f"dt: sub-steps of {step:g} time units (ms) exceed {_MAX_STEP:g}, where RK4 on the "
            f"Hindmarsh-Rose spike is near its stability limit; pass substeps>={int(step / _MAX_STEP) + 1}",
            RuntimeWarning,
            stacklevel=3,
        )


def _derivatives(x, y, z, current, p: HindmarshRoseParams):
    x2 = x * x
    dx = y + x2 * (p.b - p.a * x) - z + current
    dy = p.c - p.d * x2 - y
    dz = p.r * (p.s * (x - p.x_R) - z)
    return dx, dy, dz


def _update(current, state: HindmarshRoseState, params: HindmarshRoseParams, dt_ms: float, surrogate):
    k = dt_ms / params.substeps
    x, y, z = state
    for _ in range(params.substeps):
        dx1, dy1, dz1 = _derivatives(x, y, z, current, params)
        dx2, dy2, dz2 = _derivatives(x + 0.5 * k * dx1, y + 0.5 * k * dy1, z + 0.5 * k * dz1, current, params)
        dx3, dy3, dz3 = _derivatives(x + 0.5 * k * dx2, y + 0.5 * k * dy2, z + 0.5 * k * dz2, current, params)
        dx4, dy4, dz4 = _derivatives(x + k * dx3, y + k * dy3, z + k * dz3, current, params)
        w = k / 6.0
        x = x + w * (dx1 + dx4 + 2.0 * (dx2 + dx3))
        y = y + w * (dy1 + dy4 + 2.0 * (dy2 + dy3))
        z = z + w * (dz1 + dz4 + 2.0 * (dz2 + dz3))
    theta = params.x_threshold
    out = spike(surrogate, x - theta) * spike(surrogate, theta - state.x)
    return out, HindmarshRoseState(x, y, z)


def hindmarsh_rose_step(
    x: torch.Tensor,
    state: HindmarshRoseState | None,
    params: HindmarshRoseParams = HindmarshRoseParams(),
    *,
    dt: float = 0.01 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, HindmarshRoseState]:
    """One Hindmarsh-Rose step. ``x``: input current ``I`` (dimensionless) ``[B, ...]``; ``dt`` in seconds.

    >>> import torch
    >>> spikes, s = hindmarsh_rose_step(torch.full((1, 1), 2.0), None)
    >>> spikes.item()
    0.0
    """
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = hindmarsh_rose_init(x, params) if state is None else state
    return _update(x, state, params, dt / ms, _surrogate.get(surrogate))


def _hindmarsh_rose_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    dt_ms = dt / ms
    return scan(lambda x, s: _update(x, s, params, dt_ms, surrogate), x_seq, state, record=record)


kernels.register("hindmarsh_rose", "torch", _hindmarsh_rose_seq_torch)


def hindmarsh_rose_seq(
    x_seq: torch.Tensor,
    state: HindmarshRoseState | None = None,
    params: HindmarshRoseParams = HindmarshRoseParams(),
    *,
    dt: float = 0.01 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, HindmarshRoseState]:
    """Hindmarsh-Rose over ``x_seq[T, B, ...]``. Returns ``(spikes, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = hindmarsh_rose_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _hindmarsh_rose_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "hindmarsh_rose", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _HindmarshRoseBase(NeuronModule):
    #: named parameter sets and a current at which each shows its behaviour
    PRESETS = PRESETS
    PRESET_CURRENTS = PRESET_CURRENTS
    learnable = NAMES

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        preset: str | None = None,
        a: Value | Distribution | None = None,
        b: Value | Distribution | None = None,
        c: Value | Distribution | None = None,
        d: Value | Distribution | None = None,
        r: Value | Distribution | None = None,
        s: Value | Distribution | None = None,
        x_R: Value | Distribution | None = None,
        x_threshold: float = 1.0,
        substeps: int = 1,
        dt: float = 0.01 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        given = dict(a=a, b=b, c=c, d=d, r=r, s=s, x_R=x_R)
        values = resolve_preset(PRESETS, preset, "HindmarshRose", given, PRESETS["bursting"])
        self.preset_name = preset
        for name in NAMES:
            self._add(name, values[name])
        if (self.get("r") < 0).any():
            raise ValueError(f"r: expected a rate >= 0 (per ms), got {values['r']!r}")
        self.x_threshold = finite_float("x_threshold", x_threshold)
        self.substeps = substeps
        _check_stability(self.params(), self.dt)

    @classmethod
    def preset(cls, name: str, shape: int | Sequence[int] | None = None, **kwargs):
        """Build the module with a named regime (``"bursting"`` or ``"tonic"``; see :data:`PRESET_CURRENTS`)."""
        return cls(shape, preset=name, **kwargs)

    def params(self) -> HindmarshRoseParams:
        """Current hyperparameters as :class:`HindmarshRoseParams` (differentiable when learned)."""
        return HindmarshRoseParams(*(self.get(n) for n in NAMES), x_threshold=self.x_threshold, substeps=self.substeps)

    def extra_repr(self) -> str:
        preset = f"preset={self.preset_name!r}, " if self.preset_name else ""
        return f"{preset}r={float(self.get('r').mean()):g}, substeps={self.substeps}, dt={self.dt / ms:g} ms"


class HindmarshRoseCell(_HindmarshRoseBase, CellModule):
    """One Hindmarsh-Rose step: ``HindmarshRoseCell(...)(x[B, ...], state=None) -> (spikes, state)``.

    Args:
        shape: neurons per sample; needed for learned or distribution-drawn parameters. Default None.
        preset: ``"bursting"`` or ``"tonic"``. Default: bursting.
        a, b, c, d, s, x_R: dimensionless shape parameters (1, 3, 1, 5, 4, -1.6). r: slow rate per ms (0.006).
        x_threshold: upward crossing of ``x`` that counts as a spike. Default 1.
        substeps: RK4 steps per ``dt``. Default 1.
        dt: time step (s; one model time unit is 1 ms). Default 0.01 ms.
        learn: names among ``a, b, c, d, r, s, x_R``.
        surrogate: surrogate of the crossing. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]`` input current; spikes and state fields: the same.

    >>> import torch
    >>> spikes, state = HindmarshRoseCell()(torch.full((2, 3), 2.0))
    >>> tuple(state.z.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: HindmarshRoseState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = hindmarsh_rose_init(x, params) if state is None else state
        self._check_state(state, x)
        return _update(x, state, params, self.dt / ms, self.surrogate)


class HindmarshRose(_HindmarshRoseBase, SequenceModule):
    """Hindmarsh-Rose over a sequence: ``HindmarshRose(...)(x_seq[T, B, ...], state=None) -> (spikes, state)``.

    Takes :class:`HindmarshRoseCell`'s arguments plus ``backend`` and ``record`` (``x, y, z`` at every step).

    >>> import torch
    >>> spikes, state = HindmarshRose.preset("tonic", dt=0.05 * ms)(torch.full((4000, 1, 1), 4.0))
    >>> int(spikes.sum()) > 5
    True
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: HindmarshRoseState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        params = self.params()
        return self._run_checked(hindmarsh_rose_seq, x_seq, state, params)


SPEC = register(
    NeuronSpec(
        name="hindmarsh_rose",
        cell=HindmarshRoseCell,
        sequence=HindmarshRose,
        step=hindmarsh_rose_step,
        seq=hindmarsh_rose_seq,
        init=hindmarsh_rose_init,
        params=HindmarshRoseParams,
        state=HindmarshRoseState,
        drive=Drive(amplitude=20.0, dt=0.05 * ms),
        simulate=SimulateInfo(
            "hindmarsh-rose",
            "dimensionless",
            "x",
            "a.u.",
            ("a", "b", "c", "d", "r", "s", "x_R", "x_threshold", "substeps"),
            max_substep_ms=0.05,
            aliases=("hr", "hindmarsh_rose"),
        ),
    )
)
