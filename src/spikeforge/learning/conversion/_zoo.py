"""The ANNs that ``spikeforge convert`` trains and converts (``mlp``, ``cnn``, ``resnet``), their training loop, and
the accuracy of a converted network at several numbers of time steps from one simulation."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._qcfs import QCFS

__all__ = [
    "ANNS",
    "ANN_FORMAT",
    "accuracy_by_timesteps",
    "ann_accuracy",
    "ann_model",
    "load_ann_weights",
    "outputs_by_timesteps",
    "save_ann_weights",
    "sweep",
    "train_ann",
]


def _act(qcfs: bool, levels: int, threshold: float) -> nn.Module:
    return QCFS(levels, threshold) if qcfs else nn.ReLU()


def _mlp(shape: Sequence[int], n_out: int, act: Callable[[], nn.Module]) -> nn.Module:
    width = math.prod(shape)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(width, 256), act(), nn.Dropout(0.1), nn.Linear(256, 128), act(), nn.Linear(128, n_out)
    )


def _cnn(shape: Sequence[int], n_out: int, act: Callable[[], nn.Module]) -> nn.Module:
    c, h, w = shape
    layers: list[nn.Module] = []
    for c_in, c_out, pool in ((c, 16, False), (16, 32, True), (32, 64, True)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), act()]
        if pool and min(h, w) >= 2:
            layers.append(nn.AvgPool2d(2))
            h, w = h // 2, w // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.1), nn.Linear(64 * h * w, n_out))


class _Block(nn.Module):
    """conv-BN-act-conv-BN, plus the input, then act (He et al. 2016)."""

    def __init__(self, channels: int, act: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act1 = act()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.act2 = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))) + x)


class _ResNet(nn.Module):
    """stem conv 16 -> residual block -> max-pool 2 -> conv 32 -> residual block -> global average pool -> linear."""

    def __init__(self, shape: Sequence[int], n_out: int, act: Callable[[], nn.Module]) -> None:
        super().__init__()
        c = shape[0]
        self.stem = nn.Sequential(nn.Conv2d(c, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), act())
        self.block1 = _Block(16, act)
        self.pool = nn.MaxPool2d(2)
        self.widen = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), act())
        self.block2 = _Block(32, act)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block2(self.widen(self.pool(self.block1(self.stem(x))))))


#: the ANNs of ``spikeforge convert --ann``: name -> (builder, one-line description)
ANNS: dict[str, tuple[Callable[..., nn.Module], str]] = {
    "mlp": (_mlp, "MLP in-256-128-out, dropout"),
    "cnn": (_cnn, "CNN conv16-conv32-avgpool-conv64-avgpool-linear, BatchNorm"),
    "resnet": (_ResNet, "ResNet: stem 16, residual block, max-pool, conv 32, residual block, global avg-pool, linear"),
}


def ann_model(
    name: str,
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    qcfs: bool = False,
    levels: int = 4,
    threshold: float = 2.0,
) -> nn.Module:
    """Build the ANN ``name`` of :data:`ANNS` for samples of ``input_shape`` and ``n_outputs`` outputs, with ReLU or
    (``qcfs=True``) :class:`QCFS` activations of ``levels`` steps and initial upper bound ``threshold``.

    Every activation follows a BatchNorm (or, in the MLP, a linear layer of inputs in [0, 1]), so pre-activations
    are of unit scale; the bound lambda starts at 2 (the upper bound moves little in training: with Adam at 0.002 it
    ends within 10% of its start). On digits (seed 0, 30 epochs, L = 4) starting at 2 / 4 / 8 gave an ANN of
    99.78 / 98.44 / 98.89% and an SNN at T = 8 of 99.78 / 99.33 / 94.67%."""
    if name not in ANNS:
        raise ValueError(f"ann: expected one of {list(ANNS)}, got {name!r}")
    shape = [int(s) for s in input_shape]
    if name in ("cnn", "resnet") and len(shape) != 3:
        raise ValueError(f"ann: {name!r} takes image samples [C, H, W], got input_shape {shape}")
    return ANNS[name][0](shape, int(n_outputs), lambda: _act(qcfs, levels, threshold))


def ann_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of the ANN ``model`` on ``(x[N, ...], y[N])`` in eval mode."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(y), batch_size):
            correct += int((model(x[lo : lo + batch_size].to(device)).argmax(1).cpu() == y[lo : lo + batch_size]).sum())
    model.train(was)
    return correct / len(y)


def train_ann(
    model: nn.Module,
    split,
    *,
    epochs: int = 40,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Train the ANN ``model`` on ``split`` (``x_train``/``y_train``, validation on ``x_val``/``y_val``): Adam, cosine
    learning-rate decay, cross-entropy; the weights of the best validation epoch (ties: the later one is not taken)
    are kept. Returns the history, one dict per epoch."""
    for name in ("epochs", "batch_size"):
        value = locals()[name]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(split.y_train) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    best, best_state, history = -1.0, None, []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(split.y_train), generator=generator)
        total, correct = 0.0, 0
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            xb, yb = split.x_train[idx].to(device), split.y_train[idx].to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        val = ann_accuracy(model, split.x_val, split.y_val)
        row = {
            "epoch": epoch + 1,
            "loss": total / len(order),
            "accuracy": correct / len(order),
            "val_accuracy": val,
            "seconds": time.perf_counter() - start,
        }
        history.append(row)
        if val > best:
            best, best_state = val, copy.deepcopy(model.state_dict())
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def outputs_by_timesteps(
    snn: nn.Module, x: torch.Tensor, timesteps: Sequence[int], *, batch_size: int = 256
) -> dict[int, torch.Tensor]:
    """The converted network's rate-decoded outputs ``[N, ...]`` after each of ``timesteps`` steps, from one
    simulation of ``max(timesteps)`` steps (the read-out at step t depends only on steps up to t)."""
    steps = sorted({int(t) for t in timesteps})
    if not steps or steps[0] <= 0:
        raise ValueError(f"timesteps: expected positive numbers of steps, got {list(timesteps)}")
    device = next(iter(snn.buffers()), torch.empty(0)).device
    outs: dict[int, list[torch.Tensor]] = {t: [] for t in steps}
    was = snn.training
    snn.eval()
    with torch.no_grad():
        for lo in range(0, len(x), batch_size):
            xb = x[lo : lo + batch_size].to(device)
            y_seq, _ = snn(xb.unsqueeze(0).expand(steps[-1], *xb.shape))
            for t in steps:
                outs[t].append(y_seq[t - 1].cpu())
    snn.train(was)
    return {t: torch.cat(v) for t, v in outs.items()}


