r"""EventProp (Wunderlich & Pehle 2021): exact gradients of current-based LIF layers by the adjoint method.

Model (continuous time, ``t`` in seconds; ``V`` and ``I`` dimensionless, threshold :math:`\vartheta`):

.. math::
    \tau_m \dot V = -V + I, \qquad \tau_s \dot I = -I, \qquad
    I \leftarrow I + W_{nj} \text{ when a spike of input } j \text{ arrives}, \qquad
    V = \vartheta \Rightarrow \text{spike},\ V \leftarrow 0.

A weight is the jump of the current per input spike (membrane units). This is :class:`~spikeforge.neurons.CubaLIF`
driven by ``x(t) = tau_s W sum_k delta(t - t_k)``, without leak offset (``v_leak = 0``), reset to zero at the exact
crossing. Between events, with :math:`\kappa = \tau_s / (\tau_s - \tau_m)` (``tau_s != tau_m`` is required):

.. math::
    V(t_0 + \Delta) = V_0 e^{-\Delta/\tau_m} + I_0 \kappa (e^{-\Delta/\tau_s} - e^{-\Delta/\tau_m}), \qquad
    I(t_0 + \Delta) = I_0 e^{-\Delta/\tau_s}.

**Forward.** The simulation is event driven and exact: from one event to the next the state is advanced in closed
form; a threshold crossing inside an interval is found from the single extremum of ``V`` (it is a sum of two
exponentials) and then located to machine precision by a bracketed Newton search. Only spike times, the neuron and
sample of each spike, the current :math:`I` at each spike and the order in which events were handled are recorded:
memory proportional to the number of input and output spikes, never to time x neurons.

**Adjoint (backward).** With :math:`\lambda = \partial L / \partial (V, I)` (the loss's sensitivity to the state),
between events, in reverse time,

.. math::
    \tau_m \dot\lambda_V = \lambda_V, \qquad \tau_s \dot\lambda_I = \lambda_I - \frac{\tau_s}{\tau_m}\lambda_V
    \quad\Longrightarrow\quad
    \lambda_V(t) = \lambda_V(t_1) e^{-\Delta/\tau_m},\
    \lambda_I(t) = -\kappa\lambda_V(t) + (\lambda_I(t_1) + \kappa\lambda_V(t_1)) e^{-\Delta/\tau_s}

(``Delta = t_1 - t``). No forward state is needed between events. At events:

- an input spike of ``j`` at ``s`` adds :math:`\lambda_{I,n}(s)` to :math:`\partial L/\partial W_{nj}`, and its time
  gets :math:`\partial L/\partial s = \sum_n W_{nj} (\lambda_{I,n}/\tau_s - \lambda_{V,n}/\tau_m)`;
- an own spike of ``n`` at :math:`t_k`, with :math:`\dot V^- = (I - \vartheta)/\tau_m` before and
  :math:`\dot V^+ = I/\tau_m` after the reset and :math:`g_k = \partial L / \partial t_k` (from the loss or the
  layers it feeds), makes the jump
  :math:`\lambda_V^- = (\dot V^+ \lambda_V^+ - g_k) / \dot V^-`, :math:`\lambda_I^- = \lambda_I^+`.
  In a recurrent layer the spike is also an input of the layer itself (the rule above, at :math:`t_k^+`), which
  adds to :math:`g_k` before the jump.

These are the jump conditions of the paper, written for :math:`\lambda` as the plain state sensitivity (the paper
scales its adjoints by the time constants). A network is a chain of layers whose backward passes hand on
:math:`\partial L / \partial t_k`, which is the same computation as one adjoint system for the whole network.

Shapes: ``B`` samples, ``N`` neurons, ``n_in`` inputs; spike lists are padded ``[B, M]`` tensors of times (``inf``
where there is no spike, each row sorted) and sources (``-1`` there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["EventLIFParams", "SpikeList", "event_lif", "event_lif_max"]


@dataclass(frozen=True)
class EventLIFParams:
    """Time constants in seconds (``tau_mem != tau_syn``), threshold in membrane units."""

    tau_mem: float = 20e-3
    tau_syn: float = 5e-3
    threshold: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tau_mem", "tau_syn", "threshold"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
        if abs(self.tau_mem - self.tau_syn) < 1e-9 * self.tau_mem:
            raise ValueError(f"tau_syn: expected a value different from tau_mem ({self.tau_mem}), got {self.tau_syn}")

    @property
    def kappa(self) -> float:
        return self.tau_syn / (self.tau_syn - self.tau_mem)


@dataclass
class SpikeList:
    """Spikes of ``B`` samples: ``times`` ``[B, M]`` (s, each row ascending, ``inf`` padding) and ``index``
    ``[B, M]`` (the neuron or input channel, ``-1`` padding). ``n`` is the number of neurons or channels."""

    times: torch.Tensor
    index: torch.Tensor
    n: int

    @property
    def valid(self) -> torch.Tensor:
        return self.index >= 0

    def count(self) -> torch.Tensor:
        """Spikes per sample ``[B]``."""
        return self.valid.sum(1)


# -- closed-form dynamics -----------------------------------------------------------------------------------------
def _free(v, i, dt, p: EventLIFParams):
    a_m, a_s = torch.exp(-dt / p.tau_mem), torch.exp(-dt / p.tau_syn)
    return v * a_m + i * (p.kappa * (a_s - a_m)), i * a_s


def _lam_back(lv, li, dt, p: EventLIFParams):
    """The adjoint ``dt`` earlier (see the module docstring)."""
    lv_new = lv * torch.exp(-dt / p.tau_mem)
    return lv_new, -p.kappa * lv_new + (li + p.kappa * lv) * torch.exp(-dt / p.tau_syn)


def _solve(v0, i0, lo, hi, p: EventLIFParams):
    """The time in ``(lo, hi]`` where ``V`` (increasing there, from ``V(lo) < theta <= V(hi)``) reaches theta:
    Newton steps, kept inside the shrinking bracket (bisection where a step would leave it), until
    ``|V - theta|`` is a few rounding errors."""
    theta, eps = p.threshold, torch.finfo(v0.dtype).eps
    tol = 8 * eps * (theta + i0.abs())
    f_lo = _free(v0, i0, lo, p)[0] - theta
    f_hi = _free(v0, i0, hi, p)[0] - theta
    t = lo + (hi - lo) * (-f_lo / (f_hi - f_lo).clamp_min(eps))
    for _ in range(40):
        v, i = _free(v0, i0, t, p)
        f = v - theta
        if bool((f.abs() <= tol).all()):
            break
        lo = torch.where(f < 0, t, lo)
        hi = torch.where(f < 0, hi, t)
        step = t - f / ((i - v) / p.tau_mem)
        t = torch.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
    return t


def _crossing(v, i, delta, p: EventLIFParams):
    """Offset ``[...]`` in ``(0, delta]`` of the first threshold crossing of a neuron left alone from ``(v, i)``
    (``v < theta``), ``inf`` where it does not reach the threshold within ``delta``."""
    theta = p.threshold
    v_end = _free(v, i, delta, p)[0]
    k = p.kappa
    ratio = (i * k * p.tau_mem) / (p.tau_syn * (i * k - v))
    t_ext = torch.log(ratio.clamp_min(1e-300)) / (1 / p.tau_syn - 1 / p.tau_mem)
    t_ext = torch.where(ratio > 0, t_ext, torch.full_like(t_ext, -1.0))
    interior = (t_ext > 0) & (t_ext < delta)
    rising = i > v  # dV/dt > 0 at the start
    v_ext = _free(v, i, t_ext.clamp(min=0), p)[0]
    peak_inside = interior & rising & (v_ext >= theta)  # a maximum above threshold before delta
    dip_then_up = interior & ~rising & (v_end >= theta)  # a minimum, then rising through the threshold
    monotone = ~interior & (v_end >= theta)
    hit = peak_inside | dip_then_up | monotone
    out = torch.full_like(v, math.inf)
    if not bool(hit.any()):
        return out
    where = hit.nonzero(as_tuple=True)
    lo = torch.where(dip_then_up, t_ext, torch.zeros_like(t_ext))[where]
    hi = torch.where(peak_inside, t_ext, delta.expand_as(v))[where]
    out[where] = _solve(v[where], i[where], lo, hi, p)
    return out


# -- input sources ------------------------------------------------------------------------------------------------
class _ListSource:
    """Input spikes at arbitrary times (a :class:`SpikeList`); their times can receive gradients."""

    def __init__(self, spikes: SpikeList):
        self.times, self.index = spikes.times, spikes.index
        self.m = spikes.times.shape[1]
        self.rows = torch.arange(spikes.times.shape[0], device=spikes.times.device)

    def time_at(self, ptr):
        inside = ptr < self.m
        t = self.times[self.rows, ptr.clamp(max=max(self.m - 1, 0))] if self.m else torch.full_like(ptr, 0.0)
        return torch.where(inside, t, torch.full_like(t, math.inf))

    def jump(self, ptr, w, rows):
        return w[:, self.index[rows, ptr]].t()

    def backward(self, rows, ptr, lv, li, w, gw, gt, p):
        j = self.index[rows, ptr]
        gw.index_add_(1, j, li.t())
        if gt is not None:
            gt[rows, ptr] = (w[:, j].t() * (li / p.tau_syn - lv / p.tau_mem)).sum(1)


class _RasterSource:
    """Input on a time grid: ``x`` ``[T, B, n_in]`` arrives at ``t = k dt`` (spikes or any real jumps)."""

    def __init__(self, x: torch.Tensor, dt: float):
        self.x, self.dt, self.m = x, dt, x.shape[0]
        self.rows = torch.arange(x.shape[1], device=x.device)

    def time_at(self, ptr):
        t = ptr.to(self.x.dtype) * self.dt
        return torch.where(ptr < self.m, t, torch.full_like(t, math.inf))

    def jump(self, ptr, w, rows):
        return self.x[ptr, rows] @ w.t()

    def backward(self, rows, ptr, lv, li, w, gw, gt, p):
        gw.add_(li.t() @ self.x[ptr, rows])


# -- the simulation -----------------------------------------------------------------------------------------------
class _Growing:
    """Rows appended to one buffer that doubles when full: a few large blocks instead of thousands of small
    tensors (which would also fragment the heap)."""

    def __init__(self, width: tuple[int, ...], dtype, device):
        self.buf = torch.empty((64, *width), dtype=dtype, device=device)
        self.n = 0

    def add(self, rows: torch.Tensor) -> None:
        need = self.n + rows.shape[0]
        if need > self.buf.shape[0]:
            bigger = torch.empty((max(need, 2 * self.buf.shape[0]), *self.buf.shape[1:]), dtype=self.buf.dtype)
            bigger[: self.n] = self.buf[: self.n]
            self.buf = bigger.to(self.buf.device)
        self.buf[self.n : need] = rows
        self.n = need

    def take(self) -> torch.Tensor:
        return self.buf[: self.n].clone()


def _simulate(src, w, w_rec, p: EventLIFParams, t_end: float, batch: int, first_only: bool = False):
    """Event-driven forward pass. Returns the spikes ``(it, b, n, t, I)`` (1-D each) and the arrival log
    ``[iterations, B]`` (the input pointer each sample consumed at each iteration, ``-1`` for none).
    ``first_only``: a neuron fires at most once, and a sample stops once all its neurons have fired."""
    n = w.shape[0]
    dtype, device = w.dtype, w.device
    v = torch.zeros(batch, n, dtype=dtype, device=device)
    i = torch.zeros_like(v)
    t_now = torch.zeros_like(v)
    ptr = torch.zeros(batch, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    rows_all = torch.arange(batch, device=device)
    idx_rec = _Growing((3,), torch.int32, device)  # iteration, sample, neuron of each spike
    val_rec = _Growing((2,), dtype, device)  # time and current I of each spike
    log = _Growing((batch,), torch.int32, device)
    fired = torch.zeros(batch, n, dtype=torch.bool, device=device)  # stays False unless first_only
    it = 0
    while not bool(done.all()):
        t_arr = src.time_at(ptr)
        horizon = t_arr.clamp(max=t_end)
        tc = _crossing(v, i, (horizon[:, None] - t_now).clamp_min(0), p)
        tc = torch.where(done[:, None] | fired, torch.full_like(tc, math.inf), tc)
        if w_rec is None:
            fire = torch.isfinite(tc)
            spiking = fire.any(1)
        else:
            first, who = tc.min(1)
            spiking = torch.isfinite(first)
            fire = torch.zeros_like(tc, dtype=torch.bool)
            fire[rows_all, who] = spiking
            tc = torch.where(spiking[:, None], first[:, None].expand_as(tc), torch.zeros_like(tc))
        if bool(spiking.any()):
            step = torch.where(fire if w_rec is None else spiking[:, None].expand_as(fire), tc, torch.zeros_like(tc))
            v, i = _free(v, i, step, p)
            t_now = t_now + step
            b_s, n_s = fire.nonzero(as_tuple=True)
            idx_rec.add(torch.stack([torch.full_like(b_s, it), b_s, n_s], 1).int())
            val_rec.add(torch.stack([t_now[b_s, n_s], i[b_s, n_s]], 1))
            v = v.masked_fill(fire, 0.0)
            if first_only:
                fired = fired | fire
                done = done | fired.all(1)
            if w_rec is not None:
                i = i.index_add(0, b_s, w_rec[:, n_s].t())
        idle = ~spiking & ~done
        arriving = idle & (t_arr <= t_end)
        done = done | (idle & ~arriving)
        entry = torch.full_like(ptr, -1)
        if bool(arriving.any()):
            step = torch.where(arriving[:, None], horizon[:, None] - t_now, torch.zeros_like(t_now))
            v, i = _free(v, i, step, p)
            t_now = t_now + step
            rows = arriving.nonzero(as_tuple=True)[0]
            i = i.index_add(0, rows, src.jump(ptr[rows], w, rows))
            entry[rows] = ptr[rows]
            ptr = ptr + arriving.long()
        log.add(entry[None].int())
        it += 1
    ids, vals = idx_rec.take(), val_rec.take()
    return (ids[:, 0], ids[:, 1], ids[:, 2], vals[:, 0], vals[:, 1]), log.take()


def _pad(b, n, t, batch):
    """Spikes of all samples -> padded, time-sorted rows; also each spike's slot in its row (int32)."""
    b, n = b.long(), n.long()
    order = torch.argsort(t, stable=True)
    order = order[torch.argsort(b[order], stable=True)]
    counts = torch.bincount(b, minlength=batch)
    width = int(counts.max()) if len(b) else 0
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(b)
    slot[order] = torch.arange(len(b), device=b.device) - starts[b[order]]
    times = torch.full((batch, width), math.inf, dtype=t.dtype, device=t.device)
    index = torch.full((batch, width), -1, dtype=torch.long, device=t.device)
    times[b, slot] = t
    index[b, slot] = n
    return times, index, slot.int()


