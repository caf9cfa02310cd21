r"""Unsupervised digit recognition after Diehl & Cook 2015 (Front. Comput. Neurosci. 9:99).

The network, for ``n_in`` pixels and ``n`` excitatory neurons, on a clock of ``dt`` (s):

- input: each pixel :math:`p \in [0, 1]` is a Poisson spike train of rate :math:`p\, r_\max` (Hz) for
  ``present`` seconds (rate coding);
- excitatory layer: leaky integrate-and-fire,
  :math:`v_t = v_\text{rest} + (v_{t-1} - v_\text{rest}) e^{-dt/\tau_m} + g\,W s^\text{in}_t + I^\text{inh}_t`,
  a spike when :math:`v_t \ge v_\text{th} + \theta`, then :math:`v \leftarrow v_\text{reset}` and a refractory
  period; units mV. :math:`\theta` is the adaptive threshold (as :class:`~._homeostasis.AdaptiveThreshold` without
  decay: +``theta_plus`` per spike, added at the end of each presentation; frozen at test time);
- lateral inhibition (:func:`~._competition.lateral_inhibition`): each spike lowers every other neuron's potential by
  ``inhibition`` mV at the next step, the effect of Diehl & Cook's one-to-one inhibitory population;
- learning: pair STDP (:class:`~._stdp.PairSTDP`: :math:`\Delta W = \nu_\text{post}\, x_\text{pre} s_\text{post} -
  \nu_\text{pre}\, x_\text{post} s_\text{pre}`), hard bounds :math:`[0, w_\max]`, and after every sample each
  neuron's weights are normalised to sum to ``norm`` (:func:`~._homeostasis.normalize_weights`). No labels. The
  change of one presentation is summed over its steps and applied at its end (:meth:`DiehlCook.learn`): exact for
  this additive rule except that the clipping to the bounds happens once per presentation, and the image is seen
  with the weights from before it (a difference of second order in the learning rate).

Between samples the state (potentials, traces) is reset, which stands for the paper's 150 ms rest. A sample that
makes fewer than ``min_spikes`` spikes is presented again with the input rate raised by ``rate_step`` (as the paper
does), at most ``retries`` times.

After training, each neuron is labelled with the class for which its mean spike count over the training set is
highest; a test sample is classified by the class whose labelled neurons spike most on average (the paper's
"responses of the labelled neurons" vote).

Batching: ``batch_size`` samples run side by side with their own potentials and traces, and one shared weight
matrix and threshold; their STDP changes are summed (as if presented one after another, to first order in the
learning rate) and the weights normalised after each batch. ``batch_size=1`` is the paper's sequential protocol;
the effect of larger batches on accuracy is measured (README). Inference (labelling, testing) is exact in any batch.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from ._bounds import Bounds
from ._checks import check_positive
from ._competition import lateral_inhibition
from ._homeostasis import normalize_weights
from ._stdp import PairSTDP

__all__ = [
    "FORMAT",
    "LEARNERS",
    "DiehlCook",
    "DiehlCookConfig",
    "evaluate_diehl_cook",
    "load_diehl_cook",
    "save_diehl_cook",
    "train_diehl_cook",
]

#: the ``format`` entry of a saved network's metadata
FORMAT = "spikeforge-diehl-cook"
#: local-learning choices of ``spikeforge train --learning`` (the one place their names are spelled)
LEARNERS: dict[str, str] = {
    "stdp": "unsupervised STDP with adaptive thresholds and lateral inhibition; neurons labelled by their "
    "responses, classes by their votes (after Diehl & Cook 2015)",
}


@dataclass(frozen=True)
class DiehlCookConfig:
    """Every setting of the network and its training; units in the field comments."""

    n_neurons: int = 400
    dt: float = 1e-3  # s
    present: float = 0.1  # s per presentation
    max_rate: float = 250.0  # Hz for a pixel of 1
    rate_step: float = 100.0  # Hz added per retry
    retries: int = 3
    min_spikes: int = 5
    tau_mem: float = 0.1  # s
    v_rest: float = -65.0  # mV
    v_reset: float = -65.0  # mV
    v_thresh: float = -52.0  # mV
    refractory: float = 5e-3  # s
    gain: float = 2.0  # mV per unit weight per input spike
    inhibition: float = 50.0  # mV per spike, to every other neuron
    theta_plus: float = 0.5  # mV per spike
    nu_pre: float = 1e-4  # depression per pairing
    nu_post: float = 2e-3  # potentiation per pairing
    tau_pre: float = 0.02  # s
    tau_post: float = 0.02  # s
    w_max: float = 1.0
    w_init: float = 0.3  # initial weights uniform in [0, w_init]
    norm_per_input: float = 0.1  # each neuron's weights sum to this times n_in
    batch_size: int = 1
    epochs: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_neurons", "retries", "min_spikes", "batch_size", "epochs"):
            value = getattr(self, name)
            low = 0 if name in ("retries", "min_spikes") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        for name in ("dt", "present", "max_rate", "tau_mem", "gain", "tau_pre", "tau_post", "w_max", "w_init"):
            check_positive(name, getattr(self, name))
        for name in ("rate_step", "refractory", "inhibition", "theta_plus", "nu_pre", "nu_post", "norm_per_input"):
            check_positive(name, getattr(self, name), allow_zero=True)
        if self.v_thresh <= self.v_reset:
            raise ValueError(f"v_thresh: expected above v_reset={self.v_reset:g} mV, got {self.v_thresh:g}")
        if self.present < self.dt:
            raise ValueError(f"present: expected at least one step of dt={self.dt:g} s, got {self.present:g}")

    @property
    def steps(self) -> int:
        return max(1, round(self.present / self.dt))

    @classmethod
    def from_dict(cls, data: dict) -> DiehlCookConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown option(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


_DECAYS: dict[tuple[int, float], torch.Tensor] = {}


def _decay_matrix(steps: int, decay: float) -> torch.Tensor:
    """``L[t, k] = decay**(t - k)`` for ``k <= t``, else 0 (cached): ``L @ s`` is the trace of ``s``."""
    key = (steps, decay)
    if key not in _DECAYS:
        t = torch.arange(steps)
        lag = (t[:, None] - t[None, :]).to(torch.float64)
        _DECAYS[key] = torch.where(lag >= 0, decay ** lag.clamp_min(0), 0.0).to(torch.float32)
    return _DECAYS[key]


class DiehlCook:
    """The network's learnt state: ``weight`` ``[n, n_in]``, ``theta`` ``[n]`` (mV), ``labels`` ``[n]`` (-1: none)."""

    def __init__(self, config: DiehlCookConfig, n_inputs: int, n_classes: int, *, generator: torch.Generator):
        if n_inputs < 1:
            raise ValueError(f"n_inputs: expected >= 1, got {n_inputs}")
        self.config, self.n_inputs, self.n_classes = config, n_inputs, n_classes
        self.weight = torch.rand(config.n_neurons, n_inputs, generator=generator) * config.w_init
        self.theta = torch.zeros(config.n_neurons)
        self.labels = torch.full((config.n_neurons,), -1, dtype=torch.int64)
        self.rule = PairSTDP(
            a_plus=config.nu_post,
            a_minus=config.nu_pre,
            tau_plus=config.tau_pre,
            tau_minus=config.tau_post,
            dt=config.dt,
        )
        self.bounds = Bounds(0.0, config.w_max)

    @property
    def norm(self) -> float:
        return self.config.norm_per_input * self.n_inputs

    def present(self, x: torch.Tensor, rate: float, *, learn: bool, generator: torch.Generator) -> torch.Tensor:
        """Show ``x`` ``[B, n_in]`` (pixels in [0, 1]) at ``rate`` Hz; returns spike counts ``[B, n]``.

        With ``learn``, the STDP change of the whole presentation (all samples of the batch, summed) is added to the
        weights at its end, then bounded and normalised, and the threshold rises by ``theta_plus`` per spike.
        """
        c = self.config
        b, n, steps = x.shape[0], c.n_neurons, c.steps
        decay = math.exp(-c.dt / c.tau_mem)
        refractory_steps = round(c.refractory / c.dt)
        p = (x * (rate * c.dt)).clamp(0, 1)
        s_in = (torch.rand((steps, *p.shape), generator=generator) < p).to(torch.float32)  # [T, B, n_in]
        drive = (s_in.reshape(steps * b, -1) @ (self.weight.T * c.gain)).reshape(steps, b, n)
        # u = v - v_rest; steps without a spike (most) cost four tensor operations
        thresh = (c.v_thresh - c.v_rest) + self.theta
        reset = c.v_reset - c.v_rest
        u = torch.zeros(b, n)
        ref_until = torch.zeros(b, n)  # first step at which each neuron integrates again
        refractory_left = -1  # last step at which some neuron is still refractory
        inh = None
        silent = torch.zeros(b, n)
        out = []
        for t in range(steps):
            inp = drive[t] if inh is None else drive[t] + inh
            if t <= refractory_left:
                inp = inp * (ref_until <= t)
            u = u * decay + inp
            above = u >= thresh
            if not bool(above.any()):
                out.append(silent)
                inh = None
                continue
            s = above.to(torch.float32)
            u = torch.where(above, reset, u)
            ref_until = torch.where(above, float(t + 1 + refractory_steps), ref_until)
            refractory_left = t + refractory_steps
            inh = lateral_inhibition(s, c.inhibition)
            out.append(s)
        spikes = torch.stack(out)  # [T, B, n]
        if learn:
            self.learn(s_in, spikes)
        return spikes.sum(0)

    def learn(self, s_in: torch.Tensor, spikes: torch.Tensor) -> None:
        """Add one presentation's STDP change: pre spikes ``s_in`` ``[T, B, n_in]``, post ``spikes`` ``[T, B, n]``.

        The all-to-all traces are written in closed form, :math:`x_t = \\sum_{k \\le t} \\lambda^{t-k} s_k` (a
        lower-triangular matrix of decay powers times the spikes), and the change is
        :math:`\nu_\text{post} \\sum_{t,b} s^\text{post}_{tb} x^{\text{pre}\top}_{tb} - \nu_\text{pre}
        \\sum_{t,b} y^\text{post}_{tb} s^{\text{pre}\top}_{tb}`: for the additive rule this is exactly the sum of
        the per-step changes; only the clipping to the bounds happens once per presentation instead of every step.
        """
        c, r = self.config, self.rule
        steps, b, n_in = s_in.shape
        flat_in = s_in.reshape(steps, b * n_in)
        flat_out = spikes.reshape(steps, -1)
        x_pre = (_decay_matrix(steps, r._lp) @ flat_in).reshape(steps * b, n_in)  # type: ignore[attr-defined]
        y_post = (_decay_matrix(steps, r._lm) @ flat_out).reshape(steps * b, -1)  # type: ignore[attr-defined]
        post = spikes.reshape(steps * b, -1)
        pot = r.a_plus * (post.T @ x_pre)
        dep = r.a_minus * (y_post.T @ s_in.reshape(steps * b, n_in))
        self.bounds.apply_(self.weight, pot, dep, 1.0)
        normalize_weights(self.weight, self.norm)
        self.theta += c.theta_plus * post.sum(0)

    def respond(self, x: torch.Tensor, *, learn: bool, generator: torch.Generator) -> tuple[torch.Tensor, int]:
        """Counts ``[B, n]`` with the paper's retries for samples that spike too little; also the number of retries."""
        c = self.config
        counts = self.present(x, c.max_rate, learn=learn, generator=generator)
        idx = torch.arange(x.shape[0])
        tries = 0
        for k in range(1, c.retries + 1):
            idx = idx[counts[idx].sum(1) < c.min_spikes]
            if len(idx) == 0:
                break
            tries += len(idx)
            counts[idx] = self.present(x[idx], c.max_rate + k * c.rate_step, learn=learn, generator=generator)
        return counts, tries

    def counts(self, x: torch.Tensor, *, generator: torch.Generator, batch: int = 512) -> torch.Tensor:
        """Spike counts ``[N, n]`` for images ``x`` ``[N, ...]`` without learning (any batch: exact)."""
        flat = x.reshape(x.shape[0], -1).to(torch.float32)
        return torch.cat(
            [self.respond(flat[i : i + batch], learn=False, generator=generator)[0] for i in range(0, len(flat), batch)]
        )

    def assign_labels(self, counts: torch.Tensor, y: torch.Tensor) -> None:
        """Label each neuron with the class of its highest mean count (``-1`` if it never spiked)."""
        mean = torch.stack(
            [
                counts[y == k].mean(0) if bool((y == k).any()) else torch.zeros(counts.shape[1])
                for k in range(self.n_classes)
            ]
        )
        self.labels = torch.where(mean.sum(0) > 0, mean.argmax(0), torch.tensor(-1))

    def predict(self, counts: torch.Tensor) -> torch.Tensor:
        """Classes ``[N]``: the class whose labelled neurons respond most on average."""
        votes = torch.zeros(counts.shape[0], self.n_classes)
        for k in range(self.n_classes):
            mine = self.labels == k
            if bool(mine.any()):
                votes[:, k] = counts[:, mine].mean(1)
        return votes.argmax(1)


