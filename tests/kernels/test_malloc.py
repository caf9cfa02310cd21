"""``kernels.cpu.keep_freed_memory`` (what the command calls at its start) keeps freed memory for reuse on glibc, and
leaves malloc alone where asked or set by the user."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from spikeforge.kernels.cpu import _malloc


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


@pytest.mark.parametrize(
    "env",
    [{"SPIKEFORGE_MALLOC": "0"}, {"MALLOC_TRIM_THRESHOLD_": "1"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}],
)
def test_left_alone_where_asked_or_set_by_the_user(monkeypatch, env):
    for name in ("SPIKEFORGE_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _malloc.keep_freed_memory() is False


_CHILD = """
import ctypes, importlib.util, sys
spec = importlib.util.spec_from_file_location("m", sys.argv[2])  # the module alone: no torch import first
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
if sys.argv[1] == "keep":
    assert m.keep_freed_memory()


class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
p = libc.malloc(24 << 20)
ctypes.memset(p, 1, 24 << 20)
mapped = libc.mallinfo2().hblkhd
libc.free(p)
print(mapped, libc.mallinfo2().arena)
"""


@pytest.mark.skipif(not _glibc() or not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_large_block_comes_from_the_heap_and_stays_there_after_free():
    """A 24 MiB block: glibc's defaults map it (and unmap it on free, so the next one is faulted in afresh); with the
    command's settings it comes from the heap, which keeps it after the free."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "SPIKEFORGE_MALLOC"))}
    seen = {}
    for mode in ("default", "keep"):
        cmd = [sys.executable, "-c", _CHILD, mode, _malloc.__file__]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        seen[mode] = [int(v) for v in out.stdout.split()]
    (mapped_default, _), (mapped_keep, heap_after_free) = seen["default"], seen["keep"]
    assert mapped_default >= 24 << 20, seen
    assert mapped_keep < 24 << 20 and heap_after_free >= 24 << 20, seen
