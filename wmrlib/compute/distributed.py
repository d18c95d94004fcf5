"""Data-parallel training under ``torchrun``: the process group and helpers that are no-ops alone.

``torchrun --nproc_per_node N -m wmrlib train ...`` starts N processes that join one process
group (NCCL on GPUs, gloo on the CPU). Every process reads the same global batches and trains on
its contiguous slice of each; DistributedDataParallel averages the gradients, so N processes
train the model one process would, up to the order of floating-point sums. Without ``torchrun``
(``WORLD_SIZE`` unset or 1) every helper here does nothing.
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .device import default_device


def init_from_env(device: str | torch.device | None = None) -> torch.device:
    """Join torchrun's process group once if WORLD_SIZE > 1; return the device this process uses."""
    device = default_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":  # one GPU per process
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def world_size() -> int:
    """Return the number of processes training together (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """Return this process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Return whether this process is rank 0, the only one that writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here."""
    if world_size() > 1:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(batch: torch.Tensor) -> torch.Tensor:
    """Return this process's contiguous slice of ``batch``, whose size the world size divides."""
    n = len(batch) // world_size()
    return batch[rank() * n:(rank() + 1) * n]


def all_sum(value: torch.Tensor) -> torch.Tensor:
    """Return the sum of ``value`` over the processes."""
    if world_size() == 1:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value


class ShardedDropout(nn.Dropout):
    """Dropout that applies this process's slice of the mask one process would draw for the batch.

    Every process draws the mask of the whole global batch from the (identically seeded) global
    RNG and keeps its slice, so the masks, and the RNG state, are those of a one-process run.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or world_size() == 1:
            return super().forward(x)
        mask = F.dropout(x.new_ones((len(x) * world_size(), *x.shape[1:])), self.p, True)
        return x * shard(mask)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """Return ``model`` wrapped in DistributedDataParallel, its dropout and batch norm made global.

    Dropout layers become ``ShardedDropout`` in place. On CUDA, BatchNorm layers become
    SyncBatchNorm, whose statistics are those of the global batch. gloo has no SyncBatchNorm, so on
    the CPU each process normalises with the statistics of its own slice and the result differs
    from a one-process run (a warning says so); SmallCNN, the MNIST model, has no batch norm.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Dropout:
                setattr(module, name, ShardedDropout(child.p, child.inplace))
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    elif has_bn:
        warnings.warn("batch norm under data-parallel CPU training uses per-process batch "
                      "statistics (gloo has no SyncBatchNorm); results differ from one process",
                      stacklevel=2)
    ids = [device] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
