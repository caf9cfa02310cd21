"""The benchmark's models: one builder per implementation, all computing the same network from the same weights.

Workloads (``kind``):

- ``w1``: 700 Bernoulli inputs -> Linear -> 256 LIF (tau 20 ms, dt 1 ms, threshold 1, subtract reset, fast-sigmoid
  surrogate with slope 25) -> Linear -> 20 leaky integrators; loss = cross-entropy on the membrane summed over time.
- ``w1r``: as ``w1`` with 256 -> 256 recurrent weights on the hidden layer (spikes of step t-1 feed step t).
- ``w2``: one dense layer 1024 -> 1024 LIF; loss = squared distance of the firing rates from 5%.

Every builder returns ``step(x, y) -> (loss, hidden_spikes)`` and ``weights`` (the first layer's weight, whose
gradient is compared across implementations). Peers are imported inside their builders.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DT = 1e-3
TAU = 20e-3
BETA = math.exp(-DT / TAU)
SLOPE = 25.0
SIZES = {"w1": (700, 256, 20), "w1r": (700, 256, 20), "w2": (1024, 1024, 0)}


def canonical_weights(kind: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """The shared weights (scaled so the hidden layer fires at a few percent with 5% input)."""
    n_in, n_hid, n_out = SIZES[kind]
    g = torch.Generator().manual_seed(seed)
    w = {"w1": torch.randn(n_hid, n_in, generator=g) * 0.04, "b1": torch.zeros(n_hid)}
    if n_out:
        w["w2"] = torch.randn(n_out, n_hid, generator=g) * 0.1
        w["b2"] = torch.zeros(n_out)
    if kind == "w1r":
        w["wr"] = torch.randn(n_hid, n_hid, generator=g) * 0.02
    return w


def make_data(kind: str, steps: int, batch: int, seed: int = 1, density: float = 0.05):
    n_in, _, n_out = SIZES[kind]
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, n_in, generator=g) < density).float()
    y = torch.randint(0, max(n_out, 1), (batch,), generator=g)
    return x, y


def _linear(w, b, scale: float = 1.0) -> nn.Linear:
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w * scale)
        lin.bias.copy_(b * scale)
    return lin


def _loss(kind: str, out_sum: torch.Tensor | None, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    if kind == "w2":
        return ((z.mean(0) - 0.05) ** 2).sum()
    return nn.functional.cross_entropy(out_sum, y)


class _FastSigmoidSpike(torch.autograd.Function):
    """Hand-written spike function of the plain-PyTorch baseline (Heaviside forward, fast-sigmoid backward)."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad / (1 + SLOPE * u.abs()) ** 2


# -- the floor: the dense matrix work at once, plus one element-wise op ------------------------------------------
def build_floor(kind, w):
    fc1 = _linear(w["w1"], w["b1"])
    fc2 = _linear(w["w2"], w["b2"]) if "w2" in w else None
    rec = _linear(w["wr"], torch.zeros(w["wr"].shape[0])) if "wr" in w else None
    spike = _FastSigmoidSpike.apply

    def step(x, y):
        t, b = x.shape[:2]
        h = fc1(x.reshape(t * b, -1))
        if rec is not None:  # the recurrent matrix product, batched over all steps (the same amount of work)
            h = h + rec(h)
        z = spike(h - 1.0)
        if fc2 is None:
            z = z.reshape(t, b, -1)
            return _loss(kind, None, y, z), z
        out = fc2(z).reshape(t, b, -1).sum(0)
        return _loss(kind, out, y, z), z.reshape(t, b, -1)

    return step, fc1.weight


# -- a careful plain-PyTorch loop ------------------------------------------------------------------------------
def build_hand(kind, w):
    fc1 = _linear(w["w1"], w["b1"])
    fc2 = _linear(w["w2"], w["b2"]) if "w2" in w else None
    wr = w["wr"].clone().requires_grad_() if "wr" in w else None
    spike = _FastSigmoidSpike.apply

    def step(x, y):
        t, b = x.shape[:2]
        cur = fc1(x.reshape(t * b, -1)).reshape(t, b, -1)
        v = torch.zeros_like(cur[0])
        z = torch.zeros_like(cur[0])
        zs = []
        for c in cur.unbind(0):
            if wr is not None:
                c = c + z @ wr.t()
            h = BETA * v + c
            z = spike(h - 1.0)
            v = h - z
            zs.append(z)
        z_seq = torch.stack(zs)
        if fc2 is None:
            return _loss(kind, None, y, z_seq), z_seq
        o = fc2(z_seq.reshape(t * b, -1)).reshape(t, b, -1)
        vo = torch.zeros_like(o[0])
        total = torch.zeros_like(o[0])
        for c in o.unbind(0):
            vo = BETA * vo + c
            total = total + vo
        return _loss(kind, total, y, z_seq), z_seq

    return step, fc1.weight


