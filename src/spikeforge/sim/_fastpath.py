r"""In-place time loop for :class:`~spikeforge.sim._dynamics.CurrentLIF` networks (the CUBA benchmark).

Same arithmetic as ``CurrentLIF.step`` + :meth:`DelayBuffer.push`, op for op, so spikes and state are bit-identical
to the generic loop; only the bookkeeping differs:

- the state lives in preallocated buffers (``g_exc``/``g_inh`` as the two rows of one ``[2, N]`` tensor, so adding
  the input and decaying are one op each), updated in place through numpy views of the same memory: numpy's
  per-call overhead is about half of torch's for these 4000-element ops, and its float32 ``+``, ``*``, ``max``,
  ``min`` and ``>=`` round exactly like torch's; the two ``add_(..., alpha=...)`` (a fused multiply-add in torch)
  stay in torch so that they round exactly as in ``CurrentLIF.step``;
- the refractory clamp is a ``maximum``/``minimum`` against per-neuron bounds (``-inf``/``+inf`` when free, ``v_reset``/
  ``v_reset`` while refractory) that are set for the neurons that fire and restored ``t_ref`` steps later, instead
  of counting ``ref`` down every step; the final ``ref`` is rebuilt from the spike record at the end;
- a neuron's outgoing synapses are pre-sliced views, so a spike costs one ``index_add_`` (plus a ``cat`` when
  several neurons fire in the same step).

Used by :func:`~spikeforge.sim.simulate` for a ``CurrentLIF`` (not a subclass) without state monitors.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._dynamics import CurrentLIF, SynapticLIFState
from ._propagation import DelayBuffer

__all__ = ["applicable", "run_current_lif"]


def applicable(model, state, buffer: DelayBuffer, monitors) -> bool:
    if type(model) is not CurrentLIF or monitors or not isinstance(state, SynapticLIFState):
        return False
    v = state.v
    dtype = buffer.buffer.dtype
    return (
        v.dim() == 1
        and v.dtype == dtype
        and state.g_exc.dtype == dtype
        and state.g_inh.dtype == dtype
        and v.device.type == "cpu"
        and buffer.conn.n_channels == 2
        and state.ref.dtype == torch.int32
    )


def run_current_lif(model: CurrentLIF, state: SynapticLIFState, dt: float, n_steps: int, buffer: DelayBuffer, inputs):
    """Run ``n_steps``; ``inputs(step, x)`` adds the background of ``step`` into ``x`` (or is None).

    Returns ``(counts, spike_steps, spike_ids, events, final_state)``.
    """
    n = state.v.numel()
    dtype = state.v.dtype
    beta = math.exp(-dt / model.tau_mem)
    p_exc = model._propagator(model.tau_exc, dt)
    p_inh = model._propagator(model.tau_inh, dt)
    n_ref = round(model.t_ref / dt)

    def full(value: float) -> torch.Tensor:
        return torch.full((n,), value, dtype=dtype)

    # torch tensors and numpy views of the same memory: numpy's per-op overhead is about half torch's here, and
    # its elementwise float ops round exactly like torch's; the two fused multiply-adds (``add_`` with ``alpha``)
    # stay in torch so that they round exactly as in CurrentLIF.step
    v = state.v.clone()
    g = torch.stack([state.g_exc, state.g_inh]).contiguous()
    g_exc, g_inh = g[0], g[1]
    v_np, g_np = v.numpy(), g.numpy()
    real = v_np.dtype.type
    decay = np.empty((2, n), dtype=v_np.dtype)
    decay[0], decay[1] = real(math.exp(-dt / model.tau_exc)), real(math.exp(-dt / model.tau_inh))
    beta_s, rest_s, thr_s = real(beta), real(model.v_rest * (1 - beta)), real(model.threshold)
    v_reset = real(model.v_reset)
    # clamp bounds: lower/upper -inf/+inf when free, v_reset/v_reset while refractory
    lower = np.full(n, -np.inf, dtype=v_np.dtype)
    upper = np.full(n, np.inf, dtype=v_np.dtype)
    restore: dict[int, list[np.ndarray]] = {}
    ref0 = state.ref
    ref0_np = ref0.numpy()
    busy = np.flatnonzero(ref0_np > 0)
    if busy.size:
        lower[busy] = v_reset
        upper[busy] = v_reset
        for until in np.unique(ref0_np[busy]).tolist():
            if until < n_steps:
                restore.setdefault(until, []).append(busy[ref0_np[busy] == until])
    above = np.zeros(n, dtype=bool)

    slots = buffer.slots
    views = buffer._views
    views_np = [view.numpy() for view in views]
    push = buffer._push_rows
    add, multiply, maximum, minimum, greater_equal = np.add, np.multiply, np.maximum, np.minimum, np.greater_equal
    counts: list[int] = []
    spike_steps: list[int] = []
    spike_ids: list[np.ndarray] = []
    events = 0
    for step in range(n_steps):
        slot = step % slots
        x = views_np[slot]
        if inputs is not None:
            inputs(step, views[slot])
        old = restore.pop(step, None)
        if old is not None:
            for ids in old:
                lower[ids] = -np.inf
                upper[ids] = np.inf
        add(g_np, x, out=g_np)
        multiply(v_np, beta_s, out=v_np)
        add(v_np, rest_s, out=v_np)
        v.add_(g_exc, alpha=p_exc).add_(g_inh, alpha=p_inh)
        maximum(v_np, lower, out=v_np)
        minimum(v_np, upper, out=v_np)
        greater_equal(v_np, thr_s, out=above)
        multiply(g_np, decay, out=g_np)
        x.fill(0)
        ids = above.nonzero()[0]
        k = ids.size
        counts.append(k)
        if k:
            v_np[ids] = v_reset
            if n_ref > 0:
                lower[ids] = v_reset
                upper[ids] = v_reset
                if step + 1 + n_ref < n_steps:
                    later = restore.get(step + 1 + n_ref)
                    if later is None:
                        restore[step + 1 + n_ref] = [ids]
                    else:
                        later.append(ids)
            spike_steps.append(step)
            spike_ids.append(ids)
            events += push(ids.tolist(), step)
    spike_ids_t = [torch.from_numpy(ids.astype(np.int64)) for ids in spike_ids]

    # rebuild ref: n_ref - (steps since the last spike - 1) for neurons that fired, else counted down from the start
    ref = (ref0.to(torch.int64) - n_steps).to(torch.int32)
    if spike_ids:
        steps_t = torch.repeat_interleave(torch.tensor(spike_steps), torch.tensor([t.numel() for t in spike_ids_t]))
        ids_t = torch.cat(spike_ids_t)
        last = torch.full((n,), -1, dtype=torch.int64).scatter_reduce_(0, ids_t, steps_t, "amax")
        fired_any = last >= 0
        ref = torch.where(fired_any, (n_ref - (n_steps - 1 - last)).to(torch.int32), ref)
    final = SynapticLIFState(v, g_exc.clone(), g_inh.clone(), ref)
    return counts, spike_steps, spike_ids_t, events, final
