"""Poisson background: counts follow the Poisson law; the drive delivered during a run has the asked rate."""

import math

import pytest
import torch
from scipy import stats

from spikeforge.sim import DeltaLIF, Network, PoissonInput, StateMonitor, merge, poisson_counts, simulate
from spikeforge.units import ms


@pytest.mark.parametrize("lam", [0.02, 2.0, 30.0])
def test_counts_follow_the_poisson_distribution(lam, generator):
    n = 200_000
    counts = poisson_counts(lam, (n,), generator=generator)
    assert abs(float(counts.mean()) - lam) < 5 * math.sqrt(lam / n)
    assert float(counts.var()) / lam == pytest.approx(1.0, abs=5 * math.sqrt(2 / n) + 5 / math.sqrt(n * lam))
    # goodness of fit on the bins that expect at least 20 draws, the rest pooled at both ends
    k = counts.long()
    support = torch.arange(int(k.max()) + 1)
    expected = torch.as_tensor(stats.poisson.pmf(support.numpy(), lam)) * n
    observed = torch.bincount(k, minlength=support.numel()).double()
    keep = expected >= 20
    lo, hi = int(torch.nonzero(keep)[0]), int(torch.nonzero(keep)[-1])
    obs = torch.cat([observed[: lo + 1].sum()[None], observed[lo + 1 : hi], observed[hi:].sum()[None]])
    exp = torch.cat([expected[: lo + 1].sum()[None], expected[lo + 1 : hi], (n - expected[:hi].sum())[None]])
    if obs.numel() > 1:
        assert stats.chisquare(obs.numpy(), exp.numpy()).pvalue > 1e-4


def test_background_delivers_the_asked_rate_within_its_window():
    # leak-free integrators that never fire: v counts the background events received
    n, rate, weight = 400, 500.0, 1.0
    model = DeltaLIF(tau_mem=1e6, v_rest=0.0, threshold=1e9, v_reset=0.0, t_ref=0.0)
    conn = merge([], n)
    window = (40 * ms, 140 * ms)
    bg = PoissonInput(range(n), rate=rate, weight=weight, start=window[0], stop=window[1])
    net = Network(
        model=model,
        connectivity=conn,
        populations={"all": range(n)},
        state=model.init(torch.zeros(n)),
        dt=0.1 * ms,
        background=(bg,),
    )
    monitor = StateMonitor(("v",), list(range(n)), every=100)
    simulate(net, duration=200 * ms, generator=torch.Generator().manual_seed(5), monitors=(monitor,), chunk=300)
    v = monitor.data["v"].double()  # [records every 10 ms, n]
    steps = monitor.steps.tolist()
    assert float(v[steps.index(0)].abs().max()) == 0.0  # nothing before the window
    total = v[-1]
    lam = rate * (window[1] - window[0])  # 50 events expected per neuron
    assert abs(float(total.mean()) - lam) < 5 * math.sqrt(lam / n)
    assert 0.75 < float(total.var()) / lam < 1.25  # Poisson: variance = mean
    after = v[steps.index(1500)]  # 150 ms, after the window: no more input
    torch.testing.assert_close(after, total)


def test_rejects_negative_rates():
    with pytest.raises(ValueError, match="rate: expected a rate >= 0 in Hz"):
        PoissonInput(range(3), rate=-1.0, weight=1.0)
    with pytest.raises(ValueError, match="lam: expected a finite mean count >= 0"):
        poisson_counts(float("nan"), (3,))
