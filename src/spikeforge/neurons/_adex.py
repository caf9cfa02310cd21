r"""Adaptive exponential integrate-and-fire neuron (AdEx; Brette & Gerstner 2005) with the Naud et al. (2008)
firing-pattern presets.

Continuous dynamics (``V``, ``E_L``, ``V_T``, ``Delta_T``, ``V_r``, ``V_peak`` in mV; ``C`` in pF; ``g_L``, ``a`` in
nS; ``w``, ``b`` and the input ``I`` in pA; ``tau_w`` in seconds, time converted to ms inside):

.. math::
    C \dot V = -g_L (V - E_L) + g_L \Delta_T e^{(V - V_T)/\Delta_T} - w + I, \qquad
    \tau_w \dot w = a (V - E_L) - w, \qquad V \ge V_{peak} \Rightarrow V \leftarrow V_r,\; w \leftarrow w + b

Discrete update: an exponential Rosenbrock-Euler step for ``V``, i.e. the membrane equation ``f(V)`` is linearised
around ``V_t`` (slope ``J = g_L (e^{(V_t - V_T)/Delta_T} - 1) / C``) and the linearisation integrated exactly, so the
leak is exact and the exponential upswing is followed without the lag of forward Euler; ``w`` is integrated exactly
with ``V`` held (``rho = exp(-dt/tau_w)``). First order in the ``V``-``w`` coupling, stable for any ``dt``:

.. math::
    h = V_t + \frac{e^{J \Delta t} - 1}{J}\, f(V_t, w_t, I_t), \qquad
    f = \frac{-g_L (V - E_L) + g_L \Delta_T e^{(V - V_T)/\Delta_T} - w + I}{C},
    \qquad \tilde w = a (V_t - E_L) + (w_t - a (V_t - E_L))\rho,

    z_{t+1} = H(h - V_{peak}), \qquad V_{t+1} = h - z_{t+1}(h - V_r'), \qquad w_{t+1} = \tilde w + b z_{t+1}

where ``V_r'`` is ``V_r`` advanced by the same Rosenbrock step over the part of the step left after the crossing
(the crossing time solved from the linearisation, :math:`\sigma = \ln(1 + J\Delta t (V_{peak} - V_t)/(f \Delta t))
/ (J \Delta t)`), so that resets do not lag by half a step on average.

The exponent is capped at its value at ``V_peak`` and ``h`` at ``V_peak`` (the gradient passes straight through
the cap), so that large steps cannot overflow. The surrogate sees
``(h - V_peak) / (V_peak - V_T)``. Steps above 0.5 ms, or above half of ``C/g_L`` or ``tau_w``, warn.

Presets (:data:`PRESETS`, ``AdEx.preset("adapting")``): Naud et al. (2008), Table 1 (recalled values, checked in
the tests by the pattern each produces at its listed current, :data:`PRESET_CURRENTS`).
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
from ..units import check_dt, decay, ms
from ._base import CellModule, NeuronModule, SequenceModule, finite_float, fused_call_supports, scan, surrogate_settings
from ._izhikevich import resolve_preset, spike
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = ["ADEX_PRESETS", "AdEx", "AdExCell", "AdExParams", "AdExState", "adex_init", "adex_seq", "adex_step"]

Value = float | torch.Tensor

#: Naud et al. (2008) Table 1: C (pF), g_L (nS), E_L (mV), V_T (mV), Delta_T (mV), a (nS), tau_w (s), b (pA), V_r (mV)
PRESETS: dict[str, dict[str, float]] = {
    "tonic": dict(C=200.0, g_L=10.0, E_L=-70.0, V_T=-50.0, Delta_T=2.0, a=2.0, tau_w=30 * ms, b=0.0, V_r=-58.0),
    "adapting": dict(C=200.0, g_L=12.0, E_L=-70.0, V_T=-50.0, Delta_T=2.0, a=2.0, tau_w=300 * ms, b=60.0, V_r=-58.0),
    "initial_burst": dict(
        C=130.0, g_L=18.0, E_L=-58.0, V_T=-50.0, Delta_T=2.0, a=4.0, tau_w=150 * ms, b=120.0, V_r=-50.0
    ),
    "regular_bursting": dict(
        C=200.0, g_L=10.0, E_L=-58.0, V_T=-50.0, Delta_T=2.0, a=2.0, tau_w=120 * ms, b=100.0, V_r=-46.0
    ),
    "delayed_accelerating": dict(
        C=200.0, g_L=12.0, E_L=-70.0, V_T=-50.0, Delta_T=2.0, a=-10.0, tau_w=300 * ms, b=0.0, V_r=-58.0
    ),
    "delayed_regular_bursting": dict(
        C=100.0, g_L=10.0, E_L=-65.0, V_T=-50.0, Delta_T=2.0, a=-10.0, tau_w=90 * ms, b=30.0, V_r=-47.0
    ),
    "transient_spiking": dict(
        C=100.0, g_L=10.0, E_L=-65.0, V_T=-50.0, Delta_T=2.0, a=10.0, tau_w=90 * ms, b=100.0, V_r=-47.0
    ),
    "irregular_spiking": dict(
        C=100.0, g_L=12.0, E_L=-60.0, V_T=-50.0, Delta_T=2.0, a=-11.0, tau_w=130 * ms, b=30.0, V_r=-48.0
    ),
}
ADEX_PRESETS = PRESETS
#: step current (pA) of each preset in Naud et al. (2008)
PRESET_CURRENTS: dict[str, float] = {
    "tonic": 500.0,
    "adapting": 500.0,
    "initial_burst": 400.0,
    "regular_bursting": 210.0,
    "delayed_accelerating": 300.0,
    "delayed_regular_bursting": 110.0,
    "transient_spiking": 350.0,
    "irregular_spiking": 160.0,
}
NAMES = ("C", "g_L", "E_L", "V_T", "Delta_T", "a", "tau_w", "b", "V_r")


class AdExParams(NamedTuple):
    """Units: ``C`` pF; ``g_L``, ``a`` nS; ``E_L``, ``V_T``, ``Delta_T``, ``V_r``, ``V_peak`` mV; ``tau_w`` s;
    ``b`` pA. Defaults: the ``adapting`` preset."""

    C: Value = 200.0
    g_L: Value = 12.0
    E_L: Value = -70.0
    V_T: Value = -50.0
    Delta_T: Value = 2.0
    a: Value = 2.0
    tau_w: Value = 300 * ms
    b: Value = 60.0
    V_r: Value = -58.0
    V_peak: Value = 0.0
    detach_reset: bool = False


class AdExState(NamedTuple):
    """``v``: membrane (mV); ``w``: adaptation current (pA)."""

    v: torch.Tensor
    w: torch.Tensor


def adex_init(like: torch.Tensor, params: AdExParams = AdExParams()) -> AdExState:
    """Resting state shaped like ``like``: ``v = E_L``, ``w = 0``."""
    zeros = torch.zeros_like(like)
    return AdExState(v=zeros + torch.as_tensor(params.E_L, dtype=like.dtype, device=like.device), w=zeros)


def _check_stability(params: AdExParams, dt: float) -> None:
    tau_m = float(torch.as_tensor(params.C / torch.as_tensor(params.g_L)).detach().min()) * ms  # a bound, no grad
    tau_w = float(torch.as_tensor(params.tau_w).detach().min())
    limit = min(0.5 * ms, 0.5 * tau_m, 0.5 * tau_w)
    if dt > limit:
        warnings.warn(
            f"dt: {dt / ms:g} ms is above {limit / ms:.3g} ms (0.5 ms, or half of C/g_L or tau_w); the "
            "AdEx upswing and the V-w coupling are then poorly resolved; use a smaller dt",
            RuntimeWarning,
            stacklevel=3,
        )


def _coefficients(params: AdExParams, dt: float, like: torch.Tensor):
    def t(value):
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)

    rate = (dt / ms) * t(params.g_L) / t(params.C)  # dt / tau_m
    rho = decay(params.tau_w, dt, like=like)
    cap = (t(params.V_peak) - t(params.V_T)) / t(params.Delta_T)
    return rate, cap, rho


def _phi1(y: torch.Tensor) -> torch.Tensor:
    """``(e^y - 1) / y`` with its limit 1 at ``y = 0`` (``y`` capped at 30 so that nothing overflows)."""
    small = y.abs() < 1e-6
    safe = torch.where(small, 1.0, y).clamp(max=30.0)
    return torch.where(small, 1 + y / 2, torch.expm1(safe) / safe)


def _rosenbrock(v, w, x, params: AdExParams, rate, cap, fraction=1.0):
    """Membrane after ``fraction`` of a step from ``(v, w)``; also the step's slope and drive (step units)."""
    growth = torch.exp(torch.minimum((v - params.V_T) / params.Delta_T, cap))
    slope = (growth - 1) * (rate * fraction)  # J dt: derivative of the membrane equation in v, times the step
    drive = (params.Delta_T * growth - (v - params.E_L) + (x - w) / params.g_L) * (rate * fraction)  # f dt
    return v + _phi1(slope) * drive, slope, drive


