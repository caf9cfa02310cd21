"""Independent references for neuron tests: scipy's adaptive solvers at tight tolerance, never spikeforge code.

Times here are in ms (the models' own time unit). Spike times of a simulation are taken as the end of the step in
which the spike was emitted, ``(k + 1) * dt``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

RTOL = 1e-10
ATOL = 1e-10

#: marks the full-length variants of the solver comparisons (1 s; 200 ms for Hodgkin-Huxley): slow, and run only
#: with SPIKEFORGE_FULL_LENGTH=1 so that the default suite stays fast
FULL_LENGTH = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("SPIKEFORGE_FULL_LENGTH"), reason="full-length run: set SPIKEFORGE_FULL_LENGTH=1"
    ),
]


def spikes_with_resets(
    rhs: Callable,
    y0,
    t_end: float,
    *,
    crossing: Callable,
    reset: Callable,
    method: str = "DOP853",
    rtol: float = RTOL,
    atol: float = ATOL,
) -> np.ndarray:
    """Integrate ``y' = rhs(t, y)`` on ``[0, t_end]``; at each upward zero of ``crossing(y)`` record the time and
    restart from ``reset(y)``. Returns the spike times (ms)."""

    def event(t, y):
        return crossing(y)

    event.terminal = True
    event.direction = 1
    t, y, times = 0.0, np.asarray(y0, dtype=float), []
    while t < t_end:
        sol = solve_ivp(rhs, (t, t_end), y, method=method, events=event, rtol=rtol, atol=atol)
        assert sol.status >= 0, sol.message
        if sol.status != 1:
            break
        t = float(sol.t_events[0][0])
        times.append(t)
        y = np.asarray(reset(sol.y_events[0][0]), dtype=float)
    return np.array(times)


def upward_crossings(
    rhs: Callable,
    y0: np.ndarray,
    t_end: float,
    *,
    index: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    n: int,
    method: str = "DOP853",
    rtol: float = RTOL,
    atol: float = ATOL,
    grid: float = 0.005,
) -> tuple[list[np.ndarray], object]:
    """Integrate a system of ``n`` uncoupled neurons at once (no reset) and return, per neuron, the times (ms) where
    ``index(y)[k]`` crosses ``threshold`` upwards (dense output, roots refined with brentq), and the solution."""
    sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, rtol=rtol, atol=atol, dense_output=True)
    assert sol.success, sol.message
    ts = np.arange(0.0, t_end + grid / 2, grid)
    values = index(sol.sol(ts)) - threshold  # [n, len(ts)]
    out = []
    for k in range(n):
        up = np.nonzero((values[k, :-1] < 0) & (values[k, 1:] >= 0))[0]
        out.append(
            np.array(
                [
                    brentq(lambda t, k=k: index(sol.sol(t)[:, None])[k, 0] - threshold, ts[i], ts[i + 1], xtol=1e-12)
                    for i in up
                ]
            )
        )
    return out, sol


def spike_times(z: torch.Tensor, dt_ms: float) -> list[np.ndarray]:
    """Per neuron (columns of ``z[T, N]``), the times (ms) of its spikes: the end of the emitting step."""
    z = z.detach().reshape(z.shape[0], -1).cpu().numpy()
    return [(np.nonzero(z[:, k])[0] + 1) * dt_ms for k in range(z.shape[1])]


def max_time_error(ref: np.ndarray, sim: np.ndarray) -> float:
    """Largest |difference| between matched spike times (same count required by the caller)."""
    n = min(len(ref), len(sim))
    return float(np.max(np.abs(ref[:n] - sim[:n]))) if n else 0.0


def mean_time_error(ref: np.ndarray, sim: np.ndarray) -> float:
    n = min(len(ref), len(sim))
    return float(np.mean(np.abs(ref[:n] - sim[:n]))) if n else 0.0


def rate(times: np.ndarray, duration_ms: float, skip_ms: float = 0.0) -> float:
    """Spikes per second after ``skip_ms``."""
    return float(np.sum(times >= skip_ms)) / ((duration_ms - skip_ms) / 1000.0)


def slope(dts, errors) -> float:
    """Least-squares slope of log(error) against log(dt): the observed order of convergence."""
    return float(np.polyfit(np.log(np.asarray(dts)), np.log(np.asarray(errors)), 1)[0])


def constant(values, steps: int, dtype=torch.float64) -> torch.Tensor:
    """A ``[steps, N, 1]`` input holding each value of ``values`` constant (N neurons as one batch)."""
    v = torch.as_tensor(values, dtype=dtype)
    return v.reshape(1, -1, 1).expand(steps, -1, -1).contiguous()


def train_counts(
    model: torch.nn.Module,
    *,
    start: float,
    scale: float,
    targets: list[int],
    steps: int,
    iterations: int = 150,
    lr: float = 0.05,
    stop_within: int = 0,
) -> tuple[list[int], list[float]]:
    """Learn one constant input current per neuron (``start + scale * p``, ``p`` trained from 0) so that neuron ``k``
    emits ``targets[k]`` spikes in ``steps`` steps, by surrogate-gradient descent through the neuron model.
    Training stops once every count is within ``stop_within`` spikes of its target (the tests' bar; 0: exact).
    Returns the final counts and the loss history."""
    n = len(targets)
    p = torch.nn.Parameter(torch.zeros(n, dtype=torch.float64))
    target = torch.tensor(targets, dtype=torch.float64)
    opt = torch.optim.Adam([p], lr=lr)
    losses = []
    for _ in range(iterations):
        x = (start + scale * p).reshape(1, n, 1).expand(steps, n, 1)
        z, _ = model(x)
        counts = z.sum(0).flatten()
        loss = ((counts - target) ** 2).mean()
        losses.append(loss.item())
        if (counts.detach() - target).abs().max() <= stop_within:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z, _ = model((start + scale * p).reshape(1, n, 1).expand(steps, n, 1))
    return [int(c) for c in z.sum(0).flatten()], losses


def check_spike_trains(ref: np.ndarray, sim: np.ndarray, duration: float, bound: float = 1.0) -> float:
    """Assert that ``sim`` (spike times over ``[0, duration]``) has the reference's spikes, each within ``bound`` ms.

    ``ref`` must cover at least ``duration + bound``. The counts must agree, except for a spike within ``bound`` of the
    window's end that one side places just inside and the other just outside. Returns the largest time error.
    """
    ref, sim = np.asarray(ref), np.asarray(sim)
    need, allow = int(np.sum(ref <= duration - bound)), int(np.sum(ref <= duration + bound))
    assert need <= len(sim) <= allow, (
        f"{len(sim)} spikes; the reference has {need} before {duration - bound} ms "
        f"and {allow} before {duration + bound} ms"
    )
    error = max_time_error(ref, sim)
    assert error < bound, f"spike times differ by up to {error:.3f} ms (bound {bound} ms)"
    return error


def convergence_errors(simulate: Callable, reference: Callable, cases, dts, duration: float) -> list[float]:
    """Mean spike-time error (ms) against the solver for each ``dt``: ``simulate(dt, duration)`` gives one spike
    train per case, ``reference(case, duration)`` the solver's. A first-order scheme halves it with ``dt``."""
    return [
        float(np.mean([mean_time_error(reference(c, duration), s) for c, s in zip(cases, simulate(dt, duration))]))
        for dt in dts
    ]
