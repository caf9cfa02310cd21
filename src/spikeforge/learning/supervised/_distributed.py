"""Data-parallel training on PyTorch's distributed engine (``torch.distributed``, DistributedDataParallel).

Launched by ``torchrun --nproc_per_node=N -m spikeforge train ...`` (or any launcher that sets ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; multi-node through torchrun's rendezvous). Every process holds
the whole (in-memory) data set and draws the same sample order; global batch ``k`` is split between the processes
by position (process ``r`` takes samples ``r, r + N, r + 2N ...`` of it, as ``DistributedSampler`` would, without its
padding), so ``N`` processes with a global batch of ``B`` take the same optimiser steps as one process with batch
``B``: each process's loss is its share of the global mean (``sum / B * N``, which DDP's gradient average turns back
into the global mean), stochastic encoders draw for the whole global batch on every process and each keeps its
columns, and the loss and accuracy sums are all-reduced. Neuron state is per sample and starts from rest in every
batch, so there is nothing to synchronise beyond the gradients. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["Distributed", "from_environment"]


@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel job: ``rank`` of ``world`` processes."""

    rank: int
    world: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This process's samples of a global batch ``idx``."""
        return idx[self.rank :: self.world]

    def all_sum(self, *values: float) -> list[float]:
        """Sums over the processes (float64: the per-batch loss sums add up exactly as one process's would)."""
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        """Leave the process group together: a barrier, then ``destroy_process_group``.

        Every process calls this once training is over. Gloo aborts the process (``terminate called without an
        active exception``) when one process tears its connections down while a peer is still using them, or
        when the group is left to the interpreter's exit; the barrier makes all of them leave at the same point.
        """
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        ids = (
            [device.index if device.index is not None else torch.cuda.current_device()]
            if device.type == "cuda"
            else None
        )
        return DistributedDataParallel(model, device_ids=ids)


def from_environment(device: torch.device) -> Distributed | None:
    """Join the process group a launcher (torchrun) described in the environment; None for a single process.

    The backend is NCCL for CUDA devices and Gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank=dist.get_rank(), world=dist.get_world_size())
