r"""Morris-Lecar (1981) barnacle muscle fibre model, with the class I and class II parameter sets of Rinzel &
Ermentrout (1989).

Continuous dynamics (``V`` in mV, time in ms, currents in uA/cm^2, conductances in mS/cm^2, ``C`` in uF/cm^2):

.. math::
    C \dot V = I - g_L (V - V_L) - g_{Ca} m_\infty(V) (V - V_{Ca}) - g_K w (V - V_K), \qquad
    \dot w = \phi \frac{w_\infty(V) - w}{\tau_w(V)}

    m_\infty = \tfrac12 \big(1 + \tanh\tfrac{V - V_1}{V_2}\big), \quad
    w_\infty = \tfrac12 \big(1 + \tanh\tfrac{V - V_3}{V_4}\big), \quad \tau_w = 1 / \cosh\tfrac{V - V_3}{2 V_4}

Discrete update: classical RK4 on ``(V, w)`` over ``substeps`` equal sub-steps of ``dt`` (seconds, converted to
ms); sub-steps above 0.5 ms warn. No reset: a spike is the upward crossing of ``v_threshold`` (0 mV),
:math:`z_{t+1} = H(V_{t+1} - \theta) H(\theta - V_t)`, both factors through the surrogate (on ``(V - theta) / 10 mV``).

Presets (:data:`PRESETS`): ``class_I`` (saddle-node on invariant circle: firing starts at an arbitrarily low rate,
near 40 uA/cm^2) and ``class_II`` (Hopf: firing starts at a non-zero rate, near 90-100 uA/cm^2).
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
    "MORRIS_LECAR_PRESETS",
    "MorrisLecar",
    "MorrisLecarCell",
    "MorrisLecarParams",
    "MorrisLecarState",
    "morris_lecar_init",
    "morris_lecar_seq",
    "morris_lecar_step",
]

Value = float | torch.Tensor
NAMES = ("C", "g_L", "g_Ca", "g_K", "V_L", "V_Ca", "V_K", "V_1", "V_2", "V_3", "V_4", "phi")
_COMMON = dict(C=20.0, g_L=2.0, g_K=8.0, V_L=-60.0, V_Ca=120.0, V_K=-84.0, V_1=-1.2, V_2=18.0)
#: Rinzel & Ermentrout (1989) parameter sets
PRESETS: dict[str, dict[str, float]] = {
    "class_I": dict(_COMMON, g_Ca=4.0, V_3=12.0, V_4=17.4, phi=1.0 / 15.0),
    "class_II": dict(_COMMON, g_Ca=4.4, V_3=2.0, V_4=30.0, phi=0.04),
}
MORRIS_LECAR_PRESETS = PRESETS
PRESET_CURRENTS: dict[str, float] = {"class_I": 45.0, "class_II": 100.0}
V_SCALE = 10.0
_MAX_STEP_MS = 0.5


class MorrisLecarParams(NamedTuple):
    """``C`` uF/cm^2; ``g_*`` mS/cm^2; ``V_*`` mV; ``phi`` 1/ms. Defaults: the class II set."""

    C: Value = 20.0
    g_L: Value = 2.0
    g_Ca: Value = 4.4
    g_K: Value = 8.0
    V_L: Value = -60.0
    V_Ca: Value = 120.0
    V_K: Value = -84.0
    V_1: Value = -1.2
    V_2: Value = 18.0
    V_3: Value = 2.0
    V_4: Value = 30.0
    phi: Value = 0.04
    v_threshold: float = 0.0
    substeps: int = 1


class MorrisLecarState(NamedTuple):
    """``v``: membrane (mV); ``w``: fraction of open K channels."""

    v: torch.Tensor
    w: torch.Tensor


def morris_lecar_init(
    like: torch.Tensor, params: MorrisLecarParams = MorrisLecarParams(), v: float = -60.0
) -> MorrisLecarState:
    """State shaped like ``like`` with membrane ``v`` (mV, default -60) and ``w = w_inf(v)``."""
    v_t = torch.full_like(like, float(v))
    return MorrisLecarState(v_t, 0.5 * (1 + torch.tanh((v_t - params.V_3) / params.V_4)))


def _check_stability(params: MorrisLecarParams, dt: float) -> None:
    if not isinstance(params.substeps, int) or params.substeps < 1:
        raise ValueError(f"substeps: expected a positive int, got {params.substeps!r}")
    step = dt / ms / params.substeps
    if step > _MAX_STEP_MS:
        warnings.warn(
            f"dt: sub-steps of {step:g} ms exceed {_MAX_STEP_MS:g} ms, where RK4 on the Morris-Lecar "
            f"spike upswing loses accuracy and stability; pass substeps>={int(step / _MAX_STEP_MS) + 1}",
            RuntimeWarning,
            stacklevel=3,
        )


def _derivatives(v, w, x, p: MorrisLecarParams):
    m_inf = 0.5 + 0.5 * torch.tanh((v - p.V_1) / p.V_2)
    u = (v - p.V_3) / p.V_4
    w_inf = 0.5 + 0.5 * torch.tanh(u)
    dv = (x - p.g_L * (v - p.V_L) - p.g_Ca * m_inf * (v - p.V_Ca) - p.g_K * w * (v - p.V_K)) / p.C
    dw = p.phi * (w_inf - w) * torch.cosh(0.5 * u)
    return dv, dw


def _update(x, state: MorrisLecarState, params: MorrisLecarParams, dt_ms: float, surrogate):
    k = dt_ms / params.substeps
    v, w = state
    for _ in range(params.substeps):
        dv1, dw1 = _derivatives(v, w, x, params)
        dv2, dw2 = _derivatives(v + 0.5 * k * dv1, w + 0.5 * k * dw1, x, params)
        dv3, dw3 = _derivatives(v + 0.5 * k * dv2, w + 0.5 * k * dw2, x, params)
        dv4, dw4 = _derivatives(v + k * dv3, w + k * dw3, x, params)
        v = v + (k / 6.0) * (dv1 + dv4 + 2.0 * (dv2 + dv3))
        w = w + (k / 6.0) * (dw1 + dw4 + 2.0 * (dw2 + dw3))
    theta = params.v_threshold
    z = spike(surrogate, (v - theta) / V_SCALE) * spike(surrogate, (theta - state.v) / V_SCALE)
    return z, MorrisLecarState(v, w)


def morris_lecar_step(
    x: torch.Tensor,
    state: MorrisLecarState | None,
    params: MorrisLecarParams = MorrisLecarParams(),
    *,
    dt: float = 0.1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, MorrisLecarState]:
    """One Morris-Lecar step. ``x``: injected current (uA/cm^2) ``[B, ...]``; ``dt`` in seconds.

    >>> import torch
    >>> z, s = morris_lecar_step(torch.zeros(1, 1), None)
    >>> z.item()
    0.0
    """
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = morris_lecar_init(x, params) if state is None else state
    return _update(x, state, params, dt / ms, _surrogate.get(surrogate))


def _morris_lecar_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    dt_ms = dt / ms
    return scan(lambda x, s: _update(x, s, params, dt_ms, surrogate), x_seq, state, record=record)


kernels.register("morris_lecar", "torch", _morris_lecar_seq_torch)


def morris_lecar_seq(
    x_seq: torch.Tensor,
    state: MorrisLecarState | None = None,
    params: MorrisLecarParams = MorrisLecarParams(),
    *,
    dt: float = 0.1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, MorrisLecarState]:
    """Morris-Lecar over ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = morris_lecar_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _morris_lecar_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "morris_lecar", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _MorrisLecarBase(NeuronModule):
    #: named parameter sets and a current at which each shows its behaviour
    PRESETS = PRESETS
    PRESET_CURRENTS = PRESET_CURRENTS
    learnable = NAMES

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        preset: str | None = None,
        v_threshold: float = 0.0,
        substeps: int = 1,
        dt: float = 0.1 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **values: Value | Distribution | None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        unknown = sorted(set(values) - set(NAMES))
        if unknown:
            raise TypeError(f"MorrisLecar: unknown parameters {unknown}; expected names among {list(NAMES)}")
        merged = resolve_preset(PRESETS, preset, "MorrisLecar", values, PRESETS["class_II"])
        self.preset_name = preset
        for name in NAMES:
            self._add(name, merged[name])
        for name in ("C", "V_2", "V_4", "phi"):
            if (self.get(name) <= 0).any():
                raise ValueError(f"{name}: expected a positive value, got {merged[name]!r}")
        self.v_threshold = finite_float("v_threshold", v_threshold, " (mV)")
        self.substeps = substeps
        _check_stability(self.params(), self.dt)

    @classmethod
    def preset(cls, name: str, shape: int | Sequence[int] | None = None, **kwargs):
        """Build the module with a named parameter set (``"class_I"`` or ``"class_II"``)."""
        return cls(shape, preset=name, **kwargs)

    def params(self) -> MorrisLecarParams:
        """Current hyperparameters as :class:`MorrisLecarParams` (differentiable when learned)."""
        return MorrisLecarParams(*(self.get(n) for n in NAMES), v_threshold=self.v_threshold, substeps=self.substeps)

    def extra_repr(self) -> str:
        preset = f"preset={self.preset_name!r}, " if self.preset_name else ""
        return f"{preset}substeps={self.substeps}, dt={self.dt / ms:g} ms"


