"""torch.distributed set-up for runs started by ``torchrun`` (gloo on CPU, NCCL on GPUs)."""

from __future__ import annotations

import os

import attrs
import torch
import torch.distributed as dist


@attrs.frozen
class ProcessInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> ProcessInfo:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR…).

    A plain ``python``/``videovae`` start (no WORLD_SIZE, or 1) runs as a single process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return ProcessInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return ProcessInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def any_process(flag: bool, info: ProcessInfo, device: torch.device) -> bool:
    """True on every process when ``flag`` is true on any of them (e.g. a time limit was hit)."""
    if not info.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(info: ProcessInfo) -> None:
    if info.distributed:
        dist.barrier()


def teardown(info: ProcessInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
