# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Output heads of the dual-stream networks: segmentation logits and ESPCN super-resolution.

Both heads are shared by the plain and the fused features of a dual-stream network (DS2F, SS-MAF): the fused features
go through the *same* head modules, so the proxy losses train the weights the inference path uses.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.blocks import SubpixelUpsample
from monai.networks.layers.factories import Conv

from ..utils.deprecation import renamed_argument

__all__ = ["SegmentationHead", "ESPCNHead", "interpolate_mode"]


def interpolate_mode(spatial_dims: int) -> str:
    """Name of the (bi/tri)linear interpolation mode of ``F.interpolate`` for ``spatial_dims`` spatial dimensions.

    Raises:
        ValueError: when ``spatial_dims`` is not 1, 2 or 3.
    """
    modes = {1: "linear", 2: "bilinear", 3: "trilinear"}
    if spatial_dims not in modes:
        raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
    return modes[spatial_dims]


class SegmentationHead(nn.Module):
    """1x1 convolution (with bias) to class logits, then an optional linear resize of the logits.

    The resize is applied to the *logits* (not to the features), as in the authors' code: the U-Net resizes with
    ``align_corners=True``, DeepLabV3+ with ``align_corners=False``.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of feature channels.
        out_channels: number of classes (logit channels, >= 2 for the dual-stream losses; channel 0 = background).
        align_corners: ``align_corners`` of the logit resize.
        dropout: element-wise dropout probability applied to the features before the 1x1 convolution (0 disables it).
        foreground_prior: ``None`` (default) keeps PyTorch's bias initialisation. A probability ``p`` sets the bias so
            that, for all-zero features, the softmax gives every foreground class (channels 1..) probability ``p``
            and the background the rest: bias 0 for channel 0 and ``log(p / (1 - (C - 1) p))`` for the others
            (Lin et al., "Focal Loss for Dense Object Detection", 2017, section 4.1). Not in the dual-stream papers;
            it keeps a rare foreground class from starting at probability 1/C, whose large early background loss
            can drive every pixel to background for the first hundreds of steps.

    Raises:
        ValueError: for a dropout outside [0, 1) or a prior outside (0, 1 / C).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        align_corners: bool = True,
        dropout: float = 0.0,
        foreground_prior: Optional[float] = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.mode = interpolate_mode(spatial_dims)
        self.align_corners = align_corners
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv = Conv[Conv.CONV, spatial_dims](in_channels, out_channels, kernel_size=1, bias=True)
        if foreground_prior is not None:
            self.reset_bias_to_prior(foreground_prior)

    def reset_bias_to_prior(self, foreground_prior: float) -> None:
        """Sets the bias so that all-zero features give each foreground class probability ``foreground_prior``."""
        num_classes = self.conv.out_channels
        if num_classes < 2 or not 0.0 < foreground_prior < 1.0 / num_classes:
            raise ValueError(
                f"foreground_prior must be in (0, 1 / out_channels) = (0, {1.0 / num_classes:.4g}) with "
                f"out_channels >= 2, got {foreground_prior!r} for {num_classes} channels."
            )
        foreground_bias = math.log(foreground_prior / (1.0 - (num_classes - 1) * foreground_prior))
        with torch.no_grad():
            self.conv.bias.fill_(foreground_bias)
            self.conv.bias[0] = 0.0

    def forward(self, x: torch.Tensor, output_size: Optional[List[int]] = None) -> torch.Tensor:
        """
        Args:
            x: features (N, in_channels, *spatial).
            output_size: spatial size of the returned logits; ``None`` keeps the feature size.

        Returns:
            logits (N, out_channels, *output_size).
        """
        logits = self.conv(self.dropout(x))
        if output_size is not None:
            logits = F.interpolate(logits, size=output_size, mode=self.mode, align_corners=self.align_corners)
        return logits


class ESPCNHead(nn.Module):
    """ESPCN super-resolution head: 5x5 conv, tanh, 3x3 conv, tanh, 3x3 conv to ``out_channels * r^d``, pixel shuffle.

    All convolutions are without bias and there is no output activation (the target is the HR image normalised to
    [-1, 1]), as in the authors' dual-stream U-Net / DeepLabV3+ (imed_vision ``sr_module``). The pixel shuffle is
    MONAI's :class:`~monai.networks.blocks.SubpixelUpsample` (without its pad-pool), which equals
    ``torch.nn.PixelShuffle`` in 2D. ``scale_factor=1`` keeps the size (a reconstruction head).

    Reference: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
    Convolutional Neural Network", CVPR 2016.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of feature channels.
        out_channels: number of image channels of the SR output.
        scale_factor: integer upscale factor r.
        upscale_rate: deprecated name of ``scale_factor`` (kept for one release, with a ``FutureWarning``).
        hidden_channels: widths of the first two convolutions, (64, 32) in ESPCN.
    """

    @renamed_argument("upscale_rate", "scale_factor")
    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int = 3,
        scale_factor: int = 2,
        hidden_channels: Sequence[int] = (64, 32),
        upscale_rate: int | None = None,
    ) -> None:
        super().__init__()
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"scale_factor must be a positive integer, got {scale_factor}.")
        if len(hidden_channels) != 2:
            raise ValueError(f"hidden_channels must hold two widths, got {hidden_channels}.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        h1, h2 = int(hidden_channels[0]), int(hidden_channels[1])
        features = nn.Sequential(
            conv_type(in_channels, h1, kernel_size=5, padding=2, bias=False),
            nn.Tanh(),
            conv_type(h1, h2, kernel_size=3, padding=1, bias=False),
            nn.Tanh(),
            conv_type(h2, out_channels * scale_factor**spatial_dims, kernel_size=3, padding=1, bias=False),
        )
        self.scale_factor = int(scale_factor)
        self.shuffle = SubpixelUpsample(
            spatial_dims, None, out_channels, scale_factor=self.scale_factor, conv_block=features, apply_pad_pool=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: features (N, in_channels, *spatial) at the low (input) resolution.

        Returns:
            the SR image (N, out_channels, *(spatial * scale_factor)).
        """
        return self.shuffle(x)
