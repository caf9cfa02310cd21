"""A closed-loop task learnt from reward alone, with reward-modulated STDP (spikeforge.learning.plasticity.rstdp).

    python examples/reward_switch.py                       # 400 trials, writes runs/reward_switch.png
    python examples/reward_switch.py --trials 600 --seed 3 --out /tmp/curve.png

The task: on each trial one of two input patterns is shown for 100 ms (A: inputs 0-19 fire at 40 Hz, the rest at
2 Hz; B: the other way round). One LIF output neuron either responds (at least one spike) or stays silent. It gets
reward +1 for responding to the rewarded pattern, -1 for responding to the other, 0 for silence. Halfway through,
the rewarded pattern switches from A to B, without any signal but the reward.

Learning: pair STDP between the 40 inputs and the output feeds an eligibility trace (tau_e 0.2 s); the weights change
only when the modulator arrives at the end of the trial: M = reward - baseline, the baseline being a running average
of the reward for that pattern (a critic, which makes M a reward-prediction error; Fremaux & Gerstner 2016). A weak
noise current lets the neuron respond now and then to a pattern it ignores, which is how it discovers the switch.

Printed: the fraction of correct trials (respond to the rewarded pattern, stay silent to the other) before and after
the switch, and the trials needed after the switch until 20 consecutive trials are at least 90% correct.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch import nn

from spikeforge.learning.plasticity import Bounds, rstdp

N_IN, STEPS, DT = 40, 100, 1e-3
RATE_ON, RATE_OFF = 40.0, 2.0  # Hz
TAU_MEM, THRESHOLD = 0.02, 1.0
WINDOW, CRITERION = 20, 0.9


def pattern_rates(k: int) -> torch.Tensor:
    rates = torch.full((N_IN,), RATE_OFF)
    rates[k * N_IN // 2 : (k + 1) * N_IN // 2] = RATE_ON
    return rates


def run(
    trials: int, seed: int, *, lr: float = 0.04, noise: float = 0.07, w_max: float = 0.15, a_minus: float = 1.0
) -> dict:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layer = nn.Linear(N_IN, 1, bias=False)
    nn.init.constant_(layer.weight, w_max / 2)
    learner = rstdp(layer, a_minus=a_minus, tau_e=0.2, dt=DT, lr=lr, bounds=Bounds(0.0, w_max))
    decay = math.exp(-DT / TAU_MEM)
    baseline = [0.0, 0.0]
    rewards, correct, shown = [], [], []
    for trial in range(trials):
        rewarded = 0 if trial < trials // 2 else 1
        k = int(torch.randint(0, 2, (1,), generator=g))
        p = pattern_rates(k) * DT
        v = torch.zeros(1, 1)
        spikes = 0
        learner.reset()
        for t in range(STEPS):
            pre = (torch.rand(1, N_IN, generator=g) < p).float()
            v = v * decay + pre @ layer.weight.detach().T + noise * torch.randn(1, 1, generator=g)
            post = (v >= THRESHOLD).float()
            v = v * (1 - post)
            spikes += int(post.sum())
            last = t == STEPS - 1
            if last:
                responded = spikes > 0
                reward = (1.0 if k == rewarded else -1.0) if responded else 0.0
                modulator = reward - baseline[k]
                baseline[k] += 0.1 * (reward - baseline[k])
            learner.step(pre, post, modulator if last else 0.0)
        rewards.append(reward)
        correct.append(responded == (k == rewarded))
        shown.append(k)
    return {"rewards": rewards, "correct": correct, "weights": layer.weight.detach().clone()}


def trials_to_relearn(correct: list[bool], switch: int) -> int | None:
    """Trials after ``switch`` until a window of WINDOW trials is at least CRITERION correct (its last trial)."""
    for end in range(switch + WINDOW, len(correct) + 1):
        if sum(correct[end - WINDOW : end]) >= CRITERION * WINDOW:
            return end - switch
    return None


def plot(result: dict, switch: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = torch.tensor(result["rewards"])
    c = torch.tensor(result["correct"], dtype=torch.float32)
    kernel = torch.ones(WINDOW) / WINDOW
    smooth = lambda x: torch.nn.functional.conv1d(x[None, None], kernel[None, None]).squeeze()  # noqa: E731
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    ax.plot(range(len(r)), r.numpy(), ".", ms=2, color="0.6", label="reward per trial")
    x = range(WINDOW - 1, len(r))
    ax.plot(x, smooth(r).numpy(), color="tab:blue", label=f"reward, mean of {WINDOW} trials")
    ax.plot(x, smooth(c).numpy(), color="tab:green", label=f"correct, mean of {WINDOW} trials")
    ax.axvline(switch, color="tab:red", ls="--", label="rewarded pattern switches A -> B")
    ax.set_xlabel("trial")
    ax.set_ylim(-1.1, 1.1)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("reward-modulated STDP: respond to the rewarded pattern", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "reward_switch.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = run(args.trials, args.seed)
    switch = args.trials // 2
    before = sum(result["correct"][switch - 50 : switch]) / 50
    after = sum(result["correct"][-50:]) / 50
    first = trials_to_relearn(result["correct"], 0)
    again = trials_to_relearn(result["correct"], switch)
    w = result["weights"][0]
    print(f"correct in the 50 trials before the switch: {before:.0%}; in the last 50: {after:.0%}")
    print(
        f"trials to learn the first rule: {first}; to re-learn after the switch: {again} "
        f"(until {WINDOW} consecutive trials are >= {CRITERION:.0%} correct)"
    )
    print(
        f"final mean weight from pattern A inputs {float(w[: N_IN // 2].mean()):.3f}, "
        f"from pattern B inputs {float(w[N_IN // 2 :].mean()):.3f}"
    )
    plot(result, switch, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
