r"""Resonate-and-fire neuron (Izhikevich 2001): a damped oscillator with a complex state and a threshold.

Continuous dynamics of the complex state ``z = x + i y`` with damping ``b < 0`` (1/s), angular frequency ``omega``
(rad/s) and a real input ``I`` (state units per second):

.. math::
    \dot z = (b + i\omega) z + I, \qquad \operatorname{Im} z \ge a_{thresh} \Rightarrow z \leftarrow z_{reset}

Discrete update, exact for ``I`` held over a step (``lambda = b + i omega``):

.. math::
    \tilde z = e^{\lambda \Delta t} z_t + \frac{e^{\lambda \Delta t} - 1}{\lambda} I_t, \qquad
    s_{t+1} = H(\operatorname{Im}\tilde z - a_{thresh}), \qquad z_{t+1} = \tilde z - s_{t+1}(\tilde z - z_{reset})

The neuron responds best to input pulses arriving at its eigenperiod ``2 pi / omega``. The surrogate sees
``(Im z - a_thresh) / a_thresh``. The state is a complex tensor (``complex64`` for ``float32`` input).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, ms
from ._base import CellModule, NeuronModule, SequenceModule, scan
from ._izhikevich import spike
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = [
    "ResonateAndFire",
    "ResonateAndFireCell",
    "ResonateAndFireParams",
    "ResonateAndFireState",
    "resonate_fire_init",
    "resonate_fire_seq",
    "resonate_fire_step",
]

Value = float | torch.Tensor


class ResonateAndFireParams(NamedTuple):
    """``b`` damping (1/s, negative), ``omega`` angular frequency (rad/s), ``a_thresh`` threshold on ``Im z``,
    ``z_reset`` complex reset value."""

    b: Value = -10.0
    omega: Value = 2 * math.pi * 10.0
    a_thresh: Value = 1.0
    z_reset: complex = 0j
    detach_reset: bool = False


class ResonateAndFireState(NamedTuple):
    """``z``: complex state ``x + i y`` (complex tensor)."""

    z: torch.Tensor


def _complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def resonate_fire_init(
    like: torch.Tensor, params: ResonateAndFireParams = ResonateAndFireParams()
) -> ResonateAndFireState:
    """Resting state ``z = 0`` shaped like ``like`` (complex dtype matching its precision)."""
    return ResonateAndFireState(torch.zeros(like.shape, dtype=_complex_dtype(like.dtype), device=like.device))


def _coefficients(params: ResonateAndFireParams, dt: float, like: torch.Tensor):
    b = torch.as_tensor(params.b, dtype=like.dtype, device=like.device)
    omega = torch.as_tensor(params.omega, dtype=like.dtype, device=like.device)
    lam = torch.complex(b, omega)
    prop = torch.exp(lam * dt)
    gain = (prop - 1) / lam
    return prop, gain


def _update(x, state: ResonateAndFireState, params: ResonateAndFireParams, prop, gain, surrogate):
    z = prop * state.z + gain * x
    s = spike(surrogate, (z.imag - params.a_thresh) / params.a_thresh)
    sr = s.detach() if params.detach_reset else s
    z = z - sr * (z - params.z_reset)
    return s, ResonateAndFireState(z)


def resonate_fire_step(
    x: torch.Tensor,
    state: ResonateAndFireState | None,
    params: ResonateAndFireParams = ResonateAndFireParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, ResonateAndFireState]:
    """One resonate-and-fire step. ``x``: real input ``[B, ...]`` (per second). Returns ``(spikes, state)``.

    >>> import torch
    >>> s, state = resonate_fire_step(torch.full((1, 1), 100.0), None)
    >>> s.item(), state.z.dtype
    (0.0, torch.complex64)
    """
    dt = check_dt(dt)
    state = resonate_fire_init(x, params) if state is None else state
    return _update(x, state, params, *_coefficients(params, dt, x), _surrogate.get(surrogate))


def _resonate_fire_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    prop, gain = _coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update(x, s, params, prop, gain, surrogate), x_seq, state, record=record)


kernels.register("resonate_fire", "torch", _resonate_fire_seq_torch)


def resonate_fire_seq(
    x_seq: torch.Tensor,
    state: ResonateAndFireState | None = None,
    params: ResonateAndFireParams = ResonateAndFireParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, ResonateAndFireState]:
    """Resonate-and-fire over ``x_seq[T, B, ...]``. Returns ``(spikes, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    state = resonate_fire_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _resonate_fire_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "resonate_fire", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _ResonateAndFireBase(NeuronModule):
    learnable = ("b", "omega", "a_thresh")

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        b: Value | Distribution = -10.0,
        omega: Value | Distribution = 2 * math.pi * 10.0,
        a_thresh: Value | Distribution = 1.0,
        z_reset: complex = 0j,
        detach_reset: bool = False,
        dt: float = 1 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        self._add("b", b)
        self._add("omega", omega)
        self._add("a_thresh", a_thresh)
        if (self.get("a_thresh") <= 0).any():
            raise ValueError(f"a_thresh: expected a positive threshold on Im z, got {a_thresh!r}")
        if not isinstance(z_reset, int | float | complex):
            raise TypeError(f"z_reset: expected a complex number, got {type(z_reset).__name__}")
        self.z_reset = complex(z_reset)
        self.detach_reset = bool(detach_reset)
        if (self.get("b") > 0).any():
            raise ValueError(f"b: expected damping <= 0 (1/s); b > 0 makes the oscillation grow, got {b!r}")

    def params(self) -> ResonateAndFireParams:
        """Current hyperparameters as :class:`ResonateAndFireParams` (differentiable when learned)."""
        return ResonateAndFireParams(
            b=self.get("b"),
            omega=self.get("omega"),
            a_thresh=self.get("a_thresh"),
            z_reset=self.z_reset,
            detach_reset=self.detach_reset,
        )

    def _check_complex_state(self, state: ResonateAndFireState, x: torch.Tensor) -> None:
        if not isinstance(state.z, torch.Tensor) or not state.z.is_complex():
            raise TypeError(
                "state.z: expected a complex tensor (see resonate_fire_init), got "
                f"{type(state.z).__name__ if not isinstance(state.z, torch.Tensor) else state.z.dtype}"
            )
        self._check_state(state, torch.empty(x.shape, dtype=_complex_dtype(x.dtype), device=x.device))

    def extra_repr(self) -> str:
        freq = float(self.get("omega").mean()) / (2 * math.pi)
        return f"b={float(self.get('b').mean()):g}/s, f={freq:g} Hz, dt={self.dt / ms:g} ms"


class ResonateAndFireCell(_ResonateAndFireBase, CellModule):
    """One resonate-and-fire step: ``ResonateAndFireCell(...)(x[B, ...], state=None) -> (spikes, state)``.

    Args:
        shape: neurons per sample; needed for learned or per-neuron parameters. Default None.
        b: damping rate (1/s, <= 0). Default -10.
        omega: angular eigenfrequency (rad/s). Default 2 pi 10 Hz.
        a_thresh: threshold on ``Im z`` (> 0). Default 1.
        z_reset: complex value after a spike. Default 0.
        detach_reset: stop gradients through the reset. Default False.
        dt: time step (s). Default 1 ms.
        learn: names among ``b``, ``omega``, ``a_thresh``.
        surrogate: surrogate gradient. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]`` real input; spikes the same; ``state.z`` complex of the same shape.

    >>> import torch
    >>> spikes, state = ResonateAndFireCell(3)(torch.ones(2, 3))
    >>> state.z.is_complex()
    True
    """

    def forward(self, x: torch.Tensor, state: ResonateAndFireState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        if x.dtype not in (torch.float32, torch.float64):  # the complex state needs complex64/128
            raise TypeError(f"input: expected float32 or float64 (the state is complex), got dtype {x.dtype}")
        params = self.params()
        state = resonate_fire_init(x, params) if state is None else state
        self._check_complex_state(state, x)
        return _update(x, state, params, *_coefficients(params, self.dt, x), self.surrogate)


class ResonateAndFire(_ResonateAndFireBase, SequenceModule):
    """Resonate-and-fire over a sequence: ``ResonateAndFire(...)(x_seq[T, B, ...], state=None)``.

    Takes :class:`ResonateAndFireCell`'s arguments plus ``backend`` and ``record`` (``z`` at every step).

    >>> import torch
    >>> spikes, state = ResonateAndFire(1)(torch.full((1000, 1, 1), 100.0))
    >>> int(spikes.sum()) > 0
    True
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: ResonateAndFireState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if x_seq.dtype not in (torch.float32, torch.float64):  # the complex state needs complex64/128
            raise TypeError(f"input: expected float32 or float64 (the state is complex), got dtype {x_seq.dtype}")
        if state is not None:
            self._check_complex_state(state, x_seq[0])
        return resonate_fire_seq(
            x_seq, state, self.params(), dt=self.dt, surrogate=self.surrogate, backend=self.backend, record=self.record
        )


SPEC = register(
    NeuronSpec(
        name="resonate_fire",
        cell=ResonateAndFireCell,
        sequence=ResonateAndFire,
        step=resonate_fire_step,
        seq=resonate_fire_seq,
        init=resonate_fire_init,
        params=ResonateAndFireParams,
        state=ResonateAndFireState,
        drive=Drive(amplitude=300.0, dt=1 * ms),
        simulate=SimulateInfo(
            "resonate-fire",
            "1/s",
            "z",
            "a.u.",
            ("b", "omega", "a_thresh"),
            aliases=("resonate_fire", "resonate-and-fire"),
        ),
    )
)
