# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Putting a network on its device, in the memory format and with the normalisation the configs ask for."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["place_network"]


def place_network(
    network: nn.Module,
    device: torch.device | str,
    channels_last: bool = False,
    sync_batchnorm: bool = False,
    distributed: bool = False,
    find_unused_parameters: bool = False,
) -> nn.Module:
    """Moves ``network`` to ``device``, optionally in ``channels_last`` memory format, with SyncBatchNorm, and wrapped
    in ``DistributedDataParallel``.

    The bundle configs call it as ``{"_target_": "monai_ext.utils.place_network", "network": "@network_def", ...}``
    so that every training, evaluation and inference config places its networks the same way.

    Args:
        network: the module to move (modified in place and returned, as ``Module.to`` does).
        device: target device.
        channels_last: store the 4-D parameters and buffers in ``torch.channels_last`` format (2-D networks only;
            faster convolutions on CPU at large images and on CUDA with AMP).
        sync_batchnorm: replace every BatchNorm layer with ``torch.nn.SyncBatchNorm`` (multi-GPU training). Applied
            on CUDA devices only: SyncBatchNorm needs a CUDA process group, so on the CPU the flag is ignored.
        distributed: wrap the placed network in ``torch.nn.parallel.DistributedDataParallel`` (``multi_gpu_train.json``;
            the process group must exist): on a CUDA device with ``device_ids=[device]``, on the CPU (gloo) without.
        find_unused_parameters: passed to ``DistributedDataParallel``.

    Returns:
        the placed network (a new module when SyncBatchNorm replaced the top-level module or DDP wraps it).
    """
    device = torch.device(device)
    if sync_batchnorm and device.type == "cuda":
        network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
    network = network.to(device, memory_format=torch.channels_last) if channels_last else network.to(device)
    if distributed:
        device_ids = [device] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(
            network, device_ids=device_ids, find_unused_parameters=find_unused_parameters
        )
    return network
