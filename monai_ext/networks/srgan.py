# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""SRGAN generator and discriminator with x2 stages cascaded to x4/x8/x16.

Mahapatra, Bozorgtabar, Hewavitharanage, Garnavi, "Image Super Resolution Using Generative Adversarial Networks and
Local Saliency Maps for Retinal Image Analysis", MICCAI 2017 (arXiv:1710.04783), built on SRGAN (Ledig et al.,
"Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network", CVPR 2017).

* :class:`SRGenerator`: a stem conv, one :class:`SRUpStage` per factor 2 (residual blocks
  ``[conv3x3, BN, ReLU, conv3x3, BN] + identity``, a conv-BN, a long skip, then a sub-pixel x2 up-stage) and an
  output conv; x4/x8/x16 cascade 2/3/4 stages inside one network.
* :class:`CascadedSRGenerator`: the literal cascade of separately trained x2 generators, stage k trained on the
  outputs of stages 1..k-1 (trained by :class:`monai_ext.engines.SRChainTrainer`).
* :class:`SRDiscriminator`: 8 conv layers 64->512 (strides 1, 2, 1, 2, ...), BN except the first, LeakyReLU(0.2),
  adaptive average pooling (so any input size works), two dense layers, one logit per image.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.blocks import SubpixelUpsample
from monai.networks.layers.factories import Conv, Norm, Pool

from ..utils.checkpoint_io import safe_load_checkpoint
from ..utils.deprecation import renamed_argument

__all__ = ["SRResidualBlock", "SRUpStage", "SRGenerator", "CascadedSRGenerator", "SRDiscriminator"]

UPSAMPLE_MODES = ("pixelshuffle", "deconv")
GLOBAL_SKIPS = (None, "bicubic")


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "prelu":
        return nn.PReLU()
    raise ValueError(f"act must be 'relu' or 'prelu', got {name!r}.")


def _num_stages(scale_factor: int) -> int:
    stages = round(math.log2(scale_factor)) if scale_factor >= 2 else 0
    if scale_factor < 2 or 2**stages != scale_factor:
        raise ValueError(f"scale_factor must be a power of two >= 2 (2, 4, 8, 16), got {scale_factor}.")
    return stages


class SRResidualBlock(nn.Module):
    """``x + BN(conv3x3(act(BN(conv3x3(x)))))``; the convs have no bias (BN follows them).

    Args:
        spatial_dims: number of spatial dimensions.
        channels: feature maps (paper: 64).
        act: ``"relu"`` (paper) or ``"prelu"`` (SRGAN).
    """

    def __init__(self, spatial_dims: int, channels: int, act: str = "relu") -> None:
        super().__init__()
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.BATCH, spatial_dims]
        self.block = nn.Sequential(
            conv(channels, channels, kernel_size=3, padding=1, bias=False),
            norm(channels),
            _activation(act),
            conv(channels, channels, kernel_size=3, padding=1, bias=False),
            norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SRUpStage(nn.Module):
    """One x2 stage: optional residual body with a long skip, then a x2 up-sampling layer and activation.

    Args:
        spatial_dims: number of spatial dimensions.
        channels: feature maps.
        num_res_blocks: residual blocks of the body; 0 gives an up-sampling-only stage.
        act: activation of the blocks and after the up-sampling.
        upsample: ``"pixelshuffle"`` (sub-pixel conv, MONAI ``SubpixelUpsample`` without its pad-pool blur; paper and
            SRGAN) or ``"deconv"`` (transposed conv 3x3 stride 2, the co-author TensorFlow code).
    """

    def __init__(
        self, spatial_dims: int, channels: int, num_res_blocks: int, act: str = "relu", upsample: str = "pixelshuffle"
    ) -> None:
        super().__init__()
        if num_res_blocks < 0:
            raise ValueError(f"num_res_blocks must be non-negative, got {num_res_blocks}.")
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.BATCH, spatial_dims]
        self.body: nn.Module | None = None
        if num_res_blocks > 0:
            self.body = nn.Sequential(
                *[SRResidualBlock(spatial_dims, channels, act) for _ in range(num_res_blocks)],
                conv(channels, channels, kernel_size=3, padding=1, bias=False),
                norm(channels),
            )
        if upsample == "pixelshuffle":
            up: nn.Module = SubpixelUpsample(
                spatial_dims, channels, channels, scale_factor=2, apply_pad_pool=False, bias=True
            )
        elif upsample == "deconv":
            up = Conv[Conv.CONVTRANS, spatial_dims](
                channels, channels, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True
            )
        else:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}.")
        self.upsample = nn.Sequential(up, _activation(act))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.body is not None:
            x = x + self.body(x)  # long skip around the residual blocks
        return self.upsample(x)


