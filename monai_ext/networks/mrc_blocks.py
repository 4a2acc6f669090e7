# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Convolution + PReLU units and the bias-free PReLU residual block shared by the MRC-Net parts.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvPReLU", "PReLUResidualBlock"]


class ConvPReLU(nn.Sequential):
    """2-D convolution with bias and "same" padding, followed by a channel-wise PReLU.

    Args:
        in_channels: number of input channels.
        out_channels: number of output channels (and PReLU parameters).
        kernel_size: odd convolution kernel size.
        stride: convolution stride.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
        self.act = nn.PReLU(num_parameters=out_channels)


class PReLUResidualBlock(nn.Module):
    """``PReLU(x + conv(PReLU(conv(x))))`` with two bias-free 3x3 convolutions and no normalisation.

    Args:
        channels: number of input and output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.act1 = nn.PReLU(num_parameters=channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.act2 = nn.PReLU(num_parameters=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.conv2(self.act1(self.conv1(x))) + x)
