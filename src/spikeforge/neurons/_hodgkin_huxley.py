r"""Hodgkin-Huxley (1952) squid giant axon, in the modern convention (rest near -65 mV).

Continuous dynamics (``V`` in mV, time in ms, currents in uA/cm^2, conductances in mS/cm^2, ``C_m`` in uF/cm^2):

.. math::
    C_m \dot V = I - g_{Na} m^3 h (V - E_{Na}) - g_K n^4 (V - E_K) - g_L (V - E_L), \qquad
    \dot q = \phi\,[\alpha_q(V)(1 - q) - \beta_q(V) q], \quad q \in \{m, h, n\}

with the standard rate functions (1/ms) and temperature factor ``phi = 3^((T - 6.3)/10)``:

.. math::
    \alpha_n = \frac{0.01 (V + 55)}{1 - e^{-(V + 55)/10}}, \quad \beta_n = 0.125 e^{-(V + 65)/80}, \quad
    \alpha_m = \frac{0.1 (V + 40)}{1 - e^{-(V + 40)/10}}, \quad \beta_m = 4 e^{-(V + 65)/18},

    \alpha_h = 0.07 e^{-(V + 65)/20}, \quad \beta_h = \frac{1}{1 + e^{-(V + 35)/10}}

Discrete update over ``dt`` (seconds, converted to ms), split into ``substeps`` equal steps ``k``:

- ``method="rk4"`` (default): classical fourth-order Runge-Kutta on ``(V, m, h, n)``; stable for ``k`` up to about
  0.05 ms, larger sub-steps warn.
- ``method="exponential_euler"``: each gate is advanced exactly with ``V`` frozen,
  :math:`q_{t+1} = q_\infty + (q_t - q_\infty) e^{-k\phi(\alpha_q + \beta_q)}`, then ``V`` exactly with the new
  conductances frozen, :math:`V_{t+1} = V_\infty + (V_t - V_\infty) e^{-k g_{tot}/C_m}` (first order,
  unconditionally stable; sub-steps above 0.1 ms warn about accuracy).

There is no reset: a spike is the upward crossing of ``v_threshold`` (0 mV),
:math:`z_{t+1} = H(V_{t+1} - \theta) H(\theta - V_t)`, both factors through the surrogate (scaled by 10 mV), so
gradients reach the whole trajectory. The state also carries the three ionic currents for ``record=True`` traces.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, ms
from ._base import CellModule, NeuronModule, SequenceModule, finite_float, scan
from ._izhikevich import spike
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = [
    "HodgkinHuxley",
    "HodgkinHuxleyCell",
    "HodgkinHuxleyParams",
    "HodgkinHuxleyState",
    "hodgkin_huxley_init",
    "hodgkin_huxley_seq",
    "hodgkin_huxley_step",
]

Value = float | torch.Tensor
Method = Literal["rk4", "exponential_euler"]
METHODS = ("rk4", "exponential_euler")
NAMES = ("C_m", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L")
_MAX_STEP_MS = {"rk4": 0.05, "exponential_euler": 0.1}
V_SCALE = 10.0  # mV: width of the surrogate of the threshold crossing


class HodgkinHuxleyParams(NamedTuple):
    """``C_m`` uF/cm^2; ``g_*`` mS/cm^2; ``E_*`` and ``v_threshold`` mV; ``temperature`` degrees C."""

    C_m: Value = 1.0
    g_Na: Value = 120.0
    g_K: Value = 36.0
    g_L: Value = 0.3
    E_Na: Value = 50.0
    E_K: Value = -77.0
    E_L: Value = -54.387
    temperature: float = 6.3
    v_threshold: float = 0.0
    method: Method = "rk4"
    substeps: int = 1


class HodgkinHuxleyState(NamedTuple):
    """``v`` (mV); gates ``m``, ``h``, ``n``; ionic currents ``i_na``, ``i_k``, ``i_leak`` (uA/cm^2, outward > 0)."""

    v: torch.Tensor
    m: torch.Tensor
    h: torch.Tensor
    n: torch.Tensor
    i_na: torch.Tensor
    i_k: torch.Tensor
    i_leak: torch.Tensor


def _linexp(x: torch.Tensor, k: float) -> torch.Tensor:
    """``x / (1 - exp(-x/k))``, with its limit ``k`` where ``x = 0`` exactly (the only point where it is 0/0)."""
    zero = x == 0
    return torch.where(zero, k, x / -torch.expm1(torch.where(zero, 1.0, x) * (-1.0 / k)))


def rates(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)`` in 1/ms at 6.3 degrees C for ``v`` in mV."""
    v65 = v + 65.0
    alpha_m = 0.1 * _linexp(v + 40.0, 10.0)
    beta_m = 4.0 * torch.exp(v65 * (-1.0 / 18.0))
    alpha_h = 0.07 * torch.exp(v65 * (-1.0 / 20.0))
    beta_h = torch.sigmoid((v + 35.0) * 0.1)
    alpha_n = 0.01 * _linexp(v + 55.0, 10.0)
    beta_n = 0.125 * torch.exp(v65 * (-1.0 / 80.0))
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


