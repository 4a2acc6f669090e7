# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Sample Affinity Interaction (SAI) diagnosis network and the full SR-enhanced diagnosis framework.

* :class:`SampleAffinityInteraction`: exchanges information between the LR and SR branches through B x B
  sample-affinity matrices (features of different spatial sizes are never multiplied with each other).
* :class:`SAIDiagnosisNet`: two ResNet-18 branches (MONAI ``ResNet`` with torchvision-equivalent arguments) with
  an SAI block after each of ``layer1``..``layer4``, linear heads on both branches, an auxiliary head on the
  concatenated pooled features and a gated ensemble ``y_ens = [y_SR, y_LR, y_aux] . max(0, tanh(G))``.
* :class:`SAIFramework`: MRC-Net (``I_SR = MRCNet(I_LR)``, fine-tuned end to end) followed by the diagnosis net.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-B/C.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.nets import ResNet, resnet18
from torch import nn

from ..utils.checkpoint_io import safe_load_checkpoint
from ..utils.deprecation import renamed_argument
from .mrcnet import MRCNet

__all__ = [
    "SampleAffinityInteraction",
    "SAIDiagnosisNet",
    "SAIFramework",
    "build_resnet18_encoder",
    "load_resnet18_weights",
    "SAI_OUTPUT_KEYS",
    "EVAL_INTERACTIONS",
]

#: Keys of the training-mode output dict of :class:`SAIDiagnosisNet` (``SAIFramework`` adds ``"sr"``).
SAI_OUTPUT_KEYS = (
    "logits_sr",
    "logits_lr",
    "logits_aux",
    "logits_ens",
    "gate_weights",
    "affinity_lr",
    "affinity_sr",
    "mixing_s2l",
    "mixing_l2s",
)

_STAGE_CHANNELS = (64, 128, 256, 512)

#: eval-mode behaviours of the SAI blocks (see :class:`SampleAffinityInteraction`).
EVAL_INTERACTIONS = ("reference", "batch")


def _conv1x1_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))


