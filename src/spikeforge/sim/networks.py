r"""Reference spiking networks for brain modelling: Vogels & Abbott (2005) and Brunel (2000).

Both are sparse random networks of excitatory (E, first) and inhibitory (I, last) leaky integrate-and-fire neurons
that obey Dale's law; they are built from :mod:`spikeforge.sim` parts and run by
:func:`~spikeforge.sim.simulate` with event-driven propagation.

**Vogels-Abbott** (benchmarks 1 and 2 of Brette et al. 2007): :math:`N = 4000`, 80 % excitatory, each ordered pair
connected with probability 2 %; :math:`\tau_m = 20` ms, threshold :math:`-50` mV, reset :math:`-60` mV, refractory
5 ms, :math:`\tau_e = 5` ms, :math:`\tau_i = 10` ms, delay one time step.

- ``"coba"``: :math:`\tau_m \dot v = (E_L - v) + g_e (E_e - v) + g_i (E_i - v)` with :math:`E_L = -60` mV,
  :math:`E_e = 0`, :math:`E_i = -80` mV and jumps :math:`\Delta g_e = 6` nS, :math:`\Delta g_i = 67` nS relative to
  a leak of 10 nS (0.6 and 6.7 in leak units). As in the PyNN scripts of the Brette et al. (2007) benchmarks,
  activity is started by an external Poisson stimulus during the first 50 ms (here 1 kHz of 6 nS events per neuron, ``stim_rate``/``stim_duration``),
  on top of random initial conductances near those of the active state; without it the self-sustained state is
  not reliably reached.
- ``"cuba"``: :math:`\tau_m \dot v = (E_L - v) + g_e + g_i` with :math:`E_L = -49` mV (above threshold, so the network
  is self-driven) and jumps of 1.62 mV (excitatory: 0.27 nS x 60 mV / 10 nS) and -9 mV (inhibitory: 4.5 nS x 20 mV /
  10 nS).

Scaling: ``n_neurons`` below 4000 keeps the expected in-degree (80 synapses per neuron, probability
:math:`0.02 \times 4000 / N`), so every neuron still sees the input statistics of the full network.

**Brunel** (2000, model A): :math:`N_E = 10000`, :math:`N_I = N_E/4`, every neuron receives :math:`C_E = \epsilon N_E`
excitatory and :math:`C_I = \epsilon N_I` inhibitory synapses (:math:`\epsilon = 0.1`) with delta jumps :math:`J = 0.1`
mV and :math:`-gJ`, delay :math:`D = 1.5` ms, plus :math:`C_E` external Poisson inputs of rate
:math:`\nu_{ext} = \eta\, \nu_{thr}` with :math:`\nu_{thr} = \vartheta / (J C_E \tau)`; :math:`\tau = 20` ms,
:math:`\vartheta = 20` mV, :math:`V_r = 10` mV, refractory 2 ms. Regimes (Brunel 2000, Fig. 8): ``"sr"`` (g = 3,
:math:`\eta` = 2, synchronous regular), ``"ai"`` (g = 5, :math:`\eta` = 2, asynchronous irregular), ``"si-fast"``
(g = 6, :math:`\eta` = 4), ``"si-slow"`` (g = 4.5, :math:`\eta` = 0.9).

Scaling, for ``n_exc`` below 10000 (both coincide at full size):

- ``scaling="in_degree"`` (default) keeps :math:`C_E = 1000`, :math:`C_I = 250` and :math:`J`; the connection
  probability rises to :math:`1000 / N_E`. Mean and variance of every neuron's input, and :math:`\nu_{thr}`, equal the
  full network's; only the shared-input fraction grows (more correlation).
- ``scaling="density"`` keeps :math:`\epsilon = 0.1` (:math:`C_E = 0.1 N_E`) and :math:`J C_E = 100` mV
  (:math:`J = 0.1 \times 1000 / C_E` mV), so :math:`\nu_{thr}` and the mean drive stay; the input variance grows
  as :math:`1/C_E`. Cheaper (the work per spike is the fan-out :math:`1.25\, C_E`).

``in_degree_exc`` sets :math:`C_E` directly.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..units import check_dt, ms
from ._connectivity import fixed_indegree, fixed_probability, merge
from ._dynamics import ConductanceLIF, CurrentLIF, DeltaLIF
from ._engine import Network, NetworkResult, _check_duration, simulate
from ._monitors import StateMonitor
from ._poisson import PoissonInput

__all__ = ["BRUNEL_REGIMES", "NETWORKS", "NetworkResult", "brunel", "simulate_network", "vogels_abbott"]

#: Brunel (2000) Fig. 8 parameter points: regime -> (g, nu_ext / nu_thr)
BRUNEL_REGIMES: dict[str, tuple[float, float]] = {
    "sr": (3.0, 2.0),
    "ai": (5.0, 2.0),
    "si-fast": (6.0, 4.0),
    "si-slow": (4.5, 0.9),
}
VOGELS_ABBOTT_REGIMES = ("coba", "cuba")

_VA_DEFAULTS: dict[str, Any] = dict(
    n_neurons=4000,
    exc_fraction=0.8,
    p_connect=0.02,
    tau_mem=20 * ms,
    threshold=-50.0,
    v_reset=-60.0,
    t_ref=5 * ms,
    tau_exc=5 * ms,
    tau_inh=10 * ms,
    delay=None,
    v_rest=None,
    w_exc=None,
    w_inh=None,
    e_exc=0.0,
    e_inh=-80.0,
    background_rate=0.0,
    background_weight=None,
    stim_rate=None,
    stim_duration=50 * ms,
)
_BRUNEL_DEFAULTS: dict[str, Any] = dict(
    n_exc=10000,
    gamma=0.25,
    epsilon=0.1,
    in_degree_exc=None,
    scaling="in_degree",
    J=0.1,
    g=None,
    eta=None,
    delay=1.5 * ms,
    tau_mem=20 * ms,
    threshold=20.0,
    v_reset=10.0,
    t_ref=2 * ms,
)
_RECORD_KEYS = ("record", "record_neurons", "record_every", "threads")


def _merge_overrides(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise TypeError(f"{name}: unknown parameter(s) {unknown}; expected some of {sorted(defaults)}")
    return {**defaults, **overrides}


def _check_regime(name: str, regime: str | None, allowed, default: str) -> str:
    regime = default if regime is None else regime
    if regime not in allowed:
        raise ValueError(f"regime: {name} has regimes {list(allowed)}, got {regime!r}")
    return regime


def _check_seed(seed: object) -> int:
    """torch generators take seeds in [0, 2**64); the background generator gets ``seed + 1``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63 - 1:
        raise ValueError(f"seed: expected an integer in [0, 2**63 - 1), got {seed!r}")
    return seed