def _adjoint(ctx_data, grad_times, w, w_rec, src, p: EventLIFParams, t_end, batch, need_input_times):
    """Reverse replay of the forward's iterations (see the module docstring). Returns ``(dW, dW_rec, dt_in)``."""
    (it_s, b_s, n_s, t_s, i_s, slot), log = ctx_data
    n = w.shape[0]
    lv = torch.zeros(batch, n, dtype=w.dtype, device=w.device)
    li = torch.zeros_like(lv)
    t_lam = torch.full_like(lv, t_end)
    gw = torch.zeros_like(w)
    gw_rec = None if w_rec is None else torch.zeros_like(w_rec)
    gt = torch.zeros_like(src.times) if need_input_times else None
    g_s = grad_times[b_s.long(), slot.long()] if len(b_s) else t_s
    order = torch.argsort(it_s, stable=True)
    it_sorted = it_s[order]
    bounds = torch.searchsorted(it_sorted, torch.arange(log.shape[0] + 1, device=w.device, dtype=it_s.dtype))
    bounds = bounds.tolist()
    active = (log >= 0).any(1).tolist()
    for it in range(log.shape[0] - 1, -1, -1):
        lo, hi = bounds[it], bounds[it + 1]
        if hi > lo:
            sel = order[lo:hi]
            bb, nn_, tt, cc, gg = b_s[sel].long(), n_s[sel].long(), t_s[sel], i_s[sel], g_s[sel]
            if w_rec is None:
                a, c = _lam_back(lv[bb, nn_], li[bb, nn_], t_lam[bb, nn_] - tt, p)
                t_lam[bb, nn_] = tt
            else:  # one spike per sample: the whole row goes back to it
                lv_r, li_r = _lam_back(lv[bb], li[bb], t_lam[bb] - tt[:, None], p)
                lv[bb], li[bb] = lv_r, li_r
                t_lam[bb] = tt[:, None].expand(-1, n)
                gw_rec.index_add_(1, nn_, li_r.t())
                gg = gg + (w_rec[:, nn_].t() * (li_r / p.tau_syn - lv_r / p.tau_mem)).sum(1)
                a, c = lv[bb, nn_], li[bb, nn_]
            lv[bb, nn_] = (a * cc - p.tau_mem * gg) / (cc - p.threshold)
            li[bb, nn_] = c
        if active[it]:
            entry = log[it]
            rows = (entry >= 0).nonzero(as_tuple=True)[0]
            ptr = entry[rows].long()
            t_a = src.times[rows, ptr] if isinstance(src, _ListSource) else ptr.to(w.dtype) * src.dt
            lv_r, li_r = _lam_back(lv[rows], li[rows], t_lam[rows] - t_a[:, None], p)
            lv[rows], li[rows] = lv_r, li_r
            t_lam[rows] = t_a[:, None].expand(-1, n)
            src.backward(rows, ptr, lv_r, li_r, w, gw, gt, p)
    return gw, gw_rec, gt


