"""Registers the fused backends. Imported at the end of ``kernels/__init__.py``; importing it never fails for a
missing optional dependency: each backend's ``available()`` says whether it can run here."""

from __future__ import annotations

import functools

from . import _cpu_alif, _cpu_cuba, _cpu_li, _cpu_lif, _cpu_rlif, register

__all__: list[str] = []

register("lif", "cpu", _cpu_lif.lif_seq_cpu, available=_cpu_lif.available, supports=_cpu_lif.supports_lif)
register("lif", "cpu_lean", _cpu_lif.lif_seq_cpu_lean, available=_cpu_lif.available, supports=_cpu_lif.supports_lif)
register("if", "cpu", _cpu_lif.if_seq_cpu, available=_cpu_lif.available, supports=_cpu_lif.supports_if)
register("li", "cpu", _cpu_li.li_seq_cpu, available=_cpu_lif.available, supports=_cpu_li.supports_li)
register("cubalif", "cpu", _cpu_cuba.cubalif_seq_cpu, available=_cpu_lif.available, supports=_cpu_cuba.supports_cubalif)
register("alif", "cpu", _cpu_alif.alif_seq_cpu, available=_cpu_lif.available, supports=_cpu_alif.supports_alif)


def _triton_available() -> bool:
    """CUDA present and Triton importable (checked without importing it)."""
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None


def _triton(name: str):
    def run(*args, **kwargs):
        from . import _triton_lif  # imported only when a CUDA tensor takes this backend

        return getattr(_triton_lif, name)(*args, **kwargs)

    run.__name__ = name
    return run


register(
    "lif",
    "triton",
    _triton("lif_seq_triton"),
    available=_triton_available,
    supports=functools.partial(_cpu_lif.supports_lif, device="cuda"),
)
register(
    "if",
    "triton",
    _triton("if_seq_triton"),
    available=_triton_available,
    supports=functools.partial(_cpu_lif.supports_if, device="cuda"),
)
register("rlif", "cpu", _cpu_rlif.rlif_seq_cpu, available=_cpu_lif.available, supports=_cpu_rlif.supports_rlif)
