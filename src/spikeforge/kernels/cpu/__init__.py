"""Fused CPU kernels: C source compiled at first use (``sf_kernels.c``, shipped with the package), driven through
:mod:`ctypes`. Every function here takes tensors and a :class:`~spikeforge.kernels.Settings` value and returns
tensors; the neuron modules register adapters that call them (``spikeforge/neurons/_lif.py`` and siblings)."""

from ._adex import adex
from ._build import build_error, library
from ._common import (
    accepts,
    available,
    derivative_handle,
    kernel,
    per_neuron,
    ptr,
    refusal,
    scalar,
    spike_index,
    threads,
    torch_threads,
    usable_threads,
)
from ._conv_lif import MAX_TAPS as CONV_MAX_TAPS
from ._conv_lif import MAX_TAPS_EVENTS as CONV_MAX_TAPS_EVENTS
from ._conv_lif import conv_lif
from ._conv_lif import plan as conv_lif_plan
from ._event_lif import event_lif
from ._izhikevich import izhikevich
from ._li import li
from ._lif import lif
from ._malloc import keep_freed_memory
from ._ralif import ralif
from ._rlif import rlif
from ._two_state import alif, cuba

__all__ = [
    "CONV_MAX_TAPS",
    "CONV_MAX_TAPS_EVENTS",
    "accepts",
    "adex",
    "alif",
    "available",
    "build_error",
    "conv_lif",
    "conv_lif_plan",
    "cuba",
    "derivative_handle",
    "event_lif",
    "izhikevich",
    "keep_freed_memory",
    "kernel",
    "li",
    "library",
    "lif",
    "per_neuron",
    "ptr",
    "ralif",
    "refusal",
    "rlif",
    "scalar",
    "spike_index",
    "threads",
    "torch_threads",
    "usable_threads",
]
