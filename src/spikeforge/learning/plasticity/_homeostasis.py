r"""Homeostasis and normalisation: keep neurons in a useful range while their inputs are learnt.

- :class:`AdaptiveThreshold` (Diehl & Cook 2015): each spike raises a neuron's threshold offset by
  :math:`\theta_+`, which decays with :math:`\tau_\theta` (s): :math:`\theta \leftarrow \theta e^{-dt/\tau_\theta}
  + \theta_+ s`. A neuron that wins often becomes harder to excite, so others get their turn.
- :class:`RateHomeostasis`: an integral controller on the threshold. A rate estimate :math:`\bar r` (Hz) low-passes
  the spikes, :math:`\bar r \leftarrow \bar r + (dt/\tau_r)(s/dt - \bar r)`, and the threshold moves with the error,
  :math:`\theta \leftarrow \theta + \eta\, dt\, (\bar r - r_\text{target})`, so a neuron above target (Hz) rises
  and one below falls until the rates match (tested: within 10%).
- :func:`normalize_weights`: per post-synaptic neuron, scale the incoming weights to a fixed sum
  (Diehl & Cook's 78 for 784 inputs, i.e. 0.1 per input), :math:`W_i \leftarrow c\, W_i / \sum_j W_{ij}`.
"""

from __future__ import annotations

import torch

from ._checks import check_positive, check_spikes
from ._traces import decay_factor

__all__ = ["AdaptiveThreshold", "RateHomeostasis", "normalize_weights"]


class AdaptiveThreshold:
    """``theta`` ``[n]`` (volts or the model's units), raised by ``theta_plus`` per spike, decaying with ``tau_theta``."""

    def __init__(self, n: int, *, theta_plus: float = 0.05, tau_theta: float = 1e4, dt: float = 1e-3):
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"n: expected a positive number of neurons, got {n!r}")
        self.theta_plus = check_positive("theta_plus", theta_plus, allow_zero=True)
        self.decay = decay_factor(tau_theta, dt, name="tau_theta")
        self.theta = torch.zeros(n)

    def step(self, spikes: torch.Tensor) -> torch.Tensor:
        """Update with spikes ``[n]`` or ``[B, n]`` (a batch adds its spike counts) and return ``theta``."""
        spikes = check_spikes("spikes", spikes)
        if spikes.shape[-1] != self.theta.shape[0]:
            raise ValueError(f"spikes: expected last dimension {self.theta.shape[0]}, got shape {list(spikes.shape)}")
        count = spikes if spikes.dim() == 1 else spikes.reshape(-1, spikes.shape[-1]).sum(0)
        self.theta = self.theta * self.decay + self.theta_plus * count.to(self.theta.dtype)
        return self.theta


class RateHomeostasis:
    """Threshold offsets ``theta`` ``[n]`` that drive each neuron's rate to ``target`` (Hz)."""

    def __init__(self, n: int, *, target: float, eta: float = 1e-3, tau_rate: float = 1.0, dt: float = 1e-3):
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"n: expected a positive number of neurons, got {n!r}")
        self.target = check_positive("target", target, unit="Hz")
        self.eta = check_positive("eta", eta)
        self.tau_rate = check_positive("tau_rate", tau_rate, unit="s")
        self.dt = check_positive("dt", dt, unit="s")
        self.rate = torch.full((n,), self.target)
        self.theta = torch.zeros(n)

    def step(self, spikes: torch.Tensor) -> torch.Tensor:
        """Update with spikes ``[n]`` (or ``[B, n]``, averaged) and return ``theta``."""
        spikes = check_spikes("spikes", spikes)
        s = spikes if spikes.dim() == 1 else spikes.reshape(-1, spikes.shape[-1]).mean(0)
        self.rate = self.rate + (self.dt / self.tau_rate) * (s.to(self.rate.dtype) / self.dt - self.rate)
        self.theta = self.theta + self.eta * self.dt * (self.rate - self.target)
        return self.theta


@torch.no_grad()
def normalize_weights(w: torch.Tensor, total: float, *, dim: int = 1) -> torch.Tensor:
    """Scale ``w`` in place so that each post-synaptic neuron's weights (summed over ``dim``) add up to ``total``."""
    check_positive("total", total)
    s = w.sum(dim=dim, keepdim=True)
    if bool((s <= 0).any()):
        raise ValueError("w: every neuron needs a positive weight sum to normalise; some sum to <= 0")
    return w.mul_(total / s)
