# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dual-stream segmentation + super-resolution framework of DS2F, SS-MAF and SuperVessel.

One shape covers every ablation row of the papers (U-Net, U-Net+Interp, +SR, +SR+fusion):

* a shared encoder (U-Net or DeepLabV3+) fed with the low-resolution (LR) image;
* a segmentation decoder and :class:`~monai_ext.networks.heads.SegmentationHead`, whose logits are linearly resized to
  the high-resolution (HR) size ``input size x scale_factor``;
* an SR decoder (a full copy of the segmentation decoder fed by the same bottleneck and skips, the authors'
  ``sr_layer=5``) and :class:`~monai_ext.networks.heads.ESPCNHead` at LR resolution (pixel shuffle to HR);
* a fusion module: MSCG (DS2F) or MAF (SS-MAF) between the two decoders' last features, whose re-weighted features
  go through the *same* two heads (shared weights), or FIM (SuperVessel) on the outputs (SR image, HR logits).

In training mode the network returns a dict with ``seg`` and, where they exist, ``sr``, ``fused_seg``,
``fused_sr``. In eval mode it returns only the HR ``seg`` logits; the SR stream and the fusion module are not run,
so inference costs what the plain segmentation network costs, and TorchScript / ONNX export, inferers and MONAI Label
see an ordinary single-output network.

``checkpoint_training_branch=True`` trades compute for training memory: the training-only part (SR decoder, ESPCN
head, fusion module and the fused passes through the heads) keeps no activations for backward and is recomputed,
piece by piece, during the backward pass (``torch.utils.checkpoint``, non-reentrant). Outputs, gradients and the
BatchNorm running statistics are the same as without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, Dict, List, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from monai_ext.networks.deeplab import DeepLabV3PlusDecoder, DeepLabV3PlusEncoder
from monai_ext.networks.fim import FIM
from monai_ext.networks.heads import ESPCNHead, SegmentationHead, interpolate_mode
from monai_ext.networks.maf import MAF
from monai_ext.networks.mscg import MSCG
from monai_ext.networks.unet import UNetDecoder, UNetEncoder
from monai_ext.utils.deprecation import renamed_argument

__all__ = ["DualStreamNet", "BaselineUNet"]

_BACKBONES = ("unet", "deeplabv3plus")
_FUSIONS = ("none", "mscg", "maf", "fim")


