r"""Leaky integrate-and-fire neuron, optionally current-based (``tau_syn``) and refractory.

Continuous dynamics (between spikes), with input current ``I`` and membrane resistance ``R``:

.. math::
    \tau_{syn} \dot{i} = -i + \tau_{syn} \textstyle\sum_k x_k \delta(t - t_k), \qquad
    \tau_{mem} \dot{v} = -(v - v_{leak}) + R I

Discrete update, exact for input held constant over a step (``beta = exp(-dt/tau_mem)``,
``alpha = exp(-dt/tau_syn)``):

.. math::
    i_{t+1} = \alpha i_t + x_t \;(\text{or } i_{t+1} = x_t \text{ without } \tau_{syn}), \qquad
    h = v_{leak} + \beta (v_t - v_{leak}) + i_{t+1}, \qquad
    z_{t+1} = H(h - \vartheta)

and the reset ``v_{t+1} = h - z\vartheta`` (subtract), ``h(1 - z) + z v_{reset}`` (zero) or ``h`` (none).
``x_t`` is the charge delivered in one step: a constant current gives ``x = (1 - beta) R I``. During the refractory
period (``t_ref``, rounded to whole steps) the membrane is held at ``v_reset`` and input is ignored.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import torch

from .. import _choice, kernels
from .. import state as _state
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, decay, ms
from ._base import (
    CellModule,
    NeuronModule,
    ResetMode,
    SequenceModule,
    also,
    check_finite,
    check_reset,
    finite_float,
    fused_supports,
    kernel_settings,
    scan,
)
from ._spec import Drive, NeuronSpec, register

__all__ = ["LIF", "LIFCell", "LIFParams", "LIFState", "lif_init", "lif_seq", "lif_step"]

Value = float | torch.Tensor


class LIFParams(NamedTuple):
    """LIF hyperparameters. Times in seconds; tensors broadcast against the neurons (per-neuron values)."""

    tau_mem: Value = 20 * ms
    threshold: Value = 1.0
    tau_syn: Value | None = None
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    t_ref: float = 0.0
    reset: ResetMode = "subtract"
    detach_reset: bool = False


class LIFState(NamedTuple):
    """``v``: membrane; ``i``: synaptic current (the last input without ``tau_syn``); ``ref``: refractory steps left."""

    v: torch.Tensor
    i: torch.Tensor
    ref: torch.Tensor


def lif_init(like: torch.Tensor, params: LIFParams = LIFParams()) -> LIFState:
    """Resting state for one time step shaped like ``like`` ([B, ...]): ``v = v_leak``, no current."""
    zeros = torch.zeros_like(like)
    return LIFState(
        v=zeros + torch.as_tensor(params.v_leak, dtype=like.dtype, device=like.device), i=zeros, ref=zeros.clone()
    )


def _coefficients(params: LIFParams, dt: float, like: torch.Tensor):
    beta = decay(params.tau_mem, dt, like=like)
    alpha = None
    if params.tau_syn is not None:
        alpha = decay(params.tau_syn, dt, like=like)
    n_ref = round(params.t_ref / dt) if params.t_ref else 0
    return beta, alpha, n_ref


def integrate_and_fire(h: torch.Tensor, params: LIFParams, surrogate: _surrogate.Surrogate):
    """Spike where ``h >= threshold`` and apply the reset mode; returns ``(z, v_after_reset)``."""
    z = surrogate(h - params.threshold)
    zr = z.detach() if params.detach_reset else z
    if params.reset == "subtract":
        v = h - zr * params.threshold
    elif params.reset == "zero":
        v = h - zr * (h - params.v_reset)
    else:
        v = h
    return z, v


def _update(x, state: LIFState, params: LIFParams, beta, alpha, n_ref: int, surrogate):
    i = x if alpha is None else alpha * state.i + x
    if params.v_leak is None or (not isinstance(params.v_leak, torch.Tensor) and params.v_leak == 0):
        h = beta * state.v + i
    else:
        h = params.v_leak + beta * (state.v - params.v_leak) + i
    if n_ref:
        free = state.ref <= 0
        h = torch.where(free, h, torch.as_tensor(params.v_reset, dtype=h.dtype, device=h.device))
    z, v = integrate_and_fire(h, params, surrogate)
    if n_ref:
        z = z * free
        ref = torch.where(z.detach() > 0, torch.full_like(state.ref, n_ref), (state.ref - 1).clamp(min=0))
    else:
        ref = state.ref
    return z, LIFState(v, i, ref)


def lif_step(
    x: torch.Tensor,
    state: LIFState | None,
    params: LIFParams = LIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, LIFState]:
    """One LIF step. ``x``: input charge for this step, ``[B, ...]``. Returns ``(z, new_state)``.

    >>> import torch
    >>> z, s = lif_step(torch.full((1, 2), 1.5), None)
    >>> z.tolist(), s.v.tolist()
    ([[1.0, 1.0]], [[0.5, 0.5]])
    """
    dt = check_dt(dt)
    state = lif_init(x, params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    beta, alpha, n_ref = _coefficients(params, dt, x)
    return _update(x, state, params, beta, alpha, n_ref, surrogate)


def _lif_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    beta, alpha, n_ref = _coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update(x, s, params, beta, alpha, n_ref, surrogate), x_seq, state, record=record)


def _fused_supports(x=None, params=None, surrogate=None, device="cpu", **_) -> bool:
    """Calls the fused kernels run: no ``tau_syn``, no refractoriness, besides :func:`fused_supports`."""
    return also(
        fused_supports(x, params, surrogate, device, compiles=device == "cpu"),  # CPU: custom operators
        (params.tau_syn is None, "tau_syn is set (the fused LIF kernel has no synaptic current; CubaLIF has one)"),
        (not params.t_ref, "t_ref > 0 (the fused kernel has no refractory period)"),
    )


def _lif_seq_fused(run, x_seq, state, params, *, dt, surrogate, **options):
    """LIF through a fused tensor kernel ``run`` (:func:`kernels.cpu.lif`, :func:`kernels.gpu.lif`)."""
    beta = decay(params.tau_mem, dt, like=x_seq)
    z, v = run(x_seq, state.v, beta, params.threshold, kernel_settings(params, surrogate), **options)
    return z, LIFState(v, x_seq[-1], state.ref)


kernels.register("lif", "torch", _lif_seq_torch)
kernels.register(
    "lif",
    "cpu",
    functools.partial(_lif_seq_fused, kernels.cpu.lif),
    available=kernels.cpu.available,
    supports=_fused_supports,
)
kernels.register(
    "lif",
    "cpu_lean",
    functools.partial(_lif_seq_fused, kernels.cpu.lif, half=True),
    available=kernels.cpu.available,
    supports=_fused_supports,
)
kernels.register(
    "lif",
    "triton",
    functools.partial(_lif_seq_fused, kernels.gpu.lif),
    available=kernels.gpu.available,
    supports=functools.partial(_fused_supports, device="cuda"),
)


def lif_seq(
    x_seq: torch.Tensor,
    state: LIFState | None = None,
    params: LIFParams = LIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, LIFState]:
    """LIF over a sequence ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)``.

    With ``record=True`` the second element holds every state over time (``state.v[t]``) and the torch reference
    runs, whatever ``backend`` says.
    """
    dt = check_dt(dt)
    state = lif_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _lif_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "lif", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _LIFBase(NeuronModule):
    learnable = ("tau_mem", "tau_syn", "threshold")
    positive = ("tau_mem", "tau_syn")

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        tau_mem: Value | Distribution = 20 * ms,
        threshold: Value | Distribution = 1.0,
        tau_syn: Value | Distribution | None = None,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
        t_ref: float = 0.0,
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
        if not (isinstance(t_ref, int | float) and math.isfinite(t_ref) and t_ref >= 0):
            raise ValueError(f"t_ref: expected a refractory period >= 0 in seconds, got {t_ref!r}")
        self.t_ref = float(t_ref)
        self.v_reset = finite_float("v_reset", v_reset)
        self.v_leak = finite_float("v_leak", v_leak)
        self._add("tau_mem", tau_mem)
        self._add("tau_syn", tau_syn)
        self._add("threshold", threshold)
        self._check_threshold(v_reset=self.v_reset, v_leak=self.v_leak, reset=self.reset)

    def params(self) -> LIFParams:
        """The current hyperparameters as a :class:`LIFParams` (differentiable when learned)."""
        return LIFParams(
            tau_mem=self.get("tau_mem"),
            threshold=self.get("threshold"),
            tau_syn=self.get("tau_syn"),
            v_reset=self.v_reset,
            v_leak=self.v_leak,
            t_ref=self.t_ref,
            reset=self.reset,
            detach_reset=self.detach_reset,
        )

    def extra_repr(self) -> str:
        parts = [
            f"shape={self.shape}" if self.shape else None,
            f"tau_mem={self._ms('tau_mem')}",
            f"tau_syn={self._ms('tau_syn')}" if self.tau_syn_set else None,
            f"reset={self.reset!r}",
            f"dt={self.dt * 1e3:g} ms",
            f"t_ref={self.t_ref * 1e3:g} ms" if self.t_ref else None,
            f"learn={self.learn}" if self.learn else None,
            f"surrogate={self.surrogate!r}",
        ]
        return ", ".join(p for p in parts if p)

    @property
    def tau_syn_set(self) -> bool:
        return self._specs.get("tau_syn") is not None


class LIFCell(_LIFBase, CellModule):
    """One LIF step as a module: ``LIFCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample (int or tuple); needed for per-neuron or learned parameters. Default None.
        tau_mem: membrane time constant (s), number, tensor or :mod:`spikeforge.init` distribution. Default 20 ms.
        threshold: firing threshold. Default 1.
        tau_syn: synaptic current time constant (s); None feeds input straight to the membrane. Default None.
        v_reset: membrane after a zero reset and during refractoriness. Default 0.
        v_leak: resting potential. Default 0.
        t_ref: refractory period (s), rounded to whole steps. Default 0.
        reset: ``"subtract"``, ``"zero"`` or ``"none"``. Default ``"subtract"``.
        detach_reset: stop gradients through the reset. Default False.
        dt: time step (s). Default 1 ms.
        learn: names among ``tau_mem``, ``tau_syn``, ``threshold`` to train.
        surrogate: a :class:`~spikeforge.surrogate.Surrogate`, a name or a dict. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]``; z and state fields: the same.

    >>> import torch
    >>> cell = LIFCell(3)
    >>> z, state = cell(torch.ones(2, 3))
    >>> tuple(z.shape), state.v.shape == z.shape
    ((2, 3), True)
    """

    def forward(self, x: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        if state is None:
            state = lif_init(x, params)
        else:
            self._check_state(state, x)
        beta, alpha, n_ref = _coefficients(params, self.dt, x)
        return _update(x, state, params, beta, alpha, n_ref, self.surrogate)


class LIF(_LIFBase, SequenceModule):
    """LIF over a sequence: ``LIF(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`LIFCell`'s arguments plus ``backend`` (``"auto"``, ``"torch"`` or a registered fast kernel)
    and ``record`` (return the state at every step instead of the final one).

    Shape:
        x_seq: ``[T, B, *shape]``; z_seq: the same; state fields: ``[B, *shape]`` (``[T, B, *shape]`` if record).

    >>> import torch
    >>> lif = LIF(4, tau_mem=10 * ms)
    >>> z_seq, state = lif(torch.rand(25, 2, 4))
    >>> tuple(z_seq.shape), tuple(state.v.shape)
    ((25, 2, 4), (2, 4))
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        params = self.params()
        absorbing = not params.t_ref and params.tau_syn is None  # a non-finite input leaves a non-finite v_T
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]", values=not absorbing)
        if state is not None:
            self._check_state(state, x_seq[0])
        z, final = lif_seq(
            x_seq, state, params, dt=self.dt, surrogate=self.surrogate, backend=self.backend, record=self.record
        )
        if absorbing:
            self._check_final(x_seq, final.v)
        return z, final

    def forward_synapse(
        self, synapse: torch.nn.Module, x_seq: torch.Tensor, state: LIFState | None = None
    ) -> tuple[torch.Tensor, LIFState] | None:
        """``self(synapse(x_seq), state)`` in one fused CPU kernel, or None where it does not apply (see
        :func:`fused_synapse`); the state's ``i`` is the last step's current, as after the unfused pair."""
        params = self.params()
        dt = self.dt

        def finish(
            z: torch.Tensor, v: torch.Tensor, start: LIFState, last: torch.Tensor | None = None
        ) -> tuple[torch.Tensor, LIFState]:
            current = torch.nn.functional.linear(x_seq[-1], synapse.weight, synapse.bias) if last is None else last
            return z, LIFState(v, current, start.ref)

        beta = functools.partial(decay, params.tau_mem, dt)
        return fused_synapse(self, synapse, x_seq, state, "lif", params, lambda like: beta(like=like), lif_init, finish)


