"""Build the fused CPU kernels with the system C compiler at first use and load them with :mod:`ctypes`.

Needs only a C compiler (``cc``/``gcc``, or ``$CC``); no Python headers, no ninja, no torch headers. The shared
library is cached under ``$SPIKEFORGE_CACHE`` (default ``~/.cache/spikeforge``), keyed by a hash of the source and
flags. The library is tuned for the CPU it is built on (``-march=native``: AVX-512 where the CPU has it; on this
project's Xeon the LIF forward and backward over 5.9 M states took 13-14 ms against 18-20 ms, and the event-driven
synapses' index pass 0.45 ms against 2.5 ms); the cache key then includes the CPU's model and feature flags, so a
cache folder shared by different machines never hands one a library for another. A compiler that refuses the flag
gets the portable build. Set
``SPIKEFORGE_NATIVE=0`` for a portable build (the compiler's baseline instruction set). Results do not depend on the
choice: floating-point contraction stays off, so every kernel rounds exactly as before. OpenMP is used when the
compiler supports ``-fopenmp``; otherwise the kernel runs on one thread. Set ``SPIKEFORGE_NO_COMPILE=1`` to disable
the compiled backend (``backend="auto"`` then uses the torch reference).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ._signatures import SIGNATURES, ctypes_signature

__all__ = ["build_error", "disabled", "library", "loaded_or_tried"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LIB: ctypes.CDLL | None = None
_ERROR: str | None = None
_TRIED = False

_HERE = Path(__file__).resolve().parent
SOURCE_FILES = (_HERE / "sf_kernels.c", _HERE / "sf_kernels.h", _HERE / "sf_conv_blocked.c")  # package data


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cache_dir() -> Path:
    root = os.environ.get("SPIKEFORGE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "spikeforge"


def _compile(cc: str, flags: list[str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spikeforge-build-") as tmp:
        so = Path(tmp) / "kernels.so"
        cmd = [cc, *flags, f"-I{_HERE}", str(SOURCE_FILES[0]), "-o", str(so), "-lm"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr.strip()[-2000:]}")
        # atomic publish: concurrent builders (pytest -n 2) never see a half-written library
        fd, tmp_out = tempfile.mkstemp(dir=out.parent, suffix=".so.tmp")
        os.close(fd)
        shutil.copyfile(so, tmp_out)
        os.replace(tmp_out, out)


def _declare(lib: ctypes.CDLL) -> None:
    """Set every exported function's ``argtypes`` / ``restype`` from the one table in ``_signatures.py``."""
    for name in SIGNATURES:
        for suffix in ("f32", "f64"):
            fn = getattr(lib, f"{name}_{suffix}")
            fn.restype, fn.argtypes = ctypes_signature(name, suffix)


def native() -> bool:
    """Build for this CPU (``-march=native``) unless ``SPIKEFORGE_NATIVE=0``."""
    return os.environ.get("SPIKEFORGE_NATIVE", "1") not in ("0", "")


def _cpu_identity() -> str:
    """The CPU's model name and feature flags (Linux ``/proc/cpuinfo``), or the platform's description."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() + platform.platform()


def disabled() -> bool:
    """``SPIKEFORGE_NO_COMPILE`` is set: the compiled backend is off."""
    return os.environ.get("SPIKEFORGE_NO_COMPILE", "") not in ("", "0")


def loaded_or_tried() -> bool:
    """:func:`library` has run (the library is loaded, or :func:`build_error` says why not)."""
    return _TRIED


def _build() -> ctypes.CDLL:
    if disabled():
        raise RuntimeError("disabled by SPIKEFORGE_NO_COMPILE")
    if sys.platform == "win32":
        raise RuntimeError("the compiled CPU kernels are built with a Unix C compiler; not supported on Windows")
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (looked for $CC, cc, gcc, clang); install gcc to enable it")
    base = ["-O3", "-shared", "-fPIC", "-ffp-contract=off", "-fno-math-errno", "-std=c99"]
    errors = []
    tuned = (["-march=native", "-fopenmp"], ["-march=native"]) if native() else ()
    for extra in (*tuned, ["-fopenmp"], []):
        flags = base + extra
        sources = [path.read_text() for path in SOURCE_FILES]
        cpu = _cpu_identity() if "-march=native" in extra else ""
        key = hashlib.sha256("\0".join([*sources, cc, *flags, platform.machine(), cpu]).encode()).hexdigest()[:16]
        out = _cache_dir() / f"spikeforge_kernels_{key}.so"
        try:
            if not out.exists():
                _compile(cc, flags, out)
            lib = ctypes.CDLL(str(out))
            _declare(lib)
            return lib
        except (OSError, RuntimeError, subprocess.SubprocessError) as err:
            errors.append(str(err))
    raise RuntimeError("could not build the fused CPU kernels:\n" + "\n".join(errors))


def library(*, required: bool = False) -> ctypes.CDLL | None:
    """The loaded kernel library, building it on first call; None (and :func:`build_error` says why) if impossible,
    or with ``required=True`` a RuntimeError that says why."""
    global _LIB, _ERROR, _TRIED
    if _TRIED:
        return _LIB
    with _LOCK:
        if not _TRIED:
            try:
                _LIB = _build()
            except Exception as err:  # any failure means: not available, fall back to torch
                _ERROR = str(err)
                log.info("spikeforge: compiled CPU kernels unavailable: %s", _ERROR)
            _TRIED = True
    if _LIB is None and required:
        raise RuntimeError(f"spikeforge: the fused CPU kernels are unavailable: {_ERROR}")
    return _LIB


def build_error() -> str | None:
    """Why the compiled CPU kernels are unavailable (None if they loaded or were not tried yet)."""
    return _ERROR
