"""Shared machinery of neuron modules: parameter registration, input/state validation, the time scan."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt

ResetMode = Literal["subtract", "zero", "none"]
RESET_MODES: tuple[str, ...] = kernels.RESETS  # one list: what the kernels implement is what the neurons accept

__all__ = [
    "RESET_MODES",
    "CellModule",
    "DivergenceError",
    "NeuronModule",
    "ResetMode",
    "SequenceModule",
    "also",
    "fused_supports",
    "kernel_settings",
    "scan",
]


def check_reset(reset: str) -> str:
    if reset not in RESET_MODES:
        raise ValueError(f"reset: expected one of {', '.join(map(repr, RESET_MODES))}, got {reset!r}")
    return reset


def fused_call_supports(
    x: Any, params: Any, surrogate: Any, device: str = "cpu", *, compiles: bool = False
) -> bool | kernels.Refused:
    """What every fused spiking kernel asks of a call: parameters, a tensor it runs on (:func:`kernels.cpu.refusal`;
    under ``torch.compile`` only kernels registered as custom operators, ``compiles=True``) and a surrogate (any
    surrogate on the CPU, where the backward evaluates a custom one's derivative over the stored sequence; one with
    a kernel id on the GPU). Returns True or a :class:`kernels.Refused` with the reason."""
    if params is None:
        return kernels.Refused("no parameters were given")
    why = kernels.cpu.refusal(x, device, compiles=compiles)
    if why is not None:
        return kernels.Refused(why)
    if not isinstance(surrogate, _surrogate.Surrogate):
        return kernels.Refused(f"the surrogate is a {type(surrogate).__name__}, not a spikeforge Surrogate")
    if surrogate.kernel_code() is None:
        if device != "cpu":
            return kernels.Refused(f"surrogate {surrogate!r} has no kernel id, which the GPU kernels need")
        if torch.compiler.is_compiling() and kernels.cpu.derivative_handle(surrogate, register=False) is None:
            return kernels.Refused(f"surrogate {surrogate!r} was not given to a layer before torch.compile")
    return True


def fused_supports(
    x: Any, params: Any, surrogate: Any, device: str = "cpu", *, compiles: bool = False
) -> bool | kernels.Refused:
    """:func:`fused_call_supports`, and for the LIF family one number for ``v_reset`` (and ``v_leak`` where the
    model has one) and a known reset mode. Each neuron file adds its own conditions (:func:`also`)."""
    verdict = fused_call_supports(x, params, surrogate, device, compiles=compiles)
    if not verdict:
        return verdict
    for name in ("v_leak", "v_reset"):
        if kernels.cpu.scalar(getattr(params, name, 0.0)) is None:
            return kernels.Refused(f"{name} is a per-neuron or learned tensor; the kernels take one number")
    if params.reset not in RESET_MODES:
        return kernels.Refused(f"reset mode {params.reset!r} has no kernel")
    return True


def also(verdict: bool | kernels.Refused, *conditions: tuple[bool, str]) -> bool | kernels.Refused:
    """``verdict`` (of :func:`fused_supports`) and then each ``(condition, reason if it fails)`` in turn."""
    if not verdict:
        return verdict
    for ok, reason in conditions:
        if not ok:
            return kernels.Refused(reason)
    return True


def kernel_settings(params: Any, surrogate: _surrogate.Surrogate) -> kernels.Settings:
    """The :class:`kernels.Settings` of a call from a neuron's ``XParams`` (``v_leak`` where it has one, ``v_reset``,
    ``reset``, ``detach_reset``) and its surrogate (its kernel code, or for any other surrogate
    ``SURROGATE_ARRAY`` and the surrogate itself); call only after :func:`fused_supports` said yes."""
    return surrogate_settings(
        surrogate,
        detach=params.detach_reset,
        v_leak=kernels.cpu.scalar(getattr(params, "v_leak", 0.0)),
        v_reset=kernels.cpu.scalar(params.v_reset),
        reset=params.reset,
    )


def surrogate_settings(surrogate: _surrogate.Surrogate, *, detach: bool, **fields: Any) -> kernels.Settings:
    """:class:`kernels.Settings` with the surrogate's kernel code (for any other surrogate ``SURROGATE_ARRAY`` and
    the surrogate itself), ``detach`` and any other ``fields`` of it."""
    code = surrogate.kernel_code()
    return kernels.Settings(
        detach=bool(detach),
        surrogate=code if code is not None else (kernels.SURROGATE_ARRAY, 0.0),
        custom=None if code is not None else surrogate,
        **fields,
    )


def scan(
    update: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]],
    x_seq: torch.Tensor,
    state: Any,
    *,
    record: bool = False,
) -> tuple[torch.Tensor, Any]:
    """Run a one-step ``update(x, state) -> (out, state)`` over the leading (time) axis of ``x_seq``.

    Returns ``(out_seq, final_state)``, or with ``record=True`` ``(out_seq, state_seq)`` where every field of the
    state tuple is stacked over time (``state_seq.v[t]`` is the state after step ``t``).
    """
    outs = []
    states = []
    for x in x_seq.unbind(0):
        out, state = update(x, state)
        outs.append(out)
        if record:
            states.append(state)
    if record:
        stacked = type(state)(*(torch.stack(fields) for fields in zip(*states)))
        return torch.stack(outs), stacked
    return torch.stack(outs), state


def _shape_tuple(shape: int | Sequence[int] | None) -> tuple[int, ...] | None:
    if shape is None:
        return None
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, Sequence) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape
    ):
        raise TypeError(f"shape: expected a number of neurons (int) or a tuple of ints, got {shape!r}")
    shape = tuple(int(s) for s in shape)
    if any(s <= 0 for s in shape):
        raise ValueError(f"shape: expected positive sizes, got {shape}")
    return shape


class NeuronModule(nn.Module):
    """Base of every neuron module: hyperparameters as buffers or (on request) Parameters.

    Positive quantities (time constants) are stored through their logarithm, so gradient steps can never make them
    zero or negative; read them back with :meth:`get`.
    """

    #: names of the hyperparameters this neuron accepts in ``learn=``
    learnable: tuple[str, ...] = ()
    #: names of hyperparameters stored in log space (strictly positive)
    positive: tuple[str, ...] = ()

    def __init__(
        self,
        shape: int | Sequence[int] | None,
        *,
        dt: float,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.shape = _shape_tuple(shape)
        self.dt = check_dt(dt)
        if isinstance(learn, str):
            learn = (learn,)
        learn = tuple(learn)
        unknown = [name for name in learn if name not in self.learnable]
        if unknown:
            raise ValueError(f"learn: {type(self).__name__} can learn {list(self.learnable)}, got unknown {unknown}")
        self.learn = learn
        self.surrogate = _surrogate.get(surrogate)
        if self.surrogate.kernel_code() is None:  # a user-defined surrogate: named for the fused kernels now
            kernels.cpu.derivative_handle(self.surrogate)
        self._factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self._specs: dict[str, Any] = {}

    # -- hyperparameters -------------------------------------------------------------------------------
    def _add(self, name: str, value: float | torch.Tensor | Distribution | None) -> None:
        """Register hyperparameter ``name`` from a number, a tensor (per-neuron) or a :class:`Distribution`."""
        self._specs[name] = value
        if value is None:
            setattr(self, name, None)
            return
        tensor = self._materialise(name, value)
        checked = tensor.device.type != "meta"  # a meta tensor has no values to check
        if name in self.positive:
            if checked and (torch.isnan(tensor).any() or (tensor <= 0).any()):
                bad = tensor[~(tensor > 0)].flatten()[0].item()
                raise ValueError(f"{name}: expected a positive time constant in seconds, got {bad:.6g}")
            tensor = torch.log(tensor)  # inf is allowed: no leak
            key = f"log_{name}"
        else:
            if checked and torch.isnan(tensor).any():
                raise ValueError(f"{name}: expected a number, got NaN")
            if checked and torch.isinf(tensor).any():
                raise ValueError(
                    f"{name}: expected a finite number, got {tensor[torch.isinf(tensor)].flatten()[0].item()}"
                )
            key = name
        if key in self._parameters or key in self._buffers:
            delattr(self, key)
        if name in self.learn:
            self.register_parameter(key, nn.Parameter(tensor))
        else:
            self.register_buffer(key, tensor)

    def _materialise(self, name: str, value: Any) -> torch.Tensor:
        if isinstance(value, Distribution):
            if self.shape is None:
                raise ValueError(
                    f"{name}: a distribution ({value!r}) needs the layer's shape; pass e.g. {type(self).__name__}(256, ...)"
                )
            return value.sample(self.shape, **self._factory)
        if isinstance(value, torch.Tensor):
            tensor = value.detach().clone().to(**self._factory)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            tensor = torch.tensor(float(value), **self._factory)
        else:
            raise TypeError(
                f"{name}: expected a number, a tensor or a spikeforge.init distribution, got {type(value).__name__}"
            )
        if tensor.dim() > 0 and self.shape is not None:
            try:
                torch.broadcast_shapes(tensor.shape, self.shape)
            except RuntimeError:
                raise ValueError(
                    f"{name}: per-neuron values of shape {tuple(tensor.shape)} do not broadcast "
                    f"to the layer shape {self.shape}"
                ) from None
        if name in self.learn and tensor.dim() == 0 and self.shape is not None:
            tensor = tensor.expand(self.shape).clone()  # learn one value per neuron
        return tensor

    def get(self, name: str) -> torch.Tensor | None:
        """Current value of hyperparameter ``name`` (time constants in seconds)."""
        if name in self.positive:
            raw = getattr(self, f"log_{name}", None)
            return None if raw is None else torch.exp(raw)
        return getattr(self, name)

    def reset_parameters(self) -> None:
        """Re-draw every hyperparameter from the value or distribution it was built with."""
        for name, spec in list(self._specs.items()):
            self._add(name, spec)

    def _ms(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            return "None"
        if value.numel() == 1:
            return f"{float(value) * 1e3:.4g} ms"
        return f"[{float(value.min()) * 1e3:.3g}..{float(value.max()) * 1e3:.3g}] ms"

    # -- validation ------------------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, *, min_dim: int, layout: str, values: bool = True) -> None:
        """Type, rank, feature shape and (``values=True``) finiteness of the input; a model whose final state is
        non-finite whenever its input is (see :meth:`_check_final`) passes ``values=False`` and checks after the run,
        which saves a pass over the input."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input: expected a torch.Tensor {layout}, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"input: expected a floating-point tensor {layout}, got dtype {x.dtype}; convert with x.float()"
            )
        if x.dim() < min_dim:
            raise ValueError(f"input: expected {layout} (at least {min_dim} dims), got shape {tuple(x.shape)}")
        if self.shape is not None and tuple(x.shape[x.dim() - len(self.shape) :]) != self.shape:
            raise ValueError(
                f"input: expected {layout} with features {self.shape}, got shape {tuple(x.shape)}"
                " (time first: [T, B, ...]; transpose a [B, T, ...] batch with x.transpose(0, 1))"
            )
        if getattr(self, "is_sequence", False) and x.shape[0] == 0:
            raise ValueError(f"input: expected at least one time step (T >= 1) in {layout}, got shape {tuple(x.shape)}")
        # a NaN or inf anywhere makes the sum NaN or inf: one reduction instead of an isnan mask (which costs as much
        # as the neuron kernel on small layers); the exact test runs only when the sum is not finite (NaN, inf, or
        # finite values whose sum overflows, which pass). A meta tensor has no values to check.
        if values and _values_checked(x) and not torch.isfinite(x.sum()):
            check_finite("input", x)

    @staticmethod
    def _check_final(x: torch.Tensor, final: torch.Tensor) -> None:
        """After a run whose update is ``v <- v_leak + beta (v - v_leak) + x`` with ``beta > 0`` (LIF, IF; no
        refractory period, no synaptic current): NaN and inf in ``x`` are absorbing, so every non-finite input
        leaves a non-finite final membrane ``final`` ([B, ...], or [T, B, ...] when recorded). One reduction over
        the final state replaces one over the whole input; when it is not finite, the input is checked exactly."""
        if _values_checked(x) and not torch.isfinite(final.sum()):
            check_finite("input", x)

    @staticmethod
    def _check_state(state: NamedTuple, like: torch.Tensor) -> None:
        for field, value in zip(state._fields, state):
            if not isinstance(value, torch.Tensor):
                continue
            if value.shape != like.shape:
                raise ValueError(
                    f"state.{field}: shape {tuple(value.shape)} does not match the input step {tuple(like.shape)}; "
                    "pass state=None to start from rest, or the state returned for the same batch size"
                )
            if value.device != like.device or value.dtype != like.dtype:
                raise ValueError(
                    f"state.{field}: on {value.device}/{value.dtype} but the input is on {like.device}/{like.dtype};"
                    " move it with the input (e.g. state = type(state)(*(s.to(x) for s in state)))"
                )

    def _check_threshold(self, *, v_reset: float = 0.0, v_leak: float = 0.0, reset: str = "zero") -> None:
        """Refuse a firing threshold that fires at rest on every step: at or below the reset or the leak (resting)
        potential, or (``reset="subtract"``, which subtracts the threshold at each spike) not positive."""
        theta = self.get("threshold").detach()
        if reset == "subtract":  # v -= threshold at a spike: a threshold <= 0 would push v up
            floor, what = max(v_leak, 0.0), f"0 (reset='subtract' subtracts it at each spike) and v_leak={v_leak:g}"
        elif reset == "zero":
            floor, what = max(v_reset, v_leak), f"v_reset={v_reset:g} and v_leak={v_leak:g}"
        else:
            floor, what = v_leak, f"v_leak={v_leak:g}"
        if theta.device.type == "meta":
            return
        bad = theta[~(theta > floor)]
        if bad.numel():
            raise ValueError(
                f"threshold: expected a firing threshold above {what}; one at or below them fires on every step "
                f"from rest; got {float(bad.flatten()[0]):.6g}"
            )

    def _run_checked(self, seq: Callable[..., Any], x_seq: torch.Tensor, state: Any, params: Any) -> Any:
        """``seq`` (a model's ``x_seq`` function) over ``x_seq`` with this module's settings, stopped with a
        :class:`DivergenceError` when the state blew up; the state over time is recomputed only then."""
        options = {"dt": self.dt, "surrogate": self.surrogate}
        z, out = seq(x_seq, state, params, backend=self.backend, record=self.record, **options)

        def states() -> Any:  # only when the state went NaN or inf: every step's state, to name the first bad one
            with torch.no_grad():
                return seq(x_seq, state, params, backend="torch", record=True, **options)[1]

        self._check_finite_state(out, x_seq, states)
        return z, out

    def _check_finite_state(self, state: Any, x_seq: torch.Tensor, locate: Callable[[], Any] | None) -> None:
        """Stop a simulation whose state went NaN or infinite (a numerical blow-up), naming the step and variable.

        One reduction per state field; only when one is not finite is the first bad step located, in ``state`` when
        it was recorded over time (``self.record``), else in the state sequence that ``locate()`` recomputes."""
        if torch.compiler.is_compiling() or x_seq.device.type == "meta":
            return
        fields = [f for f in state if isinstance(f, torch.Tensor) and f.is_floating_point()]
        if not fields or bool(torch.isfinite(sum(f.detach().sum() for f in fields))):
            return
        recorded = state if getattr(self, "record", False) else (locate() if locate is not None else None)
        if recorded is None:
            return
        steps = x_seq.shape[0]
        first: tuple[int, int, str, torch.Tensor] | None = None  # (step, field order, name, bad mask at that step)
        for order, (name, value) in enumerate(zip(recorded._fields, recorded)):
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() == 0:
                continue
            bad = ~torch.isfinite(value.detach())
            per_step = bad.reshape(bad.shape[0], -1).any(1)
            if per_step.any():
                t = int(per_step.nonzero()[0])
                if first is None or (t, order) < first[:2]:
                    first = (t, order, name, bad[t])
        if first is None:
            return
        t, _, name, bad = first
        index = tuple(int(i) for i in bad.nonzero()[0])
        value = getattr(recorded, name)[t][index]
        what = "NaN" if torch.isnan(value) else f"{float(value)!r} (infinite)"
        raise DivergenceError(
            f"{type(self).__name__}: the simulation diverged at step {t} of {steps} "
            f"(t = {(t + 1) * self.dt * 1e3:g} ms): state.{name} became {what} at index {index} "
            f"(batch, *neuron); the input there is {float(x_seq[t][index]):g}, "
            f"in [{float(x_seq.min()):g}, {float(x_seq.max()):g}] overall. Lower the input, or "
            "integrate more finely (a smaller dt or more substeps)",
            step=t,
            variable=name,
            index=index,
        )


