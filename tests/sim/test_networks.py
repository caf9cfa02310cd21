"""Reference networks: Brunel's regimes at their published points, sustained asynchronous Vogels-Abbott activity.

Networks are scaled down to keep the suite fast (the full-size runs are for the CLI):

- Brunel: ``n_exc=2000`` (N = 2500) with ``scaling="density"``: connection probability 0.1 as published, so
  C_E = 200, C_I = 50, and J = 0.5 mV so that J C_E (hence nu_thr and the mean drive) is the published 100 mV.
- Vogels-Abbott: ``n_neurons`` 2000 (COBA) or 1000 (CUBA), keeping the published expected in-degree (80 synapses
  per neuron). The self-sustained COBA state is metastable and small networks fall silent sooner: at 1000 neurons
  some seeds die out within 0.4 s, at 2000 none of seeds 0-5 did.
"""

import math

import pytest
import torch
from scipy import integrate, optimize, special

from spikeforge.sim import NetworkResult
from spikeforge.sim.networks import brunel, simulate_network, vogels_abbott

BRUNEL_SCALED = dict(n_exc=2000, scaling="density")


@pytest.fixture(scope="module")
def brunel_runs() -> dict[str, NetworkResult]:
    return {
        regime: simulate_network("brunel", regime=regime, duration=0.3, seed=3, **BRUNEL_SCALED)
        for regime in ("sr", "ai")
    }


def test_brunel_scaling_keeps_the_published_drive():
    net = brunel("ai", **BRUNEL_SCALED)
    p = net.params
    assert (p["in_degree_exc"], p["in_degree_inh"]) == (200, 50)
    assert p["J_effective"] * p["in_degree_exc"] == pytest.approx(100.0)  # mV, as 0.1 mV x 1000
    assert p["nu_thr_hz"] == pytest.approx(10.0)  # theta / (J C_E tau) = 20 / (100 x 0.02)
    assert p["nu_ext_hz"] == pytest.approx(20.0)  # eta = 2
    assert (p["g"], p["eta"], p["delay_steps"]) == (5.0, 2.0, 15)
    assert (net.connectivity.in_degree() == 250).all()


def test_brunel_synchronous_regular_state(brunel_runs):
    s = brunel_runs["sr"].summary()
    assert s["cv_isi"] < 0.2  # regular
    assert s["synchrony"] > 0.1  # population locked to a fast oscillation
    assert s["rate_hz"] > 150  # near saturation (refractory 2 ms)


def test_brunel_asynchronous_irregular_state(brunel_runs):
    s = brunel_runs["ai"].summary()
    assert s["cv_isi"] > 0.5  # irregular
    assert s["synchrony"] < 0.05  # asynchronous
    assert 5 < s["rate_hz"] < 100
    assert s["fraction_active"] > 0.9


def test_brunel_regimes_are_told_apart(brunel_runs):
    sr, ai = brunel_runs["sr"].summary(), brunel_runs["ai"].summary()
    assert ai["cv_isi"] > 3 * sr["cv_isi"]
    assert sr["synchrony"] > 5 * ai["synchrony"]
    assert sr["fano_population"] > 5 * ai["fano_population"]


def _mean_field_rate(J, c_exc, g, eta, gamma=0.25, tau=0.02, t_ref=0.002, theta=20.0, v_reset=10.0):
    """Brunel (2000) stationary rate: the fixed point of the Siegert formula in the diffusion approximation."""
    nu_ext = eta * theta / (J * c_exc * tau)

    def siegert(nu):
        mu = c_exc * J * tau * (nu_ext + nu * (1 - g * gamma))
        sigma = J * math.sqrt(c_exc * tau * (nu_ext + nu * (1 + g * g * gamma)))
        # e^{u^2} (1 + erf u) = erfcx(-u)
        area, _ = integrate.quad(lambda u: special.erfcx(-u), (v_reset - mu) / sigma, (theta - mu) / sigma)
        return 1.0 / (t_ref + tau * math.sqrt(math.pi) * area)

    return optimize.brentq(lambda nu: siegert(nu) - nu, 0.01, 1 / t_ref - 1)


