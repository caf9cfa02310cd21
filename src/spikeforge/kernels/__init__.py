"""Backends behind a registry, and fused kernels that know only tensors.

Every sequence-level neuron function (``lif_seq`` ...) is registered here under ``"torch"``: the plain scan over
time that every other backend is tested against. A fast backend registers the same function signature under its
own name with an ``available()`` check (is its dependency importable? is there a GPU?) and a ``supports(**ctx)``
check (dtype, device, surrogate ...). ``backend="auto"`` takes the first registered fast backend that is
available and supports the call, and the torch reference otherwise.

The kernels themselves (:mod:`.cpu`, :mod:`.gpu`) take tensors and a plain :class:`Settings` value and return
tensors; nothing in this package imports a neuron, model or layer. Each neuron file registers its own adapter
(parameters -> coefficients -> kernel -> state tuple) with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Backend",
    "FallbackWarning",
    "Refused",
    "available",
    "backend_of",
    "layer",
    "record",
    "register",
    "resolve",
    "trace",
    "train_backend_of",
]


class FallbackWarning(UserWarning):
    """A layer runs the torch reference although a fused kernel is available here: shown once per layer and
    reason (``warnings.simplefilter("ignore", FallbackWarning)`` silences it)."""


class Refused:
    """A ``supports(**ctx)`` answer "no" that says why (falsy, so ``if b.supports(...)`` reads as before)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Refused({self.reason!r})"


@dataclass
class Backend:
    name: str
    fn: Callable[..., Any]
    available: Callable[[], bool] = field(default=lambda: True)
    supports: Callable[..., bool] = field(default=lambda **ctx: True)


_REGISTRY: dict[str, dict[str, Backend]] = {}
_TRACES: list[list[tuple[str, str]]] = []  # open trace() lists; empty outside tests, so resolve() adds nothing
_LAYERS: list[Any] = []  # the neuron modules whose forward is running (innermost last), see layer()
_WARNED: set[tuple[str, str]] = set()  # (model, reason) already warned about for calls outside any layer


@contextmanager
def layer(module: Any) -> Iterator[None]:
    """While ``module`` (a neuron layer) runs: the backends that :func:`resolve` picks are recorded on it
    (:func:`backend_of`) and its fallback warnings name it. ``SequenceModule.__call__`` enters it (not while
    ``torch.compile`` traces)."""
    _LAYERS.append(module)
    try:
        yield
    finally:
        _LAYERS.pop()


def backend_of(module: Any) -> str | None:
    """The backend (``"cpu"``, ``"cpu_lean"``, ``"triton"``, ``"torch"`` ...) that ``module``'s last forward ran,
    None before its first forward (or when it ran only under ``torch.compile``, where the registered custom
    operators, not Python, run)."""
    return getattr(module, "_kernel_backend", None)


def train_backend_of(module: Any) -> str | None:
    """As :func:`backend_of` for the last forward that recorded gradients (training), None before one."""
    return getattr(module, "_kernel_train_backend", None)


def _compiling() -> bool:
    import torch  # here: importing the registry stays free of torch at module level

    return torch.compiler.is_compiling()


def _record(model: str, name: str) -> None:
    if _LAYERS and not _compiling():
        import torch

        _LAYERS[-1].__dict__["_kernel_backend"] = name
        if torch.is_grad_enabled():
            _LAYERS[-1].__dict__["_kernel_train_backend"] = name


def record(model: str, name: str) -> None:
    """Record that ``model`` ran backend ``name`` without :func:`resolve` (a kernel fused across two layers): on the
    running layer (:func:`backend_of`) and in every open :func:`trace`."""
    _record(model, name)
    for ran in _TRACES:
        ran.append((model, name))


def _warn_fallback(model: str, refusals: list[tuple[str, Any]]) -> None:
    """One :class:`FallbackWarning` per layer (or per model outside layers) and reason."""
    if _compiling():
        return
    import warnings

    layer = _LAYERS[-1] if _LAYERS else None
    seen = _WARNED if layer is None else layer.__dict__.setdefault("_kernel_fallbacks", set())
    reasons = []
    for _, verdict in refusals:
        reason = verdict.reason if isinstance(verdict, Refused) else "this call is not supported"
        if reason not in reasons:
            reasons.append(reason)
    fast = ", ".join(dict.fromkeys(name for name, _ in refusals))
    for reason in reasons:
        key = (model, reason)
        if key in seen:
            continue
        seen.add(key)
        where = f"layer {_describe_layer(layer)}" if layer is not None else f"{model!r} (called outside a layer)"
        warnings.warn(
            f"spikeforge: {where} runs the torch reference instead of the fused kernel ({fast}): {reason}. "
            "Shown once per layer and reason; `spikeforge profile` lists the backend of every layer.",
            FallbackWarning,
            stacklevel=4,
        )


