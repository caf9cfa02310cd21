r"""Fused adaptive LIF (``neurons/_alif.py``) on the CPU: one compiled call per sequence, both directions.

Per step: ``at = rho a``, ``A = theta + b at``, ``h = v_leak + x + (v - v_leak - x) beta_m``,
``z = H((h - A) / theta)``, ``v' = reset(h)``, ``a' = at + z``. The backward carries ``dL/dv`` and ``dL/da``
(the spike reaches ``a`` undetached, so the adaptation path always sees the surrogate); gradients reach ``x``,
the initial state, ``beta_m`` and ``rho`` (hence ``tau_mem`` and ``tau_adapt``), ``theta`` and ``b``. The forward
keeps ``h`` and ``a`` per step and the input: 12 bytes per neuron per step in float32.
"""

from __future__ import annotations

from typing import Any

from ._cpu_two_state import run_two_state, supports_two_state

__all__ = ["alif_seq_cpu", "supports_alif"]


def supports_alif(x: Any = None, params: Any = None, surrogate: Any = None, **_: Any) -> bool:
    """ALIF calls the fused kernel runs: CPU, float32/64, scalar ``v_leak``/``v_reset``, built-in surrogate."""
    return supports_two_state(x, params, surrogate)


def alif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu"`` of ``alif``."""
    from ..neurons._alif import ALIFState, _coefficients

    beta_m, rho = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
    z, v, a = run_two_state("alif", x_seq, state.v, state.a, (beta_m, rho, params.threshold, params.beta), params, surrogate)
    return z, ALIFState(v, a)