def _update(x, state: AdExState, params: AdExParams, rate, cap, rho, surrogate):
    v, w = state
    h, slope, drive = _rosenbrock(v, w, x, params, rate, cap)
    h = h - (h - params.V_peak).clamp(min=0).detach()  # cut the upswing at V_peak (gradient passes straight)
    target = params.a * (v - params.E_L)
    w = target + (w - target) * rho
    z = spike(surrogate, (h - params.V_peak) / (params.V_peak - params.V_T))
    zr = z.detach() if params.detach_reset else z
    w = w + zr * params.b
    # where the neuron fired, the linearised membrane reached V_peak after a fraction sigma of the step; restart
    # from V_r for the rest of the step instead of losing it (this keeps spike trains from drifting late)
    gap = params.V_peak - v
    ratio = slope * gap / torch.where(drive > 0, drive, 1.0)
    small = slope.abs() < 1e-6
    sigma = torch.where(
        small,
        gap / torch.where(drive > 0, drive, 1.0),
        torch.log1p(ratio.clamp(min=-0.999999)) / torch.where(small, 1.0, slope),
    )
    rest = (1 - sigma).clamp(0.0, 1.0).detach()
    v_reset = _rosenbrock(torch.zeros_like(v) + params.V_r, w, x, params, rate, cap, rest)[0]
    v = h - zr * (h - v_reset)
    return z, AdExState(v, w)