def _describe_layer(layer: Any) -> str:
    shape = getattr(layer, "shape", None)
    return f"{type(layer).__name__}({shape if shape is not None else ''}) at 0x{id(layer):x}"


@contextmanager
def trace() -> Iterator[list[tuple[str, str]]]:
    """Record which backend ran: yields a list that receives ``(model, backend)`` each time a function returned by
    :func:`resolve` is called inside the block (tests use it to check that a fast kernel actually ran).

    Example (``tests/kernels/test_registry.py``)::

        with kernels.trace() as ran:
            lif_seq(x_seq, backend="torch")
        assert ran == [("lif", "torch")]
    """
    ran: list[tuple[str, str]] = []
    _TRACES.append(ran)
    try:
        yield ran
    finally:
        _TRACES.remove(ran)


def _traced(model: str, backend: Backend) -> Callable[..., Any]:
    if not _TRACES:
        return backend.fn

    def run(*args: Any, **kwargs: Any) -> Any:
        for ran in _TRACES:
            ran.append((model, backend.name))
        return backend.fn(*args, **kwargs)

    return run


def register(
    model: str,
    name: str,
    fn: Callable[..., Any],
    *,
    available: Callable[[], bool] | None = None,
    supports: Callable[..., bool] | None = None,
) -> None:
    """Register ``fn`` as backend ``name`` of the sequence function of ``model`` (e.g. ``"lif"``)."""
    backend = Backend(name, fn)
    if available is not None:
        backend.available = available
    if supports is not None:
        backend.supports = supports
    _REGISTRY.setdefault(model, {})[name] = backend


def available(model: str) -> list[str]:
    """Names of the backends of ``model`` that can run here."""
    return [name for name, b in _REGISTRY.get(model, {}).items() if b.available()]


def resolve(model: str, backend: str = "auto", **ctx: Any) -> Callable[..., Any]:
    """The function that runs ``model`` for this call. ``ctx`` describes the call (dtype, device, surrogate ...)."""
    backends = _REGISTRY.get(model)
    if not backends or "torch" not in backends:
        raise KeyError(f"kernels: no reference backend registered for {model!r}")
    if backend == "auto":
        refusals = []
        for name, b in backends.items():
            if name != "torch" and b.available():
                verdict = b.supports(**ctx)
                if verdict:
                    _record(model, name)
                    return _traced(model, b)
                refusals.append((name, verdict))
        if refusals:  # a fused kernel exists and runs here, but not for this call: say so, once
            _warn_fallback(model, refusals)
        _record(model, "torch")
        return _traced(model, backends["torch"])
    if backend not in backends:
        raise ValueError(f"backend: expected 'auto' or one of {sorted(backends)} for {model!r}, got {backend!r}")
    chosen = backends[backend]
    if not chosen.available():
        raise RuntimeError(f"backend {backend!r} for {model!r} is not available here (missing dependency or device)")
    verdict = chosen.supports(**ctx)
    if not verdict:
        why = f": {verdict.reason}" if isinstance(verdict, Refused) else ""
        raise ValueError(
            f"backend {backend!r} for {model!r} does not support this call{why} ({_describe(ctx)}); use 'torch'"
        )
    _record(model, backend)
    return _traced(model, chosen)


def _describe_value(value: Any) -> str:
    """A short description of one call argument: tensors by dtype, device and shape, never by their values."""
    import torch  # here: importing the registry stays free of torch at module level

    if isinstance(value, torch.Tensor):
        return f"tensor(dtype={value.dtype}, device={value.device}, shape={tuple(value.shape)})"
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # params NamedTuple: each field described
        fields = ", ".join(f"{k}={_describe_value(v)}" for k, v in zip(value._fields, value))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, bool | int | float | str | None):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 80 else f"{type(value).__name__}(...)"


def _describe(ctx: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_describe_value(v)}" for k, v in ctx.items())


from . import cpu, gpu  # noqa: E402  (tensor-level fused kernels; each checks its own dependencies)
from ._settings import RESETS, SURROGATE_ARRAY, Settings  # noqa: E402

__all__ += ["RESETS", "SURROGATE_ARRAY", "Settings", "cpu", "gpu"]