class _EventLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, w_rec, in_times, in_index, raster, p, t_end, dt, n_in, first_only):
        if raster is not None:
            src, batch = _RasterSource(raster, dt), raster.shape[1]
        else:
            src, batch = _ListSource(SpikeList(in_times, in_index, n_in)), in_times.shape[0]
        (it_s, b_s, n_s, t_s, i_s), log = _simulate(src, w, w_rec, p, t_end, batch, first_only)
        times, index, slot = _pad(b_s, n_s, t_s, batch)
        ctx.save_for_backward(w, w_rec, in_times, in_index, raster, it_s, b_s, n_s, t_s, i_s, slot, log)
        ctx.settings = (p, t_end, dt, n_in, batch)
        ctx.mark_non_differentiable(index)
        return times, index

    @staticmethod
    def backward(ctx, grad_times, _grad_index):
        w, w_rec, in_times, in_index, raster, it_s, b_s, n_s, t_s, i_s, slot, log = ctx.saved_tensors
        p, t_end, dt, n_in, batch = ctx.settings
        if raster is not None:
            src = _RasterSource(raster, dt)
        else:
            src = _ListSource(SpikeList(in_times, in_index, n_in))
        grad_times = torch.nan_to_num(grad_times, nan=0.0, posinf=0.0, neginf=0.0)
        need_t = raster is None and ctx.needs_input_grad[2]
        gw, gw_rec, gt = _adjoint(
            ((it_s, b_s, n_s, t_s, i_s, slot), log), grad_times, w, w_rec, src, p, t_end, batch, need_t
        )
        return gw, gw_rec, gt, None, None, None, None, None, None, None


