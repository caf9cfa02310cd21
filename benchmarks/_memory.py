"""Process memory for the benchmarks' peak-memory figures (Linux ``/proc``): resident set now, a reset of the
kernel's peak mark, and the peak since that reset."""

from __future__ import annotations

import os
import resource

__all__ = ["peak_bytes", "reset_peak", "rss_bytes"]


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_bytes() -> int:
    """Peak resident set since the last :func:`reset_peak` (VmHWM), or the lifetime peak where VmHWM is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