class DivergenceError(ValueError):
    """A neuron simulation whose state became NaN or infinite: ``step`` (0-based), ``variable`` (the state
    field) and ``index`` (batch, *neuron) of the first non-finite value."""

    def __init__(self, message: str, *, step: int, variable: str, index: tuple[int, ...]) -> None:
        super().__init__(message)
        self.step, self.variable, self.index = step, variable, index


def _values_checked(x: torch.Tensor) -> bool:
    """Values are checked outside torch.compile tracing and for tensors that hold values (not meta)."""
    return not torch.compiler.is_compiling() and x.device.type != "meta"


def check_finite(name: str, x: torch.Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` if ``x`` holds NaN or infinite values (NaN and inf reported as what
    they are, with how many and where the first is)."""
    x = x.detach()
    nan = torch.isnan(x)
    if nan.any():
        first = tuple(int(i) for i in nan.nonzero()[0])
        raise ValueError(
            f"{name}: contains NaN values ({int(nan.sum())} of {x.numel()}, the first at index {first}); "
            "expected finite numbers"
        )
    inf = torch.isinf(x)
    if inf.any():
        first = tuple(int(i) for i in inf.nonzero()[0])
        raise ValueError(
            f"{name}: contains infinite values ({int(inf.sum())} of {x.numel()}, the first {float(x[first])!r} at "
            f"index {first}); expected finite numbers"
        )


def finite_float(name: str, value: Any, unit: str = "") -> float:
    """``float(value)``, refusing NaN, inf and what is not a number with a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | torch.Tensor):
        raise TypeError(f"{name}: expected a number{unit}, got {type(value).__name__}")
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise ValueError(f"{name}: expected one number{unit}, got a tensor of shape {tuple(value.shape)}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name}: expected a finite number{unit}, got {out!r}")
    return out


class CellModule(NeuronModule):
    """A neuron that advances one time step: ``cell(x[B, ...], state) -> (out, state)``."""

    is_sequence = False


class SequenceModule(NeuronModule):
    """A neuron that runs a whole sequence: ``module(x_seq[T, B, ...], state) -> (out_seq, state)``."""

    is_sequence = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """As ``nn.Module.__call__``, inside :func:`kernels.layer`: the backend each forward resolves is recorded
        on the module (:func:`kernels.backend_of`) and named in fallback warnings (not while torch.compile traces)."""
        if torch.compiler.is_compiling():
            return super().__call__(*args, **kwargs)
        with kernels.layer(self):
            return super().__call__(*args, **kwargs)


def finite_or_inf(value: float | None) -> float:
    return math.inf if value is None else float(value)