def _delay_steps(delay: float | None, dt: float) -> int:
    if delay is None:
        return 1
    steps = round(delay / dt)
    if steps < 1:
        raise ValueError(
            f"delay: {delay * 1e3:g} ms is shorter than one time step (dt = {dt * 1e3:g} ms); "
            "use a smaller dt or a longer delay"
        )
    return steps


def vogels_abbott(regime: str | None = "coba", *, dt: float = 0.1 * ms, seed: int = 0, **overrides) -> Network:
    """Build the Vogels-Abbott benchmark network (module docstring); ``overrides`` replace default parameters.

    Parameters (defaults): ``n_neurons`` 4000, ``exc_fraction`` 0.8, ``p_connect`` 0.02 (at 4000 neurons),
    ``tau_mem`` 20 ms, ``threshold`` -50 mV, ``v_reset`` -60 mV, ``t_ref`` 5 ms, ``tau_exc`` 5 ms, ``tau_inh`` 10 ms,
    ``delay`` one step, ``v_rest`` (-60 coba / -49 cuba mV), ``w_exc`` / ``w_inh`` (0.6 / 6.7 leak units coba,
    1.62 / -9 mV cuba), ``e_exc`` 0 mV, ``e_inh`` -80 mV, ``stim_rate`` (1000 Hz coba, 0 cuba) during
    ``stim_duration`` (50 ms), ``background_rate`` 0 Hz for the whole run; both Poisson, on the excitatory channel,
    weight ``background_weight`` (default ``w_exc``).
    """
    regime = _check_regime("vogels-abbott", regime, VOGELS_ABBOTT_REGIMES, "coba")
    p = _merge_overrides("vogels-abbott", _VA_DEFAULTS, overrides)
    dt = check_dt(dt)
    coba = regime == "coba"
    if p["v_rest"] is None:
        p["v_rest"] = -60.0 if coba else -49.0
    if p["w_exc"] is None:
        p["w_exc"] = 6.0 / 10.0 if coba else 60 * 0.27 / 10
    if p["w_inh"] is None:
        p["w_inh"] = 67.0 / 10.0 if coba else -20 * 4.5 / 10
    n = int(p["n_neurons"])
    if n < 10:
        raise ValueError(f"n_neurons: expected at least 10 neurons, got {n}")
    n_exc = round(n * p["exc_fraction"])
    exc, inh = range(0, n_exc), range(n_exc, n)
    prob = min(1.0, p["p_connect"] * 4000 / n)
    if p["w_exc"] < 0 or (coba and p["w_inh"] < 0) or (not coba and p["w_inh"] > 0):
        raise ValueError(
            f"w_exc/w_inh: Dale's law needs w_exc >= 0 and w_inh {'>= 0 (conductance)' if coba else '<= 0'}"
            f", got {p['w_exc']} and {p['w_inh']}"
        )
    common = dict(
        tau_mem=p["tau_mem"],
        v_rest=p["v_rest"],
        threshold=p["threshold"],
        v_reset=p["v_reset"],
        t_ref=p["t_ref"],
        tau_exc=p["tau_exc"],
        tau_inh=p["tau_inh"],
    )
    model = ConductanceLIF(**common, e_exc=p["e_exc"], e_inh=p["e_inh"]) if coba else CurrentLIF(**common)
    gen = torch.Generator().manual_seed(_check_seed(seed))
    d = _delay_steps(p["delay"], dt)
    parts = [
        fixed_probability(exc, range(n), prob, weight=p["w_exc"], delay=d, channel=0, generator=gen),
        fixed_probability(inh, range(n), prob, weight=p["w_inh"], delay=d, channel=1, generator=gen),
    ]
    conn = merge(parts, n, n_channels=2)
    v = p["v_reset"] + torch.rand(n, generator=gen) * (p["threshold"] - p["v_reset"])
    if coba:
        # conductances of the active state (leak units), so that activity starts without a stimulus
        g_exc = (4.0 + 1.5 * torch.randn(n, generator=gen)).clamp(min=0)
        g_inh = (20.0 + 12.0 * torch.randn(n, generator=gen)).clamp(min=0)
        state = model.init(v, g_exc, g_inh)
    else:
        state = model.init(v)
    if p["stim_rate"] is None:
        p["stim_rate"] = 1000.0 if coba else 0.0
    weight = float(p["w_exc"] if p["background_weight"] is None else p["background_weight"])
    background = []
    if p["stim_rate"]:
        background.append(PoissonInput(range(n), float(p["stim_rate"]), weight, channel=0, stop=p["stim_duration"]))
    if p["background_rate"]:
        background.append(PoissonInput(range(n), float(p["background_rate"]), weight, channel=0))
    params = {**p, "p_connect_effective": prob, "n_exc": n_exc, "n_inh": n - n_exc, "delay_steps": d}
    return Network(
        model=model,
        connectivity=conn,
        populations={"exc": exc, "inh": inh},
        state=state,
        dt=dt,
        background=tuple(background),
        name="vogels-abbott",
        regime=regime,
        params=params,
    )


