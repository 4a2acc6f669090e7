# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Refined Context Fusion (RCF): cross-path global-context fusion of MRC-Net.

RCF is a GCNet-style context block in which the attention mask is computed from one path (the *backbone*) and
pools the *other* path (the *bypass*): ``out = SE(backbone) + T(sum_{HW} softmax_{HW}(conv1x1(backbone)) * bypass)``
with ``T = conv1x1(C->C/r) -> ReLU -> conv1x1(C/r->C)`` (no LayerNorm, last conv zero-initialised).

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-A; Cao et al., "GCNet", ICCV-W 2019 (context block).
"""

from __future__ import annotations

import torch
from monai.networks.blocks import ChannelSELayer
from torch import nn

__all__ = ["RefinedContextFusion"]


class RefinedContextFusion(nn.Module):
    """Fuse the global context of ``bypass`` into the SE-recalibrated ``backbone``.

    Args:
        channels: number of channels of both inputs.
        reduction: channel reduction of the SE layer and of the context transform (``C // reduction`` hidden units).
        released_behaviour: reproduce the authors' released code, which computes the context term but returns
            ``SE(backbone)`` alone, so the bypass path (and ``conv_mask``/``context_transform``) gets no gradient.
            The discarded term is not computed here. Defaults to False: the paper's ``SE(backbone) + T(context)``.
    """

    def __init__(self, channels: int, reduction: int = 2, released_behaviour: bool = False) -> None:
        super().__init__()
        if channels % reduction != 0:
            raise ValueError(f"RefinedContextFusion: channels={channels} must be divisible by reduction={reduction}.")
        self.released_behaviour = released_behaviour
        hidden = channels // reduction
        self.conv_mask = nn.Conv2d(channels, 1, kernel_size=1)
        self.se = ChannelSELayer(spatial_dims=2, in_channels=channels, r=reduction)
        self.context_transform = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1),
        )
        nn.init.kaiming_normal_(self.conv_mask.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(self.conv_mask.bias)
        # zero-initialised last layer: the block starts as plain SE and learns how much context to add
        nn.init.zeros_(self.context_transform[-1].weight)
        nn.init.zeros_(self.context_transform[-1].bias)

    def context(self, backbone: torch.Tensor, bypass: torch.Tensor) -> torch.Tensor:
        """Global context of ``bypass`` pooled with the attention of ``backbone``.

        Args:
            backbone: (B, C, H, W) tensor the attention mask is computed from.
            bypass: (B, C, H, W) tensor that is pooled (same spatial size as ``backbone``).

        Returns:
            (B, C, 1, 1) context vector.
        """
        b, c = bypass.shape[:2]
        mask = torch.softmax(self.conv_mask(backbone).flatten(1), dim=1)  # (B, HW)
        pooled = torch.matmul(bypass.flatten(2), mask.unsqueeze(-1))  # (B, C, 1)
        return pooled.view(b, c, 1, 1)

    def forward(self, backbone: torch.Tensor, bypass: torch.Tensor) -> torch.Tensor:
        """Fuse ``bypass`` into ``backbone``.

        Args:
            backbone: (B, C, H, W) feature of the receiving path.
            bypass: (B, C, H, W) feature from the other path, already resampled to the backbone's size.

        Returns:
            (B, C, H, W) fused feature.

        Raises:
            ValueError: when the two inputs differ in shape.
        """
        if backbone.shape != bypass.shape:
            raise ValueError(
                f"RefinedContextFusion: backbone {list(backbone.shape)} and bypass {list(bypass.shape)} differ."
            )
        base = self.se(backbone)
        if self.released_behaviour:
            return base
        return base + self.context_transform(self.context(backbone, bypass))
