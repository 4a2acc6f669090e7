# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Composite loss of the dual-stream (segmentation + super-resolution) networks.

DS2F (dual-stream shared features) and SS-MAF (Multi-scale Attention Fusion) train one network with four
outputs: the segmentation logits ``seg``, the super-resolved image ``sr``, and the same two heads applied to the
fused features (``fused_seg``, ``fused_sr``). The total loss is a weighted sum of one term per output:

* DS2F: ``CE(seg) + MSE(sr) + SSIM-loss(fused_sr) + RMI(fused_seg)``;
* SS-MAF (paper): ``CBCE(seg) + MSE(sr) + RMI(fused_seg) + MSE(fused_sr)``;
* SuperVessel (FIM baseline): ``CE(seg) + MSE(sr) + CE(fused_seg)`` (no ``fused_sr`` output).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from monai.utils import LossReduction, convert_to_tensor
from torch.nn.modules.loss import _Loss

from .class_balanced_ce import ClassBalancedCELoss
from .reduction import validate_reduction
from .rmi import RMILoss
from .ssim import SSIMLoss

__all__ = ["DualStreamLoss"]

TERMS = ("seg", "sr", "fused_seg", "fused_sr")
_SEG_CHOICES = ("ce", "cbce")
_SR_CHOICES = ("mse", "l1", "none")
_FUSED_SEG_CHOICES = ("rmi", "ce", "cbce", "none")
_FUSED_SR_CHOICES = ("ssim", "mse", "l1", "none")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"DualStreamLoss: {name} must be one of {choices}, got {value!r}.")
    return value


