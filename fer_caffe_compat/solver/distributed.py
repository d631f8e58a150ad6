"""Several processes (torchrun): Caffe's multi-GPU training mapped onto torch.distributed.

Caffe 1.0 gives each solver its own batch_size batch: the Data layer of rank r reads records
r, r+W, r+2W, ... (DataLayer::Skip), gradients are summed over solvers and scaled by 1/W, and only
rank 0 tests, logs and snapshots. Here the train net runs inside DistributedDataParallel: it starts
every rank from rank 0's weights (Caffe's P2PSync copies the root solver's), and averages the gradients
in buckets while the backward pass is still running, instead of blob by blob after it. NCCL on GPUs,
gloo on CPU. Several machines: torchrun --nnodes N --node-rank i --rdzv-endpoint host:port (README).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

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
        if records is None or not hasattr(records, "shard"):
            if getattr(layer, "is_data", False):
                log.warning("solver.cpp:60", f"layer {name}: records are not sharded across processes")
            continue
        records.shard(rank, world)


def wrap(net, device: torch.device) -> DistributedDataParallel | None:
    """The train net in DistributedDataParallel; None when no blob has a gradient to reduce."""
    if not any(p.requires_grad for p in net.parameters()):
        return None
    # A learnable blob of a layer that does not lead to a loss gets no gradient: DDP must look for those.
    unused = any(p.requires_grad for e in net._entries if not e.need_backward for p in e.layer.parameters())
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                   broadcast_buffers=False, find_unused_parameters=unused)
