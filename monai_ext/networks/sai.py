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

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from monai.networks.nets import ResNet, resnet18
from torch import nn

from .mrcnet import MRCNet

__all__ = [
    "SampleAffinityInteraction",
    "SAIDiagnosisNet",
    "SAIFramework",
    "build_resnet18_encoder",
    "load_resnet18_weights",
    "SAI_OUTPUT_KEYS",
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


def _conv1x1_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))


class SampleAffinityInteraction(nn.Module):
    """SAI block between the LR and SR branches at one stage.

    ``F = BN(conv1x1(f)).view(B, -1)`` per branch; ``A = rownorm(F F^T)`` (B x B); ``M_s2l = rownorm(A_LR A_SR^T)``,
    ``M_l2s = rownorm(A_SR A_LR^T)``; the LR branch receives ``BN(conv1x1(M_s2l F_SR))`` computed at SR size and
    bilinearly resized (and vice versa); each branch then fuses ``cat[f, received]`` with
    ``conv1x1(2C->C) -> ReLU -> BN``. ``rownorm`` is the row-wise L2 normalisation.

    Args:
        in_channels: channels ``C`` of both branches at this stage.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.proj_lr = _conv1x1_bn(in_channels, in_channels)
        self.proj_sr = _conv1x1_bn(in_channels, in_channels)
        self.to_lr = _conv1x1_bn(in_channels, in_channels)
        self.to_sr = _conv1x1_bn(in_channels, in_channels)
        self.fuse_lr = self._fuse(in_channels)
        self.fuse_sr = self._fuse(in_channels)

    @staticmethod
    def _fuse(channels: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(2 * channels, channels, 1), nn.ReLU(inplace=True), nn.BatchNorm2d(channels))

    def forward(
        self, f_lr: torch.Tensor, f_sr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Args:
            f_lr: LR-branch feature (B, C, h, w).
            f_sr: SR-branch feature (B, C, H, W).

        Returns:
            ``(f_lr', f_sr', A_LR, A_SR, M_s2l, M_l2s)``: the fused features (same shapes as the inputs) and the
            four B x B matrices.

        Raises:
            ValueError: when batch sizes or channel counts differ.
        """
        if f_lr.shape[:2] != f_sr.shape[:2]:
            raise ValueError(
                f"SampleAffinityInteraction: LR {tuple(f_lr.shape)} and SR {tuple(f_sr.shape)} features must share "
                "batch size and channels."
            )
        p_lr = self.proj_lr(f_lr)
        p_sr = self.proj_sr(f_sr)
        flat_lr = p_lr.flatten(1)
        flat_sr = p_sr.flatten(1)
        affinity_lr = F.normalize(flat_lr @ flat_lr.t(), p=2, dim=1)
        affinity_sr = F.normalize(flat_sr @ flat_sr.t(), p=2, dim=1)
        mixing_s2l = F.normalize(affinity_lr @ affinity_sr.t(), p=2, dim=1)
        mixing_l2s = F.normalize(affinity_sr @ affinity_lr.t(), p=2, dim=1)
        to_lr = self.to_lr((mixing_s2l @ flat_sr).view_as(p_sr))
        to_sr = self.to_sr((mixing_l2s @ flat_lr).view_as(p_lr))
        if to_lr.shape[2:] != f_lr.shape[2:]:
            to_lr = F.interpolate(to_lr, size=f_lr.shape[2:], mode="bilinear", align_corners=False)
        if to_sr.shape[2:] != f_sr.shape[2:]:
            to_sr = F.interpolate(to_sr, size=f_sr.shape[2:], mode="bilinear", align_corners=False)
        out_lr = self.fuse_lr(torch.cat([f_lr, to_lr], dim=1))
        out_sr = self.fuse_sr(torch.cat([f_sr, to_sr], dim=1))
        return out_lr, out_sr, affinity_lr, affinity_sr, mixing_s2l, mixing_l2s


