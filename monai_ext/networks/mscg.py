# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""MSCG, the shared feature extraction module of DS2F (the authors' ``CrossGL``), with its MRCAB and MS-Conv parts.

MSCG concatenates the SR and segmentation features, fuses them with [1x1 conv, BN, GELU] to ``hidden_channels``,
refines them with a gate (MRCAB, then MS-Conv, plus a long residual) and re-weights each stream::

    f = Gate(GELU(BN(Conv1x1(cat[sr, seg]))))                  Gate(x) = MSConv(MRCAB(x)) + x
    sr'  = Conv1x1_sr (GELU(Conv1x1(f)) * sr)  + sr
    seg' = Conv1x1_seg(GELU(Conv1x1(f)) * seg) + seg

``MSCG(2, 64, 64)`` has 18,296 parameters (U-Net); DeepLabV3+ uses ``MSCG(2, 256, 256)``.

References:
    DS2F: dual-stream shared feature learning for segmentation from low-resolution images (the paper the ``ds2f``
    bundle implements); imed_vision ``layers/task_fusion.py`` (``CrossGL``, ``Gate``, ``RCAB``, ``MSConv2d``).
    Zhang et al., "Image Super-Resolution Using Very Deep Residual Channel Attention Networks", ECCV 2018 (RCAB).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import ChannelSELayer
from monai.networks.layers.factories import Conv, Norm, Pool

from .arguments import require_spatial_dims

__all__ = ["PixelAttention", "MRCAB", "ImagePool", "MSConv", "MSCG"]

_ATTENTIONS = ("channel", "pixel")