class DualStreamLoss(_Loss):
    """Weighted sum of the segmentation, SR and fused-output losses of a dual-stream network.

    ``forward(outputs, targets)`` takes the train-mode output dict of the network (``seg``, ``sr``, ``fused_seg``,
    ``fused_sr``; any may be absent) and the target dict of ``DualStreamPrepareBatch`` (``label`` (N, 1, H, W) or
    (N, H, W), ``hr_image`` (N, 3, H, W), optional ``intensity_range`` (N, 2)). A term whose output is missing
    (plain baseline, FIM without ``fused_sr``), whose loss is ``"none"`` or whose weight is 0 is skipped. A plain
    tensor ``outputs`` (eval-mode network) is treated as the ``seg`` output alone.

    ``last_terms`` holds the unweighted value of every computed term and the ``total`` of the last call, detached
    and still on the device (no host synchronisation), for logging handlers.

    Args:
        seg_loss: main segmentation loss, ``"ce"`` (DS2F) or ``"cbce"`` (class-balanced CE, SS-MAF paper).
        sr_loss: SR loss on ``sr``: ``"mse"`` (papers), ``"l1"`` or ``"none"``.
        fused_seg_loss: proxy loss on ``fused_seg``: ``"rmi"`` (DS2F, SS-MAF), ``"ce"`` (SuperVessel), ``"cbce"``
            or ``"none"``.
        fused_sr_loss: proxy loss on ``fused_sr``: ``"ssim"`` (DS2F), ``"mse"`` (SS-MAF paper), ``"l1"`` or
            ``"none"``.
        weights: optional per-term weights by name (``seg``, ``sr``, ``fused_seg``, ``fused_sr``); entries override
            the per-term arguments.
        seg_weight: weight of the ``seg`` term.
        sr_weight: weight of the ``sr`` term.
        fused_seg_weight: weight of the ``fused_seg`` term.
        fused_sr_weight: weight of the ``fused_sr`` term.
        num_classes: number of segmentation channels (>= 2).
        ignore_index: label value ignored by every segmentation term.
        rmi_kwargs: extra arguments of :class:`RMILoss` (``radius``, ``pool``, ``pool_size``, ``pool_stride``,
            ``lambda_weight``, ``reg``).
        cbce_beta: ``beta`` of :class:`ClassBalancedCELoss`.
        cbce_reference_pixels: ``reference_pixels`` of :class:`ClassBalancedCELoss` (class counts rescaled to a
            batch of that many pixels, so that crops are weighted like whole images); ``None``: raw batch counts.
        ssim_kwargs: extra arguments of :class:`SSIMLoss` (``win_size``, ``win_sigma``, ``channel``,
            ``nonnegative_ssim``, ``authors_data_range``, ``K``).
        ssim_data_range: SSIM data range used when the targets carry no ``intensity_range``.
        reduction: ``"mean"`` (each term with its own mean, then the weighted sum; the published total),
            ``"sum"`` (each term with ``reduction="sum"``) or ``"none"`` (per-sample totals (N,); pixel-wise terms
            are averaged per sample, CBCE is the per-sample weighted mean with the batch's class weights).

    Raises:
        ValueError: on unknown loss names, unknown weight keys or an unknown ``reduction``.
    """

    def __init__(
        self,
        seg_loss: str = "ce",
        sr_loss: str = "mse",
        fused_seg_loss: str = "rmi",
        fused_sr_loss: str = "ssim",
        weights: Mapping[str, float] | None = None,
        seg_weight: float = 1.0,
        sr_weight: float = 1.0,
        fused_seg_weight: float = 1.0,
        fused_sr_weight: float = 1.0,
        num_classes: int = 2,
        ignore_index: int = 255,
        rmi_kwargs: Mapping[str, Any] | None = None,
        cbce_beta: float = 0.9999,
        cbce_reference_pixels: int | None = None,
        ssim_kwargs: Mapping[str, Any] | None = None,
        ssim_data_range: float | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "DualStreamLoss"))
        self.kinds = {
            "seg": _check_choice("seg_loss", seg_loss, _SEG_CHOICES),
            "sr": _check_choice("sr_loss", sr_loss, _SR_CHOICES),
            "fused_seg": _check_choice("fused_seg_loss", fused_seg_loss, _FUSED_SEG_CHOICES),
            "fused_sr": _check_choice("fused_sr_loss", fused_sr_loss, _FUSED_SR_CHOICES),
        }
        self.weights = {"seg": seg_weight, "sr": sr_weight, "fused_seg": fused_seg_weight, "fused_sr": fused_sr_weight}
        unknown = set(weights or {}) - set(TERMS)
        if unknown:
            raise ValueError(f"DualStreamLoss: unknown weight keys {sorted(unknown)}; valid keys are {TERMS}.")
        self.weights.update({k: float(v) for k, v in (weights or {}).items()})
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.rmi = RMILoss(
            num_classes=num_classes, ignore_index=ignore_index, reduction=self.reduction, **dict(rmi_kwargs or {})
        )
        self.cbce = ClassBalancedCELoss(
            beta=cbce_beta,
            num_classes=num_classes,
            ignore_index=ignore_index,
            reference_pixels=cbce_reference_pixels,
            reduction=self.reduction,
        )
        ssim_options = dict(ssim_kwargs or {})
        ssim_options.setdefault("data_range", ssim_data_range)
        self.ssim = SSIMLoss(reduction=self.reduction, **ssim_options)
        self.last_terms: dict[str, torch.Tensor] = {}

    def _labels(self, targets: Mapping[str, Any]) -> torch.Tensor:
        if "label" not in targets:
            raise ValueError(f"DualStreamLoss: targets need a 'label' entry, got keys {sorted(targets)}.")
        label = convert_to_tensor(targets["label"], track_meta=False)
        if label.ndim == 4 and label.shape[1] == 1:
            label = label[:, 0]
        if label.ndim != 3:
            raise ValueError(f"DualStreamLoss: 'label' must be (N, 1, H, W) or (N, H, W), got {tuple(label.shape)}.")
        return (label.round() if label.is_floating_point() else label).long()

    def _seg_term(self, kind: str, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        if kind == "rmi":
            return self.rmi(logits, label)
        if kind == "cbce":
            loss = self.cbce(logits, label)
            if self.reduction != LossReduction.NONE.value:
                return loss
            weights = self.cbce.class_weights(label, logits.shape[1]).to(loss.dtype)
            pixel_weights = weights[label.clamp(0, logits.shape[1] - 1)] * (label != self.ignore_index)
            denom = pixel_weights.flatten(1).sum(1).clamp_min(torch.finfo(loss.dtype).tiny)
            return loss.flatten(1).sum(1) / denom
        loss = F.cross_entropy(logits, label, ignore_index=self.ignore_index, reduction=self.reduction)
        if self.reduction != LossReduction.NONE.value:
            return loss
        valid = (label != self.ignore_index).flatten(1).sum(1).clamp_min(1)
        return loss.flatten(1).sum(1) / valid

    def _image_term(self, kind: str, pred: torch.Tensor, targets: Mapping[str, Any]) -> torch.Tensor:
        if "hr_image" not in targets:
            raise ValueError(f"DualStreamLoss: an SR output needs targets['hr_image'], got keys {sorted(targets)}.")
        target = convert_to_tensor(targets["hr_image"], track_meta=False).to(pred.dtype)
        if pred.shape != target.shape:
            raise ValueError(
                f"DualStreamLoss: SR output shape {tuple(pred.shape)} != hr_image shape {tuple(target.shape)}."
            )
        if kind == "ssim":
            return self.ssim(pred, target, data_range=targets.get("intensity_range"))
        fn = F.mse_loss if kind == "mse" else F.l1_loss
        if self.reduction != LossReduction.NONE.value:
            return fn(pred, target, reduction=self.reduction)
        return fn(pred, target, reduction="none").flatten(1).mean(1)

    def forward(self, outputs: Mapping[str, torch.Tensor] | torch.Tensor, targets: Mapping[str, Any]) -> torch.Tensor:
        """Compute the weighted sum of the available terms.

        Args:
            outputs: network outputs by name, or the seg logits tensor of an eval-mode network.
            targets: ``label``, and for SR outputs ``hr_image`` (plus optional ``intensity_range``).

        Returns:
            the total loss: a scalar, or (N,) for ``reduction="none"``.

        Raises:
            ValueError: when no term can be computed, or a needed target is missing or has the wrong shape.
        """
        if isinstance(outputs, torch.Tensor):
            outputs = {"seg": outputs}
        if not isinstance(targets, Mapping):
            targets = {"label": targets}
        label = None
        total = None
        terms: dict[str, torch.Tensor] = {}
        for name in TERMS:
            pred = outputs.get(name)
            kind = self.kinds[name]
            weight = self.weights[name]
            if pred is None or kind == "none" or weight == 0:
                continue
            pred = convert_to_tensor(pred, track_meta=False)
            if name in ("seg", "fused_seg"):
                label = self._labels(targets) if label is None else label
                value = self._seg_term(kind, pred, label)
            else:
                value = self._image_term(kind, pred, targets)
            terms[name] = value.detach()
            total = weight * value if total is None else total + weight * value
        if total is None:
            raise ValueError(
                f"DualStreamLoss: no loss term could be computed from outputs {sorted(outputs)} "
                f"with losses {self.kinds}."
            )
        terms["total"] = total.detach()
        self.last_terms = terms
        return total