def _phi(params: HodgkinHuxleyParams) -> float:
    return 3.0 ** ((params.temperature - 6.3) / 10.0)


def _currents(v, m, h, n, p: HodgkinHuxleyParams):
    return p.g_Na * m**3 * h * (v - p.E_Na), p.g_K * n**4 * (v - p.E_K), p.g_L * (v - p.E_L)


def hodgkin_huxley_init(
    like: torch.Tensor, params: HodgkinHuxleyParams = HodgkinHuxleyParams(), v: float = -65.0
) -> HodgkinHuxleyState:
    """State shaped like ``like`` with membrane ``v`` (mV, default -65) and every gate at its steady state."""
    v_t = torch.full_like(like, float(v))
    am, bm, ah, bh, an, bn = rates(v_t)
    m, h, n = am / (am + bm), ah / (ah + bh), an / (an + bn)
    return HodgkinHuxleyState(v_t, m, h, n, *_currents(v_t, m, h, n, params))


def _check_stability(params: HodgkinHuxleyParams, dt: float) -> None:
    if params.method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {params.method!r}")
    if not isinstance(params.substeps, int) or params.substeps < 1:
        raise ValueError(f"substeps: expected a positive int, got {params.substeps!r}")
    step = dt / ms / params.substeps
    limit = _MAX_STEP_MS[params.method]
    if step > limit:
        need = math.ceil(dt / ms / limit)
        warnings.warn(
            f"dt: sub-steps of {step:g} ms exceed {limit:g} ms, the limit of HodgkinHuxley "
            f"method={params.method!r} ({'stability' if params.method == 'rk4' else 'accuracy'}); "
            f"pass substeps>={need} or a smaller dt",
            RuntimeWarning,
            stacklevel=3,
        )


def _derivatives(v, m, h, n, x, p: HodgkinHuxleyParams, phi: float):
    am, bm, ah, bh, an, bn = rates(v)
    n2 = n * n
    i_ion = p.g_Na * (m * m * m * h) * (v - p.E_Na) + p.g_K * (n2 * n2) * (v - p.E_K) + p.g_L * (v - p.E_L)
    dv = (x - i_ion) / p.C_m
    if phi != 1.0:
        return dv, phi * (am - (am + bm) * m), phi * (ah - (ah + bh) * h), phi * (an - (an + bn) * n)
    return dv, am - (am + bm) * m, ah - (ah + bh) * h, an - (an + bn) * n


def _rk4(v, m, h, n, x, p, phi, k):
    half = 0.5 * k
    dv1, dm1, dh1, dn1 = _derivatives(v, m, h, n, x, p, phi)
    dv2, dm2, dh2, dn2 = _derivatives(v + half * dv1, m + half * dm1, h + half * dh1, n + half * dn1, x, p, phi)
    dv3, dm3, dh3, dn3 = _derivatives(v + half * dv2, m + half * dm2, h + half * dh2, n + half * dn2, x, p, phi)
    dv4, dm4, dh4, dn4 = _derivatives(v + k * dv3, m + k * dm3, h + k * dh3, n + k * dn3, x, p, phi)
    w = k / 6.0
    return (
        v + w * (dv1 + dv4 + 2.0 * (dv2 + dv3)),
        m + w * (dm1 + dm4 + 2.0 * (dm2 + dm3)),
        h + w * (dh1 + dh4 + 2.0 * (dh2 + dh3)),
        n + w * (dn1 + dn4 + 2.0 * (dn2 + dn3)),
    )