class SRGenerator(nn.Module):
    """SRGAN-style generator; factors 4/8/16 cascade 2/3/4 x2 stages in one network.

    ``stem`` (conv + act) -> ``stages`` (one :class:`SRUpStage` per factor 2) -> ``head`` (conv, no activation).

    Args:
        spatial_dims: number of spatial dimensions (2 for fundus images).
        in_channels: channels of the low-resolution input.
        out_channels: channels of the super-resolved output.
        scale_factor: 2, 4, 8 or 16.
        features: feature maps of every layer (paper: 64).
        num_res_blocks: residual blocks per x2 stage (default 16, as SRGAN; the co-author code uses 4).
        residual_per_stage: ``True`` (default) gives every x2 stage its own residual body and long skip at its input
            resolution (a cascade of complete x2 networks); ``False`` keeps one residual body at the LR resolution
            followed by up-sampling-only stages (SRGAN / co-author code layout, much cheaper at x8/x16).
        act: ``"relu"`` (paper) or ``"prelu"`` (SRGAN).
        upsample: ``"pixelshuffle"`` (paper) or ``"deconv"`` (co-author code).
        stem_kernel_size: kernel of the first conv (paper 3; SRGAN 9).
        head_kernel_size: kernel of the output conv (paper 3; SRGAN 9).
        global_skip: ``None`` (paper, SRGAN: the network outputs the SR image) or ``"bicubic"``: the network
            predicts the residual over bicubic upsampling of its input (``F.interpolate(..., mode="bicubic",
            align_corners=False)``; linear / trilinear for 1D / 3D), as MRC-Net and VDSR. A short training schedule
            needs it to reach bicubic quality at all. Needs ``in_channels == out_channels``.
        num_channels: deprecated name of ``features`` (kept for one release, with a ``FutureWarning``).
        zero_init_last: zero the weights and bias of the output conv (``head``) at construction. With
            ``global_skip="bicubic"`` the untrained generator then returns exactly the bicubic upsampling of its input,
            so training starts from the bicubic baseline instead of adding a large random residual to it (the
            bundle's default; ``False``, the paper / SRGAN, keeps PyTorch's default initialisation).

    Raises:
        ValueError: for a scale factor that is not a power of two or invalid options.
    """

    @renamed_argument("num_channels", "features")
    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        out_channels: int = 3,
        scale_factor: int = 4,
        features: int = 64,
        num_res_blocks: int = 16,
        residual_per_stage: bool = True,
        act: str = "relu",
        upsample: str = "pixelshuffle",
        stem_kernel_size: int = 3,
        head_kernel_size: int = 3,
        global_skip: str | None = None,
        zero_init_last: bool = False,
        num_channels: int | None = None,
    ) -> None:
        super().__init__()
        num_stages = _num_stages(scale_factor)
        if stem_kernel_size % 2 == 0 or head_kernel_size % 2 == 0:
            raise ValueError(f"kernel sizes must be odd, got {stem_kernel_size} and {head_kernel_size}.")
        if global_skip not in GLOBAL_SKIPS:
            raise ValueError(f"global_skip must be one of {GLOBAL_SKIPS}, got {global_skip!r}.")
        if global_skip is not None and in_channels != out_channels:
            raise ValueError(
                f"global_skip={global_skip!r} adds the upsampled input to the output, so in_channels ({in_channels}) "
                f"must equal out_channels ({out_channels})."
            )
        conv = Conv[Conv.CONV, spatial_dims]
        self.scale_factor = scale_factor
        self.global_skip = global_skip
        self._skip_mode = {1: "linear", 2: "bicubic", 3: "trilinear"}[spatial_dims]  # bicubic exists in 2D only
        self.stem = nn.Sequential(
            conv(in_channels, features, kernel_size=stem_kernel_size, padding=stem_kernel_size // 2),
            _activation(act),
        )
        self.stages = nn.ModuleList(
            SRUpStage(
                spatial_dims,
                features,
                num_res_blocks if (residual_per_stage or k == 0) else 0,
                act=act,
                upsample=upsample,
            )
            for k in range(num_stages)
        )
        self.head = conv(features, out_channels, kernel_size=head_kernel_size, padding=head_kernel_size // 2)
        if zero_init_last:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stem(x)
        for stage in self.stages:
            out = stage(out)
        out = self.head(out)
        if self.global_skip is not None:
            scale = float(self.scale_factor)
            out = out + F.interpolate(x, scale_factor=scale, mode=self._skip_mode, align_corners=False)
        return out


class CascadedSRGenerator(nn.Module):
    """A chain of separately trained x2 generators: the literal cascade of Mahapatra et al. (MICCAI 2017).

    For a total factor ``R = 2**K``, stage k (1-based) is an x2 generator trained on the outputs of the frozen stages
    1..k-1 applied to the LR image ``HR / R``, with the HR image Gaussian-downsampled by ``2**(K-k)`` as its target
    (:class:`monai_ext.engines.SRChainTrainer`). At inference the stages run one after another; ``forward`` is
    TorchScript-compatible.

    Args:
        num_stages: number of x2 stages (x4 = 2, x8 = 3, x16 = 4).
        stages: ready x2 generators (e.g. trained :class:`SRGenerator` with ``scale_factor=2``).
        scale_factor: total factor ``2**num_stages``, an alternative to ``num_stages`` (so that the class can be built
            like :class:`SRGenerator`, e.g. ``generator_def(scale_factor=8)``).
        stage_checkpoints: one checkpoint file per stage, loaded with :meth:`load_stage` after construction.
        checkpoint_key: entry (or entries, the first present wins) of a checkpoint dict holding a stage's state dict.
        generator_kwargs: arguments of the :class:`SRGenerator` built for each stage (``scale_factor`` is 2).

    Raises:
        ValueError: when none of ``num_stages``, ``scale_factor`` and ``stages`` is given, when they disagree, or when
            the number of ``stage_checkpoints`` differs from the number of stages.
    """

    def __init__(
        self,
        num_stages: int | None = None,
        stages: Sequence[nn.Module] | None = None,
        scale_factor: int | None = None,
        stage_checkpoints: Sequence[str | os.PathLike] | None = None,
        checkpoint_key: str | Sequence[str] | None = ("generator", "model"),
        **generator_kwargs,
    ) -> None:
        super().__init__()
        if num_stages is None and stages is None and scale_factor is None:
            raise ValueError("give one of num_stages, scale_factor and stages.")
        if num_stages is not None and stages is not None:
            raise ValueError("give exactly one of num_stages and stages.")
        if scale_factor is not None:
            from_factor = _num_stages(int(scale_factor))
            count = num_stages if stages is None else len(stages)
            if count is not None and count != from_factor:
                raise ValueError(f"scale_factor {scale_factor} needs {from_factor} x2 stages, got {count}.")
            num_stages = from_factor if stages is None else None
        if stages is None:
            if num_stages is None or num_stages < 1:
                raise ValueError(f"num_stages must be a positive integer, got {num_stages}.")
            generator_kwargs = {**generator_kwargs, "scale_factor": 2}
            stages = [SRGenerator(**generator_kwargs) for _ in range(num_stages)]
        self.stages = nn.ModuleList(stages)
        self.num_stages = len(self.stages)
        self.scale_factor = 2**self.num_stages
        if stage_checkpoints is not None:
            if len(stage_checkpoints) != self.num_stages:
                raise ValueError(
                    f"got {len(stage_checkpoints)} stage checkpoints for a chain of {self.num_stages} stages."
                )
            for index, path in enumerate(stage_checkpoints):
                self.load_stage(index, path, key=checkpoint_key)

    def forward(self, x: torch.Tensor, num_stages: Optional[int] = None) -> torch.Tensor:  # noqa: UP007 TorchScript
        """Super-resolve with the first ``num_stages`` stages (default all): output is ``2**num_stages`` larger."""
        count = self.num_stages if num_stages is None else num_stages
        if count < 0 or count > self.num_stages:
            raise ValueError(f"num_stages must be in [0, {self.num_stages}], got {count}.")
        for index, stage in enumerate(self.stages):
            if index < count:
                x = stage(x)
        return x

    def freeze_stages(self, count: int) -> None:
        """Freeze (no gradient, eval mode) the first ``count`` stages, e.g. while training stage ``count + 1``."""
        for k, stage in enumerate(self.stages):
            frozen = k < count
            stage.requires_grad_(not frozen)
            stage.train(self.training and not frozen)

    def load_stage(
        self, index: int, path: str | os.PathLike, key: str | Sequence[str] | None = ("generator", "model")
    ) -> None:
        """Load stage ``index`` from a local checkpoint (``monai_ext.utils.safe_load_checkpoint``: tensors only).

        Args:
            index: stage index (0-based).
            path: checkpoint file: a state dict, or a dict holding it under ``key`` (as MONAI's ``CheckpointSaver``
                writes ``{"model": state_dict, ...}``).
            key: entry (or entries, the first present wins) of the checkpoint dict holding the state dict; a
                checkpoint without any of them is taken as the state dict itself.

        Raises:
            FileNotFoundError: when the file does not exist.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"cascade stage {index} checkpoint not found: '{path}'.")
        state = safe_load_checkpoint(path, map_location="cpu")
        keys = () if key is None else (key,) if isinstance(key, str) else tuple(key)
        for name in keys:
            if isinstance(state, dict) and isinstance(state.get(name), dict):
                state = state[name]
                break
        self.stages[index].load_state_dict(state)


class SRDiscriminator(nn.Module):
    """SRGAN discriminator for any input size; returns logits (the sigmoid lives in the loss).

    ``features``: 8 conv3x3 layers with ``base_channels * (1, 1, 2, 2, 4, 4, 8, 8)`` maps and strides
    ``1, 2, 1, 2, 1, 2, 1, 2``, BN on all but the first, LeakyReLU after each; ``pool``: adaptive average pooling to
    ``pooled_size`` (identity for 96x96 inputs with the default 6, so the network equals SRGAN's there);
    ``classifier``: ``Linear(8 * base_channels * pooled_size^d -> hidden_features)``, LeakyReLU, ``Linear(-> 1)``.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: image channels.
        base_channels: maps of the first conv (64), doubled every second layer.
        num_channels: deprecated name of ``base_channels`` (kept for one release, with a ``FutureWarning``).
        pooled_size: spatial size after adaptive pooling.
        hidden_features: width of the first dense layer (1024).
        negative_slope: LeakyReLU slope (paper / SRGAN 0.2; the co-author code 0.01).
    """

    @renamed_argument("num_channels", "base_channels")
    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        base_channels: int = 64,
        pooled_size: int = 6,
        hidden_features: int = 1024,
        negative_slope: float = 0.2,
        num_channels: int | None = None,
    ) -> None:
        super().__init__()
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.BATCH, spatial_dims]
        widths = [base_channels * m for m in (1, 1, 2, 2, 4, 4, 8, 8)]
        layers: list[nn.Module] = []
        channels = in_channels
        for k, width in enumerate(widths):
            stride = 1 if k % 2 == 0 else 2
            if k == 0:
                layers += [conv(channels, width, kernel_size=3, stride=stride, padding=1, bias=True)]
            else:
                layers += [conv(channels, width, kernel_size=3, stride=stride, padding=1, bias=False), norm(width)]
            layers.append(nn.LeakyReLU(negative_slope, inplace=True))
            channels = width
        self.features = nn.Sequential(*layers)
        self.pool = Pool[Pool.ADAPTIVEAVG, spatial_dims](pooled_size)
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(channels * pooled_size**spatial_dims, hidden_features),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Linear(hidden_features, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return one logit per image, shape (N, 1)."""
        return self.classifier(self.pool(self.features(x)))
