"""Keep freed memory for reuse in this process (glibc only): what the `spikeforge` command does at its start.

glibc hands a freed block above its mmap threshold back to the system, and its threshold adapts to the sizes it
sees, so the large tensors of a training step (tens of MB each, allocated and freed every step) keep arriving as
fresh pages that the kernel faults in and zeroes one 4 KiB page at a time. On this project's Xeon a conv LIF
training step (23.7 MB activations) took 17,000-29,000 page faults, and the step without neurons ran at a median of
67 ms against 36 ms with freed memory kept; `spikeforge train --model conv` on an MNIST-format folder took 6.1-6.6 s
per epoch against 5.1-5.5 s (see the README).

The command therefore sets, at its start, ``M_MMAP_THRESHOLD`` to 32 MiB (the largest value glibc accepts; larger
blocks are still mapped and unmapped) and ``M_TRIM_THRESHOLD`` to 1 GiB, so that freed blocks stay in the heap for
the next step. The process's resident memory then stays near its peak instead of following live memory. It is left
alone where the user set glibc's malloc themselves (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or a
``glibc.malloc`` tunable), with ``SPIKEFORGE_MALLOC=0``, and on any other C library. Importing spikeforge never sets
it: the ``spikeforge`` command calls :func:`keep_freed_memory`, and a training script that wants the same calls it
first (``spikeforge.kernels.cpu.keep_freed_memory()``).
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["ENV", "keep_freed_memory"]

#: ``0`` leaves glibc's malloc settings as they are
ENV = "SPIKEFORGE_MALLOC"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit); larger values are refused
TRIM_THRESHOLD = 2**30


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process as the module doc says; True where they were set."""
    if os.environ.get(ENV, "1") == "0":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):  # glibc only
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
