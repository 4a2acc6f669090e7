# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""MAF (multi-scale attention fusion) and its SSC (split spatial convolution), the shared feature module of SS-MAF.

MAF concatenates the SR and segmentation features, projects them with a 1x1 conv (no BN or activation) to
``hidden_channels``, refines them with SSC and produces one sigmoid attention map per stream::

    f = SSC(Conv1x1(cat[sr, seg]))
    sr'  = sigmoid(Conv1x1_sr(f))  * sr  + sr
    seg' = sigmoid(Conv1x1_seg(f)) * seg + seg

``MAF(2, 64, 64)`` has 10,216 parameters.

References:
    SS-MAF: "Self-supervised multi-scale attention fusion for hard exudate segmentation from low-resolution fundus
    images" (BIBM 2022, the paper the ``ss_maf`` bundle implements); imed_vision ``layers/maf.py`` (``MAF``, ``SSC``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv, Norm

from .arguments import require_spatial_dims

__all__ = ["SSC", "MAF"]


class SSC(nn.Module):
    """Split spatial convolution: split the channels into ``groups`` equal groups; group 0 gets a 1x1 conv (with
    bias), group i (i >= 1) a full (not depthwise) 3x3 conv with dilation i and no bias; then concatenation, BN, the
    input as residual, ReLU.

    Args:
        spatial_dims: number of spatial dimensions.
        channels: number of channels (divisible by ``groups``).
        groups: number of groups (4: dilations 1, 2, 3).
    """

    def __init__(self, spatial_dims: int, channels: int, groups: int = 4) -> None:
        super().__init__()
        if groups < 1 or channels % groups != 0:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups}).")
        conv_type = Conv[Conv.CONV, spatial_dims]
        width = channels // groups
        branches: list[nn.Module] = [conv_type(width, width, kernel_size=1)]
        for i in range(1, groups):
            branches.append(conv_type(width, width, kernel_size=3, padding=i, dilation=i, bias=False))
        self.branches = nn.ModuleList(branches)
        self.groups = groups
        self.norm = Norm[Norm.BATCH, spatial_dims](channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = torch.chunk(x, self.groups, dim=1)
        outs: list[torch.Tensor] = []
        for i, branch in enumerate(self.branches):
            outs.append(branch(chunks[i]))
        return self.act(self.norm(torch.cat(outs, dim=1)) + x)


class MAF(nn.Module):
    """Multi-scale attention fusion of SS-MAF.

    Args:
        spatial_dims: number of spatial dimensions.
        sr_channels: channels of the SR-stream features.
        seg_channels: channels of the segmentation-stream features.
        hidden_channels: width of the fused representation (32).
        groups: SSC groups (4).

    Returns (forward):
        ``(fused_sr, fused_seg)`` with the shapes of the inputs.
    """

    def __init__(
        self,
        spatial_dims: int,
        sr_channels: int,
        seg_channels: int,
        hidden_channels: int = 32,
        groups: int = 4,
    ) -> None:
        super().__init__()
        require_spatial_dims("MAF", spatial_dims, "MAF(2, 64, 64)")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.fuse = conv_type(sr_channels + seg_channels, hidden_channels, kernel_size=1)
        self.ssc = SSC(spatial_dims, hidden_channels, groups)
        self.sr_attention = nn.Sequential(conv_type(hidden_channels, sr_channels, kernel_size=1), nn.Sigmoid())
        self.seg_attention = nn.Sequential(conv_type(hidden_channels, seg_channels, kernel_size=1), nn.Sigmoid())

    def forward(self, sr_features: torch.Tensor, seg_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fused = self.ssc(self.fuse(torch.cat([sr_features, seg_features], dim=1)))
        fused_sr = self.sr_attention(fused) * sr_features + sr_features
        fused_seg = self.seg_attention(fused) * seg_features + seg_features
        return fused_sr, fused_seg