def brunel(regime: str | None = "ai", *, dt: float = 0.1 * ms, seed: int = 0, **overrides) -> Network:
    """Build Brunel's (2000) sparse E/I network (module docstring); ``overrides`` replace default parameters.

    Parameters (defaults): ``n_exc`` 10000, ``gamma`` 0.25 (N_I = gamma N_E), ``epsilon`` 0.1, ``in_degree_exc``
    (C_E; default ``epsilon * 10000`` = 1000 whatever ``n_exc``, capped at ``n_exc - 1``), ``J`` 0.1 mV, ``g`` and
    ``eta`` (= nu_ext / nu_thr; default from ``regime``), ``delay`` 1.5 ms, ``tau_mem`` 20 ms, ``threshold`` 20 mV,
    ``v_reset`` 10 mV, ``t_ref`` 2 ms.
    """
    regime = _check_regime("brunel", regime, BRUNEL_REGIMES, "ai")
    p = _merge_overrides("brunel", _BRUNEL_DEFAULTS, overrides)
    dt = check_dt(dt)
    g0, eta0 = BRUNEL_REGIMES[regime]
    p["g"] = g0 if p["g"] is None else float(p["g"])
    p["eta"] = eta0 if p["eta"] is None else float(p["eta"])
    n_exc = int(p["n_exc"])
    n_inh = round(p["gamma"] * n_exc)
    if n_exc < 10 or n_inh < 1:
        raise ValueError(f"n_exc: expected at least 10 excitatory neurons (and gamma * n_exc >= 1), got {n_exc}")
    if p["scaling"] not in ("in_degree", "density"):
        raise ValueError(f"scaling: expected 'in_degree' or 'density', got {p['scaling']!r}")
    c_full = round(p["epsilon"] * 10000)  # C_E of the full-size network
    c_exc = p["in_degree_exc"]
    if c_exc is None:
        c_exc = c_full if p["scaling"] == "in_degree" else round(p["epsilon"] * n_exc)
    c_exc = int(min(c_exc, n_exc - 1))
    if c_exc < 1:
        raise ValueError(f"in_degree_exc: expected at least one excitatory input per neuron, got {c_exc}")
    # density scaling keeps J * C_E (so nu_thr and the mean drive in mV) of the full network
    J = float(p["J"]) * (c_full / c_exc if p["scaling"] == "density" else 1.0)
    c_inh = min(round(p["gamma"] * c_exc), n_inh - 1 if n_inh > 1 else n_inh)
    n = n_exc + n_inh
    exc, inh = range(0, n_exc), range(n_exc, n)
    if J <= 0 or p["g"] < 0:
        raise ValueError(f"J/g: expected J > 0 mV and g >= 0 (Dale's law), got J={J}, g={p['g']}")
    model = DeltaLIF(tau_mem=p["tau_mem"], v_rest=0.0, threshold=p["threshold"], v_reset=p["v_reset"], t_ref=p["t_ref"])
    gen = torch.Generator().manual_seed(_check_seed(seed))
    d = _delay_steps(p["delay"], dt)
    parts = [
        fixed_indegree(exc, range(n), c_exc, weight=J, delay=d, generator=gen),
        fixed_indegree(inh, range(n), c_inh, weight=-p["g"] * J, delay=d, generator=gen),
    ]
    conn = merge(parts, n, n_channels=1)
    nu_thr = p["threshold"] / (J * c_exc * p["tau_mem"])
    nu_ext = p["eta"] * nu_thr
    background = (PoissonInput(range(n), rate=c_exc * nu_ext, weight=J, channel=0),)
    v = torch.rand(n, generator=gen) * p["threshold"]
    params = {
        **p,
        "n_inh": n_inh,
        "in_degree_exc": c_exc,
        "J_effective": J,
        "in_degree_inh": c_inh,
        "nu_thr_hz": nu_thr,
        "nu_ext_hz": nu_ext,
        "epsilon_effective": c_exc / n_exc,
        "delay_steps": d,
    }
    return Network(
        model=model,
        connectivity=conn,
        populations={"exc": exc, "inh": inh},
        state=model.init(v),
        dt=dt,
        background=background,
        name="brunel",
        regime=regime,
        params=params,
    )