# -- spikeforge ------------------------------------------------------------------------------------------------
def user_fast_sigmoid():
    """The fast sigmoid written as a user-defined surrogate, the way the README shows (no kernel id): the fused
    kernel evaluates its ``derivative`` over the stored sequence. Same maths as the built-in one."""
    import spikeforge as sf

    class UserFastSigmoid(sf.surrogate.Surrogate):
        def __init__(self, slope: float = SLOPE):
            self.slope = slope

        def primitive(self, x):
            return x / (1 + self.slope * x.abs())

        def derivative(self, x):
            return 1.0 / (1.0 + self.slope * x.abs()) ** 2

    return UserFastSigmoid()


def build_spikeforge(kind, w, backend="auto", synapse=None, chunk=None, user_surrogate=False):
    """spikeforge's model; ``chunk`` wraps the whole network in ``checkpoint_time(..., chunk=chunk)`` (W1 only);
    ``user_surrogate``: the hidden layer's surrogate is :func:`user_fast_sigmoid`."""
    import spikeforge as sf

    surrogate = user_fast_sigmoid() if user_surrogate else None

    def lin(wk, bk):
        if synapse is None:
            return _linear(w[wk], w[bk])
        from spikeforge.synapses._event import EventLinear

        layer = EventLinear(w[wk].shape[1], w[wk].shape[0], mode=synapse)
        with torch.no_grad():
            layer.weight.copy_(w[wk])
            layer.bias.copy_(w[bk])
        return layer

    fc1 = lin("w1", "b1")
    if kind == "w1r":
        hidden = sf.RLIF(w["wr"].shape[0], backend=backend if backend != "cpu_lean" else "auto", surrogate=surrogate)
        with torch.no_grad():
            hidden.recurrent.weight.copy_(w["wr"])
    else:
        hidden = sf.LIF(w["w1"].shape[0], backend=backend, surrogate=surrogate)
    if kind == "w2":

        def step(x, y):
            z, _ = hidden(sf.Lift(fc1)(x))
            return _loss(kind, None, y, z), z

        return step, fc1.weight
    fc2 = lin("w2", "b2")
    li_backend = "torch" if backend == "torch" else "auto"
    readout = sf.LI(w["w2"].shape[0], backend=li_backend)
    if chunk is not None:
        if kind != "w1":
            raise ValueError(f"checkpointing over time chunks is benchmarked on w1 only, got {kind!r}")
        # the whole network in chunks: only the readout [T, B, 20] and one state per chunk boundary stay alive
        net = sf.checkpoint_time(sf.SequentialState(fc1, hidden, fc2, readout), chunk=chunk)
        recorded: list[torch.Tensor] = []

        def keep_spikes(module, args, out):  # for the agreement check only (ckpt_step.record = True)
            if ckpt_step.record:
                recorded.append(out[0].detach())

        hidden.register_forward_hook(keep_spikes)

        def ckpt_step(x, y):
            recorded.clear()
            v, _ = net(x)
            z = torch.cat(recorded) if ckpt_step.record else None  # the forward's chunks (before any recompute)
            return _loss(kind, v.sum(0), y, z), z

        ckpt_step.record = False
        return ckpt_step, fc1.weight

    first = sf.SequentialState(fc1, hidden)  # as the model builders chain them (an event synapse fuses with LIF)

    def step(x, y):
        z, _ = first(x)
        v, _ = readout(sf.Lift(fc2)(z))
        return _loss(kind, v.sum(0), y, z), z

    return step, fc1.weight


