# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""FIM, the feature interaction module of SuperVessel (a paper baseline of DS2F), as in the authors' code.

FIM works on the network *outputs*: the SR image and the high-resolution segmentation logits. It predicts a
one-channel spatial attention map and re-weights the logits::

    h   = ReLU(Conv1x1(cat[sr, seg]))                          # 3 * hidden channels
    h   = ChannelShuffle(3)(cat[DWConv3x3_d1(h0), DWConv3x3_d2(h1), DWConv3x3_d4(h2)])
    att = sigmoid(Conv1x1(ReLU(Conv1x1(h))))                   # 1 channel
    fused_seg = att * seg + seg   (residual=True)   or   att * seg   (residual=False)

``FIM(2, 3, 2)`` has 593 parameters.

References:
    Hu et al., "SuperVessel: Segmenting High-resolution Vessel from Low-resolution Retinal Image", PRCV 2022
    (arXiv:2207.13882); imed_vision ``layers/fim.py`` (``FIM``, ``SpatialModule``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv

from .arguments import require_spatial_dims

__all__ = ["SpatialModule", "FIM"]


class SpatialModule(nn.Module):
    """Three depthwise 3x3 convolutions (with bias) with dilations 1, 2, 4 on three channel groups, concatenation and
    a channel shuffle with 3 groups.

    Args:
        spatial_dims: number of spatial dimensions.
        channels: number of channels (divisible by 3).
    """

    def __init__(self, spatial_dims: int, channels: int) -> None:
        super().__init__()
        if channels % 3 != 0:
            raise ValueError(f"channels must be divisible by 3, got {channels}.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        width = channels // 3
        self.branches = nn.ModuleList(
            [conv_type(width, width, kernel_size=3, padding=d, dilation=d, groups=width) for d in (1, 2, 4)]
        )
        self.shuffle = nn.ChannelShuffle(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = torch.chunk(x, 3, dim=1)
        outs: list[torch.Tensor] = []
        for i, branch in enumerate(self.branches):
            outs.append(branch(chunks[i]))
        return self.shuffle(torch.cat(outs, dim=1))


class FIM(nn.Module):
    """SuperVessel feature interaction module.

    Args:
        spatial_dims: number of spatial dimensions.
        sr_channels: channels of the SR image (3).
        seg_channels: channels of the segmentation logits (number of classes).
        hidden_channels: width of the attention branch (8; the fused representation has ``3 * hidden_channels``).
        residual: ``True`` (default; released HEAD code): ``att * seg + seg``; ``False`` (the 2022 code, ec88c9b):
            ``att * seg``.

    Returns (forward):
        the re-weighted segmentation logits, shaped as ``seg``.
    """

    def __init__(
        self,
        spatial_dims: int,
        sr_channels: int,
        seg_channels: int,
        hidden_channels: int = 8,
        residual: bool = True,
    ) -> None:
        super().__init__()
        require_spatial_dims("FIM", spatial_dims, "FIM(2, 3, 2)")
        conv_type = Conv[Conv.CONV, spatial_dims]
        width = 3 * hidden_channels
        self.fuse = nn.Sequential(conv_type(sr_channels + seg_channels, width, kernel_size=1), nn.ReLU())
        self.spatial = SpatialModule(spatial_dims, width)
        self.attention_head = nn.Sequential(
            conv_type(width, hidden_channels, kernel_size=1),
            nn.ReLU(),
            conv_type(hidden_channels, 1, kernel_size=1),
            nn.Sigmoid(),
        )
        self.residual = residual

    def attention(self, sr: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """The one-channel attention map in (0, 1), shaped (N, 1, *spatial)."""
        return self.attention_head(self.spatial(self.fuse(torch.cat([sr, seg], dim=1))))

    def forward(self, sr: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """
        Args:
            sr: the SR image (N, sr_channels, *spatial).
            seg: the segmentation logits at the same size (N, seg_channels, *spatial).
        """
        weighted = self.attention(sr, seg) * seg
        if self.residual:
            weighted = weighted + seg
        return weighted
