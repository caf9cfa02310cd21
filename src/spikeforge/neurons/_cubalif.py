r"""Current-based LIF with a synaptic current and a membrane, each with its own time constant, integrated exactly.

Continuous dynamics between spikes, with input drive ``x(t)`` (in units of the membrane potential: a constant ``x``
alone settles the membrane at ``v_leak + x``):

.. math::
    \tau_{syn} \dot i = -i + x, \qquad \tau_{mem} \dot v = -(v - v_{leak}) + i

Discrete update, exact for ``x`` held constant over the step (``alpha = exp(-dt/tau_syn)``,
``beta = exp(-dt/tau_mem)``, ``kappa = tau_syn / (tau_syn - tau_mem)``, or ``dt / tau`` in the limit of equal
time constants):

.. math::
    i_{t+1} = x_t + (i_t - x_t)\alpha, \qquad
    h = v_{leak} + x_t + (v_t - v_{leak} - x_t)\beta + (i_t - x_t)\,\kappa\,(\alpha - \beta), \qquad
    z_{t+1} = H(h - \vartheta)

followed by the reset of :mod:`~spikeforge.neurons._lif`: ``v = h - z theta`` (subtract), ``h - z (h - v_reset)``
(zero) or ``h`` (none). The zero reset does not throw away the part of the step after the crossing: the crossing
fraction ``f = (theta - v_t) / (h - v_t)`` is interpolated linearly and the membrane restarts from ``v_reset`` for
the remaining ``(1 - f) dt``, exactly (``r = 1 - f``, current at the crossing ``x + (i_t - x) alpha^f``):

.. math::
    v_{t+1} = v_{leak} + x_t + (v_{reset} - v_{leak} - x_t)\beta^{r} + (i_t - x_t)\alpha^{f}\kappa(\alpha^{r} - \beta^{r})

Without this, every interval would start up to one step late (about 0.8 dt on average), and spike trains would drift
(1.2 ms over 1 s at 144 Hz and dt = 0.01 ms). The remaining error is that a spike is reported at the end of its step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, decay, ms
from ._base import (
    CellModule,
    NeuronModule,
    ResetMode,
    SequenceModule,
    also,
    check_reset,
    finite_float,
    fused_supports,
    kernel_settings,
    scan,
)
from ._izhikevich import spike
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = ["CubaLIF", "CubaLIFCell", "CubaLIFParams", "CubaLIFState", "cubalif_init", "cubalif_seq", "cubalif_step"]

Value = float | torch.Tensor


class CubaLIFParams(NamedTuple):
    """Times in seconds; voltages in the user's units (``threshold`` 1 by default); tensors broadcast per neuron."""

    tau_mem: Value = 10 * ms
    tau_syn: Value = 5 * ms
    threshold: Value = 1.0
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    reset: ResetMode = "subtract"
    detach_reset: bool = False


class CubaLIFState(NamedTuple):
    """``v``: membrane; ``i``: synaptic current (membrane units)."""

    v: torch.Tensor
    i: torch.Tensor


def cubalif_init(like: torch.Tensor, params: CubaLIFParams = CubaLIFParams()) -> CubaLIFState:
    """Resting state shaped like ``like`` ([B, ...]): ``v = v_leak``, ``i = 0``."""
    zeros = torch.zeros_like(like)
    return CubaLIFState(v=zeros + torch.as_tensor(params.v_leak, dtype=like.dtype, device=like.device), i=zeros)


def _coefficients(params: CubaLIFParams, dt: float, like: torch.Tensor):
    tau_mem = torch.as_tensor(params.tau_mem, dtype=like.dtype, device=like.device)
    tau_syn = torch.as_tensor(params.tau_syn, dtype=like.dtype, device=like.device)
    alpha = decay(tau_syn, dt, like=like)
    beta = decay(tau_mem, dt, like=like)
    diff = tau_syn - tau_mem
    close = diff.abs() <= 1e-6 * tau_mem
    safe = torch.where(close, torch.ones_like(diff), diff)
    # kappa (alpha - beta) -> (dt / tau) exp(-dt / tau) as tau_syn -> tau_mem
    cross = torch.where(close, dt / tau_mem * beta, tau_syn / safe * (alpha - beta))
    return alpha, beta, cross