def _check_weight(name, w, rows=None, cols=None):
    if not isinstance(w, torch.Tensor) or w.dim() != 2:
        raise ValueError(f"{name}: expected a 2-D weight tensor, got {getattr(w, 'shape', type(w).__name__)}")
    if not torch.isfinite(w).all():
        raise ValueError(f"{name}: expected finite weights, got NaN or Inf")
    if (rows is not None and w.shape[0] != rows) or (cols is not None and w.shape[1] != cols):
        raise ValueError(f"{name}: expected shape [{rows}, {cols}], got {list(w.shape)}")


def event_lif(
    inputs: SpikeList | torch.Tensor,
    weight: torch.Tensor,
    *,
    recurrent: torch.Tensor | None = None,
    params: EventLIFParams = EventLIFParams(),
    t_end: float,
    dt: float | None = None,
    first_spike_only: bool = False,
) -> SpikeList:
    """Spikes of a layer of current-based LIF neurons, exact in continuous time, with EventProp gradients.

    Args:
        inputs: a :class:`SpikeList` (times can require gradients: they receive ``dL/dt``), or a raster
            ``[T, B, n_in]`` whose row ``k`` arrives at ``t = k dt`` (then ``dt`` is required).
        weight: ``[N, n_in]``, the current jump per input spike.
        recurrent: optional ``[N, N]``; ``recurrent[a, b]`` is the jump in ``a`` per spike of ``b``.
        params: time constants and threshold.
        t_end: the simulation ends at ``t_end`` seconds.
        first_spike_only: each neuron fires at most once and a sample's simulation stops when all its neurons
            have fired (what a time-to-first-spike loss reads; much less work for an output layer).

    Returns:
        The layer's spikes as a :class:`SpikeList` (times differentiable: backward is the adjoint pass).
    """
    if not (isinstance(t_end, int | float) and math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end: expected a positive finite time in seconds, got {t_end!r}")
    n_in = inputs.n if isinstance(inputs, SpikeList) else inputs.shape[-1] if isinstance(inputs, torch.Tensor) else 0
    _check_weight("weight", weight, cols=n_in)
    if recurrent is not None:
        _check_weight("recurrent", recurrent, weight.shape[0], weight.shape[0])
    if isinstance(inputs, SpikeList):
        if torch.isnan(inputs.times).any() or bool((inputs.times[inputs.valid] < 0).any()):
            raise ValueError("inputs: expected spike times >= 0 (inf as padding), got NaN or negative times")
        times, index = _EventLIF.apply(
            weight, recurrent, inputs.times, inputs.index, None, params, t_end, 0.0, n_in, first_spike_only
        )
    elif isinstance(inputs, torch.Tensor) and inputs.dim() == 3:
        if not (isinstance(dt, int | float) and dt > 0):
            raise ValueError(f"dt: expected the raster's step in seconds (> 0), got {dt!r}")
        if not bool(torch.isfinite(torch.stack(torch.aminmax(inputs))).all()):  # NaN propagates; no big temporary
            raise ValueError("inputs: expected a finite raster, got NaN or Inf")
        times, index = _EventLIF.apply(
            weight, recurrent, None, None, inputs.to(weight.dtype), params, t_end, dt, n_in, first_spike_only
        )
    else:
        raise ValueError(f"inputs: expected a SpikeList or a [T, B, n_in] raster, got {type(inputs).__name__}")
    return SpikeList(times, index, weight.shape[0])


# -- a non-spiking readout: the maximum of the membrane over a time grid --------------------------------------------
def _grid_index(times, valid, dt):
    """The first grid step ``k`` with ``k dt >= t`` (0 where not ``valid``)."""
    return torch.ceil(torch.where(valid, times, torch.zeros_like(times)) / dt).long()


class _MaxReadout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, in_times, in_index, p, t_end, dt, chunk, single):
        batch, m = in_times.shape
        steps = math.floor(t_end / dt + 1e-9) + 1
        valid = in_index >= 0
        k = _grid_index(in_times, valid, dt)
        keep = valid & (k < steps)
        b_idx = torch.arange(batch, device=w.device)[:, None].expand(-1, m)[keep]
        k, s, j = k[keep], in_times[keep], in_index[keep]
        lag = (k.to(w.dtype) * dt - s).clamp_min(0)
        a_s = torch.zeros(batch, w.shape[0], dtype=w.dtype, device=w.device)
        a_m = torch.zeros_like(a_s)
        best = torch.full_like(a_s, -math.inf)
        arg = torch.zeros_like(a_s, dtype=torch.long)
        d_s, d_m = math.exp(-dt / p.tau_syn), math.exp(-dt / p.tau_mem)
        order = torch.argsort(k, stable=True)
        k, b_idx, lag, j = k[order], b_idx[order], lag[order], j[order]
        bounds = torch.searchsorted(k, torch.arange(0, steps + chunk, chunk, device=w.device)).tolist()
        for c0 in range(0, steps, chunk):
            c1 = min(c0 + chunk, steps)
            lo, hi = bounds[c0 // chunk], bounds[c0 // chunk + 1]
            add_s = torch.zeros(c1 - c0, batch, w.shape[0], dtype=w.dtype, device=w.device)
            add_m = torch.zeros_like(add_s)
            if hi > lo:
                flat = (k[lo:hi] - c0) * batch + b_idx[lo:hi]
                wj = w[:, j[lo:hi]].t()
                add_s.view(-1, w.shape[0]).index_add_(0, flat, wj * torch.exp(-lag[lo:hi] / p.tau_syn)[:, None])
                add_m.view(-1, w.shape[0]).index_add_(0, flat, wj * torch.exp(-lag[lo:hi] / p.tau_mem)[:, None])
            for g in range(c1 - c0):
                a_s = a_s * d_s + add_s[g]
                a_m = a_m * d_m + add_m[g]
                v = a_m if single else p.kappa * (a_s - a_m)
                better = v > best
                best = torch.where(better, v, best)
                arg = torch.where(better, torch.full_like(arg, c0 + g), arg)
        ctx.save_for_backward(w, in_times, in_index, arg)
        ctx.settings = (p, dt, chunk, single)
        return best

    @staticmethod
    def backward(ctx, grad):
        w, in_times, in_index, arg = ctx.saved_tensors
        p, dt, chunk, single = ctx.settings
        t_star = arg.to(w.dtype) * dt  # [B, O]
        gw = torch.zeros_like(w)
        gt = torch.zeros_like(in_times)
        for c0 in range(0, in_times.shape[1], chunk):
            s, j = in_times[:, c0 : c0 + chunk], in_index[:, c0 : c0 + chunk]
            k = torch.where(j >= 0, _grid_index(s, j >= 0, dt), torch.full_like(j, -1))
            live = (k[:, :, None] >= 0) & (k[:, :, None] <= arg[:, None, :])
            lag = torch.where(
                live, (t_star[:, None, :] - s[:, :, None]).clamp_min(0), torch.zeros_like(live, dtype=s.dtype)
            )
            lv = torch.where(live, grad[:, None, :] * torch.exp(-lag / p.tau_mem), torch.zeros_like(lag))
            if single:  # the jump enters V itself: dL/dW = lambda_V, dL/ds = W lambda_V / tau_m
                li = lv
                lv = torch.zeros_like(lv)
                scale_s = p.tau_mem
            else:
                li = torch.where(live, p.kappa * grad[:, None, :] * torch.exp(-lag / p.tau_syn), torch.zeros_like(lag))
                li = li - p.kappa * lv
                scale_s = p.tau_syn
            jj = j.clamp_min(0)
            gw.index_add_(1, jj.reshape(-1), li.reshape(-1, w.shape[0]).t())
            wj = w[:, jj].permute(1, 2, 0)  # [B, c, O]
            gt[:, c0 : c0 + chunk] = (wj * (li / scale_s - lv / p.tau_mem)).sum(-1)
        return gw, gt, None, None, None, None, None, None


def event_lif_max(
    inputs: SpikeList,
    weight: torch.Tensor,
    *,
    params: EventLIFParams = EventLIFParams(),
    t_end: float,
    dt: float,
    chunk: int = 256,
    synapse: bool = True,
) -> torch.Tensor:
    r"""Maximum over the grid ``t = 0, dt, ..., t_end`` of the membranes of non-spiking current-based leaky
    integrators (the same ``V``, ``I`` equations, no threshold), ``[B, O]``, with exact gradients.

    The adjoint of a non-spiking neuron is closed form: for a loss on :math:`V_o(t^*_o)`, with
    :math:`g = \partial L / \partial V_o(t^*_o)` and :math:`\Delta = t^*_o - s \ge 0`,
    :math:`\lambda_V(s) = g e^{-\Delta/\tau_m}`, :math:`\lambda_I(s) = g\kappa(e^{-\Delta/\tau_s} -
    e^{-\Delta/\tau_m})`; the input-spike rules of :func:`event_lif` then give ``dL/dW`` and ``dL/ds``. The grid
    times are fixed, so the arg-max carries no gradient of its own.

    ``synapse=False``: leaky integrators without a synaptic current (:class:`~spikeforge.neurons.LI`): an input
    spike makes ``V`` jump by ``W``, ``tau_m dV/dt = -V``; then :math:`\lambda_V(s) = g e^{-\Delta/\tau_m}`,
    ``dL/dW`` sums :math:`\lambda_V(s)` and :math:`\partial L/\partial s = W \lambda_V(s) / \tau_m`. Memory: the input spikes times ``O``, processed
    ``chunk`` spikes and ``chunk`` grid steps at a time.
    """
    _check_weight("weight", weight, cols=inputs.n)
    if not (isinstance(dt, int | float) and dt > 0 and math.isfinite(t_end) and t_end >= dt):
        raise ValueError(f"dt, t_end: expected 0 < dt <= t_end, got dt={dt!r}, t_end={t_end!r}")
    times = inputs.times.to(weight.dtype)
    return _MaxReadout.apply(weight, times, inputs.index, params, t_end, dt, chunk, not synapse)