# -- snnTorch: its tutorials' per-step loop --------------------------------------------------------------------
def build_snntorch(kind, w):
    import snntorch as snn
    from snntorch import surrogate

    grad = surrogate.fast_sigmoid(slope=SLOPE)
    fc1 = _linear(w["w1"], w["b1"])
    fc2 = _linear(w["w2"], w["b2"]) if "w2" in w else None
    if kind == "w1r":
        lif1 = snn.RLeaky(beta=BETA, linear_features=w["wr"].shape[0], spike_grad=grad)
        with torch.no_grad():
            lif1.recurrent.weight.copy_(w["wr"])
            lif1.recurrent.bias.zero_()
    else:
        lif1 = snn.Leaky(beta=BETA, spike_grad=grad)
    lif2 = snn.Leaky(beta=BETA, spike_grad=grad, reset_mechanism="none") if fc2 is not None else None

    def step(x, y):
        steps = x.shape[0]
        if kind == "w1r":
            spk1, mem1 = lif1.init_rleaky()
        else:
            mem1 = lif1.init_leaky()
        mem2 = lif2.init_leaky() if lif2 is not None else None
        zs, total = [], 0
        for t in range(steps):
            cur1 = fc1(x[t])
            if kind == "w1r":
                spk1, mem1 = lif1(cur1, spk1, mem1)
            else:
                spk1, mem1 = lif1(cur1, mem1)
            zs.append(spk1)
            if lif2 is not None:
                _, mem2 = lif2(fc2(spk1), mem2)
                total = total + mem2
        z = torch.stack(zs)
        return _loss(kind, total if lif2 is not None else None, y, z), z

    return step, fc1.weight


# -- Norse: its sequence modules ---------------------------------------------------------------------------------
def build_norse(kind, w):
    import norse.torch as nt

    # Norse integrates v += dt/tau (v_leak - v + i) with the current of the previous step; a synaptic time
    # constant of one step and weights scaled by tau/dt give the nearest equivalent of the textbook update.
    scale = TAU / DT
    p = nt.LIFParameters(
        tau_syn_inv=torch.tensor(1 / DT),
        tau_mem_inv=torch.tensor(1 / TAU),
        v_th=torch.tensor(1.0),
        method="super",
        alpha=torch.tensor(SLOPE),
    )
    fc2 = _linear(w["w2"], w["b2"], scale) if "w2" in w else None
    if kind == "w1r":
        rec = nt.LIFRecurrent(w["w1"].shape[1], w["w1"].shape[0], p=p, dt=DT)
        with torch.no_grad():
            rec.input_weights.copy_(w["w1"] * scale)
            rec.recurrent_weights.copy_(w["wr"] * scale)
        first, weight = rec, rec.input_weights
    else:
        fc1 = _linear(w["w1"], w["b1"], scale)
        first, weight = nt.SequentialState(fc1, nt.LIF(p, dt=DT)), fc1.weight
    li = (
        nt.LI(nt.LIParameters(tau_syn_inv=torch.tensor(1 / DT), tau_mem_inv=torch.tensor(1 / TAU)), dt=DT)
        if fc2 is not None
        else None
    )

    def step(x, y):
        z, _ = first(x)
        if li is None:
            return _loss(kind, None, y, z), z
        v, _ = li(fc2(z))
        return _loss(kind, v.sum(0), y, z), z

    return step, weight


# -- SpikingJelly 2.0: multi-step mode (it picks its own CPU op; no backend argument any more) ----------------------------------------------------------------
def build_spikingjelly(kind, w):
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    tau = 1.0 / (1.0 - BETA)  # SpikingJelly: h = v + (x - v) / tau without input decay -> beta = 1 - 1/tau
    sg = surrogate.SoftSign(alpha=SLOPE)  # derivative alpha/2 / (1 + alpha|x|)^2: fast sigmoid x alpha/2
    mode = "s" if kind == "w1r" else "m"
    fc1 = layer.Linear(w["w1"].shape[1], w["w1"].shape[0], step_mode="m")
    with torch.no_grad():
        fc1.weight.copy_(w["w1"])
        fc1.bias.copy_(w["b1"])
    lif1 = neuron.LIFNode(
        tau=tau, decay_input=False, v_threshold=1.0, v_reset=None, surrogate_function=sg, step_mode=mode
    )
    wr = w["wr"].clone().requires_grad_() if "wr" in w else None
    fc2 = readout = None
    if "w2" in w:
        fc2 = layer.Linear(w["w2"].shape[1], w["w2"].shape[0], step_mode="m")
        with torch.no_grad():
            fc2.weight.copy_(w["w2"])
            fc2.bias.copy_(w["b2"])
        readout = neuron.LIFNode(
            tau=tau, decay_input=False, v_threshold=1e9, v_reset=None, step_mode="m", store_v_seq=True
        )

    def step(x, y):
        functional.reset_net(lif1)
        cur = fc1(x)
        if wr is None:
            z = lif1(cur)
        else:  # SpikingJelly has no fused recurrent LIF: the documented way is a per-step loop
            zs, zt = [], torch.zeros_like(cur[0])
            for c in cur.unbind(0):
                zt = lif1(c + zt @ wr.t())
                zs.append(zt)
            z = torch.stack(zs)
        if readout is None:
            return _loss(kind, None, y, z), z
        functional.reset_net(readout)
        readout(fc2(z))
        return _loss(kind, readout.v_seq.sum(0), y, z), z

    return step, fc1.weight