def _exponential_euler(v, m, h, n, x, p, phi, k):
    am, bm, ah, bh, an, bn = rates(v)
    gates = []
    for q, a, b in ((m, am, bm), (h, ah, bh), (n, an, bn)):
        total = a + b
        inf = a / total
        gates.append(inf + (q - inf) * torch.exp(total * (-k * phi)))
    m, h, n = gates
    n2 = n * n
    g_na, g_k = p.g_Na * (m * m * m * h), p.g_K * (n2 * n2)
    g_tot = g_na + g_k + p.g_L
    v_inf = (g_na * p.E_Na + g_k * p.E_K + p.g_L * p.E_L + x) / g_tot
    v = v_inf + (v - v_inf) * torch.exp(-k * g_tot / p.C_m)
    return v, m, h, n


def _update(x, state: HodgkinHuxleyState, params: HodgkinHuxleyParams, dt_ms: float, surrogate):
    phi = _phi(params)
    k = dt_ms / params.substeps
    advance = _rk4 if params.method == "rk4" else _exponential_euler
    v, m, h, n = state.v, state.m, state.h, state.n
    for _ in range(params.substeps):
        v, m, h, n = advance(v, m, h, n, x, params, phi, k)
    theta = params.v_threshold
    z = spike(surrogate, (v - theta) / V_SCALE) * spike(surrogate, (theta - state.v) / V_SCALE)
    return z, HodgkinHuxleyState(v, m, h, n, *_currents(v, m, h, n, params))


def hodgkin_huxley_step(
    x: torch.Tensor,
    state: HodgkinHuxleyState | None,
    params: HodgkinHuxleyParams = HodgkinHuxleyParams(),
    *,
    dt: float = 0.01 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, HodgkinHuxleyState]:
    """One Hodgkin-Huxley step. ``x``: injected current (uA/cm^2) ``[B, ...]``; ``dt`` in seconds.

    >>> import torch
    >>> z, s = hodgkin_huxley_step(torch.zeros(1, 1), None)
    >>> round(s.v.item(), 3)
    -65.0
    """
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = hodgkin_huxley_init(x, params) if state is None else state
    return _update(x, state, params, dt / ms, _surrogate.get(surrogate))


def _hodgkin_huxley_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    dt_ms = dt / ms
    return scan(lambda x, s: _update(x, s, params, dt_ms, surrogate), x_seq, state, record=record)


kernels.register("hodgkin_huxley", "torch", _hodgkin_huxley_seq_torch)


