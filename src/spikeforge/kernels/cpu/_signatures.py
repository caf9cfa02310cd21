"""The C signatures of the fused CPU kernel library, declared once for :mod:`ctypes`.

One row per exported function, without its ``_f32`` / ``_f64`` suffix: the return type and the argument types, in
order. ``ptr`` is any pointer (tensors are passed by ``data_ptr()``), ``long`` and ``int`` are C's, ``real`` is
``float`` in the ``_f32`` variant and ``double`` in the ``_f64`` one. ``sf_kernels.h`` holds the C prototypes;
``tests/kernels/test_signatures.py`` parses it and checks every row here against it, so a mismatch is a failed test,
never corrupted memory.
"""

from __future__ import annotations

import ctypes

__all__ = ["SIGNATURES", "ctypes_signature"]

_4P, _7P = "ptr " * 4, "ptr " * 7
SIGNATURES: dict[str, tuple[str, str]] = {
    "sf_lif_fwd": ("void", _7P + "long long real real int int int int"),
    "sf_lif_bwd": ("void", _7P + _4P + "ptr long long real real int int int int real ptr int int"),
    "sf_pack_bits": ("void", "ptr ptr long int"),
    "sf_li_fwd": ("void", _4P + "long long int"),
    "sf_li_bwd": ("void", _4P + _4P + "long long int"),
    "sf_events_index": ("long", "ptr long long ptr ptr ptr int"),
    "sf_scratch": ("long", "long"),
    "sf_events_gather": ("void", "ptr " * 5 + "long long int"),
    "sf_events_scatter": ("void", _4P + "long long long int"),
    "sf_events_direct": ("long", _4P + "long long long ptr int"),
    "sf_elif_fwd": ("void", "ptr " * 9 + "long long long real real int int"),
    "sf_elif_bwd": ("void", "ptr " * 14 + "long long long long real real int int int real ptr int"),
    "sf_elif_scratch": ("long", "long"),
    "sf_clif_fwd": ("void", "ptr " * 13 + "long " * 8 + "real real int int int int"),
    "sf_clif_bwd": ("void", "ptr " * 19 + "long " * 8 + "real real int int int real int int int"),
    "sf_clif_scratch": ("long", "long " * 7),
    "sf_clif_lanes": ("long", ""),
    "sf_clif_parts": ("long", "long long long"),
    "sf_cuba_fwd": ("void", "ptr " * 12 + "long long real real int int int"),
    "sf_cuba_bwd": ("void", "ptr " * 20 + "long long real real int int int real ptr int"),
    "sf_alif_fwd": ("void", "ptr " * 12 + "long long real real int int int"),
    "sf_alif_bwd": ("void", "ptr " * 20 + "long long real real int int int real ptr int"),
    "sf_izh_fwd": ("void", "ptr long " + "ptr " * 11 + "long long real real int int"),
    "sf_izh_bwd": ("void", "ptr " * 19 + "long long real real int int real int"),
    "sf_adex_fwd": ("void", "ptr long " + "ptr " * 8 + "long long real int int"),
    "sf_adex_bwd": ("void", "ptr " * 4 + "long " + "ptr " * 11 + "long long real int int real int"),
}

_CTYPES = {"ptr": ctypes.c_void_p, "long": ctypes.c_long, "int": ctypes.c_int}
_REAL = {"f32": ctypes.c_float, "f64": ctypes.c_double}


def ctypes_signature(name: str, suffix: str) -> tuple[type | None, list[type]]:
    """``(restype, argtypes)`` of ``<name>_<suffix>`` (suffix ``"f32"`` or ``"f64"``) from :data:`SIGNATURES`."""
    restype, args = SIGNATURES[name]
    types = {**_CTYPES, "real": _REAL[suffix], "void": None}
    return types[restype], [types[a] for a in args.split()]
