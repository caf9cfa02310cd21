"""Helpers every CPU kernel wrapper shares: what a call must look like, thread count, per-neuron coefficients."""

from __future__ import annotations

import contextlib
import ctypes
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

import torch

from ._build import disabled, library, loaded_or_tried

__all__ = [
    "accepts",
    "available",
    "derivative_handle",
    "derivative_of",
    "kernel",
    "per_neuron",
    "ptr",
    "refusal",
    "scalar",
    "step_rows",
    "surrogate_array",
    "threads",
    "torch_threads",
    "usable_threads",
]

_SMALL = 1 << 15  # below this many neuron-steps one thread is faster than waking the others


def kernel(name: str, dtype: torch.dtype) -> Any:
    """The compiled function ``sf_<name>_f32`` or ``_f64`` for ``dtype``, with its declared ctypes signature (which
    converts Python numbers to the C scalar types); builds the library on first use."""
    return getattr(library(required=True), f"sf_{name}_{'f64' if dtype == torch.float64 else 'f32'}")


def step_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``x[T, N]`` and the stride between its steps for a kernel that reads one row per step: 0 where every step is
    the same contiguous row (a constant input expanded over time, read from its one row), else ``N`` (contiguous)."""
    if x.stride(0) == 0 and x[0].is_contiguous():
        return x, 0
    return x.contiguous(), x.shape[1]


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
    """OpenMP threads for ``work`` neuron-steps: one below ``_SMALL``, else ``torch.get_num_threads()`` unless
    :func:`usable_threads` measured that fewer are faster here now (a busy machine)."""
    if work < _SMALL:
        return 1
    wanted = max(1, torch.get_num_threads())
    return wanted if wanted == 1 else usable_threads(wanted)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with at most ``count`` torch intra-op threads (restored after): a kernel call that
    :func:`usable_threads` limited also keeps torch's own ops around it (copies of per-neuron coefficients,
    allocations) off the busy cores, whose barrier waits cost more than the kernel on a loaded machine."""
    before = torch.get_num_threads()
    if count >= before or torch.compiler.is_compiling():
        yield
        return
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: seconds a thread-count measurement stays valid; the probe's shape: neurons x steps of the Izhikevich kernel
PROBE_TTL_S = 10.0
_PROBE_NEURONS, _PROBE_STEPS, _PROBE_ROUNDS, _PROBE_MIN_ROUNDS = 1 << 15, 64, 5, 3
_GAIN = 0.85  # more threads must bring the probe below this fraction of the time with fewer (ideal: 1/2 for 2x)
_PROBED: dict[int, tuple[float, int]] = {}


def usable_threads(wanted: int) -> int:
    """The OpenMP thread count at most ``wanted`` that ran a short probe fastest here, measured at most every
    :data:`PROBE_TTL_S` seconds per ``wanted`` (cached in between).

    More threads than free cores (other processes busy on the machine: oversubscription) make every parallel
    region wait at its barrier for a descheduled thread, which measured 4-10x slower than one thread on a loaded
    2-core machine. First the cores that no other task is running on (:func:`_free_cores`, from the task states
    under ``/proc``, about 3 ms beside a busy process): one free core answers 1. Otherwise the probe runs the
    Izhikevich forward kernel (inference, 32768 neurons x 64 steps, about 1 ms on one thread of this project's Xeon;
    long enough that waking the other threads does not decide the outcome, as it did at 16 steps) alternately with
    1, half and all of the free cores, ``_PROBE_ROUNDS`` (5) times each, and keeps the count with the lowest median
    time; more threads only where they bring the median below 0.85 of the next smaller count's (a short probe is
    noisier than a long run, so only a clear gain counts; oversubscription makes the probe several times slower, far
    above that line). It stops after 3 rounds where every comparison is already clear-cut (:func:`_choose`): on this
    project's idle VM 2 threads ran the probe in 0.6-0.7 ms against 1.0 ms, and the whole decision took about 6 ms
    instead of 9-10.
    ``SPIKEFORGE_THREAD_PROBE=0`` turns the probe off (always ``wanted``)."""
    if os.environ.get("SPIKEFORGE_THREAD_PROBE", "1") == "0" or torch.compiler.is_compiling():
        return wanted
    now = time.monotonic()
    hit = _PROBED.get(wanted)
    if hit is not None and now - hit[0] < PROBE_TTL_S:
        return hit[1]
    lib = library()
    if lib is None:
        return wanted
    free = _free_cores(wanted)  # a few ms; the probe only where more than one core is free
    choice = 1 if free == 1 else _probe(lib, free)
    _PROBED[wanted] = (time.monotonic(), choice)
    return choice