def accuracy_by_timesteps(
    snn: nn.Module, x: torch.Tensor, y: torch.Tensor, timesteps: Sequence[int], *, batch_size: int = 256
) -> dict[int, float]:
    """Top-1 accuracy of the converted classifier after each of ``timesteps`` steps (one simulation)."""
    outs = outputs_by_timesteps(snn, x, timesteps, batch_size=batch_size)
    return {t: int((out.argmax(1) == y).sum()) / len(y) for t, out in outs.items()}


#: the ``format`` of an ANN weights file that :func:`save_ann_weights` writes
ANN_FORMAT = "spikeforge-ann"


def save_ann_weights(path, model: nn.Module, description: dict) -> None:
    """Write the ANN's state dict to a safetensors file (atomic, byte-deterministic), ``description`` (JSON values:
    the architecture) in its header; :func:`load_ann_weights` reads it back without unpickling."""
    import json

    from ..._tensorfile import encode, write

    write(path, encode(model.state_dict(), {"format": ANN_FORMAT, "ann": json.dumps(description, sort_keys=True)}))


def load_ann_weights(path, model: nn.Module) -> dict:
    """Load a safetensors state dict into ``model`` (a pickle or ``torch.save`` file is refused unread); the tensors
    must match the model's names and shapes exactly. Returns the header's description (``{}`` for a plain
    safetensors file)."""
    import json

    from ..._tensorfile import read

    tensors, meta = read(path, what=f"--ann-weights {path}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)}, model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        parts = [f"missing {missing[:5]}"] * bool(missing) + [f"unexpected {unexpected[:5]}"] * bool(unexpected)
        parts += [f"shape mismatch {wrong[:5]}"] * bool(wrong)
        raise ValueError(f"--ann-weights: {path} does not fit the chosen ANN ({'; '.join(parts)})")
    model.load_state_dict(tensors)
    try:
        return json.loads(meta.get("ann", "{}"))
    except json.JSONDecodeError:
        return {}


def sweep(
    snn: nn.Module | Mapping[int, nn.Module], split, timesteps: Sequence[int], *, batch_size: int = 256
) -> list[dict]:
    """Test accuracy, spikes and synaptic operations per sample of a converted classifier at each of ``timesteps``,
    with the equivalent ANN's multiply-accumulates (``spikeforge.metrics.profile_split``, direct input, counted as
    `spikeforge profile` counts). ``snn`` is one network for every T, or ``{T: network}`` (networks calibrated for
    their T, ``convert(..., timesteps=T)``)."""
    from ...metrics import profile_split
    from ..supervised import TrainConfig

    steps = sorted({int(t) for t in timesteps})
    if isinstance(snn, Mapping):
        missing = [t for t in steps if t not in snn]
        if missing:
            raise ValueError(f"snn: no network for timesteps {missing}")
        accuracy = {
            t: accuracy_by_timesteps(snn[t], split.x_test, split.y_test, [t], batch_size=batch_size)[t] for t in steps
        }
    else:
        accuracy = accuracy_by_timesteps(snn, split.x_test, split.y_test, steps, batch_size=batch_size)
    rows = []
    for t in steps:
        net = snn[t] if isinstance(snn, Mapping) else snn
        cfg = TrainConfig(timesteps=t, encoding="direct", readout="last", batch_size=batch_size)
        report = profile_split(net, split, cfg)
        rows.append(
            {
                "timesteps": t,
                "accuracy": accuracy[t],
                "spikes": report.spikes,
                "synaptic_operations": report.synops,
                "acs": report.acs,
                "macs": report.macs,
                "ann_macs": report.ann_macs,
            }
        )
    return rows