def train_diehl_cook(
    split,
    config: DiehlCookConfig,
    *,
    on_batch: Callable[[int, int], None] | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> tuple[DiehlCook, list[dict]]:
    """Train on ``split.x_train`` without labels, then label neurons with ``split.y_train``; returns the history."""
    g = torch.Generator().manual_seed(config.seed)
    x = split.x_train.reshape(split.x_train.shape[0], -1).to(torch.float32)
    if x.numel() and (not bool(torch.isfinite(x).all()) or float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError("x_train: expected pixel values in [0, 1] (rate coding)")
    net = DiehlCook(config, x.shape[1], int(split.n_classes), generator=g)
    normalize_weights(net.weight, net.norm)
    history = []
    for epoch in range(config.epochs):
        started = time.perf_counter()
        order = torch.randperm(len(x), generator=g)
        retries = 0
        for i in range(0, len(x), config.batch_size):
            _, r = net.respond(x[order[i : i + config.batch_size]], learn=True, generator=g)
            retries += r
            if on_batch is not None:
                on_batch(min(i + config.batch_size, len(x)), len(x))
        seconds = time.perf_counter() - started
        label_started = time.perf_counter()
        net.assign_labels(net.counts(split.x_train, generator=g), split.y_train)
        val = evaluate_diehl_cook(net, split.x_val, split.y_val, seed=config.seed + 1)
        row = {
            "epoch": epoch + 1,
            "seconds": seconds,
            "label_seconds": time.perf_counter() - label_started,
            "retries": retries,
            "val_accuracy": val["accuracy"],
            "labelled_neurons": int((net.labels >= 0).sum()),
            "mean_theta_mv": float(net.theta.mean()),
        }
        history.append(row)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return net, history


def evaluate_diehl_cook(net: DiehlCook, x: torch.Tensor, y: torch.Tensor, *, seed: int = 1) -> dict:
    """Accuracy of the labelled-neuron vote on ``x``, ``y``; deterministic for a given ``seed``."""
    g = torch.Generator().manual_seed(seed)
    counts = net.counts(x, generator=g)
    pred = net.predict(counts)
    return {
        "accuracy": float((pred == y).float().mean()) if len(y) else float("nan"),
        "spikes_per_sample": float(counts.sum(1).mean()) if len(y) else float("nan"),
        "n": len(y),
    }


def save_diehl_cook(path: str | Path, net: DiehlCook) -> None:
    """A safetensors file (weights, thresholds, labels) with the config as JSON metadata; written atomically."""
    from ..._tensorfile import encode, write

    meta = {
        "format": FORMAT,
        "config": json.dumps(asdict(net.config), sort_keys=True),
        "n_inputs": str(net.n_inputs),
        "n_classes": str(net.n_classes),
    }
    write(path, encode({"weight": net.weight, "theta": net.theta, "labels": net.labels}, meta))


def load_diehl_cook(path: str | Path) -> DiehlCook:
    """Read a file written by :func:`save_diehl_cook` (never unpickles anything)."""
    from ..._tensorfile import read

    tensors, meta = read(path, what=str(path))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: expected a {FORMAT} model file, got format {meta.get('format')!r}")
    config = DiehlCookConfig.from_dict(json.loads(meta["config"]))
    net = DiehlCook(config, int(meta["n_inputs"]), int(meta["n_classes"]), generator=torch.Generator())
    expected = {"weight": (config.n_neurons, net.n_inputs), "theta": (config.n_neurons,), "labels": (config.n_neurons,)}
    for name, shape in expected.items():
        if name not in tensors or tuple(tensors[name].shape) != shape:
            got = list(tensors[name].shape) if name in tensors else "missing"
            raise ValueError(f"{path}: tensor {name!r} expected shape {list(shape)}, got {got}")
    net.weight, net.theta, net.labels = tensors["weight"].float(), tensors["theta"].float(), tensors["labels"].long()
    return net
