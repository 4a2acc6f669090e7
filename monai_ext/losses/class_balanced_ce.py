# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Class-balanced softmax cross-entropy.

Cui, Jia, Lin, Song, Belongie, "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019
(arXiv:1901.05555). SS-MAF uses it as the main segmentation loss, with the class counts taken from the pixels
of the current batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.utils import LossReduction, convert_to_tensor
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction

__all__ = ["ClassBalancedCELoss"]


class ClassBalancedCELoss(_Loss):
    """Softmax cross-entropy weighted by the inverse effective number of pixels of each class in the batch.

    For class ``c`` with ``n_c`` (non-ignored) pixels in the current batch, ``w_c = (1 - beta) / (1 - beta**n_c)``,
    the inverse of the paper's effective number ``E_n = (1 - beta**n) / (1 - beta)``. The ``"mean"`` reduction is
    PyTorch's weighted mean ``sum_i w_{y_i} l_i / sum_i w_{y_i}``, which is what the authors' code gets by passing
    the weights to ``F.cross_entropy``.

    The weights depend on how many pixels a batch holds: with ``beta = 0.9999`` both classes of a whole 1440x960
    fundus image saturate (``beta**n`` is close to 0) and get almost equal weights, while on a small crop the rare
    class is weighted many times more. ``reference_pixels`` removes that dependence: the counts are rescaled to a
    batch of ``reference_pixels`` pixels with the same class fractions, ``n_c * reference_pixels / n``, so that a
    crop is weighted like the whole images it was cut from.

    A class absent from the batch has ``n_c = 0`` and an infinite weight in the formula (the authors' code
    computes that ``inf``; it is harmless there only because no pixel selects it). Here its weight is set to
    ``0``, so weights, value and gradient are always finite.

    Args:
        beta: ``beta`` of the effective number, in ``[0, 1)``.
        num_classes: number of classes; ``None`` uses the channel count of the logits.
        ignore_index: label value that contributes neither to the counts nor to the loss.
        reference_pixels: rescale the class counts to a batch of this many (non-ignored) pixels; ``None`` uses the
            raw counts of the batch (the paper and the authors' code, which train on whole images).
        reduction: ``"mean"`` (weighted mean), ``"sum"`` (sum of weighted pixel losses) or ``"none"``
            (weighted pixel losses ``w_{y_i} l_i``, shape of the target, 0 at ignored pixels). When every pixel
            is ignored, ``"mean"`` returns 0 (PyTorch returns nan).

    Raises:
        ValueError: on ``beta`` outside ``[0, 1)``, a non-positive ``reference_pixels`` or an unknown ``reduction``.
    """

    def __init__(
        self,
        beta: float = 0.9999,
        num_classes: int | None = None,
        ignore_index: int = -100,
        reference_pixels: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "ClassBalancedCELoss"))
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"ClassBalancedCELoss: beta must be in [0, 1), got {beta}.")
        if reference_pixels is not None and reference_pixels <= 0:
            raise ValueError(f"ClassBalancedCELoss: reference_pixels must be positive, got {reference_pixels}.")
        self.beta = float(beta)
        self.reference_pixels = None if reference_pixels is None else int(reference_pixels)
        self.num_classes = num_classes
        self.ignore_index = int(ignore_index)

    @staticmethod
    def _index_target(target: torch.Tensor) -> torch.Tensor:
        if target.ndim >= 3 and target.shape[1] == 1:
            target = target[:, 0]
        if target.is_floating_point():
            target = target.round()
        return target.long()

    def class_weights(self, target: torch.Tensor, num_classes: int) -> torch.Tensor:
        """Weights ``(1 - beta) / (1 - beta**n_c)`` from the pixel counts of ``target`` (rescaled to
        ``reference_pixels`` when set); 0 for absent classes.

        Args:
            target: class indices (N, *spatial), ``ignore_index`` allowed.
            num_classes: number of classes.

        Returns:
            float64 tensor (num_classes,) on the target's device.
        """
        valid = (target >= 0) & (target < num_classes) & (target != self.ignore_index)
        # scatter_add instead of bincount(target[valid]): no host synchronisation on CUDA
        counts = torch.zeros(num_classes, dtype=torch.float64, device=target.device)
        counts.scatter_add_(0, (target * valid).flatten(), valid.flatten().double())
        present = counts > 0
        if self.reference_pixels is not None:
            counts = counts * (self.reference_pixels / counts.sum().clamp_min(1.0))
        effective = 1.0 - torch.pow(torch.full_like(counts, self.beta), counts)  # 0 for absent classes
        return torch.where(present, (1.0 - self.beta) / torch.where(present, effective, 1.0), 0.0)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            input: logits (N, C, *spatial).
            target: class indices (N, *spatial) or (N, 1, *spatial).

        Returns:
            the reduced loss (see ``reduction``).

        Raises:
            ValueError: when the logits have fewer channels than ``num_classes`` or the shapes disagree.
        """
        logits = convert_to_tensor(input, track_meta=False)
        target = self._index_target(convert_to_tensor(target, track_meta=False))
        num_classes = logits.shape[1] if self.num_classes is None else int(self.num_classes)
        if logits.shape[1] != num_classes:
            raise ValueError(f"ClassBalancedCELoss: input has {logits.shape[1]} channels, num_classes={num_classes}.")
        if target.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(
                f"ClassBalancedCELoss: target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}."
            )
        weights = self.class_weights(target, num_classes).to(logits.dtype)
        pixel_loss = F.cross_entropy(logits, target, weight=weights, ignore_index=self.ignore_index, reduction="none")
        if self.reduction != LossReduction.MEAN.value:  # "none" or "sum"
            return reduce_loss(pixel_loss, self.reduction)
        valid = target != self.ignore_index
        weight_sum = (weights[target.clamp(0, num_classes - 1)] * valid).sum()
        # all pixels ignored: 0 instead of PyTorch's 0/0 = nan
        return pixel_loss.sum() / weight_sum.clamp_min(torch.finfo(weight_sum.dtype).tiny)
