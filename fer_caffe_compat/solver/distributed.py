"""Several processes (torchrun): Caffe's multi-GPU training mapped onto torch.distributed.

Caffe 1.0 gives each solver its own batch_size batch: the Data layer of rank r reads records
r, r+W, r+2W, ... (DataLayer::Skip), gradients are summed over solvers and scaled by 1/W, and only
rank 0 tests, logs and snapshots. NCCL on GPUs, gloo on CPU.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from .. import log


def init_distributed(device: torch.device) -> None:
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)


def shard_data_layers(net, rank: int, world: int) -> None:
    """Make every LMDB Data layer of the train net read only this rank's records (Caffe's Skip)."""
    for name, layer in zip(net.layer_names, net.layers):
        records = getattr(layer, "records", None)
        if records is None or not hasattr(records, "take"):
            if getattr(layer, "is_data", False):
                log.warning("solver.cpp:60", f"layer {name}: records are not sharded across processes")
            continue
        take = records.take

        def take_for_rank(n: int, take=take) -> list:
            return take(n * world)[::world]
        if rank:
            take(rank)
        records.take = take_for_rank
