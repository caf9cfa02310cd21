"""Registers the fused backends. Imported at the end of ``kernels/__init__.py``; importing it never fails for a
missing optional dependency: each backend's ``available()`` says whether it can run here."""

from __future__ import annotations

from . import _cpu_alif, _cpu_cuba, _cpu_li, _cpu_lif, register

__all__: list[str] = []

register("lif", "cpu", _cpu_lif.lif_seq_cpu, available=_cpu_lif.available, supports=_cpu_lif.supports_lif)
register("lif", "cpu_lean", _cpu_lif.lif_seq_cpu_lean, available=_cpu_lif.available, supports=_cpu_lif.supports_lif)
register("if", "cpu", _cpu_lif.if_seq_cpu, available=_cpu_lif.available, supports=_cpu_lif.supports_if)
register("li", "cpu", _cpu_li.li_seq_cpu, available=_cpu_lif.available, supports=_cpu_li.supports_li)
register("cubalif", "cpu", _cpu_cuba.cubalif_seq_cpu, available=_cpu_lif.available, supports=_cpu_cuba.supports_cubalif)
register("alif", "cpu", _cpu_alif.alif_seq_cpu, available=_cpu_lif.available, supports=_cpu_alif.supports_alif)