class PixelAttention(nn.Module):
    """Per-pixel squeeze/expand gating: ``x * sigmoid(Conv1x1(LeakyReLU(Conv1x1(x))))``, no global pooling.

    This is the MRCAB attention of the DS2F paper (section III-B: the squeeze and expand layers act on the features
    directly; Table IV picks "w/o gpool") and of the released imed_vision code since 2023-08 (commit 64020b6), where
    the global average pool of the 2022 code's channel attention was commented out.

    Args:
        spatial_dims: number of spatial dimensions.
        channels: number of channels.
        reduction: channel reduction of the squeeze convolution.
    """

    def __init__(self, spatial_dims: int, channels: int, reduction: int = 4) -> None:
        super().__init__()
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.gate = nn.Sequential(
            conv_type(channels, channels // reduction, kernel_size=1),
            nn.LeakyReLU(0.01),
            conv_type(channels // reduction, channels, kernel_size=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class MRCAB(nn.Module):
    """Modified residual channel attention block: two depthwise 3x3 convs (with bias, no activation between them),
    attention on their output, and a residual: ``out = attention(n) + x``.

    Args:
        spatial_dims: number of spatial dimensions.
        channels: number of channels.
        reduction: reduction of the squeeze layer (4: 32 -> 8 channels).
        attention: ``"pixel"`` (default, the paper's choice "w/o gpool" in Table IV and the released HEAD code: a
            per-pixel squeeze/expand gate without global pooling, :class:`PixelAttention`) or ``"channel"`` (the
            paper's "w/ gpool" ablation and the 2022 code: global average pool, squeeze, LeakyReLU(0.01), expand,
            sigmoid; MONAI's :class:`~monai.networks.blocks.ChannelSELayer`).
    """

    def __init__(self, spatial_dims: int, channels: int, reduction: int = 4, attention: str = "pixel") -> None:
        super().__init__()
        if attention not in _ATTENTIONS:
            raise ValueError(f"attention must be one of {_ATTENTIONS}, got {attention!r}.")
        if channels // reduction < 1:
            raise ValueError(f"reduction {reduction} leaves no channels of {channels}.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.conv1 = conv_type(channels, channels, kernel_size=3, padding=1, groups=channels)
        self.conv2 = conv_type(channels, channels, kernel_size=3, padding=1, groups=channels)
        if attention == "channel":
            self.attention = ChannelSELayer(
                spatial_dims, channels, r=reduction, acti_type_1=("leakyrelu", {"negative_slope": 0.01})
            )
        else:
            self.attention = PixelAttention(spatial_dims, channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(self.conv2(self.conv1(x))) + x


class ImagePool(nn.Module):
    """Image-level branch: global average pool, 1x1 conv (with bias), broadcast back to the input size.

    The authors resize the 1x1 map bilinearly (``align_corners=False``), which is a broadcast; we broadcast directly.
    """

    def __init__(self, spatial_dims: int, channels: int) -> None:
        super().__init__()
        self.pool = Pool[Pool.ADAPTIVEAVG, spatial_dims](1)
        self.conv = Conv[Conv.CONV, spatial_dims](channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x)).expand_as(x)


class MSConv(nn.Module):
    """Multi-scale convolution: split the channels into ``groups`` equal groups; group 0 gets a 1x1 conv, groups
    1 .. groups-2 a depthwise 3x3 conv with dilation i, the last group the :class:`ImagePool` branch; then
    concatenation, BN and GELU (no residual here; the residual is in :class:`MSCG`'s gate).

    Args:
        spatial_dims: number of spatial dimensions.
        channels: number of channels (divisible by ``groups``).
        groups: number of groups k (4: dilations 1 and 2 plus image pooling).
    """

    def __init__(self, spatial_dims: int, channels: int, groups: int = 4) -> None:
        super().__init__()
        if groups < 2 or channels % groups != 0:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups}) and groups must be >= 2.")
        conv_type = Conv[Conv.CONV, spatial_dims]
        width = channels // groups
        branches: list[nn.Module] = [conv_type(width, width, kernel_size=1)]
        for i in range(1, groups - 1):
            branches.append(conv_type(width, width, kernel_size=3, padding=i, dilation=i, groups=width))
        branches.append(ImagePool(spatial_dims, width))
        self.branches = nn.ModuleList(branches)
        self.groups = groups
        self.norm = Norm[Norm.BATCH, spatial_dims](channels)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = torch.chunk(x, self.groups, dim=1)
        outs: list[torch.Tensor] = []
        for i, branch in enumerate(self.branches):
            outs.append(branch(chunks[i]))
        return self.act(self.norm(torch.cat(outs, dim=1)))


class MSCG(nn.Module):
    """MSCG shared feature extraction module of DS2F (imed_vision ``CrossGL``).

    Args:
        spatial_dims: number of spatial dimensions.
        sr_channels: channels of the SR-stream features.
        seg_channels: channels of the segmentation-stream features.
        hidden_channels: width d of the fused representation (32).
        reduction: MRCAB squeeze reduction (4).
        groups: MS-Conv groups k (4).
        attention: MRCAB attention, ``"pixel"`` (default: the paper's "w/o gpool" and the released HEAD code) or
            ``"channel"`` (global pooling: the paper's "w/ gpool" ablation, the 2022 code).

    Returns (forward):
        ``(fused_sr, fused_seg)`` with the shapes of the inputs.
    """

    def __init__(
        self,
        spatial_dims: int,
        sr_channels: int,
        seg_channels: int,
        hidden_channels: int = 32,
        reduction: int = 4,
        groups: int = 4,
        attention: str = "pixel",
    ) -> None:
        super().__init__()
        require_spatial_dims("MSCG", spatial_dims, "MSCG(2, 64, 64)")
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.fuse = nn.Sequential(
            conv_type(sr_channels + seg_channels, hidden_channels, kernel_size=1),
            Norm[Norm.BATCH, spatial_dims](hidden_channels),
            nn.GELU(),
        )
        self.mrcab = MRCAB(spatial_dims, hidden_channels, reduction, attention)
        self.msconv = MSConv(spatial_dims, hidden_channels, groups)
        self.cross_sr = nn.Sequential(conv_type(hidden_channels, sr_channels, kernel_size=1), nn.GELU())
        self.cross_seg = nn.Sequential(conv_type(hidden_channels, seg_channels, kernel_size=1), nn.GELU())
        self.gate_sr = conv_type(sr_channels, sr_channels, kernel_size=1)
        self.gate_seg = conv_type(seg_channels, seg_channels, kernel_size=1)

    def forward(self, sr_features: torch.Tensor, seg_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fused = self.fuse(torch.cat([sr_features, seg_features], dim=1))
        fused = self.msconv(self.mrcab(fused)) + fused
        fused_sr = self.gate_sr(self.cross_sr(fused) * sr_features) + sr_features
        fused_seg = self.gate_seg(self.cross_seg(fused) * seg_features) + seg_features
        return fused_sr, fused_seg