class DualStreamNet(nn.Module):
    """Dual-stream segmentation network with an auxiliary super-resolution stream.

    Configurations of the papers (U-Net backbone, LR input, binary task)::

        DualStreamNet(scale_factor=1, super_resolution=False)          # U-Net baseline (28.950 M parameters)
        DualStreamNet(scale_factor=2, super_resolution=False)          # U-Net+Interp: logits bilinearly x2
        DualStreamNet(scale_factor=2)                                  # +SR, no fusion (39.176 M)
        DualStreamNet(scale_factor=2, fusion="mscg")                   # DS2F (39.195 M)
        DualStreamNet(scale_factor=2, fusion="maf")                    # SS-MAF (39.187 M)
        DualStreamNet(scale_factor=2, fusion="fim")                    # SuperVessel (39.177 M)
        DualStreamNet(backbone="deeplabv3plus", scale_factor=2, fusion="mscg")   # DS2F-DeepLabV3+

    Args:
        spatial_dims: number of spatial dimensions (2 for the papers; 3 works with the same blocks).
        in_channels: number of input image channels.
        out_channels: number of classes (logit channels; binary tasks use 2).
        backbone: ``"unet"`` or ``"deeplabv3plus"`` (ResNet-50).
        fusion: ``"none"``, ``"mscg"`` (DS2F), ``"maf"`` (SS-MAF) or ``"fim"`` (SuperVessel); needs
            ``super_resolution=True`` unless ``"none"``.
        scale_factor: integer factor r between the input and the output (HR) size.
        upscale_rate: deprecated name of ``scale_factor`` (kept for one release, with a ``FutureWarning``).
        super_resolution: whether the SR stream exists (training only).
        base_channels: U-Net width b (64), or the ResNet stem width (64 = ResNet-50; smaller values give small CPU
            variants with every DeepLab width scaled by b / 64).
        sr_channels: channels of the SR image (3).
        dropout: dropout probability on the features before the segmentation head (0 disables it); accepted so MONAI
            Label can pass it.
        fusion_hidden_channels: width of the MSCG / MAF fused representation (32); FIM uses 8.
        mscg_attention: MRCAB attention, ``"pixel"`` (default: the paper's "w/o gpool" and the released HEAD
            code) or ``"channel"`` (global pooling: the paper's "w/ gpool" ablation, the 2022 code).
        fim_residual: FIM re-weighting ``att * seg + seg`` (``True``, HEAD code, default) or ``att * seg`` (2022 code).
        use_fused_seg: DeepLabV3+ only. ``True`` (default) sends the fused segmentation features through the head;
            ``False`` reproduces the released code, which discards them (``fused_seg`` then equals ``seg`` and the
            fusion module's segmentation side gets no gradient). The U-Net always uses them.
        output_stride: DeepLabV3+ output stride, 8 (the paper's scripts) or 16.
        atrous_layer3: DeepLabV3+ at output stride 8: ``True`` (default) dilates layer3 (standard DeepLab);
            ``False`` keeps it undilated as released.
        pretrained_backbone: optional local file of ImageNet ResNet-50 weights (DeepLabV3+ only); never downloaded.
        checkpoint_training_branch: recompute the training-only SR stream and fusion in backward instead of storing
            their activations (activation checkpointing, not in the papers; default ``False``). The segments are
            each SR decoder stage (the whole decoder for DeepLabV3+), the ESPCN head, the fusion module with the
            fused passes through both heads, and FIM, so backward holds one segment's activations at a time. For
            the DS2F U-Net at 876 x 584, batch 2, it halves the activations kept for backward (16.7 -> 8.3 GiB)
            for 17% more training FLOPs. Eager mode only (a TorchScript-compiled network ignores it); forward
            hooks on ``sr_decoder`` itself do not fire (its stages are called one by one).
        foreground_prior: ``None`` (default: PyTorch's initialisation, as in the papers) or the initial probability
            of each foreground class, set through the segmentation head's bias (see
            :class:`~monai_ext.networks.heads.SegmentationHead`); e.g. 0.01 for hard exudates (1.4% of the IDRiD
            training pixels).

    Raises:
        ValueError: for an unknown backbone or fusion, an invalid rate, or a fusion without the SR stream.
    """

    @renamed_argument("upscale_rate", "scale_factor")
    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        out_channels: int = 2,
        backbone: str = "unet",
        fusion: str = "none",
        scale_factor: int = 1,
        super_resolution: bool = True,
        base_channels: int = 64,
        sr_channels: int = 3,
        dropout: float = 0.0,
        fusion_hidden_channels: int = 32,
        mscg_attention: str = "pixel",
        fim_residual: bool = True,
        use_fused_seg: bool = True,
        output_stride: int = 8,
        atrous_layer3: bool = True,
        pretrained_backbone: str | os.PathLike | None = None,
        checkpoint_training_branch: bool = False,
        foreground_prior: float | None = None,
        upscale_rate: int | None = None,
    ) -> None:
        super().__init__()
        if backbone not in _BACKBONES:
            raise ValueError(f"backbone must be one of {_BACKBONES}, got {backbone!r}.")
        if fusion not in _FUSIONS:
            raise ValueError(f"fusion must be one of {_FUSIONS}, got {fusion!r}.")
        if isinstance(scale_factor, bool) or int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"scale_factor must be a positive integer, got {scale_factor!r}.")
        if fusion != "none" and not super_resolution:
            raise ValueError(f"fusion={fusion!r} needs the SR stream; set super_resolution=True or fusion='none'.")
        if pretrained_backbone is not None and backbone != "deeplabv3plus":
            raise ValueError("pretrained_backbone is only supported for backbone='deeplabv3plus'.")
        self.scale_factor = int(scale_factor)
        self.mode = interpolate_mode(spatial_dims)
        self.use_fused_seg = use_fused_seg or backbone == "unet"
        self.checkpoint_training_branch = bool(checkpoint_training_branch)

        # one activation instance for every U-Net conv unit, as in the authors' code (see monai_ext.networks.unet)
        unet_act = nn.ReLU(inplace=True)
        if backbone == "unet":
            self.encoder = UNetEncoder(spatial_dims, in_channels, base_channels, unet_act)
            self.seg_decoder = UNetDecoder(spatial_dims, base_channels, unet_act)
            # the U-Net decoder already ends at the input size; logits are resized only when r > 1
            self.resize_logits = self.scale_factor != 1
            self.resize_sr_features = False
            align_corners = True
        else:
            self.encoder = DeepLabV3PlusEncoder(
                spatial_dims, in_channels, base_channels, output_stride, atrous_layer3, pretrained_backbone
            )
            low, high = self.encoder.out_channels
            self.seg_decoder = DeepLabV3PlusDecoder(spatial_dims, low, high, max(1, 48 * base_channels // 64), high)
            self.resize_logits = True
            self.resize_sr_features = True
            align_corners = False
        features = self.seg_decoder.out_channels
        self.seg_head = SegmentationHead(spatial_dims, features, out_channels, align_corners, dropout, foreground_prior)

        self.sr_decoder = None
        self.sr_head = None
        if super_resolution:
            self.sr_decoder = (
                UNetDecoder(spatial_dims, base_channels, unet_act)
                if backbone == "unet"
                else DeepLabV3PlusDecoder(spatial_dims, low, high, max(1, 48 * base_channels // 64), high)
            )
            self.sr_head = ESPCNHead(spatial_dims, features, sr_channels, self.scale_factor)

        self.feature_fusion = None
        self.output_fusion = None
        if fusion == "mscg":
            self.feature_fusion = MSCG(
                spatial_dims, features, features, fusion_hidden_channels, attention=mscg_attention
            )
        elif fusion == "maf":
            self.feature_fusion = MAF(spatial_dims, features, features, fusion_hidden_channels)
        elif fusion == "fim":
            self.output_fusion = FIM(spatial_dims, sr_channels, out_channels, residual=fim_residual)

    def _segment(self, features: torch.Tensor, hr_size: List[int]) -> torch.Tensor:
        if self.resize_logits:
            return self.seg_head(features, hr_size)
        return self.seg_head(features, None)

    def _super_resolve(self, features: torch.Tensor, lr_size: List[int]) -> torch.Tensor:
        if self.sr_head is None:
            raise RuntimeError("this network has no SR stream")
        if self.resize_sr_features:
            features = F.interpolate(features, size=lr_size, mode=self.mode, align_corners=False)
        return self.sr_head(features)

    def _fuse_features(
        self, sr_features: torch.Tensor, seg_features: torch.Tensor, lr_size: List[int], hr_size: List[int]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """MSCG / MAF, then the fused features through the shared heads: ``(fused_sr, fused_seg)``."""
        feature_fusion = self.feature_fusion
        assert feature_fusion is not None
        fused_sr_features, fused_seg_features = feature_fusion(sr_features, seg_features)
        fused_sr = self._super_resolve(fused_sr_features, lr_size)
        fused_seg = self._segment(fused_seg_features if self.use_fused_seg else seg_features, hr_size)
        return fused_sr, fused_seg

    @contextlib.contextmanager
    def _buffers_kept(self) -> Iterator[None]:
        # A recomputed forward pass must not update the BatchNorm running statistics a second time. The values are
        # restored through `.data` so that the buffers' autograd version counters (BatchNorm saves the running
        # statistics for backward) do not change.
        saved = [b.clone() for b in self.buffers()]
        try:
            yield
        finally:
            for buffer, value in zip(self.buffers(), saved):
                buffer.data.copy_(value)

    def _recompute_contexts(self) -> Tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
        return contextlib.nullcontext(), self._buffers_kept()

    def _recomputed(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``, keeping no activations for backward: they are recomputed when backward needs them."""
        if torch.compiler.is_compiling():
            # torch.compile moves the recomputation into the compiled backward graph, which updates no buffer
            return checkpoint(function, *args, use_reentrant=False)
        return checkpoint(function, *args, use_reentrant=False, context_fn=self._recompute_contexts)

    def _decode_sr_recomputed(self, features: List[torch.Tensor]) -> torch.Tensor:
        decoder = self.sr_decoder
        if isinstance(decoder, UNetDecoder):
            # one segment per stage (wired as in UNetDecoder.forward): backward recomputes a single stage at a time
            x = features[4]
            for stage, skip in zip((decoder.up1, decoder.up2, decoder.up3, decoder.up4), features[3::-1]):
                x = self._recomputed(stage, x, skip)
            return x
        return self._recomputed(decoder, features)

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Dict[str, torch.Tensor]]:
        """
        Args:
            x: LR input (N, in_channels, *spatial), any spatial size.

        Returns:
            eval mode: HR segmentation logits (N, out_channels, *(spatial * scale_factor)).
            train mode: dict with ``seg`` and, where they exist, ``sr`` (N, sr_channels, *(spatial * r)),
            ``fused_seg`` and ``fused_sr`` (MSCG / MAF) or ``fused_seg`` (FIM).
        """
        lr_size: List[int] = list(x.shape[2:])
        hr_size = [s * self.scale_factor for s in lr_size]
        features = self.encoder(x)
        seg_features = self.seg_decoder(features)
        seg = self._segment(seg_features, hr_size)
        if not self.training:
            return seg

        outputs: Dict[str, torch.Tensor] = {"seg": seg}
        sr_decoder = self.sr_decoder
        if sr_decoder is None:
            return outputs
        # the `and not torch.jit.is_scripting()` conditions keep torch.utils.checkpoint out of TorchScript
        if self.checkpoint_training_branch and not torch.jit.is_scripting():
            sr_features = self._decode_sr_recomputed(features)
            sr = self._recomputed(self._super_resolve, sr_features, lr_size)
        else:
            sr_features = sr_decoder(features)
            sr = self._super_resolve(sr_features, lr_size)
        outputs["sr"] = sr
        if self.feature_fusion is not None:
            if self.checkpoint_training_branch and not torch.jit.is_scripting():
                fused_sr, fused_seg = self._recomputed(self._fuse_features, sr_features, seg_features, lr_size, hr_size)
            else:
                fused_sr, fused_seg = self._fuse_features(sr_features, seg_features, lr_size, hr_size)
            outputs["fused_sr"] = fused_sr
            outputs["fused_seg"] = fused_seg
        output_fusion = self.output_fusion
        if output_fusion is not None:
            if self.checkpoint_training_branch and not torch.jit.is_scripting():
                outputs["fused_seg"] = self._recomputed(output_fusion, sr, seg)
            else:
                outputs["fused_seg"] = output_fusion(sr, seg)
        return outputs


class BaselineUNet(DualStreamNet):
    """The plain U-Net baseline of the papers (``DualStreamNet`` with ``scale_factor=1`` and no SR stream).

    Called ``UNet`` before (that name shadowed ``monai.networks.nets.UNet``, a different network);
    ``monai_ext.networks.UNet`` still works for one release, with a ``FutureWarning``.

    Unlike :class:`DualStreamNet` it returns the logits tensor in training mode too, so it can be used with any
    ordinary segmentation loss. With the defaults it has 28.950 M parameters and costs 384.49 GMac (ptflops) at
    584 x 876.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: number of input image channels.
        out_channels: number of classes.
        base_channels: width of the first stage (64).
        dropout: dropout probability before the segmentation head.
        foreground_prior: ``None`` or the initial probability of each foreground class (see :class:`DualStreamNet`).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        out_channels: int = 2,
        base_channels: int = 64,
        dropout: float = 0.0,
        foreground_prior: float | None = None,
    ) -> None:
        super().__init__(
            spatial_dims,
            in_channels,
            out_channels,
            backbone="unet",
            fusion="none",
            scale_factor=1,
            super_resolution=False,
            base_channels=base_channels,
            dropout=dropout,
            foreground_prior=foreground_prior,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Returns the segmentation logits (N, out_channels, *spatial) in both modes."""
        return self.seg_head(self.seg_decoder(self.encoder(x)), None)
