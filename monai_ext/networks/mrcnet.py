# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""MRC-Net: the Multi-scale Refined Context super-resolution network and its recursive (teacher) form.

Structure (32 filters after the head, no normalisation, PReLU activations):

* head: ``ConvPReLU(in->64) -> ResBlock(64) -> ConvPReLU(64->32) -> ResBlock(32)`` gives the shallow feature ``x``;
* recursion ``t = 1..T`` (``T = num_recursions``; 1 for the student, 3 for the recursive teacher), starting from
  ``y_0 = c_0 = 0``: ``h_t, c_t = FeedbackConvLSTMCell(x, y_{t-1}, c_{t-1})``, ``y_t = MRC(h_t) + h_t``,
  ``SR_t = tail(upsampler(y_t)) + interpolate(I_LR)``;
* MRC module: a local path at full resolution and a global path at 1/2 resolution (one stride-2 ConvPReLU),
  ``num_stages`` fusion stages of ``num_blocks`` residual blocks per path, cross-path Refined Context Fusion and
  LeakyReLU(0.1); the last stage returns the local path only;
* upsampler: sub-pixel convolution stages (one for x2, two for x4) and a reconstruction tail, plus a bicubic
  global skip.

The student and the teacher are the same class with different ``num_recursions``, so their state dicts share
every key and a teacher checkpoint loads strictly into the student.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-A.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.blocks import SubpixelUpsample
from torch import nn

from .convlstm import FeedbackConvLSTMCell
from .mrc_blocks import ConvPReLU, PReLUResidualBlock
from .rcf import RefinedContextFusion
from ..utils.deprecation import renamed_argument

__all__ = ["MRCHead", "MRCFusionStage", "MRCModule", "MRCUpsampler", "MRCNet", "MRC_OUTPUT_KEYS"]

#: Keys of the dict that :class:`MRCNet` returns with ``return_features=True`` (all from the last recursion step).
MRC_OUTPUT_KEYS = ("sr", "cell_state", "lstm_output", "feat_pre_ps", "feat_post_ps", "sr_steps")


class MRCHead(nn.Sequential):
    """Shallow feature extractor: two groups of ``ConvPReLU`` + PReLU residual block.

    Args:
        in_channels: image channels.
        head_features: channels of the first group.
        features: channels of the output feature.
    """

    def __init__(self, in_channels: int, head_features: int = 64, features: int = 32) -> None:
        super().__init__()
        self.conv1 = ConvPReLU(in_channels, head_features)
        self.block1 = PReLUResidualBlock(head_features)
        self.conv2 = ConvPReLU(head_features, features)
        self.block2 = PReLUResidualBlock(features)


