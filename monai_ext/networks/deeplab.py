# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""DeepLabV3+ encoder (ResNet-50 + ASPP) and decoder of the dual-stream DeepLabV3+ of DS2F.

The backbone is MONAI's :class:`~monai.networks.nets.ResNet` with bottleneck blocks (stride on the 3x3 conv, as the
authors' "v1.5" ResNet-50), made atrous for output stride 8 or 16 by setting the stride and dilation of the 3x3
convolutions of layer3 and layer4. Layer4 uses the DeepLabV3 multi-grid (1, 2, 4). The ASPP (rates 6/12/18 at OS16,
12/24/36 at OS8) has an image-pooling branch and, as released, a projection [1x1 conv, BN, ReLU] followed by a second
[BN, ReLU]. The decoder projects layer1 (1/4) to 48 channels with a plain 1x1 conv (bias, no BN), concatenates the
upsampled ASPP output and applies two [3x3 conv, BN, ReLU]. With 3 input channels, 2 classes and OS8 the baseline
network has 40.348 M parameters.

The encoder (backbone + ASPP) is shared by the segmentation and the SR decoders, as in the authors' code.

References:
    Chen et al., "Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation", ECCV 2018.
    Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation", arXiv:1706.05587 (ASPP, multi-grid).
    imed_vision ``models/segmentation/deeplab.py`` (``DeeplabV3Plus``, ``ASPP``, ``Decoder``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Conv, Norm, Pool
from monai.networks.nets import ResNet

from monai_ext.networks.heads import interpolate_mode

__all__ = ["ASPP", "DeepLabV3PlusEncoder", "DeepLabV3PlusDecoder", "load_resnet50_weights"]

_ACT = ("relu", {"inplace": True})


def _conv_norm_act(spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1):
    return Convolution(
        spatial_dims,
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        dilation=dilation,
        act=_ACT,
        norm="batch",
        bias=False,
    )


class ImagePooling(nn.Module):
    """ASPP image-level branch: global average pool, [1x1 conv, BN, ReLU], broadcast back to the input size."""

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = Pool[Pool.ADAPTIVEAVG, spatial_dims](1)
        self.conv = _conv_norm_act(spatial_dims, in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.conv(self.pool(x))
        return pooled.expand([-1, -1] + list(x.shape[2:]))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling of DeepLabV3 as in the authors' code.

    Branches: [1x1 conv, BN, ReLU]; three [3x3 conv with dilation r, BN, ReLU]; image pooling. Projection of the
    concatenation: [1x1 conv, BN, ReLU] followed by a second [BN, ReLU] (the released double normalisation). In
    training mode the image-pooling BN needs a batch of at least 2.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: input channels (2048 for ResNet-50).
        out_channels: channels of every branch and of the output (256).
        rates: dilations of the three 3x3 branches.
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, out_channels: int = 256, rates: tuple[int, int, int] = (12, 24, 36)
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_norm_act(spatial_dims, in_channels, out_channels)]
            + [_conv_norm_act(spatial_dims, in_channels, out_channels, 3, r) for r in rates]
            + [ImagePooling(spatial_dims, in_channels, out_channels)]
        )
        self.project = nn.Sequential(
            _conv_norm_act(spatial_dims, (len(rates) + 2) * out_channels, out_channels),
            Norm[Norm.BATCH, spatial_dims](out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor] = []
        for branch in self.branches:
            outs.append(branch(x))
        return self.project(torch.cat(outs, dim=1))


def _set_atrous(layer: nn.Sequential, stride: int, dilations: list[int]) -> None:
    """Set the stride of the first block and the dilation (= padding) of every 3x3 conv of a ResNet layer."""
    for i, block in enumerate(layer):
        conv = block.conv2
        ndim = len(conv.kernel_size)
        if i == 0:
            conv.stride = (stride,) * ndim
            block.stride = stride
            if isinstance(block.downsample, nn.Sequential):
                block.downsample[0].stride = (stride,) * ndim
        conv.dilation = (dilations[i],) * ndim
        conv.padding = (dilations[i],) * ndim


_IMED_BLOCK_KEY = re.compile(r"^(layer\d\.\d+)\.conv(\d)\.(conv|norm_layer)\.(.+)$")
_IMED_DOWN_KEY = re.compile(r"^(layer\d\.0\.downsample)\.0\.(conv|norm_layer)\.(.+)$")
_IMED_STEM_KEY = re.compile(r"^conv1\.(conv|norm_layer)\.(.+)$")


def _from_imed_layout(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename imed_vision ResNet keys (``layer1.0.conv1.conv.weight``) to the torchvision/MONAI layout."""
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if m := _IMED_BLOCK_KEY.match(key):
            part = "conv" if m.group(3) == "conv" else "bn"
            key = f"{m.group(1)}.{part}{m.group(2)}.{m.group(4)}"
        elif m := _IMED_DOWN_KEY.match(key):
            key = f"{m.group(1)}.{0 if m.group(2) == 'conv' else 1}.{m.group(3)}"
        elif m := _IMED_STEM_KEY.match(key):
            key = f"{'conv1' if m.group(1) == 'conv' else 'bn1'}.{m.group(2)}"
        renamed[key] = value
    return renamed


def load_resnet50_weights(backbone: nn.Module, path: str | os.PathLike) -> None:
    """Load ImageNet ResNet-50 weights from a local file into a MONAI ResNet backbone.

    Accepts a state dict (optionally under ``"state_dict"`` or ``"model"``) in the torchvision / MONAI layout
    (``layer1.0.conv1.weight``, ``layer1.0.bn1.weight``, ``layer1.0.downsample.0.weight``) or in the imed_vision
    layout (``layer1.0.conv1.conv.weight``, ``layer1.0.conv1.norm_layer.weight``); ``fc`` keys are ignored. Nothing
    is downloaded.

    Args:
        backbone: the ResNet to load into.
        path: local file written by ``torch.save``.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when the file is not a state dict or its keys or shapes do not match a ResNet-50.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretrained ResNet-50 weights not found: {path!s}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and wrapper in state and isinstance(state[wrapper], Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping):
        raise ValueError(f"{path!s}: expected a state dict, got {type(state).__name__}.")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in _from_imed_layout(state).items() if not k.startswith("fc.")}
    try:
        backbone.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path!s}: not a ResNet-50 state dict matching this backbone: {err}") from err