def test_brunel_asynchronous_rate_matches_mean_field_theory(brunel_runs):
    # the asynchronous state is the stationary solution of the diffusion approximation (about 49 Hz here;
    # 38 Hz at full size, J = 0.1 mV and C_E = 1000)
    p = brunel("ai", **BRUNEL_SCALED).params
    expected = _mean_field_rate(p["J_effective"], p["in_degree_exc"], p["g"], p["eta"])
    assert brunel_runs["ai"].summary()["rate_hz"] == pytest.approx(expected, rel=0.1)


@pytest.mark.parametrize(("regime", "n_neurons"), [("coba", 2000), ("cuba", 1000)])
def test_vogels_abbott_sustains_asynchronous_activity(regime, n_neurons):
    res = simulate_network("vogels-abbott", regime=regime, duration=0.4, seed=1, n_neurons=n_neurons)
    s = res.summary()
    assert 1 < s["rate_hz"] < 50  # plausible cortical rates
    assert s["cv_isi"] > 0.3  # irregular (COBA about 1, CUBA about 0.4)
    assert s["synchrony"] < 0.02  # asynchronous
    # sustained: the last 100 ms are as active as the run, no silence setting in
    last = res.spike_times >= res.duration - 0.1
    late_rate = int(last.sum()) / (res.n_neurons * 0.1)
    assert late_rate > 0.5 * s["rate_hz"]
    # the network as published, scaled: 80 expected inputs per neuron, E/I 80/20
    k = vogels_abbott(regime, n_neurons=n_neurons).connectivity.in_degree().double()
    assert abs(float(k.mean()) - 80) < 5 * math.sqrt(80 / n_neurons)


def test_result_carries_traces_and_summary_keys():
    res = simulate_network(
        "brunel",
        regime="ai",
        duration=0.02,
        n_exc=200,
        scaling="density",
        record=("v",),
        record_neurons=[0, 5, 249],
        record_every=2,
    )
    assert res.state["v"].shape == (100, 3)
    assert torch.allclose(res.state_times[:3], torch.tensor([0.0, 0.2e-3, 0.4e-3], dtype=torch.float64))
    assert res.population_rate.shape == (200,)
    assert float(res.population_rate.sum()) * res.dt * res.n_neurons == pytest.approx(res.spike_ids.numel())
    keys = {"rate_hz", "cv_isi", "synchrony", "fano_population", "rate_exc_hz", "rate_inh_hz", "n_spikes"}
    assert keys <= set(res.summary(transient=0.0))
    assert bool((res.spike_times[1:] >= res.spike_times[:-1]).all())


def test_errors_name_argument_expectation_and_value():
    with pytest.raises(ValueError, match="name: expected one of"):
        simulate_network("hopfield", duration=0.1)
    with pytest.raises(ValueError, match="regime: brunel has regimes"):
        simulate_network("brunel", regime="chaos", duration=0.1)
    with pytest.raises(TypeError, match=r"brunel: unknown parameter\(s\) \['tau'\]"):
        simulate_network("brunel", duration=0.1, tau=0.02)
    with pytest.raises(ValueError, match="duration: expected a positive time in seconds"):
        simulate_network("brunel", duration=-1.0, n_exc=100)
    with pytest.raises(ValueError, match=r"delay: 0\.05 ms is shorter than one time step"):
        brunel("ai", n_exc=100, delay=0.05e-3)


def test_simulation_restores_the_torch_thread_setting():
    torch.set_num_threads(2)
    simulate_network("brunel", regime="ai", duration=0.005, n_exc=100, scaling="density")
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads: expected a positive number of threads or None"):
        simulate_network("brunel", regime="ai", duration=0.005, n_exc=100, scaling="density", threads=0)
    assert torch.get_num_threads() == 2
