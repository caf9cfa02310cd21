r"""Clock-driven network simulation with event-driven spike propagation.

One step :math:`t` (time :math:`t\Delta t`) of :func:`simulate`:

1. input :math:`x_t` ``[C, N]`` = pending synaptic input of this step (ring buffer slot :math:`t \bmod L`) plus the
   Poisson background drawn for this step;
2. the neuron update ``(z_t, state) = model.step(x_t, state, dt)`` (pure, see :mod:`._dynamics`);
3. the ids of the neurons with :math:`z_t = 1` are recorded (spike time :math:`t\Delta t`) and their outgoing
   synapses are scattered into the slots :math:`t + d_s`, so a spike arrives exactly :math:`d_s` steps later.

Only step 3 touches synapses, and only those of neurons that fired: the cost per step is
:math:`O(N + \text{spikes} \times \text{fan-out})`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from .. import kernels
from ..units import check_dt, ms
from . import _fastpath
from ._connectivity import Connectivity
from ._monitors import SpikeMonitor, StateMonitor
from ._poisson import PoissonInput, _poisson_cdf, poisson_counts
from ._propagation import DelayBuffer
from ._stats import binned_counts, cv_isi, fano_factor, synchrony_chi2

__all__ = ["Network", "NetworkResult", "simulate"]


@dataclass
class Network:
    """A network ready to run: neuron model, synapse table, populations, background input, initial state.

    Attributes:
        model: a :class:`~spikeforge.sim._dynamics.DeltaLIF`, ``CurrentLIF`` or ``ConductanceLIF``.
        connectivity: the synapses (:class:`Connectivity`), delays in steps of the ``dt`` it was built for.
        populations: name -> range of neuron indices (e.g. ``{"exc": range(0, 3200), "inh": range(3200, 4000)}``).
        state: initial state (a NamedTuple of ``[N]`` tensors).
        background: Poisson inputs.
        dt: the time step (s) the delays were rounded to.
        name, regime, params: description carried into the result.
    """

    model: Any
    connectivity: Connectivity
    populations: dict[str, range]
    state: NamedTuple
    dt: float
    background: tuple[PoissonInput, ...] = ()
    name: str = "custom"
    regime: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_neurons(self) -> int:
        return self.connectivity.n_post


@dataclass
class NetworkResult:
    """Spikes and traces of one run.

    Attributes:
        spike_times: ``[n_spikes]`` float64, seconds (step index times ``dt``), sorted by time.
        spike_ids: ``[n_spikes]`` int64 neuron of each spike.
        n_neurons, duration (s), dt (s).
        population_rate: ``[n_steps]`` float32 instantaneous population rate (Hz): spikes in the step / (N dt).
        populations: name -> range of neuron indices.
        state: recorded state traces, name -> ``[n_records, n_recorded]``; ``state_times`` (s), ``state_ids``.
        name, regime, params: the network and its parameters; ``wall_time`` (s) of the simulation loop,
        ``build_time`` (s), ``n_synapses`` and ``n_events`` (synaptic events delivered); ``final_state`` the neuron
        state after the last step.
    """

    spike_times: torch.Tensor
    spike_ids: torch.Tensor
    n_neurons: int
    duration: float
    dt: float
    population_rate: torch.Tensor
    populations: dict[str, range] = field(default_factory=dict)
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    state_times: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    state_ids: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))
    name: str = "custom"
    regime: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0
    build_time: float = 0.0
    n_synapses: int = 0
    n_events: int = 0
    final_state: Any = None

    @property
    def n_steps(self) -> int:
        return int(self.population_rate.numel())

    def binned_rate(self, width: float = 1 * ms) -> tuple[torch.Tensor, torch.Tensor]:
        """Population rate (Hz) in bins of ``width`` seconds; returns ``(bin_start_times, rate)``."""
        k = max(1, round(width / self.dt))
        n_bins = self.n_steps // k
        rate = self.population_rate[: n_bins * k].reshape(n_bins, k).to(torch.float64).mean(dim=1)
        return torch.arange(n_bins, dtype=torch.float64) * (k * self.dt), rate

    def summary(self, *, transient: float | None = None, bin: float = 1 * ms) -> dict[str, Any]:
        """Activity statistics after discarding the first ``transient`` seconds.

        Args:
            transient: initial period to skip (s). Default: 100 ms, or a fifth of the run if that is shorter.
            bin: bin width (s) for the synchrony measures. Default 1 ms.

        Returns:
            dict with ``rate_hz`` (mean rate per neuron), ``rate_<population>_hz``, ``cv_isi`` (mean CV over neurons
            with at least two intervals), ``synchrony`` (:math:`\\chi^2` of binned counts, 0 = asynchronous,
            1 = fully synchronous), ``fano_population``, ``n_spikes``, ``fraction_active`` (neurons firing at least
            once), ``duration_analysed``, ``wall_time_s`` and ``n_neurons``, ``n_synapses``.
        """
        if transient is None:
            transient = min(0.1, self.duration / 5)
        first = round(transient / self.dt)
        n_steps = self.n_steps - first
        if n_steps <= 0:
            raise ValueError(f"transient: {transient} s leaves nothing of a {self.duration} s run")
        steps = torch.round(self.spike_times / self.dt).to(torch.int64)
        keep = steps >= first
        steps, ids = steps[keep] - first, self.spike_ids[keep]
        window = n_steps * self.dt
        out: dict[str, Any] = {"rate_hz": ids.numel() / (self.n_neurons * window)}
        for name, rng in self.populations.items():
            inside = (ids >= rng.start) & (ids < rng.stop)
            out[f"rate_{name}_hz"] = int(inside.sum()) / (max(1, len(rng)) * window)
        cv = cv_isi(steps, ids, self.n_neurons)
        valid = cv[~torch.isnan(cv)]
        out["cv_isi"] = float(valid.mean()) if valid.numel() else math.nan
        counts = binned_counts(steps, ids, self.n_neurons, bin_steps=max(1, round(bin / self.dt)), n_steps=n_steps)
        out["synchrony"] = synchrony_chi2(counts)
        out["fano_population"] = fano_factor(counts)
        out["n_spikes"] = int(ids.numel())
        out["fraction_active"] = int(torch.unique(ids).numel()) / self.n_neurons
        out["duration_analysed"] = window
        out["wall_time_s"] = self.wall_time
        out["n_neurons"] = self.n_neurons
        out["n_synapses"] = self.n_synapses
        return out


def _check_duration(duration: float, dt: float) -> int:
    if (
        not isinstance(duration, int | float)
        or isinstance(duration, bool)
        or not math.isfinite(duration)
        or duration <= 0
    ):
        raise ValueError(f"duration: expected a positive time in seconds (e.g. 1.0 or 500 * ms), got {duration!r}")
    return max(1, round(duration / dt))


def simulate(
    network: Network,
    *,
    duration: float,
    generator: torch.Generator | None = None,
    monitors: tuple[StateMonitor, ...] = (),
    chunk: int = 500,
    threads: int | None = 1,
) -> NetworkResult:
    """Run ``network`` for ``duration`` seconds at its ``dt``; see the module docstring for one step.

    Args:
        network: the :class:`Network` (its state is not modified).
        duration: simulated time (s).
        generator: random generator for the Poisson background.
        monitors: :class:`StateMonitor` objects, filled during the run; the first one's traces are also copied into
            ``result.state``.
        chunk: steps of background drawn at once.
        threads: torch intra-op threads during the run, restored afterwards. Default 1: the per-step tensors are
            small, and handing them to more threads costs more than it saves (on a busy 2-core machine a
            4000-neuron network ran 20x slower with 2 threads). None keeps torch's setting. More than one is an
            upper bound: :func:`spikeforge.kernels.cpu.usable_threads` times a short probe with 1, half and all
            of them (cached for 10 s) and the run uses the fastest, so a busy machine gets fewer threads.

    Runs on the CPU (the event-driven gather/scatter is written for it); tensors of the network must be CPU tensors.
    """
    dt = check_dt(network.dt)
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: expected a positive number of steps, got {chunk!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads: expected a positive number of threads or None, got {threads!r}")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(kernels.cpu.usable_threads(threads) if threads > 1 else 1)
    try:
        return _run(network, dt, duration, generator, monitors, chunk)
    finally:
        torch.set_num_threads(previous_threads)


def _run(network, dt, duration, generator, monitors, chunk) -> NetworkResult:
    n_steps = _check_duration(duration, dt)
    n = network.n_neurons
    model, state = network.model, network.state
    for monitor in monitors:
        monitor.check(state, n)
    buffer = DelayBuffer(network.connectivity)
    spikes = SpikeMonitor()
    counts: list[int] = []
    background = [
        (bg, bg.active_steps(dt, n_steps), bg.rate * dt, _poisson_cdf(bg.rate * dt) if bg.rate else None)
        for bg in network.background
    ]
    drawn: list[torch.Tensor | None] = [None] * len(background)
    events = 0

    def add_background(step: int, x: torch.Tensor) -> None:
        nonlocal drawn
        if step % chunk == 0:
            length = min(chunk, n_steps - step)
            drawn = [
                poisson_counts(lam, (length, len(bg.neurons)), generator=generator, cdf=cdf) * bg.weight
                if lam and steps.start < step + length and step < steps.stop
                else None
                for bg, steps, lam, cdf in background
            ]
        for (bg, steps, _, _), block in zip(background, drawn):
            if block is not None and steps.start <= step < steps.stop:
                x[bg.channel, bg.neurons.start : bg.neurons.stop] += block[step % chunk]

    start = time.perf_counter()
    if _fastpath.applicable(model, state, buffer, monitors):
        # CurrentLIF: the same arithmetic in place on preallocated buffers (see _fastpath), bit-identical spikes
        with torch.no_grad():
            counts, steps_fired, ids_fired, events, state = _fastpath.run_current_lif(
                model, state, dt, n_steps, buffer, add_background if background else None
            )
        for step, ids in zip(steps_fired, ids_fired):
            spikes.record(step, ids)
    else:
        with torch.no_grad():
            for step in range(n_steps):
                x = buffer.peek(step)  # a view, cleared once the neurons have used it
                add_background(step, x)
                z, state = model.step(x, state, dt=dt)
                buffer.clear(step)
                ids = torch.nonzero(z).squeeze(1)
                counts.append(ids.numel())
                if counts[-1]:
                    spikes.record(step, ids)
                    events += buffer.push(ids, step=step)
                for monitor in monitors:
                    monitor.record(step, state)
    wall = time.perf_counter() - start
    for monitor in monitors:
        monitor.finish()
    spike_steps, spike_ids = spikes.result()
    first = monitors[0] if monitors else None
    return NetworkResult(
        spike_times=spike_steps.to(torch.float64) * dt,
        spike_ids=spike_ids,
        n_neurons=n,
        duration=n_steps * dt,
        dt=dt,
        population_rate=torch.tensor(counts, dtype=torch.float32) / (n * dt),
        populations=dict(network.populations),
        state=dict(first.data) if first else {},
        state_times=(first.steps.to(torch.float64) * dt) if first else torch.zeros(0, dtype=torch.float64),
        state_ids=first.neurons if first else torch.zeros(0, dtype=torch.int64),
        name=network.name,
        regime=network.regime,
        params=dict(network.params),
        wall_time=wall,
        n_synapses=network.connectivity.nnz,
        n_events=events,
        final_state=state,
    )