NETWORKS = {"vogels-abbott": vogels_abbott, "brunel": brunel}


def simulate_network(
    name: str, *, regime: str | None = None, duration: float, dt: float = 0.1e-3, seed: int = 0, **overrides
) -> NetworkResult:
    """Build and run a reference network; returns a :class:`NetworkResult` (``.summary()`` for statistics).

    Args:
        name: ``"vogels-abbott"`` (regime ``"coba"`` default, or ``"cuba"``) or ``"brunel"`` (regime ``"ai"``
            default, ``"sr"``, ``"si-fast"``, ``"si-slow"``).
        regime: see ``name``.
        duration: simulated time (s).
        dt: time step (s). Default 0.1 ms.
        seed: seeds the connectivity, the initial state and the background input.
        **overrides: network parameters (see :func:`vogels_abbott` and :func:`brunel`), plus ``record`` (state
            variables to record, e.g. ``("v",)``), ``record_neurons`` (indices, default the first 10) and
            ``record_every`` (steps), and ``threads`` (torch threads during the run, default 1; see
            :func:`~spikeforge.sim.simulate`).

    >>> res = simulate_network("brunel", regime="ai", duration=0.05, n_exc=400, in_degree_exc=100)
    >>> res.n_neurons, res.summary()["rate_hz"] > 0
    (500, True)
    """
    if name not in NETWORKS:
        raise ValueError(f"name: expected one of {sorted(NETWORKS)}, got {name!r}")
    _check_seed(seed)
    _check_duration(duration, check_dt(dt))  # before the network is built
    record = {key: overrides.pop(key) for key in _RECORD_KEYS if key in overrides}
    start = time.perf_counter()
    network = NETWORKS[name](regime, dt=dt, seed=seed, **overrides)
    build = time.perf_counter() - start
    monitors: tuple[StateMonitor, ...] = ()
    if record.get("record"):
        neurons = record.get("record_neurons", range(min(10, network.n_neurons)))
        monitors = (StateMonitor(record["record"], list(neurons), every=int(record.get("record_every", 1))),)
    gen = torch.Generator().manual_seed(seed + 1)
    result = simulate(network, duration=duration, generator=gen, monitors=monitors, threads=record.get("threads", 1))
    result.build_time = build
    return result