def fused_synapse(
    neuron: NeuronModule,
    synapse: torch.nn.Module,
    x_seq: torch.Tensor,
    state: NamedTuple | None,
    model: str,
    params: LIFParams,
    beta: Callable[[torch.Tensor], Value],
    init: Callable[[torch.Tensor, LIFParams], NamedTuple],
    finish: Callable[..., tuple[torch.Tensor, NamedTuple]],
) -> tuple[torch.Tensor, NamedTuple] | None:
    """``neuron(synapse(x_seq), state)`` for a LIF-family layer ``neuron`` (``model`` ``"lif"`` or ``"if"``, its
    hyperparameters as ``params``, its decay ``beta(like)`` and resting state ``init(like, params)``) in one fused CPU
    kernel (:func:`spikeforge.kernels.cpu.event_lif`): ``finish(z[T, B, out], v_T[B, out], initial state[, last
    step's current])``, the neuron's ``(z, state)``; or None where that kernel does not apply, and the caller then
    runs the two layers one after the other.

    It applies to a training call on binary spikes ``x_seq[T, B, in]`` that need no gradient (data), when
    ``synapse`` is an event-driven linear layer (``fused_events``, :class:`~spikeforge.synapses.EventLinear`) that
    takes its event path for them, ``neuron`` runs a fused CPU backend (``"auto"`` or ``"cpu"``, no record, a
    built-in surrogate, no ``tau_syn`` or ``t_ref``) and neither has hooks. The result is the unfused pair's (the
    same spikes; gradients up to the order of additions), but no ``[T, B, out]`` current or gradient is ever held:
    the backward recomputes the current from the spikes. :class:`~spikeforge.nn.SequentialState` calls it (through
    ``forward_synapse``) for every synapse followed by such a layer; ``kernels.backend_of(neuron)`` then says
    ``"cpu+events"``. A stride-1 ``torch.nn.Conv2d`` before the layer fuses the same way (:func:`_fused_conv`,
    ``"cpu+conv"``), for input that changes over time.

    Where it applies, the fused kernel and the pair run one after the other are timed against each other once per
    shape (``synapse.prefer_fused``: recomputing the current costs about one more gather, which short sequences
    that fit in cache do not win back), and the pair runs, from the same spike indices, where it is faster here.
    """
    if type(synapse) is torch.nn.Conv2d:
        return _fused_conv(neuron, synapse, x_seq, state, model, params, beta, init, finish)
    # the synapse's side of the protocol (EventLinear): its events, its current from them, and the timed choice
    events_of, current_of, prefer_fused = (
        getattr(synapse, name, None) for name in ("fused_events", "events_current", "prefer_fused")
    )
    if None in (events_of, current_of, prefer_fused):
        return None
    weight, bias = getattr(synapse, "weight", None), getattr(synapse, "bias", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or x_seq.dim() != 3 or x_seq.shape[0] == 0:
        return None
    if not _takes_fused(neuron, params, weight, (weight.shape[0],)):
        return None
    surrogate = neuron.surrogate
    steps, batch = x_seq.shape[:2]
    like = weight.new_empty((batch, weight.shape[0]))
    if state is not None:
        neuron._check_state(state, like)
    with kernels.layer(neuron):
        events = events_of(x_seq)
        if events is None:
            return None
        start = init(like, params) if state is None else state
        settings = kernel_settings(params, surrogate)
        decay_ = beta(like)

        def fused(v0: Any, b: Any, thr: Any) -> tuple[torch.Tensor, torch.Tensor]:
            return kernels.cpu.event_lif(*events, weight, bias, v0, b, thr, settings, steps, batch)

        # the timing runs see the state and the neuron parameters detached: their backward reaches only the
        # synapse's weights, never the graph of an earlier chunk or batch that the state may carry
        held = _state.detach([start.v, decay_, params.threshold])

        def separate() -> torch.Tensor:
            return kernels.cpu.lif(current_of(x_seq, events), *held, settings)[0]

        if not prefer_fused(x_seq, events, lambda: fused(*held)[0], separate, model):
            return neuron(current_of(x_seq, events), state)
        kernels.record(model, "cpu+events")
        z, v = fused(start.v, decay_, params.threshold)
    _explain_non_finite(v, weight=weight, bias=bias)  # spikes are finite: a non-finite membrane comes from these
    return finish(z, v, start)


def _takes_fused(neuron: NeuronModule, params: LIFParams, weight: torch.Tensor, out: tuple[int, ...]) -> bool:
    """The neuron's side of a fused synapse kernel: compiled CPU kernels here and not under ``torch.compile``
    (compiled graphs run the layers' own operators), a fused CPU backend (``"auto"`` or ``"cpu"``), no ``record``, no
    hooks, a layer shape that is the synapse's output ``out`` (or none), a built-in surrogate and parameters the
    kernels run (:func:`_fused_supports`)."""
    if torch.compiler.is_compiling() or not kernels.cpu.available():
        return False
    if neuron.record or neuron.backend not in ("auto", "cpu") or neuron._forward_hooks or neuron._forward_pre_hooks:
        return False
    if neuron.shape is not None and tuple(neuron.shape) != tuple(out):
        return False
    surrogate = neuron.surrogate
    return _fused_supports(x=weight, params=params, surrogate=surrogate) and surrogate.kernel_code() is not None


def _explain_non_finite(v: torch.Tensor, **sources: torch.Tensor | None) -> None:
    """After a fused synapse kernel: where the final membrane ``v`` is not finite, name the first of ``sources``
    (the tensors it came from) that holds a NaN or an infinity (:func:`check_finite` raises)."""
    if not torch.isfinite(v.sum()):
        for name, tensor in sources.items():
            if tensor is not None:
                check_finite(name, tensor)


def _conv_fusable(conv: torch.nn.Conv2d, x_seq: torch.Tensor) -> bool:
    """Whether :func:`spikeforge.kernels.cpu.conv_lif` can compute ``conv`` over ``x_seq``: stride 1, no dilation,
    one group, zero padding given as numbers, at most ``kernels.cpu.CONV_MAX_TAPS_EVENTS`` weights per output (the
    input's :func:`~spikeforge.kernels.cpu.conv_lif_plan` decides below that), a CPU float sequence ``[T, B, C, H,
    W]`` in the weight's dtype that changes over time (a static input runs the convolution once instead,
    :class:`~spikeforge.nn.SequentialState`)."""
    weight, bias = conv.weight, conv.bias
    geometry = (
        conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and isinstance(conv.padding, tuple)
        and weight[0].numel() <= kernels.cpu.CONV_MAX_TAPS_EVENTS
    )
    data = (
        x_seq.dim() == 5
        and x_seq.shape[0] > 1
        and x_seq.stride(0) != 0
        and x_seq.device.type == "cpu"
        and x_seq.dtype in (torch.float32, torch.float64)
        and weight.dtype == x_seq.dtype
        and (bias is None or bias.dtype == x_seq.dtype)
    )
    return geometry and data


def _conv_prefers_fused(
    conv: torch.nn.Conv2d,
    x_seq: torch.Tensor,
    how: Any,
    fused: Callable[[], torch.Tensor],
    apart: Callable[[], torch.Tensor],
    tag: str,
) -> bool:
    """Whether the fused convolution + LIF kernel (``fused()``, its spikes) runs at least as fast here as the
    convolution and the LIF kernel one after the other (``apart()``): both timed forward (and backward, to the
    parameters and the input that want gradients, when gradients are on) by :data:`spikeforge._choice.CHOOSER`,
    interleaved, once per layer shape, input path and density octave, neuron kind ``tag``, thread count; no margin:
    the fused kernel, which holds no ``[T, B, C_out, H_o, W_o]`` current, is taken unless the pair is faster at all.
    The first call of a shape runs each path four times."""
    weight, bias = conv.weight, conv.bias
    wants = [t for t in (weight, bias, x_seq) if t is not None and t.requires_grad]
    train = torch.is_grad_enabled() and bool(wants)
    density = how.density(x_seq)
    reads = "frames" if density is None else f"events density_octave={_choice.density_bucket(density)}"
    key = (
        f"conv {tag} {str(x_seq.dtype).removeprefix('torch.')} input={list(x_seq.shape)} weight={list(weight.shape)} "
        f"padding={list(conv.padding)} bias={int(bias is not None)} {reads} "
        f"grads={''.join(str(int(t is not None and t.requires_grad)) for t in (weight, bias, x_seq)) if train else 0} "
        + _choice.machine()
    )

    def timed(name: str, run: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def step() -> None:
            out = run()
            if train:
                torch.autograd.grad(out.sum(), wants)

        step.__name__ = name
        return step

    return _choice.choose(key, {"fused": timed("fused", fused), "apart": timed("apart", apart)}, margin=0.0) == "fused"


def _fused_conv(
    neuron: NeuronModule,
    conv: torch.nn.Conv2d,
    x_seq: torch.Tensor,
    state: NamedTuple | None,
    model: str,
    params: LIFParams,
    beta: Callable[[torch.Tensor], Value],
    init: Callable[[torch.Tensor, LIFParams], NamedTuple],
    finish: Callable[..., tuple[torch.Tensor, NamedTuple]],
) -> tuple[torch.Tensor, NamedTuple] | None:
    """:func:`fused_synapse` for a ``Conv2d`` before a LIF-family layer: both in one CPU kernel
    (:func:`spikeforge.kernels.cpu.conv_lif`, the convolution's ``[T, B, C_out, H_o, W_o]`` output and its gradient
    never held), or None where it does not apply (:func:`_conv_fusable`, the neuron conditions of
    :func:`fused_synapse`), is no candidate for this input (many input channels and input that is not sparse spikes:
    :func:`spikeforge.kernels.cpu.conv_lif_plan`) or timed slower here than the pair run apart
    (:func:`_conv_prefers_fused`); ``kernels.backend_of(neuron)`` then says ``"cpu+conv"``."""
    if not _conv_fusable(conv, x_seq):
        return None
    weight, bias = conv.weight, conv.bias
    (c_out, _, kh, kw), (ph, pw) = weight.shape, conv.padding
    out = (c_out, x_seq.shape[3] + 2 * ph - kh + 1, x_seq.shape[4] + 2 * pw - kw + 1)
    if min(out) < 1 or not _takes_fused(neuron, params, weight, out):
        return None
    like = weight.new_empty((x_seq.shape[1], *out))
    if state is not None:
        neuron._check_state(state, like)
    with kernels.layer(neuron):
        how = kernels.cpu.conv_lif_plan(x_seq, weight, (ph, pw))
        if not how.candidate:
            return None
        start = init(like, params) if state is None else state
        settings = kernel_settings(params, neuron.surrogate)
        decay_ = beta(like)
        # the timing runs see the state and the neuron parameters detached (as in fused_synapse)
        held = _state.detach([start.v, decay_, params.threshold])

        def fused() -> torch.Tensor:
            return kernels.cpu.conv_lif(x_seq, weight, bias, (ph, pw), *held, settings, how)[0]

        def apart() -> torch.Tensor:
            current = torch.nn.functional.conv2d(x_seq.flatten(0, 1), weight, bias, padding=(ph, pw))
            return kernels.cpu.lif(current.view(*x_seq.shape[:2], *out), *held, settings)[0]

        if not _conv_prefers_fused(conv, x_seq, how, fused, apart, model):
            return None
        kernels.record(model, "cpu+conv")
        z, v, last = kernels.cpu.conv_lif(
            x_seq, weight, bias, (ph, pw), start.v, decay_, params.threshold, settings, how
        )
    _explain_non_finite(v, input=x_seq, weight=weight, bias=bias)
    return finish(z, v, start, last)


SPEC = register(
    NeuronSpec(
        name="lif",
        cell=LIFCell,
        sequence=LIF,
        step=lif_step,
        seq=lif_seq,
        init=lif_init,
        params=LIFParams,
        state=LIFState,
        drive=Drive(amplitude=0.5, dt=1 * ms, kwargs={"tau_syn": 5 * ms}),
        nir=True,
    )
)
