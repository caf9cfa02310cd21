r"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26(38):9673), all-to-all or nearest-spike.

Two pre-synaptic traces :math:`r_1, r_2` (time constants :math:`\tau_+, \tau_x`) and two post-synaptic traces
:math:`o_1, o_2` (:math:`\tau_-, \tau_y`), unit jumps:

.. math::

    \text{at a pre spike: } \Delta w = -o_1(t)\,[A_2^- + A_3^-\, r_2(t - \epsilon)] \qquad
    \text{at a post spike: } \Delta w = r_1(t)\,[A_2^+ + A_3^+\, o_2(t - \epsilon)]

(:math:`t - \epsilon`: the trace just before its own jump). The triplet terms make potentiation grow with the
post-synaptic rate, so pairings repeated at a low frequency depress and at a high frequency potentiate, as in
Sjoestroem et al. 2001's visual-cortex data. The defaults are the paper's fit to those data (Table 4, all-to-all,
full model): :math:`\tau_+ = 16.8`, :math:`\tau_- = 33.7`, :math:`\tau_x = 101`, :math:`\tau_y = 125` ms;
:math:`A_2^+ = 5 \times 10^{-10}`, :math:`A_3^+ = 6.2 \times 10^{-3}`, :math:`A_2^- = 7 \times 10^{-3}`,
:math:`A_3^- = 2.3 \times 10^{-4}` (amplitudes as recalled from the paper, not re-checked against it here; the time
constants are those NEST's triplet models use too). Setting both :math:`A_3` to 0 gives pair STDP.

Times in s; amplitudes in weight units per spike pair or triplet (>= 0). Batched as :class:`~.PairSTDP`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_positive
from ._stdp import Update
from ._traces import check_pairing, decay_factor, trace_step

__all__ = ["TripletSTDP"]


@dataclass(frozen=True)
class TripletSTDP:
    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    tau_plus: float = 16.8e-3
    tau_minus: float = 33.7e-3
    tau_x: float = 101e-3
    tau_y: float = 125e-3
    dt: float = 1e-3
    pairing: str = "all_to_all"

    spiking = True

    def __post_init__(self) -> None:
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_pairing("pairing", self.pairing)
        decays = {
            n: decay_factor(getattr(self, n), self.dt, name=n) for n in ("tau_plus", "tau_minus", "tau_x", "tau_y")
        }
        object.__setattr__(self, "_decays", decays)

    def init_state(self, pre: torch.Tensor, post: torch.Tensor):
        """Zero traces ``(r1, r2, o1, o2)``, shaped like ``pre`` (r) and ``post`` (o)."""
        z = torch.get_default_dtype()
        r1, r2 = (torch.zeros_like(pre, dtype=z) for _ in range(2))
        o1, o2 = (torch.zeros_like(post, dtype=z) for _ in range(2))
        return r1, r2, o1, o2

    def step(self, state, pre: torch.Tensor, post: torch.Tensor):
        r1, r2, o1, o2 = state
        d = self._decays  # type: ignore[attr-defined]
        r2_before = r2 * d["tau_x"]  # t - epsilon: decayed, without this step's spike
        o2_before = o2 * d["tau_y"]
        p = self.pairing
        r1 = trace_step(r1, pre, d["tau_plus"], pairing=p)
        o1 = trace_step(o1, post, d["tau_minus"], pairing=p)
        r2 = trace_step(r2, pre, d["tau_x"], pairing=p)
        o2 = trace_step(o2, post, d["tau_y"], pairing=p)
        update = Update(
            post * (self.a2_plus + self.a3_plus * o2_before), r1, o1, pre * (self.a2_minus + self.a3_minus * r2_before)
        )
        return (r1, r2, o1, o2), update
