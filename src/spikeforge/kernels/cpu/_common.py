"""Helpers every CPU kernel wrapper shares: what a call must look like, thread count, per-neuron coefficients."""

from __future__ import annotations

from typing import Any

import torch

from ._build import disabled, library, loaded_or_tried

__all__ = [
    "accepts",
    "available",
    "derivative_handle",
    "derivative_of",
    "per_neuron",
    "ptr",
    "refusal",
    "scalar",
    "surrogate_array",
    "threads",
]

_SMALL = 1 << 15  # below this many neuron-steps one thread is faster than waking the others


def available() -> bool:
    """The compiled library built and loaded here.

    While ``torch.compile`` traces a first call (the build takes a lock and runs a compiler, which cannot be
    traced) the answer is "yes unless disabled": the custom operators build it when they first run, and inductor
    needs the same C compiler."""
    if torch.compiler.is_compiling() and not loaded_or_tried():
        return not disabled()
    return library() is not None


def refusal(x: Any, device: str = "cpu", *, compiles: bool = False) -> str | None:
    """Why a fused kernel cannot take ``x`` (None: it can). It takes tensors on ``device`` (``"cuda"`` for
    Triton), float32/64, ``[T, ...]`` with at least two dims and some elements, outside ``torch.func`` transforms,
    and outside ``torch.compile`` tracing unless the kernel is a registered custom operator (``compiles=True``: LIF
    and IF, :mod:`._lif`; LI, :mod:`._li`)."""
    if not isinstance(x, torch.Tensor):
        return f"the input is a {type(x).__name__}, not a tensor"
    if x.device.type != device:
        return f"the input is on {x.device.type}, the kernel runs on {device}"
    if x.dtype not in (torch.float32, torch.float64):
        return f"the input is {x.dtype}; the fused kernels take float32 and float64"
    if x.dim() < 2 or x.numel() == 0:
        return f"the input has shape {tuple(x.shape)}; the fused kernels take a non-empty [T, ...] sequence"
    if not compiles and torch.compiler.is_compiling():
        return "under torch.compile only the LIF, IF and LI kernels are registered custom operators"
    if torch._C._are_functorch_transforms_active():
        return "torch.func transforms (vmap, grad, jacrev ...) run the reference"
    return None


def accepts(x: Any, device: str = "cpu", *, compiles: bool = False) -> bool:
    """Whether a fused kernel can take ``x`` (see :func:`refusal`)."""
    return refusal(x, device, compiles=compiles) is None


def scalar(value: Any) -> float | None:
    """``value`` as a float when it is one number the kernels can take as a constant (not a learned tensor)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        return float(value)
    return None


def ptr(t: torch.Tensor | None) -> int | None:
    """The address of ``t``'s data, None (a NULL pointer: "not needed") for None."""
    return None if t is None else t.data_ptr()


def threads(work: int) -> int:
    """OpenMP threads for ``work`` neuron-steps."""
    return 1 if work < _SMALL else max(1, torch.get_num_threads())


def per_neuron(value: Any, step_shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """A number or a tensor broadcast to one value per neuron of a step, flat and contiguous, in ``like``'s dtype."""
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return t.expand(step_shape).reshape(-1).contiguous()


_BY_HANDLE: list[Any] = []


def derivative_handle(custom: Any, *, register: bool = True) -> int | None:
    """A small int that names the surrogate object ``custom`` for a custom operator, whose arguments must be
    tensors and numbers. The handle is kept on the object (``_kernel_handle``), so each surrogate object is
    registered once (a copy gets its own) and stays alive with the process. ``register=False``: None when it has no handle yet.

    Neuron layers register their surrogate when they are built: ``torch.compile`` traces the backward before it
    replays Python side effects, so a handle first made while tracing would not exist yet when it is read.
    """
    handle = getattr(custom, "_kernel_handle", None)
    if handle is not None and _BY_HANDLE[handle] is not custom:  # a copy (copy.deepcopy) carries its original's
        handle = None
    if handle is None and register:
        handle = len(_BY_HANDLE)
        _BY_HANDLE.append(custom)
        try:
            custom._kernel_handle = handle
        except AttributeError:  # an object without a __dict__: a new handle per call (works, never shared)
            pass
    return handle


def derivative_of(handle: int) -> Any:
    """The surrogate object that :func:`derivative_handle` named ``handle``."""
    return _BY_HANDLE[handle]


_BLOCK_VALUES = 1 << 15  # values per derivative call: the temporaries of a user's torch code stay in the L2 cache


def surrogate_array(custom: Any, argument: Any, steps: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """The surrogate derivative at every stored step, a contiguous ``[steps, n]`` tensor of ``dtype``, for the
    kernels' ``gs`` array.

    ``argument(lo, hi)`` gives the surrogate's argument (membrane minus threshold, ``[hi - lo, n]``) of steps
    ``lo:hi`` from what the forward stored. The surrogate ``custom`` evaluates its ``derivative`` itself, as vectorised torch code
    over blocks of whole steps of about 32K values (one call for a small sequence): the temporaries of its torch
    code stay in cache, which measured about 1.5x cheaper than one call over a 4M-value sequence. Under
    ``torch.compile`` it is one call over the whole sequence, which inductor fuses into one loop.
    """
    rows = steps if torch.compiler.is_compiling() else max(1, _BLOCK_VALUES // max(n, 1))
    if rows >= steps:
        return _as_block(custom.derivative(argument(0, steps)), steps, n, dtype)
    g = torch.empty((steps, n), dtype=dtype)
    for lo in range(0, steps, rows):
        hi = min(lo + rows, steps)
        g[lo:hi] = _as_block(custom.derivative(argument(lo, hi)), hi - lo, n, dtype)
    return g


def _as_block(g: Any, rows: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """``g`` (a tensor or a number: a derivative may return a constant) as a contiguous ``[rows, n]`` tensor."""
    g = torch.as_tensor(g, dtype=dtype)
    return g.expand(rows, n).contiguous() if g.shape != (rows, n) else g.contiguous()
