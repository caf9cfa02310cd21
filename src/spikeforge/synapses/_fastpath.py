r"""In-place time loop for :class:`~spikeforge.synapses._dynamics.CurrentLIF` networks (the CUBA benchmark).

Same arithmetic as ``CurrentLIF.step`` + :meth:`DelayBuffer.push`, op for op, so spikes and state are bit-identical
to the generic loop; only the bookkeeping differs:

- the state lives in preallocated buffers (``g_exc``/``g_inh`` as the two rows of one ``[2, N]`` tensor, so adding
  the input and decaying are one op each) and every scalar operand is a preallocated tensor (a Python scalar costs
  a wrapped 0-d tensor per op here);
- the refractory clamp is one ``clamp_`` against per-neuron bounds (``-inf``/``+inf`` when free, ``v_reset``/
  ``v_reset`` while refractory) that are set for the neurons that fire and restored ``t_ref`` steps later, instead
  of counting ``ref`` down every step; the final ``ref`` is rebuilt from the spike record at the end;
- a neuron's outgoing synapses are pre-sliced views, so a spike costs one ``index_add_`` (plus a ``cat`` when
  several neurons fire in the same step).

Used by :func:`~spikeforge.synapses.simulate` for a ``CurrentLIF`` (not a subclass) without state monitors.
"""

from __future__ import annotations

import math

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

    v = state.v.clone()
    g = torch.stack([state.g_exc, state.g_inh]).contiguous()
    g_exc, g_inh = g[0], g[1]
    decay = torch.tensor([[math.exp(-dt / model.tau_exc)], [math.exp(-dt / model.tau_inh)]], dtype=dtype)
    beta_t, rest_t, thr_t = full(beta), full(model.v_rest * (1 - beta)), full(model.threshold)
    v_reset = model.v_reset
    # clamp bounds: row 0 lower, row 1 upper
    free = torch.tensor([[-math.inf], [math.inf]], dtype=dtype).expand(2, n).contiguous()
    bounds = free.clone()
    lower, upper = bounds[0], bounds[1]
    restore: dict[int, list[torch.Tensor]] = {}
    ref0 = state.ref
    if bool((ref0 > 0).any()):
        busy = torch.nonzero(ref0 > 0).squeeze(1)
        bounds.index_fill_(1, busy, v_reset)
        for until in torch.unique(ref0[busy]).tolist():
            if until < n_steps:
                restore.setdefault(until, []).append(busy[ref0[busy] == until])
    above = torch.zeros(n, dtype=torch.bool)

    slots = buffer.slots
    views = buffer._views
    push = buffer._push_rows
    nonzero, ge, clamp = torch.nonzero, torch.ge, torch.clamp
    counts: list[int] = []
    spike_steps: list[int] = []
    spike_ids: list[torch.Tensor] = []
    events = 0
    for step in range(n_steps):
        x = views[step % slots]
        if inputs is not None:
            inputs(step, x)
        old = restore.pop(step, None)
        if old is not None:
            for ids in old:
                bounds.index_copy_(1, ids, free[:, : ids.numel()])
        g.add_(x)
        v.mul_(beta_t).add_(rest_t)
        v.add_(g_exc, alpha=p_exc).add_(g_inh, alpha=p_inh)
        clamp(v, lower, upper, out=v)
        ge(v, thr_t, out=above)
        g.mul_(decay)
        x.zero_()
        fired = nonzero(above)
        k = fired.shape[0]
        counts.append(k)
        if k:
            ids = fired.view(-1)
            v.index_fill_(0, ids, v_reset)
            if n_ref > 0:
                bounds.index_fill_(1, ids, v_reset)
                if step + 1 + n_ref < n_steps:
                    later = restore.get(step + 1 + n_ref)
                    if later is None:
                        restore[step + 1 + n_ref] = [ids]
                    else:
                        later.append(ids)
            spike_steps.append(step)
            spike_ids.append(ids)
            events += push(ids.tolist(), step)

    # rebuild ref: n_ref - (steps since the last spike - 1) for neurons that fired, else counted down from the start
    ref = (ref0.to(torch.int64) - n_steps).to(torch.int32)
    if spike_ids:
        steps_t = torch.repeat_interleave(torch.tensor(spike_steps), torch.tensor([t.numel() for t in spike_ids]))
        ids_t = torch.cat(spike_ids)
        last = torch.full((n,), -1, dtype=torch.int64).scatter_reduce_(0, ids_t, steps_t, "amax")
        fired_any = last >= 0
        ref = torch.where(fired_any, (n_ref - (n_steps - 1 - last)).to(torch.int32), ref)
    final = SynapticLIFState(v, g_exc.clone(), g_inh.clone(), ref)
    return counts, spike_steps, spike_ids, events, final
