"""Learning online from a stream, one step at a time, with constant memory: a recurrent LIF network in
``spikeforge.nn.Stateful`` trained by e-prop while the data arrives.

The stream: 40 input channels of Poisson spikes (dt = 1 ms). At every moment one of three "sources" is active for
a random 100-300 ms; source ``k`` raises the rate of its own 10 channels from 10 Hz to 80 Hz. The network must say,
at every step, which source is active. Nothing is stored per step: the learner keeps the network's state (in the
``Stateful`` wrapper, where ``net(x)`` would continue it) and e-prop's eligibility traces, and the weights change
every ``--update-every`` steps. The running accuracy climbs while the memory the learner keeps stays the same.

    python examples/streaming_eprop.py                 # 20 000 steps, about a minute on one core
    python examples/streaming_eprop.py --steps 3000 --feedback random
"""

from __future__ import annotations

import argparse

import torch

import spikeforge as sf
from spikeforge.learning.online import EProp

CHANNELS, SOURCES, HIDDEN = 40, 3, 64


def stream(steps: int, generator: torch.Generator):
    """Yields ``(x[1, CHANNELS], label[1])`` one step at a time (spikes at 10 Hz, 80 Hz on the active source)."""
    dt = 1e-3
    source, left = 0, 0
    for _ in range(steps):
        if left == 0:
            source = int(torch.randint(SOURCES, (1,), generator=generator))
            left = int(torch.randint(100, 301, (1,), generator=generator))
        rate = torch.full((1, CHANNELS), 10.0)
        rate[0, source * 10 : (source + 1) * 10] = 80.0
        yield (torch.rand(1, CHANNELS, generator=generator) < rate * dt).float(), torch.tensor([source])
        left -= 1


def kept_bytes(learner: EProp) -> int:
    """Bytes the learner holds between steps: the network state and the traces."""
    tensors = list(learner.traces.values()) + [t for s in learner.state or [] if s is not None for t in s]
    return sum(t.numel() * t.element_size() for t in tensors)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--update-every", type=int, default=10, help="steps between weight updates (1 = every step)")
    ap.add_argument("--feedback", choices=["symmetric", "random"], default="symmetric")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=1000, help="steps per line of running accuracy")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    net = sf.Stateful(
        sf.SequentialState(
            torch.nn.Linear(CHANNELS, HIDDEN),
            sf.RLIFCell(HIDDEN, tau_mem=20e-3),
            torch.nn.Linear(HIDDEN, SOURCES),
            sf.LICell(SOURCES, tau_mem=20e-3),
        )
    )
    with torch.no_grad():
        net.module[0].weight.mul_(3.0)  # the 10 Hz background alone makes a few hidden spikes
    learner = EProp(net, feedback=args.feedback, generator=torch.Generator().manual_seed(args.seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    window, correct, sizes, history = args.window, 0, set(), []
    for t, (x, label) in enumerate(stream(args.steps, torch.Generator().manual_seed(args.seed + 1))):
        y = learner.step(x)  # advances net.state and the eligibility traces
        delta = torch.softmax(y, dim=1) - torch.nn.functional.one_hot(label, SOURCES).to(y.dtype)
        learner.learn(delta / args.update_every)  # dE/dy_t of the cross-entropy at this step
        if (t + 1) % args.update_every == 0:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        correct += int(y.argmax(1) == label)
        if (t + 1) % window == 0:
            sizes.add(kept_bytes(learner))
            history.append(correct / window)
            print(
                f"step {t + 1:6d}: accuracy over the last {window} steps {correct / window:6.1%}, "
                f"learner state + traces {kept_bytes(learner) / 1024:.1f} KiB"
            )
            correct = 0
    print(f"memory kept between steps: {sorted(sizes)} bytes (one value: it does not grow with the stream)")
    return {"accuracy": history, "kept_bytes": sorted(sizes)}


if __name__ == "__main__":
    main()