def adex_step(
    x: torch.Tensor,
    state: AdExState | None,
    params: AdExParams = AdExParams(),
    *,
    dt: float = 0.1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, AdExState]:
    """One AdEx step. ``x``: input current (pA) ``[B, ...]``; ``dt`` in seconds. Returns ``(z, new_state)``.

    >>> import torch
    >>> z, s = adex_step(torch.full((1, 1), 500.0), None)
    >>> z.item(), round(s.v.item(), 3)
    (0.0, -69.751)
    """
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = adex_init(x, params) if state is None else state
    return _update(x, state, params, *_coefficients(params, dt, x), _surrogate.get(surrogate))


def _adex_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    coeffs = _coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update(x, s, params, *coeffs, surrogate), x_seq, state, record=record)


def _adex_seq_cpu(x_seq, state, params, *, dt, surrogate):
    rate, cap, rho = _coefficients(params, dt, x_seq)  # the reference's own coefficients (autograd reaches params)
    values = dict(zip(NAMES, params[: len(NAMES)]))
    coefficients = {"rate": rate, "cap": cap, "rho": rho, **{k: values[k] for k in kernels.cpu._adex.COEFFICIENTS[3:]}}
    settings = surrogate_settings(surrogate, detach=params.detach_reset)
    z, v, w = kernels.cpu.adex(x_seq, state.v, state.w, coefficients, v_peak=float(params.V_peak), settings=settings)
    return z, AdExState(v, w)


def _fused_supports(x=None, params=None, surrogate=None, **_):
    """The fused kernel takes a CPU float tensor, a spikeforge surrogate (any: a custom one's derivative is
    evaluated over every step's surrogate argument), one number for ``V_peak`` above every ``V_T``, parameters on
    the input's device, and is not traced by ``torch.compile``. Its backward (the recursion and every coefficient's
    gradient in C) measured 0.46-0.54x the time of autograd through the reference scan at 1 thread and 0.26-0.28x at 2
    (T = 500, B = 16, N = 512, learned parameters or not)."""
    verdict = fused_call_supports(x, params, surrogate)
    if not verdict:
        return verdict
    if kernels.cpu.scalar(params.V_peak) is None:
        return kernels.Refused("V_peak is a tensor; the kernel takes one number")
    values = [p for p in params[: len(NAMES)] if isinstance(p, torch.Tensor)]
    if any(p.device != x.device for p in values):
        return kernels.Refused("a parameter is on another device than the input")
    v_t = params.V_T.detach() if isinstance(params.V_T, torch.Tensor) else params.V_T
    if not bool(torch.as_tensor(float(params.V_peak) > v_t).all()):
        return kernels.Refused("V_peak is not above every V_T")
    return True


kernels.register("adex", "torch", _adex_seq_torch)
kernels.register("adex", "cpu", _adex_seq_cpu, available=kernels.cpu.available, supports=_fused_supports)


