r"""Pair-based STDP (Bi & Poo 1998; Song, Miller & Abbott 2000; the trace form of Morrison et al. 2008).

With a pre-synaptic trace :math:`x` (time constant :math:`\tau_+`) and a post-synaptic trace :math:`y`
(:math:`\tau_-`), both with unit jumps (see :mod:`._traces`):

.. math::

    \Delta w = \eta\,\left[A_+\, x(t)\, s_\text{post}(t) - A_-\, y(t)\, s_\text{pre}(t)\right]

so one pre spike followed by one post spike :math:`\Delta t = t_\text{post} - t_\text{pre}` later changes the
weight by :math:`A_+ e^{-\Delta t/\tau_+}` (:math:`\Delta t \ge 0`) or :math:`-A_- e^{\Delta t/\tau_-}`
(:math:`\Delta t < 0`): the STDP window (tested against this closed form). Spikes in the same step pair both ways
(net :math:`A_+ - A_-`). Weight dependence comes from :class:`~.Bounds`: ``"hard"`` is the additive rule,
``"soft"`` the multiplicative one.

Parameters: ``a_plus``, ``a_minus`` (weight units per pairing, >= 0), ``tau_plus``, ``tau_minus`` (s, > 0), ``dt``
(s, > 0), ``pairing`` (``"all_to_all"`` or ``"nearest"``).

Batched: every sample of a batch has its own traces; the connection sums or averages the per-sample changes
(:class:`~.Plastic`'s ``reduce``), which equals sequential presentation only to first order in :math:`\eta`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ._checks import check_positive
from ._traces import check_pairing, decay_factor, trace_step

__all__ = ["PairSTDP", "Update"]


class Update(NamedTuple):
    """A change as two correlations: potentiation ``post_p ⊗ pre_p`` and depression ``post_d ⊗ pre_d``.

    Each factor is batch first, with the shape of the post- or pre-synaptic layer; the connection correlates them
    (an outer product for a dense layer, over patches for a convolution) and applies the bounds.
    """

    post_p: torch.Tensor
    pre_p: torch.Tensor
    post_d: torch.Tensor
    pre_d: torch.Tensor


@dataclass(frozen=True)
class PairSTDP:
    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus: float = 0.02
    tau_minus: float = 0.02
    dt: float = 1e-3
    pairing: str = "all_to_all"

    spiking = True  # reads spikes on both sides

    def __post_init__(self) -> None:
        check_positive("a_plus", self.a_plus, allow_zero=True)
        check_positive("a_minus", self.a_minus, allow_zero=True)
        check_pairing("pairing", self.pairing)
        object.__setattr__(self, "_lp", decay_factor(self.tau_plus, self.dt, name="tau_plus"))
        object.__setattr__(self, "_lm", decay_factor(self.tau_minus, self.dt, name="tau_minus"))

    def init_state(self, pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero traces shaped like a step's ``pre`` and ``post`` spikes: ``(x_pre, y_post)``."""
        return torch.zeros_like(pre, dtype=torch.get_default_dtype()), torch.zeros_like(
            post, dtype=torch.get_default_dtype()
        )

    def step(self, state, pre: torch.Tensor, post: torch.Tensor):
        """``(new_state, Update)`` for one step's spikes ``pre`` ``[B, ...]`` and ``post`` ``[B, ...]``."""
        x, y = state
        x = trace_step(x, pre, self._lp, pairing=self.pairing)  # type: ignore[attr-defined]
        y = trace_step(y, post, self._lm, pairing=self.pairing)  # type: ignore[attr-defined]
        return (x, y), Update(self.a_plus * post, x, self.a_minus * y, pre)
