# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Putting a network on its device, in the memory format and with the normalisation the configs ask for."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["place_network"]


def place_network(
    network: nn.Module, device: torch.device | str, channels_last: bool = False, sync_batchnorm: bool = False
) -> nn.Module:
    """Moves ``network`` to ``device``, optionally in ``channels_last`` memory format and with SyncBatchNorm.

    The bundle configs call it as ``{"_target_": "monai_ext.utils.place_network", "network": "@network_def", ...}``
    so that every training, evaluation and inference config places its networks the same way.

    Args:
        network: the module to move (modified in place and returned, as ``Module.to`` does).
        device: target device.
        channels_last: store the 4-D parameters and buffers in ``torch.channels_last`` format (2-D networks only;
            faster convolutions on CPU at large images and on CUDA with AMP).
        sync_batchnorm: replace every BatchNorm layer with ``torch.nn.SyncBatchNorm`` (multi-GPU training). Applied
            on CUDA devices only: SyncBatchNorm needs a CUDA process group, so on the CPU the flag is ignored.

    Returns:
        the placed network (a new module when SyncBatchNorm replaced the top-level module).
    """
    device = torch.device(device)
    if sync_batchnorm and device.type == "cuda":
        network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
    if channels_last:
        return network.to(device, memory_format=torch.channels_last)
    return network.to(device)