def build_resnet18_encoder(in_channels: int = 3, num_classes: int | None = None) -> ResNet:
    """A 2-D MONAI ResNet-18 equivalent to torchvision's ``resnet18`` (same layers, parameters and key names).

    Args:
        in_channels: image channels.
        num_classes: size of the ``fc`` layer; None builds no ``fc`` (feature encoder).

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
    )


def _read_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: weights file '{path}' does not exist.")
    state = torch.load(path, map_location="cpu", weights_only=True)
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
    ) -> None:
        super().__init__()
        self.lr_encoder = build_resnet18_encoder(in_channels)
        self.sr_encoder = build_resnet18_encoder(in_channels)
        if backbone_weights_path is not None:
            load_resnet18_weights(self.lr_encoder, backbone_weights_path)
            load_resnet18_weights(self.sr_encoder, backbone_weights_path)
        self.interactions = nn.ModuleList([SampleAffinityInteraction(c) for c in _STAGE_CHANNELS])
        width = _STAGE_CHANNELS[-1]
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
    def _stem(encoder: ResNet, x: torch.Tensor) -> torch.Tensor:
        return encoder.maxpool(encoder.act(encoder.bn1(encoder.conv1(x))))

    def forward(
        self, x_lr: torch.Tensor, x_sr: torch.Tensor, return_dict: bool | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor | tuple[torch.Tensor, ...]]:
        """Classify an LR image with the help of its SR version.

        Args:
            x_lr: (B, C, h, w) low-resolution image.
            x_sr: (B, C, H, W) super-resolved image.
            return_dict: return the full output dict; defaults to ``self.training``.

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
        f_lr = self._stem(self.lr_encoder, x_lr)
        f_sr = self._stem(self.sr_encoder, x_sr)
        matrices: list[list[torch.Tensor]] = [[], [], [], []]
        layers = zip(
            (self.lr_encoder.layer1, self.lr_encoder.layer2, self.lr_encoder.layer3, self.lr_encoder.layer4),
            (self.sr_encoder.layer1, self.sr_encoder.layer2, self.sr_encoder.layer3, self.sr_encoder.layer4),
            self.interactions,
        )
        for lr_layer, sr_layer, interaction in layers:
            f_lr, f_sr, *stage_matrices = interaction(lr_layer(f_lr), sr_layer(f_sr))
            for store, m in zip(matrices, stage_matrices):
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
        if not return_dict:
            return logits_ens
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


class SAIFramework(nn.Module):
    """SR-enhanced diagnosis: ``I_SR = sr_network(I_LR)``, then :class:`SAIDiagnosisNet` on ``(I_LR, I_SR)``.

    The SR network is trained jointly (not frozen); :meth:`parameter_groups` gives it a smaller learning rate.

    Args:
        in_channels: image channels.
        num_classes: number of classes ``K``.
        upscale_factor: SR scale of the default MRC-Net student (2 or 4).
        sr_network: an SR network returning the SR tensor in eval mode and accepting ``return_features=False``;
            defaults to ``MRCNet(in_channels, in_channels, upscale_factor, num_recursions=1, ...)``.
        sr_weights_path: optional local state dict (e.g. the distilled, fine-tuned student) for the SR network.
        backbone_weights_path: optional local torchvision-format ResNet-18 state dict for both branches.
        rcf_released_behaviour: passed to the default MRC-Net.
        keep_final_global_rcf: passed to the default MRC-Net.

    Forward returns the :class:`SAIDiagnosisNet` dict plus ``"sr"`` in training mode, ``logits_ens`` in eval mode.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        upscale_factor: int = 4,
        sr_network: nn.Module | None = None,
        sr_weights_path: str | Path | None = None,
        backbone_weights_path: str | Path | None = None,
        rcf_released_behaviour: bool = False,
        keep_final_global_rcf: bool = True,
    ) -> None:
        super().__init__()
        if sr_network is None:
            sr_network = MRCNet(
                in_channels,
                in_channels,
                upscale_factor=upscale_factor,
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
        self.diagnosis = SAIDiagnosisNet(in_channels, num_classes, backbone_weights_path=backbone_weights_path)

    def forward(
        self, x: torch.Tensor, return_dict: bool | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor | tuple[torch.Tensor, ...]]:
        """Args:
            x: low-resolution image (B, C, h, w).
            return_dict: return the full output dict; defaults to ``self.training``.

        Returns:
            ``logits_ens`` (B, K), or the diagnosis dict with ``"sr"`` (B, C, rh, rw) added.
        """
        if return_dict is None:
            return_dict = self.training
        sr = self.sr_network(x, return_features=False)
        out = self.diagnosis(x, sr, return_dict=return_dict)
        if not return_dict:
            return out
        out["sr"] = sr
        return out

    def parameter_groups(
        self, lr: float, sr_lr_scale: float = 0.01, weight_decay: float = 0.0
    ) -> list[dict[str, object]]:
        """Optimiser parameter groups: the diagnosis network at ``lr``, the SR network at ``lr * sr_lr_scale``.

        Args:
            lr: base learning rate (5e-4 in the released code).
            sr_lr_scale: learning-rate multiplier of the SR network (0.01).
            weight_decay: weight decay of both groups (1e-5 in the released code).

        Returns:
            A list of two dicts for a ``torch.optim`` optimiser.
        """
        return [
            {"params": list(self.diagnosis.parameters()), "lr": lr, "weight_decay": weight_decay},
            {"params": list(self.sr_network.parameters()), "lr": lr * sr_lr_scale, "weight_decay": weight_decay},
        ]