class MRCFusionStage(nn.Module):
    """One MRC fusion stage: residual blocks on both paths, then cross-path RCF fusion and LeakyReLU(0.1).

    Args:
        features: channels of both paths.
        num_blocks: residual blocks per path.
        is_final: the final stage returns the fused local path and the (unfused) global path, and has no
            local-to-global convolution.
        rcf_reduction: channel reduction inside RCF.
        rcf_released_behaviour: see :class:`RefinedContextFusion`.
        keep_global_rcf: only for the final stage: build ``rcf_global`` although its output is never used (the
            released code does, and the published parameter count includes its 2,177 parameters).
    """

    def __init__(
        self,
        features: int,
        num_blocks: int = 4,
        is_final: bool = False,
        rcf_reduction: int = 2,
        rcf_released_behaviour: bool = False,
        keep_global_rcf: bool = True,
    ) -> None:
        super().__init__()
        self.is_final = is_final
        self.local_blocks = nn.Sequential(*[PReLUResidualBlock(features) for _ in range(num_blocks)])
        self.global_blocks = nn.Sequential(*[PReLUResidualBlock(features) for _ in range(num_blocks)])
        self.global_to_local = nn.Conv2d(features, features, kernel_size=1)
        self.local_to_global = None if is_final else nn.Conv2d(features, features, 3, stride=2, padding=1)
        self.rcf_local = RefinedContextFusion(features, rcf_reduction, rcf_released_behaviour)
        self.rcf_global = (
            RefinedContextFusion(features, rcf_reduction, rcf_released_behaviour)
            if (keep_global_rcf or not is_final)
            else None
        )
        self.act = nn.LeakyReLU(0.1)

    def forward(self, local: torch.Tensor, glob: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            local: (B, C, H, W) local-path feature.
            glob: (B, C, ceil(H/2), ceil(W/2)) global-path feature.

        Returns:
            ``(local, global)`` after the stage; for the final stage the global feature is not fused.
        """
        local = self.local_blocks(local)
        glob = self.global_blocks(glob)
        up = F.interpolate(self.global_to_local(glob), size=local.shape[2:], mode="nearest")
        fused_local = self.act(self.rcf_local(local, up))
        if self.local_to_global is None or self.rcf_global is None:
            return fused_local, glob
        fused_global = self.act(self.rcf_global(glob, self.local_to_global(local)))
        return fused_local, fused_global


class MRCModule(nn.Module):
    """Multi-scale Refined Context module: local path at full and global path at 1/2 resolution.

    Args:
        features: channels of both paths.
        num_stages: number of fusion stages (3 reproduces the published 0.78 M parameters).
        num_blocks: residual blocks per path and stage.
        rcf_reduction: channel reduction inside RCF.
        rcf_released_behaviour: see :class:`RefinedContextFusion`.
        keep_final_global_rcf: see ``keep_global_rcf`` of :class:`MRCFusionStage`.
    """

    def __init__(
        self,
        features: int = 32,
        num_stages: int = 3,
        num_blocks: int = 4,
        rcf_reduction: int = 2,
        rcf_released_behaviour: bool = False,
        keep_final_global_rcf: bool = True,
    ) -> None:
        super().__init__()
        if num_stages < 1:
            raise ValueError(f"MRCModule: num_stages must be >= 1, got {num_stages}.")
        self.to_global = ConvPReLU(features, features, kernel_size=3, stride=2)
        self.stages = nn.ModuleList(
            [
                MRCFusionStage(
                    features,
                    num_blocks,
                    is_final=i == num_stages - 1,
                    rcf_reduction=rcf_reduction,
                    rcf_released_behaviour=rcf_released_behaviour,
                    keep_global_rcf=keep_final_global_rcf,
                )
                for i in range(num_stages)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local, glob = x, self.to_global(x)
        for stage in self.stages:
            local, glob = stage(local, glob)
        return local


class MRCUpsampler(nn.Module):
    """Sub-pixel upsampler: ``PS x2 -> ConvPReLU -> ResBlock -> ConvPReLU [-> PS x2]`` for x2 [x4].

    The sub-pixel stages are MONAI ``SubpixelUpsample`` (3x3 conv to ``4C`` channels + pixel shuffle, without the
    pad-pool blur).

    Args:
        features: channels in and out.
        scale_factor: 2 or 4.
    """

    def __init__(self, features: int = 32, scale_factor: int = 4) -> None:
        super().__init__()
        if scale_factor not in (2, 4):
            raise ValueError(f"MRCUpsampler: scale_factor must be 2 or 4, got {scale_factor}.")
        self.shuffle1 = SubpixelUpsample(2, features, features, scale_factor=2, apply_pad_pool=False)
        self.refine = nn.Sequential(
            ConvPReLU(features, features), PReLUResidualBlock(features), ConvPReLU(features, features)
        )
        self.shuffle2 = (
            SubpixelUpsample(2, features, features, scale_factor=2, apply_pad_pool=False)
            if scale_factor == 4
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle2(self.refine(self.shuffle1(x)))


class MRCNet(nn.Module):
    """MRC-Net super-resolution network (student with ``num_recursions=1``, recursive teacher with 3).

    Args:
        in_channels: image channels.
        out_channels: SR image channels; must equal ``in_channels`` (global interpolation skip).
        scale_factor: 2 or 4. The released code is x4 only; x2 drops the second sub-pixel stage.
        upscale_factor: deprecated name of ``scale_factor`` (kept for one release, with a ``FutureWarning``).
        num_recursions: recursion steps ``T`` of the feedback ConvLSTM (1 = student, 3 = teacher).
        features: channels after the head (32 in the paper).
        head_features: channels of the first head group (64).
        num_stages: MRC fusion stages (3).
        num_blocks: residual blocks per path and MRC stage (4).
        rcf_reduction: channel reduction inside RCF (2).
        interp_mode: mode of the global interpolation skip (``"bicubic"``, as the authors' training script uses).
        rcf_released_behaviour: reproduce the released RCF bug (context term discarded, so the whole global path,
            all fusion convolutions and context transforms get no gradient). Defaults to False (paper).
        keep_final_global_rcf: build the unused global-path RCF of the last stage, as the released code does
            (2,177 parameters, never executed; counted in the published 0.78 M). Set False to drop it, e.g. for
            DistributedDataParallel without ``find_unused_parameters``.

    Forward returns, with ``return_features=True`` (default in training mode), a dict with keys ``sr``
    (B, out, rH, rW) and, from the last recursion step, ``cell_state`` and ``lstm_output`` (B, features, H, W),
    ``feat_pre_ps`` (the MRC output ``y = MRC(h) + h``, B, features, H, W), ``feat_post_ps`` (the upsampled feature
    entering the reconstruction tail, B, features, rH, rW), and ``sr_steps`` (tuple of the SR images of every
    step, the last being ``sr``). With ``return_features=False`` (default in eval mode) it returns the SR tensor only.
    """

    @renamed_argument("upscale_factor", "scale_factor")
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale_factor: int = 4,
        num_recursions: int = 1,
        features: int = 32,
        head_features: int = 64,
        num_stages: int = 3,
        num_blocks: int = 4,
        rcf_reduction: int = 2,
        interp_mode: str = "bicubic",
        rcf_released_behaviour: bool = False,
        keep_final_global_rcf: bool = True,
        upscale_factor: int | None = None,
    ) -> None:
        super().__init__()
        if out_channels != in_channels:
            raise ValueError(
                f"MRCNet: out_channels ({out_channels}) must equal in_channels ({in_channels}) for the global skip."
            )
        if num_recursions < 1:
            raise ValueError(f"MRCNet: num_recursions must be >= 1, got {num_recursions}.")
        if scale_factor not in (2, 4):
            raise ValueError(f"MRCNet: scale_factor must be 2 or 4, got {scale_factor}.")
        self.scale_factor = scale_factor
        self.num_recursions = num_recursions
        self.interp_mode = interp_mode
        self.head = MRCHead(in_channels, head_features, features)
        self.lstm = FeedbackConvLSTMCell(features)
        self.mrc = MRCModule(
            features, num_stages, num_blocks, rcf_reduction, rcf_released_behaviour, keep_final_global_rcf
        )
        self.upsampler = MRCUpsampler(features, scale_factor)
        self.tail = nn.Sequential(
            ConvPReLU(features, features, kernel_size=3),
            ConvPReLU(features, features, kernel_size=1),
            nn.Conv2d(features, out_channels, 3, padding=1),
        )

    def upsample_input(self, x: torch.Tensor) -> torch.Tensor:
        """The global skip: ``x`` interpolated by ``scale_factor``."""
        align: bool | None = None
        if self.interp_mode in ("linear", "bilinear", "bicubic", "trilinear"):
            align = False
        return F.interpolate(x, scale_factor=float(self.scale_factor), mode=self.interp_mode, align_corners=align)

    def forward(self, x: torch.Tensor, return_features: bool | None = None) -> torch.Tensor | dict[str, Any]:
        """Super-resolve ``x``.

        Args:
            x: low-resolution image (B, in_channels, H, W).
            return_features: return the dict of intermediate features (see class docstring). Defaults to
                ``self.training``, so eval mode, inferers and export see the SR tensor only.

        Returns:
            The SR image (B, out_channels, rH, rW), or the feature dict.
        """
        if return_features is None:
            return_features = self.training
        skip = self.upsample_input(x)
        shallow = self.head(x)
        y = torch.zeros_like(shallow)
        c = torch.zeros_like(shallow)
        sr_steps = []
        for _ in range(self.num_recursions):
            h, c = self.lstm(shallow, y, c)
            y = self.mrc(h) + h
            up = self.upsampler(y)
            sr_steps.append(self.tail(up) + skip)
        if return_features and not torch.jit.is_scripting():  # scripted (exported) networks return the SR only
            return {
                "sr": sr_steps[-1],
                "cell_state": c,
                "lstm_output": h,
                "feat_pre_ps": y,
                "feat_post_ps": up,
                "sr_steps": tuple(sr_steps),
            }
        return sr_steps[-1]