def _restart_terms(params: CubaLIFParams, dt: float, like: torch.Tensor):
    """What the zero reset needs beyond :func:`_coefficients`: ``kappa`` (1 where the limit applies), the limit mask
    and ``dt / tau_mem``."""
    tau_mem = torch.as_tensor(params.tau_mem, dtype=like.dtype, device=like.device)
    tau_syn = torch.as_tensor(params.tau_syn, dtype=like.dtype, device=like.device)
    diff = tau_syn - tau_mem
    close = diff.abs() <= 1e-6 * tau_mem
    kappa = torch.where(close, torch.ones_like(diff), tau_syn / torch.where(close, torch.ones_like(diff), diff))
    return kappa, close, dt / tau_mem


def _restart(x, v, h, j, params: CubaLIFParams, alpha, beta, restart):
    """Membrane at the end of the step for a neuron that crossed the threshold during it and restarted from
    ``v_reset`` at the linearly interpolated crossing (module docstring)."""
    kappa, close, dt_tau = restart
    rise = h - v
    f = ((params.threshold - v) / torch.where(rise > 0, rise, torch.ones_like(rise))).clamp(0.0, 1.0)
    r = 1.0 - f
    beta_r = beta**r
    # kappa (alpha^r - beta^r) -> r (dt / tau) beta^r as tau_syn -> tau_mem
    cross_r = torch.where(close, r * dt_tau * beta_r, kappa * (alpha**r - beta_r))
    return params.v_leak + x + (params.v_reset - params.v_leak - x) * beta_r + j * alpha**f * cross_r


def _update(x, state: CubaLIFState, params: CubaLIFParams, alpha, beta, cross, surrogate, restart=None):
    v, i = state
    j = i - x
    w = v - params.v_leak - x
    h = params.v_leak + x + w * beta + j * cross
    i = x + j * alpha
    z = spike(surrogate, h - params.threshold)
    zr = z.detach() if params.detach_reset else z
    if params.reset == "subtract":
        v = h - zr * params.threshold
    elif params.reset == "zero":
        v = h - zr * (h - _restart(x, v, h, j, params, alpha, beta, restart))
    else:
        v = h
    return z, CubaLIFState(v, i)


def _all_coefficients(params: CubaLIFParams, dt: float, like: torch.Tensor):
    coeffs = _coefficients(params, dt, like)
    return (*coeffs, _restart_terms(params, dt, like) if params.reset == "zero" else None)


def cubalif_step(
    x: torch.Tensor,
    state: CubaLIFState | None,
    params: CubaLIFParams = CubaLIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, CubaLIFState]:
    """One CubaLIF step. ``x``: input drive ``[B, ...]`` (membrane units). Returns ``(z, new_state)``.

    >>> import torch
    >>> z, s = cubalif_step(torch.full((1, 1), 2.0), None)
    >>> round(s.i.item(), 4), round(s.v.item(), 4)
    (0.3625, 0.0181)
    """
    dt = check_dt(dt)
    state = cubalif_init(x, params) if state is None else state
    alpha, beta, cross, restart = _all_coefficients(params, dt, x)
    return _update(x, state, params, alpha, beta, cross, _surrogate.get(surrogate), restart)


def _cubalif_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    alpha, beta, cross, restart = _all_coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update(x, s, params, alpha, beta, cross, surrogate, restart), x_seq, state, record=record)


def _cubalif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    alpha, beta, cross = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
    settings = kernel_settings(params, surrogate)
    z, v, i = kernels.cpu.cuba(x_seq, state.v, state.i, alpha, beta, cross, params.threshold, settings)
    return z, CubaLIFState(v, i)


def _fused_supports(x=None, params=None, surrogate=None, **_) -> bool:
    """Besides :func:`fused_supports`: not the zero reset, for which the reference restarts the membrane from
    ``v_reset`` at the interpolated crossing, which the compiled kernel does not do."""
    return also(
        fused_supports(x, params, surrogate),
        (params.reset != "zero", "reset='zero' restarts at the interpolated crossing, which the kernel does not do"),
    )


kernels.register("cubalif", "torch", _cubalif_seq_torch)
kernels.register("cubalif", "cpu", _cubalif_seq_cpu, available=kernels.cpu.available, supports=_fused_supports)