def adex_seq(
    x_seq: torch.Tensor,
    state: AdExState | None = None,
    params: AdExParams = AdExParams(),
    *,
    dt: float = 0.1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, AdExState]:
    """AdEx over ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    _check_stability(params, dt)
    state = adex_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _adex_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "adex", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _AdExBase(NeuronModule):
    #: named parameter sets and a current at which each shows its behaviour
    PRESETS = PRESETS
    PRESET_CURRENTS = PRESET_CURRENTS
    learnable = NAMES
    positive = ("tau_w",)

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        preset: str | None = None,
        C: Value | Distribution | None = None,
        g_L: Value | Distribution | None = None,
        E_L: Value | Distribution | None = None,
        V_T: Value | Distribution | None = None,
        Delta_T: Value | Distribution | None = None,
        a: Value | Distribution | None = None,
        tau_w: Value | Distribution | None = None,
        b: Value | Distribution | None = None,
        V_r: Value | Distribution | None = None,
        V_peak: float = 0.0,
        detach_reset: bool = False,
        dt: float = 0.1 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        given = dict(C=C, g_L=g_L, E_L=E_L, V_T=V_T, Delta_T=Delta_T, a=a, tau_w=tau_w, b=b, V_r=V_r)
        values = resolve_preset(PRESETS, preset, "AdEx", given, PRESETS["adapting"])
        self.preset_name = preset
        for name in NAMES:
            self._add(name, values[name])
        for name, unit in (("C", "pF"), ("g_L", "nS"), ("Delta_T", "mV")):
            if (self.get(name) <= 0).any():
                raise ValueError(f"{name}: expected a positive value in {unit}, got {values[name]!r}")
        if not (isinstance(V_peak, int | float) and math.isfinite(V_peak)):
            raise ValueError(f"V_peak: expected a finite number of mV, got {V_peak!r}")
        if (self.get("V_T") >= V_peak).any():
            raise ValueError(f"V_peak: expected a cut-off above V_T, got V_peak={V_peak!r} mV")
        self.V_peak = finite_float("V_peak", V_peak, " (mV)")
        self.detach_reset = bool(detach_reset)
        _check_stability(self.params(), self.dt)

    @classmethod
    def preset(cls, name: str, shape: int | Sequence[int] | None = None, **kwargs):
        """Build the module with a Naud et al. (2008) parameter set (keys of :data:`PRESETS`)."""
        return cls(shape, preset=name, **kwargs)

    def params(self) -> AdExParams:
        """Current hyperparameters as :class:`AdExParams` (differentiable when learned)."""
        return AdExParams(*(self.get(n) for n in NAMES), V_peak=self.V_peak, detach_reset=self.detach_reset)

    def extra_repr(self) -> str:
        preset = f"preset={self.preset_name!r}, " if self.preset_name else ""
        return f"{preset}tau_w={self._ms('tau_w')}, V_peak={self.V_peak:g} mV, dt={self.dt / ms:g} ms" + (
            f", learn={self.learn}" if self.learn else ""
        )


class AdExCell(_AdExBase, CellModule):
    """One AdEx step: ``AdExCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample; needed for learned or distribution-drawn parameters. Default None.
        preset: a key of :data:`PRESETS`; explicit parameters override it. Default: ``"adapting"``.
        C: membrane capacitance (pF). g_L: leak conductance (nS). E_L: leak reversal (mV).
        V_T: threshold slope point (mV). Delta_T: slope factor (mV, > 0). a: subthreshold adaptation (nS).
        tau_w: adaptation time constant (s). b: spike-triggered adaptation (pA). V_r: reset potential (mV).
        V_peak: spike cut-off (mV). Default 0.
        detach_reset: stop gradients through the reset. Default False.
        dt: time step (s). Default 0.1 ms.
        learn: names among the parameters above (not ``V_peak``).
        surrogate: surrogate gradient. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]`` input current (pA); z and state fields: the same.

    >>> import torch
    >>> z, state = AdExCell.preset("tonic")(torch.full((2, 3), 500.0))
    >>> tuple(state.w.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: AdExState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = adex_init(x, params) if state is None else state
        self._check_state(state, x)
        return _update(x, state, params, *_coefficients(params, self.dt, x), self.surrogate)


class AdEx(_AdExBase, SequenceModule):
    """AdEx over a sequence: ``AdEx(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`AdExCell`'s arguments plus ``backend`` and ``record`` (``v`` and ``w`` at every step).

    >>> import torch
    >>> z, state = AdEx.preset("tonic")(torch.full((2000, 1, 1), 500.0))
    >>> int(z.sum()) > 5
    True
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: AdExState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        params = self.params()
        return self._run_checked(adex_seq, x_seq, state, params)


SPEC = register(
    NeuronSpec(
        name="adex",
        cell=AdExCell,
        sequence=AdEx,
        step=adex_step,
        seq=adex_seq,
        init=adex_init,
        params=AdExParams,
        state=AdExState,
        drive=Drive(amplitude=6000.0, dt=0.1 * ms),
        simulate=SimulateInfo(
            "adex",
            "pA",
            "v",
            "mV",
            ("C", "g_L", "E_L", "V_T", "Delta_T", "a", "tau_w", "b", "V_r", "V_peak"),
            time_params=("tau_w",),
        ),
    )
)