class SampleAffinityInteraction(nn.Module):
    """SAI block between the LR and SR branches at one stage.

    ``F = BN(conv1x1(f)).view(B, -1)`` per branch; ``A = rownorm(F F^T)`` (B x B); ``M_s2l = rownorm(A_LR A_SR^T)``,
    ``M_l2s = rownorm(A_SR A_LR^T)``; the LR branch receives ``BN(conv1x1(M_s2l F_SR))`` computed at SR size and
    bilinearly resized (and vice versa); each branch then fuses ``cat[f, received]`` with
    ``conv1x1(2C->C) -> ReLU -> BN``. ``rownorm`` is the row-wise L2 normalisation.

    The interaction mixes the samples of a batch. In training that is the method; in eval mode it makes a sample's
    output depend on the other samples of its batch. ``eval_interaction`` chooses the eval-mode behaviour:

    * ``"batch"`` (released code): the samples of the eval batch interact with each other, as in training.
    * ``"reference"``: every sample interacts only with itself and a fixed reference set, the bank of the last
      ``bank_size`` training samples this block saw (their stage inputs ``f_LR``, ``f_SR``, kept in the buffers
      ``bank_lr`` / ``bank_sr``, so they are saved in checkpoints). Sample ``i``'s output is exactly the batch-mode
      output of sample ``i`` in the batch ``[f_i, bank]``, hence the same whatever else is in its batch. The bank
      is projected with the current (eval-mode) weights at every forward.

    The bank is recorded in training whatever ``eval_interaction`` is, so both modes work with every checkpoint;
    an empty bank (a checkpoint from before the option, or an untrained block) makes ``"reference"`` a sample alone.

    Args:
        in_channels: channels ``C`` of both branches at this stage.
        eval_interaction: ``"reference"`` (default) or ``"batch"`` (released behaviour), see above.
        bank_size: training samples kept in the reference bank (8, the paper's batch size); 0 keeps none.

    Raises:
        ValueError: on an unknown ``eval_interaction`` or a negative ``bank_size``.
    """

    def __init__(
        self,
        in_channels: int,
        eval_interaction: str = "reference",
        bank_size: int = 8,
        bank_feature_shapes: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> None:
        super().__init__()
        if eval_interaction not in EVAL_INTERACTIONS:
            raise ValueError(
                f"SampleAffinityInteraction: eval_interaction must be one of {EVAL_INTERACTIONS}, got "
                f"{eval_interaction!r}."
            )
        if bank_size < 0:
            raise ValueError(f"SampleAffinityInteraction: bank_size must be >= 0, got {bank_size}.")
        self.eval_interaction = eval_interaction
        self.bank_size = int(bank_size)
        self.proj_lr = _conv1x1_bn(in_channels, in_channels)
        self.proj_sr = _conv1x1_bn(in_channels, in_channels)
        self.to_lr = _conv1x1_bn(in_channels, in_channels)
        self.to_sr = _conv1x1_bn(in_channels, in_channels)
        self.fuse_lr = self._fuse(in_channels)
        self.fuse_sr = self._fuse(in_channels)
        # (n, C, h, w) once filled; the size depends on the input, so they start empty (see _load_from_state_dict),
        # unless the feature shapes are known: then (bank_size, C, h, w) from the start, unfilled rows all zero, so
        # that a state dict always has the same shapes (loaders that match shapes, e.g. monai.bundle.load, keep it)
        self.fixed_bank = bank_feature_shapes is not None
        shape_lr, shape_sr = ((0,), (0,)) if bank_feature_shapes is None else bank_feature_shapes
        rows = (self.bank_size,) if self.fixed_bank else ()
        self.register_buffer("bank_lr", torch.zeros(*rows, *shape_lr))
        self.register_buffer("bank_sr", torch.zeros(*rows, *shape_sr))

    @staticmethod
    def _fuse(channels: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(2 * channels, channels, 1), nn.ReLU(inplace=True), nn.BatchNorm2d(channels))

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:  # noqa: D401 - torch hook
        # the banks have a data-dependent size: take the checkpoint's; checkpoints without a bank load an empty one;
        # a fixed-shape bank keeps its shape (the checkpoint's rows first, zero rows after)
        for name in ("bank_lr", "bank_sr"):
            key = prefix + name
            current = getattr(self, name)
            if key not in state_dict:
                state_dict[key] = current.new_zeros(0) if not self.fixed_bank else current.new_zeros(current.shape)
            loaded = state_dict[key]
            if self.fixed_bank and loaded.shape != current.shape:
                if loaded.numel() and (loaded.dim() != current.dim() or loaded.shape[1:] != current.shape[1:]):
                    error_msgs.append(
                        f"{key}: the checkpoint's reference bank has features of shape {list(loaded.shape[1:])}, "
                        f"this network expects {list(current.shape[1:])} (another input size)."
                    )
                    continue
                padded = current.new_zeros(current.shape)
                if loaded.numel():
                    rows = min(loaded.shape[0], padded.shape[0])
                    padded[:rows] = loaded[:rows]
                state_dict[key] = padded
            setattr(self, name, current.new_empty(state_dict[key].shape))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def reset_bank(self) -> None:
        """Empty the reference bank."""
        self.bank_lr = self.bank_lr.new_zeros(self.bank_lr.shape if self.fixed_bank else 0)
        self.bank_sr = self.bank_sr.new_zeros(self.bank_sr.shape if self.fixed_bank else 0)

    def _filled_rows(self) -> torch.Tensor:
        """Which bank rows hold a sample: (n,) bool; unfilled rows are all zero in both banks."""
        return self.bank_lr.flatten(1).abs().sum(1) + self.bank_sr.flatten(1).abs().sum(1) > 0

    def filled_bank(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The banked samples (n <= bank_size rows each), without unfilled (all-zero) rows: a fixed-shape bank has
        them until training fills it, and a bank loaded from a fixed-shape checkpoint keeps them."""
        if self.bank_lr.numel() == 0 or self.bank_sr.numel() == 0:
            return self.bank_lr, self.bank_sr
        count = int(self._filled_rows().sum())
        return self.bank_lr[:count], self.bank_sr[:count]

    def _remember(self, f_lr: torch.Tensor, f_sr: torch.Tensor) -> None:
        """Put the newest training samples first in the bank and keep ``bank_size`` of them."""
        dtype = self.proj_lr[0].weight.dtype
        new_lr = f_lr.detach()[: self.bank_size].to(dtype)
        new_sr = f_sr.detach()[: self.bank_size].to(dtype)
        # filled rows always form a prefix (newest first, unfilled zero rows after), so no row needs selecting
        old_lr, old_sr = self.bank_lr, self.bank_sr
        if self.fixed_bank and (old_lr.shape[1:] != new_lr.shape[1:] or old_sr.shape[1:] != new_sr.shape[1:]):
            raise ValueError(
                f"SampleAffinityInteraction: the reference bank was built for features of shape "
                f"{list(old_lr.shape[1:])} (LR) / {list(old_sr.shape[1:])} (SR), the training input gives "
                f"{list(new_lr.shape[1:])} / {list(new_sr.shape[1:])}: set bank_input_size to the LR training size."
            )
        if old_lr.shape[1:] == new_lr.shape[1:] and old_sr.shape[1:] == new_sr.shape[1:]:
            new_lr = torch.cat([new_lr, old_lr], dim=0)[: self.bank_size]
            new_sr = torch.cat([new_sr, old_sr], dim=0)[: self.bank_size]
        self.bank_lr = new_lr.contiguous()
        self.bank_sr = new_sr.contiguous()

    @staticmethod
    def _batch_mixing(
        flat_lr: torch.Tensor, flat_sr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        affinity_lr = F.normalize(flat_lr @ flat_lr.t(), p=2.0, dim=1)
        affinity_sr = F.normalize(flat_sr @ flat_sr.t(), p=2.0, dim=1)
        mixing_s2l = F.normalize(affinity_lr @ affinity_sr.t(), p=2.0, dim=1)
        mixing_l2s = F.normalize(affinity_sr @ affinity_lr.t(), p=2.0, dim=1)
        return mixing_s2l @ flat_sr, mixing_l2s @ flat_lr, affinity_lr, affinity_sr, mixing_s2l, mixing_l2s

    @staticmethod
    def _augmented_affinity(query: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
        """Row-normalised Gram matrices of ``[query_i; bank]`` for every query ``i``: (B, K+1, K+1), query first."""
        cross = query @ bank.t()  # (B, K)
        top = torch.cat([(query * query).sum(dim=1, keepdim=True), cross], dim=1).unsqueeze(1)  # (B, 1, K+1)
        gram = (bank @ bank.t()).expand(query.shape[0], -1, -1)  # (B, K, K)
        rest = torch.cat([cross.unsqueeze(-1), gram], dim=2)  # (B, K, K+1)
        return F.normalize(torch.cat([top, rest], dim=1), p=2.0, dim=2)

    def _reference_mixing(
        self, flat_lr: torch.Tensor, flat_sr: torch.Tensor, f_lr: torch.Tensor, f_sr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.bank_lr.numel() == 0 or self.bank_sr.numel() == 0:
            bank_lr = flat_lr.new_zeros(0, flat_lr.shape[1])
            bank_sr = flat_sr.new_zeros(0, flat_sr.shape[1])
        else:
            if self.bank_lr.shape[1:] != f_lr.shape[1:] or self.bank_sr.shape[1:] != f_sr.shape[1:]:
                raise ValueError(
                    f"SampleAffinityInteraction: the reference bank holds features of shape "
                    f"{list(self.bank_lr.shape[1:])} (LR) / {list(self.bank_sr.shape[1:])} (SR) but the input gives "
                    f"{list(f_lr.shape[1:])} / {list(f_sr.shape[1:])}: evaluate at the training image size, or use "
                    "eval_interaction='batch'."
                )
            # unfilled (all-zero) rows are zeroed after the projection, so they add nothing to any affinity or mix:
            # the result equals the one over the filled rows alone, without a data-dependent shape (export)
            filled = self._filled_rows().to(f_lr.dtype)
            bank_lr = self.proj_lr(self.bank_lr.to(f_lr.dtype)).flatten(1) * filled[:, None]
            bank_sr = self.proj_sr(self.bank_sr.to(f_sr.dtype)).flatten(1) * filled[:, None]
        affinity_lr = self._augmented_affinity(flat_lr, bank_lr)
        affinity_sr = self._augmented_affinity(flat_sr, bank_sr)
        # the query's rows of M_s2l = rownorm(A_LR A_SR^T) and M_l2s = rownorm(A_SR A_LR^T)
        mixing_s2l = F.normalize(torch.bmm(affinity_lr[:, :1], affinity_sr.transpose(1, 2)), p=2.0, dim=2)[:, 0]
        mixing_l2s = F.normalize(torch.bmm(affinity_sr[:, :1], affinity_lr.transpose(1, 2)), p=2.0, dim=2)[:, 0]
        mixed_sr = mixing_s2l[:, :1] * flat_sr + mixing_s2l[:, 1:] @ bank_sr
        mixed_lr = mixing_l2s[:, :1] * flat_lr + mixing_l2s[:, 1:] @ bank_lr
        return mixed_sr, mixed_lr, affinity_lr[:, 0], affinity_sr[:, 0], mixing_s2l, mixing_l2s

    def forward(
        self, f_lr: torch.Tensor, f_sr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Args:
            f_lr: LR-branch feature (B, C, h, w).
            f_sr: SR-branch feature (B, C, H, W).

        Returns:
            ``(f_lr', f_sr', A_LR, A_SR, M_s2l, M_l2s)``: the fused features (same shapes as the inputs) and the
            four B x B matrices. With ``eval_interaction="reference"`` in eval mode the matrices are each sample's
            rows over ``[itself, bank]``: (B, K+1), K the number of banked samples.

        Raises:
            ValueError: when batch sizes or channel counts differ, or (reference mode) when the input's feature
                size differs from the banked one.
        """
        if f_lr.shape[:2] != f_sr.shape[:2]:
            raise ValueError(
                f"SampleAffinityInteraction: LR {list(f_lr.shape)} and SR {list(f_sr.shape)} features must share "
                "batch size and channels."
            )
        p_lr = self.proj_lr(f_lr)
        p_sr = self.proj_sr(f_sr)
        if self.training and self.bank_size > 0 and not torch.jit.is_scripting():
            with torch.no_grad():
                self._remember(f_lr, f_sr)
        if self.training or self.eval_interaction == "batch":
            mixed_sr, mixed_lr, a_lr, a_sr, m_s2l, m_l2s = self._batch_mixing(p_lr.flatten(1), p_sr.flatten(1))
        else:
            mixed_sr, mixed_lr, a_lr, a_sr, m_s2l, m_l2s = self._reference_mixing(
                p_lr.flatten(1), p_sr.flatten(1), f_lr, f_sr
            )
        to_lr = self.to_lr(mixed_sr.view_as(p_sr))
        to_sr = self.to_sr(mixed_lr.view_as(p_lr))
        if to_lr.shape[2:] != f_lr.shape[2:]:
            to_lr = F.interpolate(to_lr, size=f_lr.shape[2:], mode="bilinear", align_corners=False)
        if to_sr.shape[2:] != f_sr.shape[2:]:
            to_sr = F.interpolate(to_sr, size=f_sr.shape[2:], mode="bilinear", align_corners=False)
        out_lr = self.fuse_lr(torch.cat([f_lr, to_lr], dim=1))
        out_sr = self.fuse_sr(torch.cat([f_sr, to_sr], dim=1))
        return out_lr, out_sr, a_lr, a_sr, m_s2l, m_l2s


def stage_channels(widen_factor: float = 1.0) -> tuple[int, ...]:
    """Output channels of the four residual stages of a ResNet-18 widened (or narrowed) by ``widen_factor``."""
    channels = tuple(int(c * widen_factor) for c in _STAGE_CHANNELS)
    if min(channels) < 1:
        raise ValueError(f"widen_factor {widen_factor} leaves a ResNet-18 stage without channels: {channels}.")
    return channels


def resnet18_stage_sizes(spatial_size: Sequence[int]) -> list[tuple[int, ...]]:
    """Spatial sizes of the outputs of ``layer1``..``layer4`` of :func:`build_resnet18_encoder` for an input size
    (the 7x7/2 stem and the 3x3/2 max pool halve it, then stages 2-4 halve it again, each rounding up)."""
    size = tuple(int(s) for s in spatial_size)
    size = tuple(-(-s // 4) for s in size)
    sizes = [size]
    for _ in range(3):
        size = tuple(-(-s // 2) for s in size)
        sizes.append(size)
    return sizes


def build_resnet18_encoder(in_channels: int = 3, num_classes: int | None = None, widen_factor: float = 1.0) -> ResNet:
    """A 2-D MONAI ResNet-18 equivalent to torchvision's ``resnet18`` (same layers, parameters and key names).

    Args:
        in_channels: image channels.
        num_classes: size of the ``fc`` layer; None builds no ``fc`` (feature encoder).
        widen_factor: channel multiplier of every stage (MONAI's ``widen_factor``); 1 is the standard ResNet-18
            (the only width torchvision / ImageNet weights fit).

    Returns:
        The MONAI ``ResNet``.
    """
    return resnet18(
        spatial_dims=2,
        n_input_channels=in_channels,
        conv1_t_size=7,
        conv1_t_stride=2,
        no_max_pool=False,
        shortcut_type="B",
        bias_downsample=False,
        feed_forward=num_classes is not None,
        num_classes=num_classes or 1,
        widen_factor=widen_factor,
    )


def _read_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: weights file '{path}' does not exist.")
    state = safe_load_checkpoint(path, map_location="cpu")
    for key in ("state_dict", "network", "model"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping):
        raise ValueError(f"{what}: '{path}' holds a {type(state).__name__}, expected a state dict.")
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state.items()}


def load_resnet18_weights(encoder: ResNet, path: str | Path) -> None:
    """Load a torchvision-format ResNet-18 state dict (e.g. ImageNet weights) into an encoder built by
    :func:`build_resnet18_encoder`. The key names are identical; ``fc.*`` is dropped when the encoder has no ``fc``.

    Args:
        encoder: the MONAI ResNet-18.
        path: local ``.pth`` file (read with ``weights_only=True``).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when the file is not a matching ResNet-18 state dict.
    """
    state = _read_state_dict(path, "load_resnet18_weights")
    if encoder.fc is None:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"load_resnet18_weights: '{path}' is not a compatible ResNet-18 state dict: {err}") from err


class SAIDiagnosisNet(nn.Module):
    """Two-branch ResNet-18 classifier with SAI blocks and a gated ensemble.

    Args:
        in_channels: image channels of both inputs.
        num_classes: number of classes ``K``.
        gate_hidden: hidden units of the auxiliary head and of the gate (32).
        backbone_weights_path: optional local torchvision-format ResNet-18 state dict (ImageNet) loaded into both
            branches.
        eval_interaction: eval-mode behaviour of the SAI blocks: ``"reference"`` (default: each sample interacts
            with itself and a bank of recent training samples, so its prediction does not depend on its batch) or
            ``"batch"`` (released code: the samples of the eval batch interact). See
            :class:`SampleAffinityInteraction`.
        bank_size: training samples in each SAI block's reference bank (8).
        widen_factor: channel multiplier of both ResNet-18 branches (and so of the SAI blocks and heads); 1 is
            the paper's network, smaller values give a lighter classifier (e.g. 0.25: 1/16 of the branch
            parameters) for small datasets and CPU training.
        bank_input_sizes: ``((h, w) of the LR input, (H, W) of the SR input)`` the network is trained at; when
            given, the reference banks have fixed shapes from the start, so every state dict has the same shapes
            and shape-matching loaders (``monai.bundle.load``) restore them. None: banks sized by the first batch.

    Forward takes the LR image and the SR image (any sizes; both at least 32 px). In training mode (or with
    ``return_dict=True``) it returns a dict with ``logits_sr``, ``logits_lr``, ``logits_aux``, ``logits_ens``
    (B, K), ``gate_weights`` (B, 3) in the order [SR, LR, aux], and tuples of the four stages' B x B matrices
    ``affinity_lr``, ``affinity_sr``, ``mixing_s2l``, ``mixing_l2s``; in eval mode it returns ``logits_ens``.
    The gate uses BatchNorm1d, so training needs batches of at least 2 (use ``drop_last=True``).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        gate_hidden: int = 32,
        backbone_weights_path: str | Path | None = None,
        eval_interaction: str = "reference",
        bank_size: int = 8,
        widen_factor: float = 1.0,
        bank_input_sizes: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> None:
        super().__init__()
        if backbone_weights_path is not None and widen_factor != 1.0:
            raise ValueError("SAIDiagnosisNet: backbone_weights_path (a standard ResNet-18) needs widen_factor 1.")
        channels = stage_channels(widen_factor)
        self.lr_encoder = build_resnet18_encoder(in_channels, widen_factor=widen_factor)
        self.sr_encoder = build_resnet18_encoder(in_channels, widen_factor=widen_factor)
        if backbone_weights_path is not None:
            load_resnet18_weights(self.lr_encoder, backbone_weights_path)
            load_resnet18_weights(self.sr_encoder, backbone_weights_path)
        self.interactions = nn.ModuleList(
            [
                SampleAffinityInteraction(c, eval_interaction, bank_size, shapes)
                for c, shapes in zip(channels, self._bank_shapes(channels, bank_input_sizes))
            ]
        )
        width = channels[-1]
        self.lr_head = nn.Linear(width, num_classes)
        self.sr_head = nn.Linear(width, num_classes)
        self.aux_head = nn.Sequential(
            nn.Linear(2 * width, gate_hidden), nn.ReLU(inplace=True), nn.Linear(gate_hidden, num_classes)
        )
        self.gate = nn.Sequential(
            nn.Linear(2 * width, gate_hidden),
            nn.BatchNorm1d(gate_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(gate_hidden, 3),
            nn.BatchNorm1d(3),
        )

    @staticmethod
    def _bank_shapes(
        channels: Sequence[int], sizes: tuple[Sequence[int], Sequence[int]] | None
    ) -> list[tuple[tuple[int, ...], tuple[int, ...]] | None]:
        if sizes is None:
            return [None] * len(channels)
        lr_sizes, sr_sizes = resnet18_stage_sizes(sizes[0]), resnet18_stage_sizes(sizes[1])
        return [((c, *lr), (c, *sr)) for c, lr, sr in zip(channels, lr_sizes, sr_sizes)]

    def _stage(self, index: int, f_lr: torch.Tensor, f_sr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual stage ``layer{index + 1}`` of both branches (written out so that TorchScript can compile it)."""
        if index == 0:
            return self.lr_encoder.layer1(f_lr), self.sr_encoder.layer1(f_sr)
        if index == 1:
            return self.lr_encoder.layer2(f_lr), self.sr_encoder.layer2(f_sr)
        if index == 2:
            return self.lr_encoder.layer3(f_lr), self.sr_encoder.layer3(f_sr)
        return self.lr_encoder.layer4(f_lr), self.sr_encoder.layer4(f_sr)

    def forward(
        self, x_lr: torch.Tensor, x_sr: torch.Tensor, return_dict: bool | None = None
    ) -> torch.Tensor | dict[str, Any]:
        """Classify an LR image with the help of its SR version.

        Args:
            x_lr: (B, C, h, w) low-resolution image.
            x_sr: (B, C, H, W) super-resolved image.
            return_dict: return the full output dict; defaults to ``self.training``. A TorchScript-compiled
                network always returns ``logits_ens``.

        Returns:
            ``logits_ens`` (B, K) or the output dict (see class docstring).

        Raises:
            ValueError: on mismatched batch sizes, or a batch of 1 in training mode.
        """
        if x_lr.shape[0] != x_sr.shape[0]:
            raise ValueError(f"SAIDiagnosisNet: batch sizes differ, LR {x_lr.shape[0]} vs SR {x_sr.shape[0]}.")
        if self.training and x_lr.shape[0] < 2:
            raise ValueError(
                "SAIDiagnosisNet: training needs a batch of at least 2 (BatchNorm1d in the gate); "
                "use drop_last=True in the training loader."
            )
        if return_dict is None:
            return_dict = self.training
        f_lr = self.lr_encoder.maxpool(self.lr_encoder.act(self.lr_encoder.bn1(self.lr_encoder.conv1(x_lr))))
        f_sr = self.sr_encoder.maxpool(self.sr_encoder.act(self.sr_encoder.bn1(self.sr_encoder.conv1(x_sr))))
        matrices: list[list[torch.Tensor]] = [[], [], [], []]
        for index, interaction in enumerate(self.interactions):
            f_lr, f_sr = self._stage(index, f_lr, f_sr)
            f_lr, f_sr, a_lr, a_sr, m_s2l, m_l2s = interaction(f_lr, f_sr)
            for store, m in zip(matrices, [a_lr, a_sr, m_s2l, m_l2s]):
                store.append(m)
        pooled_lr = F.adaptive_avg_pool2d(f_lr, 1).flatten(1)
        pooled_sr = F.adaptive_avg_pool2d(f_sr, 1).flatten(1)
        pooled = torch.cat([pooled_lr, pooled_sr], dim=1)
        logits_lr = self.lr_head(pooled_lr)
        logits_sr = self.sr_head(pooled_sr)
        logits_aux = self.aux_head(pooled)
        gate_weights = torch.relu(torch.tanh(self.gate(pooled)))
        stacked = torch.stack([logits_sr, logits_lr, logits_aux], dim=1)  # (B, 3, K), paper order
        logits_ens = (gate_weights.unsqueeze(-1) * stacked).sum(dim=1)
        if return_dict and not torch.jit.is_scripting():  # a scripted (exported) network returns the logits only
            return {
                "logits_sr": logits_sr,
                "logits_lr": logits_lr,
                "logits_aux": logits_aux,
                "logits_ens": logits_ens,
                "gate_weights": gate_weights,
                "affinity_lr": tuple(matrices[0]),
                "affinity_sr": tuple(matrices[1]),
                "mixing_s2l": tuple(matrices[2]),
                "mixing_l2s": tuple(matrices[3]),
            }
        return logits_ens


class SAIFramework(nn.Module):
    """SR-enhanced diagnosis: ``I_SR = sr_network(I_LR)``, then :class:`SAIDiagnosisNet` on ``(I_LR, I_SR)``.

    The SR network is trained jointly (not frozen); :meth:`parameter_groups` gives it a smaller learning rate.

    Args:
        in_channels: image channels.
        num_classes: number of classes ``K``.
        scale_factor: SR scale of the default MRC-Net student (2 or 4).
        upscale_factor: deprecated name of ``scale_factor`` (kept for one release, with a ``FutureWarning``).
        sr_network: an SR network returning the SR tensor in eval mode and accepting ``return_features=False``;
            defaults to ``MRCNet(in_channels, in_channels, scale_factor, num_recursions=1, ...)``.
        sr_weights_path: optional local state dict (e.g. the distilled, fine-tuned student) for the SR network.
        backbone_weights_path: optional local torchvision-format ResNet-18 state dict for both branches.
        rcf_released_behaviour: passed to the default MRC-Net.
        keep_final_global_rcf: passed to the default MRC-Net.
        eval_interaction: eval-mode behaviour of the SAI blocks, ``"reference"`` or ``"batch"`` (released); see
            :class:`SAIDiagnosisNet`.
        bank_size: training samples in each SAI block's reference bank.
        widen_factor: channel multiplier of the two ResNet-18 branches (1: the paper); see :class:`SAIDiagnosisNet`.
        bank_input_size: the LR (h, w) the framework is trained at (the SR size is ``scale_factor`` times it):
            gives the reference banks fixed shapes, see :class:`SAIDiagnosisNet`. None or empty: banks sized by the
            first training batch.
        freeze_sr_network: keep the SR network fixed (no gradient, eval mode, left out of
            :meth:`parameter_groups`). The paper fine-tunes it at 0.01x the learning rate (``False``); freezing it
            skips its backward pass, the larger part of a CPU training step.

    Forward returns the :class:`SAIDiagnosisNet` dict plus ``"sr"`` in training mode, ``logits_ens`` in eval mode.
    """

    @renamed_argument("upscale_factor", "scale_factor")
    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        scale_factor: int = 4,
        sr_network: nn.Module | None = None,
        sr_weights_path: str | Path | None = None,
        backbone_weights_path: str | Path | None = None,
        rcf_released_behaviour: bool = False,
        keep_final_global_rcf: bool = True,
        eval_interaction: str = "reference",
        bank_size: int = 8,
        widen_factor: float = 1.0,
        freeze_sr_network: bool = False,
        bank_input_size: Sequence[int] | None = None,
        upscale_factor: int | None = None,
    ) -> None:
        super().__init__()
        self.freeze_sr_network = freeze_sr_network
        if sr_network is None:
            sr_network = MRCNet(
                in_channels,
                in_channels,
                scale_factor=scale_factor,
                num_recursions=1,
                rcf_released_behaviour=rcf_released_behaviour,
                keep_final_global_rcf=keep_final_global_rcf,
            )
        self.sr_network = sr_network
        if sr_weights_path is not None:
            state = _read_state_dict(sr_weights_path, "SAIFramework")
            try:
                self.sr_network.load_state_dict(state, strict=True)
            except RuntimeError as err:
                raise ValueError(f"SAIFramework: '{sr_weights_path}' does not match the SR network: {err}") from err
        if freeze_sr_network:
            self.sr_network.requires_grad_(False)
            self.sr_network.eval()
        self.diagnosis = SAIDiagnosisNet(
            in_channels,
            num_classes,
            backbone_weights_path=backbone_weights_path,
            eval_interaction=eval_interaction,
            bank_size=bank_size,
            widen_factor=widen_factor,
            bank_input_sizes=None
            if not bank_input_size
            else (tuple(bank_input_size), tuple(int(s) * scale_factor for s in bank_input_size)),
        )

    def train(self, mode: bool = True) -> SAIFramework:
        """Set the training mode; a frozen SR network stays in eval mode."""
        super().train(mode)
        if self.freeze_sr_network:
            self.sr_network.eval()
        return self

    def forward(self, x: torch.Tensor, return_dict: bool | None = None) -> torch.Tensor | dict[str, Any]:
        """Args:
            x: low-resolution image (B, C, h, w).
            return_dict: return the full output dict; defaults to ``self.training``. A TorchScript-compiled
                framework always returns ``logits_ens``.

        Returns:
            ``logits_ens`` (B, K), or the diagnosis dict with ``"sr"`` (B, C, rh, rw) added.

        Raises:
            TypeError: when the SR network does not return a tensor with ``return_features=False``.
        """
        if return_dict is None:
            return_dict = self.training
        if self.freeze_sr_network:
            with torch.no_grad():
                sr = self.sr_network(x, return_features=False)
        else:
            sr = self.sr_network(x, return_features=False)
        if not isinstance(sr, torch.Tensor):
            raise TypeError("SAIFramework: the SR network must return a tensor when called with return_features=False.")
        if return_dict and not torch.jit.is_scripting():
            out = self.diagnosis(x, sr, return_dict=True)
            out["sr"] = sr
            return out
        return self.diagnosis(x, sr, return_dict=False)

    def parameter_groups(
        self, lr: float, sr_lr_scale: float = 0.01, weight_decay: float = 0.0
    ) -> list[dict[str, object]]:
        """Optimiser parameter groups: the diagnosis network at ``lr``, the SR network at ``lr * sr_lr_scale``.

        Args:
            lr: base learning rate (5e-4 in the released code).
            sr_lr_scale: learning-rate multiplier of the SR network (0.01).
            weight_decay: weight decay of both groups (1e-5 in the released code).

        Returns:
            A list of two dicts for a ``torch.optim`` optimiser; one (the diagnosis network's) when the SR network
            is frozen.
        """
        if self.freeze_sr_network:
            return [{"params": list(self.diagnosis.parameters()), "lr": lr, "weight_decay": weight_decay}]
        return [
            {"params": list(self.diagnosis.parameters()), "lr": lr, "weight_decay": weight_decay},
            {"params": list(self.sr_network.parameters()), "lr": lr * sr_lr_scale, "weight_decay": weight_decay},
        ]
