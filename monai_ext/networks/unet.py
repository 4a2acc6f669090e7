# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""U-Net encoder and decoder of the dual-stream networks (DS2F, SS-MAF, SuperVessel), as in the authors' code.

The structure follows imed_vision's ``Unet`` (the backbone of all three methods): encoder stages of two
[3x3 conv (no bias), BN, ReLU] units followed by a 3x3 / stride 2 / padding 1 max pool (so odd sizes give
``ceil(H / 2)``), a bottleneck at 1/16, and decoder stages that bilinearly resize (``align_corners=True``) to the skip
size, apply a [1x1 conv (no bias), BN, ReLU], concatenate the skip and apply two conv units. There is no divisibility
constraint on the input size. With ``base_channels=64``, 3 input channels and a 2-class head this is the 28.950 M
parameter / 384.49 GMac (ptflops, 876x584) U-Net of the DS2F paper.

As in the authors' code, all conv units of a network share ONE ``ReLU(inplace=True)`` module instance. ReLU is
stateless, so this changes no result; it matters only to ptflops, which adds a shared module's accumulated count once
per parent that holds it. The paper's 384.49 GMac is that count (conv MACs alone are 376.96 G; the ReLU work,
0.31 G, is counted 22 times), and sharing the instance reproduces it.

References:
    Ronneberger et al., "U-Net: Convolutional Networks for Biomedical Image Segmentation", MICCAI 2015.
    Qiu et al., imed_vision ``models/segmentation/unet.py`` and ``layers/unet_blocks.py``.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.layers.factories import Conv, Norm, Pool

from monai_ext.networks.heads import interpolate_mode

__all__ = ["conv_norm_act", "DoubleConv", "UNetDownBlock", "UNetUpBlock", "UNetEncoder", "UNetDecoder"]


def conv_norm_act(
    spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int, act: nn.Module
) -> nn.Sequential:
    """[conv (no bias, "same" padding), BN, ``act``] as a ``Sequential`` of the three modules."""
    return nn.Sequential(
        Conv[Conv.CONV, spatial_dims](
            in_channels, out_channels, kernel_size=kernel_size, padding=kernel_size // 2, bias=False
        ),
        Norm[Norm.BATCH, spatial_dims](out_channels),
        act,
    )


class DoubleConv(nn.Sequential):
    """Two [3x3 conv (no bias), BN, ReLU] units; the middle width equals ``out_channels``.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of input channels.
        out_channels: number of output channels.
        act: activation module instance to use in both units (shared); a new ``ReLU(inplace=True)`` if ``None``.
    """

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, act: nn.Module | None = None) -> None:
        act = nn.ReLU(inplace=True) if act is None else act
        super().__init__(
            conv_norm_act(spatial_dims, in_channels, out_channels, 3, act),
            conv_norm_act(spatial_dims, out_channels, out_channels, 3, act),
        )


class UNetDownBlock(nn.Module):
    """Encoder stage: :class:`DoubleConv`, then a 3x3 / stride 2 / padding 1 max pool.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of input channels.
        out_channels: number of output channels.
        act: shared activation module instance (``ReLU(inplace=True)`` if ``None``).
    """

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, act: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = DoubleConv(spatial_dims, in_channels, out_channels, act)
        self.pool = Pool[Pool.MAX, spatial_dims](kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(skip, pooled)``: the features before the pool and the pooled features."""
        skip = self.conv(x)
        return skip, self.pool(skip)


class UNetUpBlock(nn.Module):
    """Decoder stage: linear resize to the skip size (``align_corners=True``), [1x1 conv, BN, ReLU], concatenation
    with the skip, :class:`DoubleConv`.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: channels of the coarser input.
        skip_channels: channels of the skip features.
        out_channels: number of output channels.
        act: shared activation module instance (``ReLU(inplace=True)`` if ``None``).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        act: nn.Module | None = None,
    ) -> None:
        super().__init__()
        act = nn.ReLU(inplace=True) if act is None else act
        self.mode = interpolate_mode(spatial_dims)
        self.up_conv = conv_norm_act(spatial_dims, in_channels, out_channels, 1, act)
        self.conv = DoubleConv(spatial_dims, out_channels + skip_channels, out_channels, act)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, size=skip.shape[2:], mode=self.mode, align_corners=True)
        return self.conv(torch.cat([self.up_conv(up), skip], dim=1))


class UNetEncoder(nn.Module):
    """U-Net encoder: four :class:`UNetDownBlock` stages (widths b, 2b, 4b, 8b) and a bottleneck (16b) at 1/16.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of input image channels.
        base_channels: width b of the first stage (64 in the paper).
        act: activation module instance shared by every conv unit (a new ``ReLU(inplace=True)`` if ``None``).

    Returns (forward):
        list of five feature maps, finest first: the four skips (b .. 8b channels, at 1, 1/2, 1/4, 1/8 of the input
        size, rounded up) and the bottleneck (16b channels, 1/16).
    """

    def __init__(
        self, spatial_dims: int = 2, in_channels: int = 3, base_channels: int = 64, act: nn.Module | None = None
    ) -> None:
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"base_channels must be positive, got {base_channels}.")
        act = nn.ReLU(inplace=True) if act is None else act
        b = base_channels
        self.out_channels = [b, 2 * b, 4 * b, 8 * b, 16 * b]
        self.down1 = UNetDownBlock(spatial_dims, in_channels, b, act)
        self.down2 = UNetDownBlock(spatial_dims, b, 2 * b, act)
        self.down3 = UNetDownBlock(spatial_dims, 2 * b, 4 * b, act)
        self.down4 = UNetDownBlock(spatial_dims, 4 * b, 8 * b, act)
        self.bottleneck = DoubleConv(spatial_dims, 8 * b, 16 * b, act)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        skip1, x = self.down1(x)
        skip2, x = self.down2(x)
        skip3, x = self.down3(x)
        skip4, x = self.down4(x)
        return [skip1, skip2, skip3, skip4, self.bottleneck(x)]


class UNetDecoder(nn.Module):
    """U-Net decoder: four :class:`UNetUpBlock` stages from the bottleneck back to the input resolution.

    The dual-stream networks use two instances fed by the same encoder features (the authors' ``sr_layer=5``): one
    for segmentation and one for super-resolution.

    Args:
        spatial_dims: number of spatial dimensions.
        base_channels: width b of the matching :class:`UNetEncoder`.
        act: activation module instance shared by every conv unit (a new ``ReLU(inplace=True)`` if ``None``).

    Returns (forward):
        features with b channels at the input size.
    """

    def __init__(self, spatial_dims: int = 2, base_channels: int = 64, act: nn.Module | None = None) -> None:
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"base_channels must be positive, got {base_channels}.")
        act = nn.ReLU(inplace=True) if act is None else act
        b = base_channels
        self.out_channels = b
        self.up1 = UNetUpBlock(spatial_dims, 16 * b, 8 * b, 8 * b, act)
        self.up2 = UNetUpBlock(spatial_dims, 8 * b, 4 * b, 4 * b, act)
        self.up3 = UNetUpBlock(spatial_dims, 4 * b, 2 * b, 2 * b, act)
        self.up4 = UNetUpBlock(spatial_dims, 2 * b, b, b, act)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        """
        Args:
            features: the five maps of :class:`UNetEncoder`, finest first.
        """
        x = self.up1(features[4], features[3])
        x = self.up2(x, features[2])
        x = self.up3(x, features[1])
        return self.up4(x, features[0])
