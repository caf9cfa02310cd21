r"""Three-factor rules: a two-factor change is stored in an eligibility trace and written into the weights only when
a third, neuromodulatory signal :math:`M(t)` (reward, dopamine, an error, surprise) says so.

.. math::

    \dot e_{ij} = -\frac{e_{ij}}{\tau_e} + \mathrm{STDP}_{ij}(t), \qquad \dot w_{ij} = \eta\, M(t)\, e_{ij}(t)

Discretised: :math:`e \leftarrow e^{-dt/\tau_e} e + (P - D)` with :math:`P, D` the potentiation and depression of the
two-factor rule at this step, then :math:`\Delta w = \eta\, M\, e` (per sample, combined over the batch by ``reduce``).
With pair STDP as the two-factor rule this is reward-modulated STDP (R-STDP; Izhikevich 2007, Cereb. Cortex
17:2443, who used :math:`\tau_e = 1` s, :math:`\tau_\pm = 20` ms, :math:`A_+ = 1`, :math:`A_- = 1.5`); see
:func:`rstdp`. Zero modulation leaves the weights unchanged whatever the spikes (tested); the eligibility keeps
accumulating.

``M`` is a number (one signal for all), a tensor ``[B]`` (one per sample, e.g. each trial's reward) or
``[B, n_post]`` (one per post-synaptic neuron). The eligibility is kept per sample, ``[B, *weight.shape]``,
because each sample's modulator scales its own eligibility. Weight bounds apply to the final change: with
``"soft"`` bounds a positive change is scaled by :math:`(w_\max - w)` and a negative one by :math:`(w - w_\min)`.
Times in s.
"""

from __future__ import annotations

import torch
from torch import nn

from ._bounds import Bounds
from ._checks import check_positive, check_spikes
from ._connections import REDUCTIONS, check_layer, correlate
from ._stdp import PairSTDP
from ._traces import decay_factor

__all__ = ["ThreeFactor", "rstdp"]


class ThreeFactor:
    """``rule`` (a spike rule) on ``layer``, gated by a modulator through an eligibility trace of ``tau_e`` (s)."""

    def __init__(
        self,
        layer: nn.Module,
        rule,
        *,
        tau_e: float = 1.0,
        lr: float = 1.0,
        bounds: Bounds | None = None,
        reduce: str = "mean",
        check: bool = True,
    ) -> None:
        check_layer(layer)
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce: expected one of {list(REDUCTIONS)}, got {reduce!r}")
        self.layer, self.rule = layer, rule
        self.decay = decay_factor(tau_e, rule.dt, name="tau_e")
        self.lr = check_positive("lr", lr)
        self.bounds = bounds if bounds is not None else Bounds(-1.0, 1.0)
        self.reduce, self.check = reduce, check
        self.state = None
        self.eligibility: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget traces and eligibility (between episodes, or when the batch size changes)."""
        self.state, self.eligibility = None, None

    def step(self, pre: torch.Tensor, post: torch.Tensor, modulator: float | torch.Tensor = 0.0) -> None:
        """One step: spikes ``pre``, ``post`` (batch first) update the eligibility; ``modulator`` gates the weights."""
        if self.check:
            pre, post = check_spikes("pre", pre), check_spikes("post", post)
        if self.state is None or self.state[0].shape[0] != pre.shape[0]:
            self.state = self.rule.init_state(pre, post)
            self.eligibility = None
        self.state, u = self.rule.step(self.state, pre, post)
        change = correlate(self.layer, u.post_p, u.pre_p, per_sample=True) - correlate(
            self.layer, u.post_d, u.pre_d, per_sample=True
        )
        e = change if self.eligibility is None else self.eligibility * self.decay + change
        self.eligibility = e
        m = self._modulator(modulator, e)
        if m is None:
            return
        total = (m * e).sum(0)
        if self.reduce == "mean":
            total = total / e.shape[0]
        self.bounds.apply_(self.layer.weight.data, total.clamp_min(0), (-total).clamp_min(0), self.lr)

    def _modulator(self, modulator, e: torch.Tensor) -> torch.Tensor | None:
        """``M`` broadcast to ``e`` ``[B, *weight]``; ``None`` when it is exactly zero (nothing to write)."""
        if not isinstance(modulator, torch.Tensor):
            if isinstance(modulator, bool) or not isinstance(modulator, (int, float)):
                raise TypeError(f"modulator: expected a number or a tensor, got {type(modulator).__name__}")
            modulator = torch.tensor(float(modulator))
        if not bool(torch.isfinite(modulator).all()):
            raise ValueError(
                "modulator: expected finite values, got " + ("NaN" if bool(modulator.isnan().any()) else "Inf")
            )
        if not bool((modulator != 0).any()):
            return None
        b = e.shape[0]
        if modulator.dim() == 0:
            return modulator.to(e.dtype)
        if modulator.shape == (b,):
            return modulator.to(e.dtype).reshape((b,) + (1,) * (e.dim() - 1))
        if modulator.dim() == 2 and modulator.shape == (b, e.shape[1]):
            return modulator.to(e.dtype).reshape((b, e.shape[1]) + (1,) * (e.dim() - 2))
        raise ValueError(
            f"modulator: expected a number, shape [{b}] (per sample) or [{b}, {e.shape[1]}] (per post-synaptic "
            f"neuron), got shape {list(modulator.shape)}"
        )


def rstdp(
    layer: nn.Module,
    *,
    a_plus: float = 1.0,
    a_minus: float = 1.5,
    tau_plus: float = 0.02,
    tau_minus: float = 0.02,
    tau_e: float = 1.0,
    dt: float = 1e-3,
    lr: float = 1e-3,
    bounds: Bounds | None = None,
    reduce: str = "mean",
) -> ThreeFactor:
    """Reward-modulated STDP after Izhikevich 2007 (his defaults): pair STDP into an eligibility trace, gated by reward."""
    rule = PairSTDP(a_plus=a_plus, a_minus=a_minus, tau_plus=tau_plus, tau_minus=tau_minus, dt=dt)
    return ThreeFactor(layer, rule, tau_e=tau_e, lr=lr, bounds=bounds, reduce=reduce)
