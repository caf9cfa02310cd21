"""Fused LIF / IF sequence kernels on CUDA GPUs with Triton: one launch per direction per layer per sequence.

The same update and hand-written BPTT backward as the CPU kernel (:mod:`.cpu._lif`, where the derivation is):
each program owns a block of neurons and walks over time; the forward keeps ``h`` only. Imported only when the
backend is used, so Triton is never needed on machines without a GPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._settings import Settings
from .cpu._common import per_neuron

__all__ = ["lif"]

_BLOCK = 256


@triton.jit
def _surrogate(s, k, SURR: tl.constexpr):
    a = tl.abs(s)
    if SURR == 0:
        g = 1.0 / ((1.0 + k * a) * (1.0 + k * a))
    elif SURR == 1:
        sg = 1.0 / (1.0 + tl.exp(-k * s))
        g = k * sg * (1.0 - sg)
    elif SURR == 2:
        u = 1.5707963267948966 * k * s
        g = k / 2.0 / (1.0 + u * u)
    elif SURR == 3:
        g = tl.maximum(1.0 - a / k, 0.0) / k
    elif SURR == 4:
        g = tl.where(a < k / 2.0, 1.0 / k, 0.0)
    else:
        g = s * 0.0 + 1.0
    return g


@triton.jit
def _reset(h, z, thr, vr, RESET: tl.constexpr):
    if RESET == 0:
        v = h - z * thr
    elif RESET == 1:
        v = h - z * (h - vr)
    else:
        v = h
    return v


@triton.jit
def _lif_fwd(
    x_ptr,
    v0_ptr,
    beta_ptr,
    thr_ptr,
    z_ptr,
    h_ptr,
    v_ptr,
    steps,
    n,
    vl,
    vr,
    RESET: tl.constexpr,
    STORE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(v0_ptr + offs, mask=mask, other=0.0)
    beta = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    thr = tl.load(thr_ptr + offs, mask=mask, other=1.0)
    x_ptrs = x_ptr + offs  # pointers advance by n per step (64-bit pointer arithmetic, no index overflow)
    z_ptrs = z_ptr + offs
    h_ptrs = h_ptr + offs
    for _t in range(0, steps):
        x = tl.load(x_ptrs, mask=mask, other=0.0)
        h = (vl + beta * (v - vl)) + x
        z = tl.where(h - thr >= 0, 1.0, 0.0).to(h.dtype)
        tl.store(z_ptrs, z, mask=mask)
        if STORE:
            tl.store(h_ptrs, h, mask=mask)
        v = _reset(h, z, thr, vr, RESET)
        x_ptrs += n
        z_ptrs += n
        h_ptrs += n
    tl.store(v_ptr + offs, v, mask=mask)


@triton.jit
def _lif_bwd(
    dz_ptr,
    dvt_ptr,
    h_ptr,
    v0_ptr,
    beta_ptr,
    thr_ptr,
    dx_ptr,
    dv0_ptr,
    dbeta_ptr,
    dthr_ptr,
    steps,
    n,
    last,
    vl,
    vr,
    k,
    RESET: tl.constexpr,
    DETACH: tl.constexpr,
    SURR: tl.constexpr,
    NEED_BETA: tl.constexpr,
    NEED_THR: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(dvt_ptr + offs, mask=mask, other=0.0)
    v0 = tl.load(v0_ptr + offs, mask=mask, other=0.0)
    beta = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    thr = tl.load(thr_ptr + offs, mask=mask, other=1.0)
    acc_beta = a * 0.0
    acc_thr = a * 0.0
    h_ptrs = h_ptr + last + offs  # ``last`` = (steps - 1) * n, from the host; pointers walk back by n per step
    dz_ptrs = dz_ptr + last + offs
    dx_ptrs = dx_ptr + last + offs
    for i in range(0, steps):
        t = steps - 1 - i
        h = tl.load(h_ptrs, mask=mask, other=0.0)
        s = h - thr
        z = tl.where(s >= 0, 1.0, 0.0).to(h.dtype)
        g = _surrogate(s, k, SURR)
        gz = tl.load(dz_ptrs, mask=mask, other=0.0)
        if RESET == 0:
            if DETACH:
                dvdh = g * 0.0 + 1.0
                dvdth = -z
            else:
                dvdh = 1.0 - thr * g
                dvdth = -z + thr * g
        elif RESET == 1:
            if DETACH:
                dvdh = 1.0 - z
                dvdth = z * 0.0
            else:
                dvdh = 1.0 - z - (h - vr) * g
                dvdth = (h - vr) * g
        else:
            dvdh = g * 0.0 + 1.0
            dvdth = g * 0.0
        dh = gz * g + a * dvdh
        if NEED_THR:
            acc_thr += -gz * g + a * dvdth
        tl.store(dx_ptrs, dh, mask=mask)
        if NEED_BETA:
            later = tl.full([BLOCK], t, tl.int32) > 0
            prev = mask & later
            hp = tl.load(h_ptrs - n, mask=prev, other=0.0)
            zp = tl.where(hp - thr >= 0, 1.0, 0.0).to(h.dtype)
            vp = tl.where(later, _reset(hp, zp, thr, vr, RESET), v0)
            acc_beta += dh * (vp - vl)
        a = beta * dh
        h_ptrs -= n
        dz_ptrs -= n
        dx_ptrs -= n
    tl.store(dv0_ptr + offs, a, mask=mask)
    if NEED_BETA:
        tl.store(dbeta_ptr + offs, acc_beta, mask=mask)
    if NEED_THR:
        tl.store(dthr_ptr + offs, acc_thr, mask=mask)


class _TritonLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, beta, thr, cfg):  # type: ignore[override]
        steps, n = x.shape
        train = cfg["grad"] and any(ctx.needs_input_grad[:4])  # grad mode is off inside forward: decided by caller
        z = torch.empty_like(x)
        v = torch.empty_like(v0)
        hs = torch.empty_like(x) if train else z  # placeholder pointer when not stored
        grid = (triton.cdiv(n, _BLOCK),)
        _lif_fwd[grid](
            x,
            v0,
            beta,
            thr,
            z,
            hs,
            v,
            steps,
            n,
            cfg["v_leak"],
            cfg["v_reset"],
            RESET=cfg["reset"],
            STORE=train,
            BLOCK=_BLOCK,
        )
        if train:
            ctx.save_for_backward(hs, v0, beta, thr)
            ctx.cfg = cfg
        return z, v

    @staticmethod
    def backward(ctx, dz, dv):  # type: ignore[override]
        hs, v0, beta, thr = ctx.saved_tensors
        cfg = ctx.cfg
        steps, n = hs.shape
        dz = torch.zeros_like(hs) if dz is None else dz.contiguous()
        dv = torch.zeros_like(v0) if dv is None else dv.contiguous()
        dx = torch.empty_like(hs)
        dv0 = torch.empty_like(v0)
        need_beta, need_thr = ctx.needs_input_grad[2], ctx.needs_input_grad[3]
        dbeta = torch.empty_like(beta) if need_beta else dv0
        dthr = torch.empty_like(thr) if need_thr else dv0
        grid = (triton.cdiv(n, _BLOCK),)
        _lif_bwd[grid](
            dz,
            dv,
            hs,
            v0,
            beta,
            thr,
            dx,
            dv0,
            dbeta,
            dthr,
            steps,
            n,
            (steps - 1) * n,
            cfg["v_leak"],
            cfg["v_reset"],
            cfg["surrogate"][1],
            RESET=cfg["reset"],
            DETACH=cfg["detach"],
            SURR=cfg["surrogate"][0],
            NEED_BETA=need_beta,
            NEED_THR=need_thr,
            BLOCK=_BLOCK,
        )
        return dx, dv0, dbeta if need_beta else None, dthr if need_thr else None, None


def lif(x_seq: torch.Tensor, v0: torch.Tensor, beta, threshold, settings: Settings):
    """The fused LIF / IF sequence on a CUDA GPU: ``(z_seq[T, B, ...], v_T[B, ...])`` (see :func:`.gpu.lif`)."""
    shape = x_seq.shape
    step = shape[1:]
    z, v = _TritonLIF.apply(
        x_seq.reshape(shape[0], -1).contiguous(),
        v0.reshape(-1).contiguous(),
        per_neuron(beta, step, x_seq),
        per_neuron(threshold, step, x_seq),
        settings.codes(torch.is_grad_enabled()),
    )
    return z.view(shape), v.view(step)