PEERS = ("snntorch", "norse", "spikingjelly")


def build(impl: str, kind: str, w):
    if impl == "floor":
        return build_floor(kind, w)
    if impl == "hand":
        return build_hand(kind, w)
    if impl in PEERS:
        return globals()[f"build_{impl}"](kind, w)
    if impl.startswith("spikeforge"):
        # spikeforge[:backend][+event|+measure][+ckpt<chunk>][+usersurr][+compile]: "event" is EventLinear's density
        # rule (mode "auto"), "measure" its timed choice, what the model builders use by default
        name, *options = impl.split("+")
        backend = name.split(":")[1] if ":" in name else "auto"
        synapse = "auto" if "event" in options else "measure" if "measure" in options else None
        chunk = next((int(o[4:]) for o in options if o.startswith("ckpt")), None)
        known = ("event", "measure", "usersurr", "compile")
        unknown = [o for o in options if o not in known and not o.startswith("ckpt")]
        if unknown:
            raise ValueError(f"unknown option {unknown} in {impl!r}")
        user = "usersurr" in options
        step, weight = build_spikeforge(kind, w, backend=backend, synapse=synapse, chunk=chunk, user_surrogate=user)
        if "compile" in options:  # the whole step (network and loss), inductor, one graph (fails on a break)
            eager = step

            def detached(x, y):
                # the hidden spikes go out for the agreement check only: detached, so that the compiled backward
                # does not build a zero gradient [T, B, H] for them (eager autograd never does)
                loss, z = eager(x, y)
                return loss, None if z is None else z.detach()

            step = torch.compile(detached, fullgraph=True)
        return step, weight
    raise ValueError(f"unknown implementation {impl!r}")


def hidden_layer(impl: str, n: int):
    """The hidden LIF layer alone, as ``fn(cur[T, B, n]) -> spikes``, for counting what its backward keeps."""
    if impl == "snntorch":
        import snntorch as snn
        from snntorch import surrogate

        lif = snn.Leaky(beta=BETA, spike_grad=surrogate.fast_sigmoid(slope=SLOPE))

        def run(cur):
            mem = lif.init_leaky()
            out = []
            for t in range(cur.shape[0]):
                spk, mem = lif(cur[t], mem)
                out.append(spk)
            return torch.stack(out)

        return run
    if impl == "norse":
        import norse.torch as nt

        p = nt.LIFParameters(
            tau_syn_inv=torch.tensor(1 / DT),
            tau_mem_inv=torch.tensor(1 / TAU),
            v_th=torch.tensor(1.0),
            method="super",
            alpha=torch.tensor(SLOPE),
        )
        lif = nt.LIF(p, dt=DT)
        return lambda cur: lif(cur)[0]
    if impl == "spikingjelly":
        from spikingjelly.activation_based import functional, neuron, surrogate

        lif = neuron.LIFNode(
            tau=1.0 / (1.0 - BETA),
            decay_input=False,
            v_threshold=1.0,
            v_reset=None,
            surrogate_function=surrogate.SoftSign(alpha=SLOPE),
            step_mode="m",
        )

        def run(cur):
            functional.reset_net(lif)
            return lif(cur)

        return run
    import spikeforge as sf

    backend = impl.split(":")[1] if ":" in impl else "auto"
    lif = sf.LIF(n, backend=backend)
    return lambda cur: lif(cur)[0]