def _probe(lib: Any, wanted: int) -> int:
    n, steps = _PROBE_NEURONS, _PROBE_STEPS
    x = torch.full((n,), 10.0)
    v0, u0 = torch.full((n,), -65.0), torch.full((n,), -13.0)
    coefficients = [torch.full((n,), value) for value in (0.99, 0.2, -65.0, 8.0)]
    z, v, u = torch.empty((steps, n)), torch.empty(n), torch.empty(n)
    fixed = [t.data_ptr() for t in (v0, u0, *coefficients, z)]
    counts = sorted({1, max(1, wanted // 2), wanted})
    times: dict[int, list[float]] = {c: [] for c in counts}
    best = counts[0]
    for r in range(_PROBE_ROUNDS):
        for c in counts:
            start = time.perf_counter()
            lib.sf_izh_fwd_f32(
                x.data_ptr(), 0, *fixed, None, None, v.data_ptr(), u.data_ptr(), steps, n, 0.5, 30.0, 0, c
            )
            times[c].append(time.perf_counter() - start)
        if r + 1 >= _PROBE_MIN_ROUNDS:
            best, clear = _choose(times)
            if clear:
                break
    return best


def _choose(times: dict[int, list[float]]) -> tuple[int, bool]:
    """The thread count the probe's ``times`` (seconds per run, by count, counts ascending) pick: more threads only
    where their median is below ``_GAIN`` of the count kept so far; and whether every comparison is clear-cut (all
    runs with more threads below ``_GAIN`` of every run with the count kept, or none below it), so that more rounds
    could not change the pick."""
    counts = sorted(times)
    best, clear = counts[0], True
    for c in counts[1:]:
        line = [_GAIN * t for t in times[best]]
        clear = clear and (max(times[c]) < min(line) or min(times[c]) >= max(line))
        if statistics.median(times[c]) < _GAIN * statistics.median(times[best]):
            best = c
    return best, clear


def _running_elsewhere() -> set[str]:
    """The threads of other processes that are runnable now (state ``R`` in ``/proc/PID/task/TID/stat``), as the
    paths of their ``stat`` files. This process's own threads (OpenMP or torch workers still spinning after a
    parallel region) are not load, and neither is what ``/proc/loadavg``'s runnable count adds on some virtual
    machines (it read 2 more than the tasks in state R on this project's VM, which made every run
    single-threaded). That count still bounds the answer: where it is no more than this process's own runnable
    threads, nothing else runs and the scan of every task (about 0.7 ms on this project's VM, more on a server with
    thousands of threads) is skipped."""
    with open("/proc/loadavg") as f:
        runnable = int(f.read().split()[3].split("/")[0])
    if runnable <= len(_runnable_threads(f"/proc/{os.getpid()}")):
        return set()
    me, found = os.getpid(), set()
    for proc in os.scandir("/proc"):
        if proc.name.isdigit() and int(proc.name) != me:
            found |= _runnable_threads(proc.path)
    return found


def _runnable_threads(process: str) -> set[str]:
    """The ``stat`` files of the threads of the process at ``/proc/PID`` in state ``R`` (none where it ended while
    we looked)."""
    found = set()
    try:
        for task in os.scandir(f"{process}/task"):
            if _is_running(f"{task.path}/stat"):
                found.add(f"{task.path}/stat")
    except OSError:
        pass  # the process ended while we looked
    return found


def _is_running(stat: str) -> bool:
    """The task whose ``stat`` file is at ``stat`` is in state ``R`` (False where it ended)."""
    try:
        with open(stat, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"R"
    except (OSError, IndexError):
        return False


def _free_cores(wanted: int) -> int:
    """Cores not running another task right now: the machine's CPUs minus the threads of other processes that are
    runnable (:func:`_running_elsewhere`) and still are 1 ms and 2 ms later (a task busy for the whole time, not one
    that ran for a moment; the later looks read only the tasks the first found, and none are taken where it found
    none); ``wanted`` where they cannot be read (not Linux) or do not describe this process's CPUs (an affinity mask
    smaller than the machine, e.g. a container pinned to some cores of a larger host: the probe alone decides
    there)."""
    try:
        cpus = len(os.sched_getaffinity(0))
        if cpus != os.cpu_count() or not os.path.isdir("/proc/self/task"):
            return wanted
        busy = _running_elsewhere()
        for _ in range(2):
            if not busy:
                break
            time.sleep(0.001)
            busy = {task for task in busy if _is_running(task)}
    except (OSError, ValueError, AttributeError):
        return wanted
    return max(1, min(wanted, cpus - len(busy)))


def spike_index(x2: torch.Tensor) -> tuple[int, bool, torch.Tensor, torch.Tensor]:
    """One pass over ``x2[R, I]`` (contiguous, float32 or float64): the number of nonzero entries, whether every
    value is 0 or 1, their columns row by row (int32, increasing) and the row offsets (int64 ``[R + 1]``)."""
    rows, width = x2.shape
    offsets = torch.empty(rows + 1, dtype=torch.int64)
    room = torch.empty(rows * width, dtype=torch.int32)  # the kernel fills each thread's rows, then packs them
    bad = ctypes.c_int(0)
    total = kernel("events_index", x2.dtype)(
        x2.data_ptr(), rows, width, offsets.data_ptr(), room.data_ptr(), ctypes.byref(bad), threads(x2.numel())
    )
    return int(total), not bad.value, room[:total].clone(), offsets  # the clone lets the room go


def reset_args(cfg: dict[str, Any]) -> tuple[float, float, int, int]:
    """``(v_leak, v_reset, reset code, detach)`` of :meth:`~spikeforge.kernels.Settings.codes`, in the order the
    spiking kernels take them."""
    return cfg["v_leak"], cfg["v_reset"], cfg["reset"], int(cfg["detach"])


def uniform_params(*params: Any) -> bool:
    """Whether every one of ``params`` is one value for all neurons (a number or a one-element tensor): the kernels'
    uniform mode then reads one value of each instead of per-neuron arrays."""
    return all(not isinstance(p, torch.Tensor) or p.numel() == 1 for p in params)


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
