r"""Fused current-based LIF (``neurons/_cubalif.py``) on the CPU: one compiled call per sequence, both directions.

With ``j = i - x`` and ``w = v - v_leak - x`` the exact update is ``h = v_leak + x + w beta + j c``,
``i' = x + j alpha`` (``c = kappa (alpha - beta)``), then spike and reset as LIF. The backward carries
``a_v = dL/dv`` and ``a_i = dL/di``:

.. math::
    \partial_h = \partial_z g + a_v \partial_h v, \quad \partial_x = \partial_h (1 - \beta - c) + a_i (1 - \alpha),
    \quad a_v \leftarrow \beta \partial_h, \quad a_i \leftarrow c \partial_h + \alpha a_i

and ``dL/dbeta = sum dh w``, ``dL/dc = sum dh j``, ``dL/dalpha = sum a_i j``; autograd carries these to
``tau_mem`` and ``tau_syn``. The forward keeps ``h``, ``i`` and the input: 12 bytes per neuron per step in float32.
"""

from __future__ import annotations

from typing import Any

from ._cpu_two_state import run_two_state, supports_two_state

__all__ = ["cubalif_seq_cpu", "supports_cubalif"]


def supports_cubalif(x: Any = None, params: Any = None, surrogate: Any = None, **_: Any) -> bool:
    """CubaLIF calls the fused kernel runs: CPU, float32/64, scalar ``v_leak``/``v_reset``, built-in surrogate,
    ``"subtract"`` or ``"none"`` reset. The zero reset is declined: the reference restarts the membrane from
    ``v_reset`` at the interpolated crossing (``neurons/_cubalif.py``), which the compiled kernel does not do."""
    return supports_two_state(x, params, surrogate) and params.reset != "zero"


def cubalif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu"`` of ``cubalif``."""
    from ..neurons._cubalif import CubaLIFState, _coefficients

    alpha, beta, cross = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
    z, v, i = run_two_state("cuba", x_seq, state.v, state.i, (alpha, beta, cross, params.threshold), params, surrogate)
    return z, CubaLIFState(v, i)