def cubalif_seq(
    x_seq: torch.Tensor,
    state: CubaLIFState | None = None,
    params: CubaLIFParams = CubaLIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, CubaLIFState]:
    """CubaLIF over ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    state = cubalif_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _cubalif_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "cubalif", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _CubaLIFBase(NeuronModule):
    learnable = ("tau_mem", "tau_syn", "threshold")
    positive = ("tau_mem", "tau_syn")

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        tau_mem: Value | Distribution = 10 * ms,
        tau_syn: Value | Distribution = 5 * ms,
        threshold: Value | Distribution = 1.0,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
        reset: ResetMode = "subtract",
        detach_reset: bool = False,
        dt: float = 1 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        self.reset = check_reset(reset)
        self.detach_reset = bool(detach_reset)
        self.v_reset = finite_float("v_reset", v_reset)
        self.v_leak = finite_float("v_leak", v_leak)
        self._add("tau_mem", tau_mem)
        self._add("tau_syn", tau_syn)
        self._add("threshold", threshold)
        self._check_threshold(v_reset=self.v_reset, v_leak=self.v_leak, reset=self.reset)

    def params(self) -> CubaLIFParams:
        """Current hyperparameters as :class:`CubaLIFParams` (differentiable when learned)."""
        return CubaLIFParams(
            tau_mem=self.get("tau_mem"),
            tau_syn=self.get("tau_syn"),
            threshold=self.get("threshold"),
            v_reset=self.v_reset,
            v_leak=self.v_leak,
            reset=self.reset,
            detach_reset=self.detach_reset,
        )

    def extra_repr(self) -> str:
        parts = [
            f"shape={self.shape}" if self.shape else None,
            f"tau_mem={self._ms('tau_mem')}",
            f"tau_syn={self._ms('tau_syn')}",
            f"reset={self.reset!r}",
            f"dt={self.dt / ms:g} ms",
            f"learn={self.learn}" if self.learn else None,
        ]
        return ", ".join(p for p in parts if p)


class CubaLIFCell(_CubaLIFBase, CellModule):
    """One CubaLIF step: ``CubaLIFCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample; needed for learned or per-neuron parameters. Default None.
        tau_mem: membrane time constant (s). Default 10 ms.
        tau_syn: synaptic current time constant (s). Default 5 ms.
        threshold: firing threshold (membrane units). Default 1.
        v_reset: membrane after a zero reset. Default 0.
        v_leak: resting potential. Default 0.
        reset: ``"subtract"``, ``"zero"`` or ``"none"``. Default ``"subtract"``.
        detach_reset: stop gradients through the reset. Default False.
        dt: time step (s). Default 1 ms.
        learn: names among ``tau_mem``, ``tau_syn``, ``threshold``.
        surrogate: surrogate gradient. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]``; z and state fields: the same.

    >>> import torch
    >>> z, state = CubaLIFCell(3)(torch.ones(2, 3))
    >>> tuple(state.i.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: CubaLIFState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = cubalif_init(x, params) if state is None else state
        self._check_state(state, x)
        alpha, beta, cross, restart = _all_coefficients(params, self.dt, x)
        return _update(x, state, params, alpha, beta, cross, self.surrogate, restart)


class CubaLIF(_CubaLIFBase, SequenceModule):
    """CubaLIF over a sequence: ``CubaLIF(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`CubaLIFCell`'s arguments plus ``backend`` and ``record`` (states at every step).

    >>> import torch
    >>> z, state = CubaLIF(4, dt=0.1 * ms)(torch.full((500, 2, 4), 3.0))
    >>> int(z.sum(0)[0, 0])
    10
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: CubaLIFState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        return cubalif_seq(
            x_seq, state, self.params(), dt=self.dt, surrogate=self.surrogate, backend=self.backend, record=self.record
        )


SPEC = register(
    NeuronSpec(
        name="cubalif",
        cell=CubaLIFCell,
        sequence=CubaLIF,
        step=cubalif_step,
        seq=cubalif_seq,
        init=cubalif_init,
        params=CubaLIFParams,
        state=CubaLIFState,
        drive=Drive(amplitude=4.0, dt=1 * ms),
        simulate=SimulateInfo(
            "cubalif",
            "membrane units",
            "v",
            "a.u.",
            ("tau_mem", "tau_syn", "threshold", "v_reset", "v_leak", "reset"),
            time_params=("tau_mem", "tau_syn"),
        ),
        nir=True,
    )
)
