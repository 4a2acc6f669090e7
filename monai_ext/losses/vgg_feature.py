# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""VGG16 feature (perceptual content) loss at ``relu4_1``, with the VGG16 feature stack defined in plain torch.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015; used as the
content term of SRGAN (Ledig et al., CVPR 2017) and of Mahapatra et al., MICCAI 2017 (arXiv:1710.04783), which take
the ``relu4_1`` features of VGG16. The layer indices equal those of ``torchvision.models.vgg16().features``, so a
torchvision state dict (keys ``features.N.weight`` / ``features.N.bias``) loads directly; torchvision itself is not
needed. Nothing is downloaded: pretrained weights come from a local file only.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

from .reduction import validate_reduction

__all__ = ["VGG16Features", "VGGFeatureLoss", "VGG16_LAYER_NAMES", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, widths in enumerate(_VGG16_BLOCKS, start=1):
        for conv in range(1, len(widths) + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return tuple(names)


VGG16_LAYER_NAMES = _layer_names()  # index i is torchvision's vgg16().features[i]


class VGG16Features(nn.Module):
    """The VGG16 convolutional feature stack up to and including ``layer``.

    Args:
        layer: last layer kept, one of :data:`VGG16_LAYER_NAMES` (``"relu4_1"`` = torchvision ``features[:19]``).

    Raises:
        ValueError: for an unknown layer name.
    """

    def __init__(self, layer: str = "relu4_1") -> None:
        super().__init__()
        if layer not in VGG16_LAYER_NAMES:
            raise ValueError(f"layer must be one of {VGG16_LAYER_NAMES}, got {layer!r}.")
        modules: list[nn.Module] = []
        in_channels = 3
        for widths in _VGG16_BLOCKS:
            for width in widths:
                modules += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_channels = width
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer = layer
        self.features = nn.Sequential(*modules[: VGG16_LAYER_NAMES.index(layer) + 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load VGG16 weights from a local state dict file (torchvision key names, or a features-only dict).

        Keys beyond ``layer`` and the classifier are ignored. Loading uses ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: when the file does not exist.
            ValueError: when the file holds no state dict or lacks weights of the kept layers.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"VGG16 weights file not found: '{path}'.")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"'{path}' does not hold a VGG16 state dict (a mapping of names to tensors).")
        state = {k.removeprefix("module."): v for k, v in state.items()}
        if not any(k.startswith("features.") for k in state):
            state = {f"features.{k}": v for k, v in state.items()}
        own = self.state_dict()
        selected = OrderedDict((k, v) for k, v in state.items() if k in own)
        missing = sorted(set(own) - set(selected), key=lambda k: int(k.split(".")[1]))
        if missing:
            raise ValueError(f"VGG16 weights file '{path}' lacks {missing} (needed up to layer {self.layer}).")
        for key, value in selected.items():
            if value.shape != own[key].shape:
                raise ValueError(
                    f"VGG16 weights file '{path}': '{key}' has shape {tuple(value.shape)}, "
                    f"expected {tuple(own[key].shape)}."
                )
        self.load_state_dict(selected, strict=True)


class VGGFeatureLoss(_Loss):
    """MSE (or L1) between VGG16 ``relu4_1`` features of the super-resolved and the HR image.

    Inputs are mapped from ``input_range`` to [0, 1] and normalised with the ImageNet mean and std (as the VGG16
    weights expect); single-channel inputs are repeated to 3 channels. The VGG16 parameters are frozen and the
    stack stays in eval mode. Without pretrained weights the term is meaningless, so building it without
    ``weights_path`` is an error unless ``allow_random_weights=True`` (used by tests).

    Args:
        weights_path: local file with VGG16 weights (a torchvision ``vgg16`` state dict works as is).
        layer: VGG16 layer whose output is compared (default ``"relu4_1"``, as in the paper).
        input_range: ``(low, high)`` of the image normalisation, e.g. ``(-1, 1)``.
        criterion: ``"mse"`` (default) or ``"l1"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the per-element feature differences).
        allow_random_weights: build the loss with randomly initialised VGG16 weights.

    Raises:
        ValueError: for missing weights without ``allow_random_weights``, an unknown criterion or reduction, or an
            invalid ``input_range``.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        layer: str = "relu4_1",
        input_range: Sequence[float] = (0.0, 1.0),
        criterion: str = "mse",
        reduction: str = "mean",
        allow_random_weights: bool = False,
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "VGGFeatureLoss"))
        if criterion not in ("mse", "l1"):
            raise ValueError(f"criterion must be 'mse' or 'l1', got {criterion!r}.")
        low, high = float(input_range[0]), float(input_range[1])
        if not high > low:
            raise ValueError(f"input_range must be (low, high) with high > low, got {tuple(input_range)}.")
        if weights_path is None and not allow_random_weights:
            raise ValueError(
                "VGGFeatureLoss needs pretrained VGG16 weights: pass weights_path (a local state dict file, e.g. "
                "torchvision's vgg16 weights), switch the VGG term off, or set allow_random_weights=True."
            )
        self.criterion = criterion
        self.input_range = (low, high)
        self.vgg = VGG16Features(layer)
        if weights_path is not None:
            self.vgg.load_weights(weights_path)
        self.vgg.eval()
        self.vgg.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> VGGFeatureLoss:
        super().train(mode)
        self.vgg.eval()  # the feature extractor is a fixed metric
        return self

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"VGGFeatureLoss expects (N, 1 or 3, H, W) images, got {tuple(x.shape)}.")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        low, high = self.input_range
        x = ((x - low) / (high - low) - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.vgg(x)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: super-resolved batch (N, C, H, W), C = 1 or 3, in ``input_range``.
            target: high-resolution batch of the same shape.

        Returns:
            the reduced feature distance (or the per-element differences for ``reduction="none"``).

        Raises:
            ValueError: when the shapes differ or are not (N, 1 or 3, H, W).
        """
        if input.shape != target.shape:
            raise ValueError(f"input and target shapes differ: {tuple(input.shape)} vs {tuple(target.shape)}.")
        with torch.no_grad():
            target_features = self._features(target.detach())
        input_features = self._features(input)
        if self.criterion == "mse":
            return F.mse_loss(input_features, target_features, reduction=self.reduction)
        return F.l1_loss(input_features, target_features, reduction=self.reduction)