class MorrisLecarCell(_MorrisLecarBase, CellModule):
    """One Morris-Lecar step: ``MorrisLecarCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample; needed for learned or distribution-drawn parameters. Default None.
        preset: ``"class_I"`` or ``"class_II"``; explicit parameters override it. Default: class II.
        C (uF/cm^2), g_L, g_Ca, g_K (mS/cm^2), V_L, V_Ca, V_K, V_1, V_2, V_3, V_4 (mV), phi (1/ms): keyword
            parameters with the names of the model's equations; numbers, per-neuron tensors or distributions.
        v_threshold: upward crossing that counts as a spike (mV). Default 0.
        substeps: RK4 steps per ``dt``. Default 1.
        dt: time step (s). Default 0.1 ms.
        learn: names among the parameters.
        surrogate: surrogate of the crossing. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]`` injected current (uA/cm^2); z and state fields: the same.

    >>> import torch
    >>> z, state = MorrisLecarCell.preset("class_I")(torch.full((2, 3), 45.0))
    >>> tuple(state.w.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: MorrisLecarState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = morris_lecar_init(x, params) if state is None else state
        self._check_state(state, x)
        return _update(x, state, params, self.dt / ms, self.surrogate)


class MorrisLecar(_MorrisLecarBase, SequenceModule):
    """Morris-Lecar over a sequence: ``MorrisLecar(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`MorrisLecarCell`'s arguments plus ``backend`` and ``record`` (``v`` and ``w`` at every step).

    >>> import torch
    >>> z, state = MorrisLecar.preset("class_II")(torch.full((5000, 1, 1), 100.0))
    >>> int(z.sum()) > 2
    True
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: MorrisLecarState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        params = self.params()
        return self._run_checked(morris_lecar_seq, x_seq, state, params)


SPEC = register(
    NeuronSpec(
        name="morris_lecar",
        cell=MorrisLecarCell,
        sequence=MorrisLecar,
        step=morris_lecar_step,
        seq=morris_lecar_seq,
        init=morris_lecar_init,
        params=MorrisLecarParams,
        state=MorrisLecarState,
        drive=Drive(amplitude=400.0, dt=0.5 * ms),
        simulate=SimulateInfo(
            "morris-lecar",
            "uA/cm^2",
            "v",
            "mV",
            (
                "C",
                "g_L",
                "g_Ca",
                "g_K",
                "V_L",
                "V_Ca",
                "V_K",
                "V_1",
                "V_2",
                "V_3",
                "V_4",
                "phi",
                "v_threshold",
                "substeps",
            ),
            max_substep_ms=0.5,
            aliases=("ml", "morris_lecar"),
        ),
    )
)
