# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Generator and discriminator losses of the saliency-guided SR GAN.

Mahapatra, Bozorgtabar, Hewavitharanage, Garnavi, MICCAI 2017 (arXiv:1710.04783), on top of SRGAN (Ledig et al.,
CVPR 2017): the generator minimises a content loss (saliency-weighted MSE + VGG16 ``relu4_1`` feature loss + local
saliency loss) plus ``0.01`` times the adversarial loss ``-log D(G(LR))``; the discriminator minimises
``-log D(HR) - log(1 - D(G(LR)))``. Both adversarial terms are binary cross-entropies on logits. The trainer that
uses them is :class:`monai_ext.engines.SRGanTrainer`; ``monai_ext.engines`` still exports both losses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

from .reduction import validate_reduction
from .saliency import LocalSaliencyLoss, SaliencyWeightedMSELoss
from .vgg_feature import VGGFeatureLoss

__all__ = ["SRGanGeneratorLoss", "SRGanDiscriminatorLoss"]

logger = logging.getLogger(__name__)


def _bce_with_logits(logits: torch.Tensor, real: bool, reduction: str) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target, reduction=reduction)


class SRGanGeneratorLoss(_Loss):
    """Generator loss ``content + adversarial_weight * BCE(D(G(LR)), 1)`` of Mahapatra et al. (MICCAI 2017).

    ``content = mse_weight * SaliencyWeightedMSE + vgg_weight * VGG16_relu4_1 + saliency_weight * LocalSaliency``.
    The paper states the terms without weights (all 1) and the adversarial weight 0.01. The VGG term is active only
    with pretrained weights (``vgg_weights_path`` or a ready ``vgg_loss``); otherwise it is off, which is logged.
    Without ``fake_logits`` (MSE-style pre-training or validation) the adversarial term is skipped. The latest
    values of the terms are kept, detached, in ``last_terms`` (for :class:`~monai_ext.handlers.LossTermsHandler`),
    named like the bundle's ``loss_weights`` (``mse``, ``vgg``, ``saliency``, ``adversarial``) plus ``total``.

    Args:
        mse_weight: weight of the saliency-weighted MSE (eq. 7).
        vgg_weight: weight of the VGG16 feature loss.
        saliency_weight: weight of the local saliency loss (eq. 9).
        adversarial_weight: weight of the adversarial term (paper: 0.01; the co-author code: 10).
        intensity_range: ``(low, high)`` of the image normalisation (saliency bins, VGG input normalisation).
        weight_offset: constant added to the saliency weights of the MSE (0 = paper).
        vgg_weights_path: local VGG16 weights file; ``None`` switches the VGG term off.
        vgg_loss: a ready VGG feature loss module (takes precedence over ``vgg_weights_path``).
        reduction: ``"mean"`` or ``"sum"``, passed to every term (a composite of differently shaped terms has no
            ``"none"``).

    Raises:
        ValueError: for an invalid reduction or a negative weight.
    """

    def __init__(
        self,
        mse_weight: float = 1.0,
        vgg_weight: float = 1.0,
        saliency_weight: float = 1.0,
        adversarial_weight: float = 0.01,
        intensity_range: Sequence[float] = (0.0, 1.0),
        weight_offset: float = 0.0,
        vgg_weights_path: str | os.PathLike | None = None,
        vgg_loss: nn.Module | None = None,
        reduction: str = "mean",
    ) -> None:
        reduction = validate_reduction(
            reduction,
            "SRGanGeneratorLoss",
            allowed=(LossReduction.MEAN, LossReduction.SUM),
            why="(a composite of differently shaped terms has no 'none')",
        )
        super().__init__(reduction=reduction)
        for name, value in (
            ("mse_weight", mse_weight),
            ("vgg_weight", vgg_weight),
            ("saliency_weight", saliency_weight),
            ("adversarial_weight", adversarial_weight),
        ):
            if value < 0:
                raise ValueError(f"{name} must be non-negative, got {value}.")
        self.mse_weight = float(mse_weight)
        self.vgg_weight = float(vgg_weight)
        self.saliency_weight = float(saliency_weight)
        self.adversarial_weight = float(adversarial_weight)
        intensity_range = tuple(float(v) for v in intensity_range)
        self.saliency_mse = SaliencyWeightedMSELoss(
            weight_offset=weight_offset, reduction=reduction, intensity_range=intensity_range
        )
        self.saliency_loss = LocalSaliencyLoss(reduction=reduction, intensity_range=intensity_range)
        if vgg_loss is None and vgg_weights_path is not None and self.vgg_weight > 0:
            vgg_loss = VGGFeatureLoss(weights_path=vgg_weights_path, input_range=intensity_range, reduction=reduction)
        self.vgg_loss = vgg_loss
        if self.vgg_loss is None and self.vgg_weight > 0:
            logger.info("SRGanGeneratorLoss: no VGG16 weights given, the VGG feature term is off.")
        self.last_terms: dict[str, torch.Tensor] = {}

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        fake_logits: torch.Tensor | None = None,
        saliency: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """
        Args:
            input: super-resolved batch G(LR), (N, C, H, W).
            target: HR batch (N, C, H, W).
            fake_logits: discriminator logits of ``input``; ``None`` skips the adversarial term.
            saliency: optional precomputed saliency of the target for the weighted MSE.

        Returns:
            the scalar generator loss.
        """
        terms: dict[str, torch.Tensor] = {}
        total = input.new_zeros(())
        if self.mse_weight > 0:
            terms["mse"] = self.saliency_mse(input, target, saliency)
            total = total + self.mse_weight * terms["mse"]
        if self.vgg_loss is not None and self.vgg_weight > 0:
            terms["vgg"] = self.vgg_loss(input, target)
            total = total + self.vgg_weight * terms["vgg"]
        if self.saliency_weight > 0:
            terms["saliency"] = self.saliency_loss(input, target)
            total = total + self.saliency_weight * terms["saliency"]
        if fake_logits is not None and self.adversarial_weight > 0:
            terms["adversarial"] = _bce_with_logits(fake_logits, True, self.reduction)
            total = total + self.adversarial_weight * terms["adversarial"]
        terms["total"] = total
        self.last_terms = {k: v.detach() for k, v in terms.items()}
        return total


class SRGanDiscriminatorLoss(_Loss):
    """Discriminator loss ``BCE(D(HR), 1) + BCE(D(G(LR)), 0)`` on logits.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (then the (N, 1) real and fake terms are added elementwise).

    Raises:
        ValueError: for an invalid reduction.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction=validate_reduction(reduction, "SRGanDiscriminatorLoss"))

    def forward(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """
        Args:
            real_logits: discriminator logits of HR images.
            fake_logits: discriminator logits of generated images (detached from the generator).
        """
        real = _bce_with_logits(real_logits, True, self.reduction)
        return real + _bce_with_logits(fake_logits, False, self.reduction)