class DeepLabV3PlusEncoder(nn.Module):
    """Shared DeepLabV3+ encoder: ResNet-50 (MONAI) with atrous layer3/layer4, then ASPP.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of input image channels.
        base_channels: stem width b of the ResNet (64 for ResNet-50); every width scales with b / 64 (stages
            b, 2b, 4b, 8b with expansion 4; ASPP 4b), so small CPU variants exist. Pretrained weights need 64.
        output_stride: 8 or 16.
        atrous_layer3: at output stride 8, ``True`` (default, standard DeepLab) dilates layer3 by 2 and layer4 by
            4 x (1, 2, 4); ``False`` is the released code (layer3 stride 1 without dilation, layer4 2 x (1, 2, 4)).
            No effect at output stride 16 (layer3 stride 2, layer4 2 x (1, 2, 4)).
        pretrained_path: optional local file of ImageNet ResNet-50 weights (see :func:`load_resnet50_weights`).

    Returns (forward):
        ``[low_level, aspp]``: layer1 output (4b channels, 1/4) and the ASPP output (4b channels, 1/output_stride).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        base_channels: int = 64,
        output_stride: int = 8,
        atrous_layer3: bool = True,
        pretrained_path: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, got {output_stride}.")
        if base_channels < 1:
            raise ValueError(f"base_channels must be positive, got {base_channels}.")
        b = base_channels
        self.backbone = ResNet(
            block="bottleneck",
            layers=[3, 4, 6, 3],
            block_inplanes=[b, 2 * b, 4 * b, 8 * b],
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            conv1_t_size=7,
            conv1_t_stride=2,
            feed_forward=False,
            bias_downsample=False,
        )
        # the classifier pooling is never used
        self.backbone.avgpool = nn.Identity()
        grid = [1, 2, 4]
        if output_stride == 16:
            _set_atrous(self.backbone.layer3, 2, [1] * 6)
            _set_atrous(self.backbone.layer4, 1, [2 * g for g in grid])
            rates = (6, 12, 18)
        elif atrous_layer3:
            _set_atrous(self.backbone.layer3, 1, [2] * 6)
            _set_atrous(self.backbone.layer4, 1, [4 * g for g in grid])
            rates = (12, 24, 36)
        else:
            _set_atrous(self.backbone.layer3, 1, [1] * 6)
            _set_atrous(self.backbone.layer4, 1, [2 * g for g in grid])
            rates = (12, 24, 36)
        if pretrained_path is not None:
            load_resnet50_weights(self.backbone, pretrained_path)
        self.aspp = ASPP(spatial_dims, 32 * b, 4 * b, rates)
        self.out_channels = [4 * b, 4 * b]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        net = self.backbone
        x = net.maxpool(net.act(net.bn1(net.conv1(x))))
        low_level = net.layer1(x)
        x = net.layer4(net.layer3(net.layer2(low_level)))
        return [low_level, self.aspp(x)]


class DeepLabV3PlusDecoder(nn.Module):
    """DeepLabV3+ decoder: 1x1 projection of the low-level features (plain conv with bias, no BN/ReLU, as released),
    linear upsampling (``align_corners=False``) of the ASPP output to 1/4, concatenation, two [3x3 conv, BN, ReLU].

    Args:
        spatial_dims: number of spatial dimensions.
        low_level_channels: channels of the layer1 features (256).
        high_level_channels: channels of the ASPP output (256).
        low_level_projection: width of the low-level projection (48).
        out_channels: output channels (256).

    Returns (forward):
        features with ``out_channels`` channels at the low-level (1/4) size.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        low_level_channels: int = 256,
        high_level_channels: int = 256,
        low_level_projection: int = 48,
        out_channels: int = 256,
    ) -> None:
        super().__init__()
        self.mode = interpolate_mode(spatial_dims)
        self.project_low = Conv[Conv.CONV, spatial_dims](low_level_channels, low_level_projection, kernel_size=1)
        self.fuse = nn.Sequential(
            _conv_norm_act(spatial_dims, low_level_projection + high_level_channels, out_channels, 3),
            _conv_norm_act(spatial_dims, out_channels, out_channels, 3),
        )
        self.out_channels = out_channels

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        """
        Args:
            features: ``[low_level, aspp]`` from :class:`DeepLabV3PlusEncoder`.
        """
        low = self.project_low(features[0])
        high = F.interpolate(features[1], size=low.shape[2:], mode=self.mode, align_corners=False)
        return self.fuse(torch.cat([low, high], dim=1))