def hodgkin_huxley_seq(
    x_seq: torch.Tensor,
    state: HodgkinHuxleyState | None = None,
    params: HodgkinHuxleyParams = HodgkinHuxleyParams(),
    *,
    dt: float = 0.01 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, HodgkinHuxleyState]:
    """Hodgkin-Huxley over ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = hodgkin_huxley_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _hodgkin_huxley_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "hodgkin_huxley", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _HodgkinHuxleyBase(NeuronModule):
    learnable = NAMES

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        C_m: Value | Distribution = 1.0,
        g_Na: Value | Distribution = 120.0,
        g_K: Value | Distribution = 36.0,
        g_L: Value | Distribution = 0.3,
        E_Na: Value | Distribution = 50.0,
        E_K: Value | Distribution = -77.0,
        E_L: Value | Distribution = -54.387,
        temperature: float = 6.3,
        v_threshold: float = 0.0,
        method: Method = "rk4",
        substeps: int = 1,
        dt: float = 0.01 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        values = dict(C_m=C_m, g_Na=g_Na, g_K=g_K, g_L=g_L, E_Na=E_Na, E_K=E_K, E_L=E_L)
        for name in NAMES:
            self._add(name, values[name])
        for name in ("C_m", "g_L"):
            if (self.get(name) <= 0).any():
                raise ValueError(f"{name}: expected a positive value, got {values[name]!r}")
        for name in ("g_Na", "g_K"):
            if (self.get(name) < 0).any():
                raise ValueError(f"{name}: expected a conductance >= 0 (mS/cm^2), got {values[name]!r}")
        self.temperature = finite_float("temperature", temperature, " (degrees C)")
        self.v_threshold = finite_float("v_threshold", v_threshold, " (mV)")
        self.method = method
        self.substeps = substeps
        _check_stability(self.params(), self.dt)

    def params(self) -> HodgkinHuxleyParams:
        """Current hyperparameters as :class:`HodgkinHuxleyParams` (differentiable when learned)."""
        return HodgkinHuxleyParams(
            *(self.get(n) for n in NAMES),
            temperature=self.temperature,
            v_threshold=self.v_threshold,
            method=self.method,
            substeps=self.substeps,
        )

    def extra_repr(self) -> str:
        return (
            f"method={self.method!r}, substeps={self.substeps}, temperature={self.temperature:g} C, "
            f"dt={self.dt / ms:g} ms" + (f", learn={self.learn}" if self.learn else "")
        )


class HodgkinHuxleyCell(_HodgkinHuxleyBase, CellModule):
    """One Hodgkin-Huxley step: ``HodgkinHuxleyCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample; needed for learned or distribution-drawn parameters. Default None.
        C_m: membrane capacitance (uF/cm^2). Default 1.
        g_Na, g_K, g_L: maximal conductances (mS/cm^2). Default 120, 36, 0.3.
        E_Na, E_K, E_L: reversal potentials (mV). Default 50, -77, -54.387.
        temperature: degrees C; rates scale by ``3^((T - 6.3)/10)``. Default 6.3.
        v_threshold: upward crossing that counts as a spike (mV). Default 0.
        method: ``"rk4"`` or ``"exponential_euler"``. Default ``"rk4"``.
        substeps: integration steps per ``dt``. Default 1.
        dt: time step (s). Default 0.01 ms.
        learn: names among the conductances, reversal potentials and ``C_m``.
        surrogate: surrogate of the crossing (on ``(V - theta) / 10 mV``). Default fast sigmoid.

    Shape:
        x: ``[B, *shape]`` injected current (uA/cm^2); z and state fields: the same.

    >>> import torch
    >>> z, state = HodgkinHuxleyCell()(torch.full((2, 3), 10.0))
    >>> tuple(state.m.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: HodgkinHuxleyState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = hodgkin_huxley_init(x, params) if state is None else state
        self._check_state(state, x)
        return _update(x, state, params, self.dt / ms, self.surrogate)


class HodgkinHuxley(_HodgkinHuxleyBase, SequenceModule):
    """Hodgkin-Huxley over a sequence: ``HodgkinHuxley(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`HodgkinHuxleyCell`'s arguments plus ``backend`` and ``record`` (``v``, gates and currents at
    every step).

    >>> import torch
    >>> z, state = HodgkinHuxley(dt=0.025 * ms)(torch.full((2000, 1, 1), 10.0))
    >>> int(z.sum())
    4
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: HodgkinHuxleyState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        params = self.params()
        return self._run_checked(hodgkin_huxley_seq, x_seq, state, params)


SPEC = register(
    NeuronSpec(
        name="hodgkin_huxley",
        cell=HodgkinHuxleyCell,
        sequence=HodgkinHuxley,
        step=hodgkin_huxley_step,
        seq=hodgkin_huxley_seq,
        init=hodgkin_huxley_init,
        params=HodgkinHuxleyParams,
        state=HodgkinHuxleyState,
        drive=Drive(amplitude=40.0, dt=0.05 * ms),
        simulate=SimulateInfo(
            "hodgkin-huxley",
            "uA/cm^2",
            "v",
            "mV",
            ("C_m", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "temperature", "v_threshold", "method", "substeps"),
            max_substep_ms=0.05,
            aliases=("hh", "hodgkin_huxley"),
        ),
    )
)
