# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Saliency-weighted MSE (eq. 7) and local saliency loss (eq. 9) of Mahapatra et al., MICCAI 2017.

"Image Super Resolution Using Generative Adversarial Networks and Local Saliency Maps for Retinal Image Analysis"
(arXiv:1710.04783). The saliency maps come from :func:`monai_ext.transforms.local_saliency_map`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.modules.loss import _Loss

from monai_ext.transforms.saliency import local_saliency_map

from .reduction import reduce_loss, validate_reduction

__all__ = ["SaliencyWeightedMSELoss", "LocalSaliencyLoss"]


def _check_pair(input: torch.Tensor, target: torch.Tensor) -> None:
    if input.ndim != 4 or input.shape != target.shape:
        raise ValueError(
            f"input and target must be batches (N, C, H, W) of the same shape, got {tuple(input.shape)} and "
            f"{tuple(target.shape)}."
        )


class SaliencyWeightedMSELoss(_Loss):
    """Pixel-wise MSE weighted by the local saliency of the high-resolution image (eq. 7).

    ``loss = mean_{n,c,x,y} (S(target) + weight_offset)_{n,x,y} (input - target)_{n,c,x,y}^2``

    The weights are a fixed function of the target: they are computed without gradient, with the paper's hard
    histogram, or taken from the ``saliency`` argument (e.g. precomputed by
    :class:`monai_ext.transforms.LocalSaliencyMapd`).

    Args:
        weight_offset: constant added to the saliency before weighting. 0 (default) is the paper's weighting, under
            which pixels of zero saliency (and flat images) do not contribute; 1 gives ``MSE + saliency-weighted MSE``.
        reduction: ``"mean"`` (over all N*C*H*W elements), ``"sum"`` or ``"none"`` (the (N, C, H, W) map).
        saliency_kwargs: options of :func:`~monai_ext.transforms.local_saliency_map`, e.g. ``intensity_range``.

    Raises:
        ValueError: for an unknown reduction or a negative ``weight_offset``.
    """

    def __init__(self, weight_offset: float = 0.0, reduction: str = "mean", **saliency_kwargs: Any) -> None:
        super().__init__(reduction=validate_reduction(reduction, type(self).__name__))
        if weight_offset < 0:
            raise ValueError(f"weight_offset must be non-negative, got {weight_offset}.")
        self.weight_offset = float(weight_offset)
        self.saliency_kwargs = saliency_kwargs

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, saliency: torch.Tensor | None = None
    ) -> torch.Tensor:
        """
        Args:
            input: super-resolved batch (N, C, H, W).
            target: high-resolution batch (N, C, H, W).
            saliency: optional precomputed saliency of ``target``, (N, 1, H, W) or (N, C, H, W).

        Returns:
            the reduced loss, or the (N, C, H, W) weighted squared errors for ``reduction="none"``.

        Raises:
            ValueError: when the shapes do not match.
        """
        _check_pair(input, target)
        if saliency is None:
            with torch.no_grad():
                saliency = local_saliency_map(target.detach(), **self.saliency_kwargs)
        elif saliency.ndim != 4 or saliency.shape[0] != input.shape[0] or saliency.shape[2:] != input.shape[2:]:
            raise ValueError(
                f"saliency must have shape (N, 1, H, W) matching input {tuple(input.shape)}, "
                f"got {tuple(saliency.shape)}."
            )
        weight = saliency.detach().to(input.dtype) + self.weight_offset
        return reduce_loss(weight * (input - target) ** 2, self.reduction)


class LocalSaliencyLoss(_Loss):
    """Squared difference between the local saliency maps of the super-resolved and the HR image (eq. 9).

    ``loss = mean_{n,x,y} (S(input) - S(target))^2``

    The hard 8-bin histogram of the paper's local entropy has zero gradient almost everywhere, so both maps are
    computed with soft (Gaussian-kernel) binning: every pixel contributes to each of the 8 bins with weight
    ``softmax_k(-(x - c_k)^2 / (2 sigma_b^2))`` around the bin centres ``c_k``, with ``sigma_b`` half a bin width by
    default (``soft_bin_sigma``), and the 7x7 histogram is the window average of these memberships. Curvature,
    uniqueness, smoothing and normalisation are differentiable as they are. The target map is computed without
    gradient with the same estimator, so identical images give exactly 0.

    Args:
        reduction: ``"mean"`` (over N*H*W), ``"sum"`` or ``"none"`` (the (N, 1, H, W) map).
        histogram: ``"soft"`` (default, differentiable) or ``"hard"`` (no gradient through the entropy term).
        saliency_kwargs: further options of :func:`~monai_ext.transforms.local_saliency_map`.

    Raises:
        ValueError: for an unknown reduction.
    """

    def __init__(self, reduction: str = "mean", histogram: str = "soft", **saliency_kwargs: Any) -> None:
        super().__init__(reduction=validate_reduction(reduction, type(self).__name__))
        self.saliency_kwargs = {"histogram": histogram, **saliency_kwargs}

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: super-resolved batch (N, C, H, W).
            target: high-resolution batch (N, C, H, W).

        Returns:
            the reduced loss, or the (N, 1, H, W) squared saliency differences for ``reduction="none"``.

        Raises:
            ValueError: when the shapes do not match.
        """
        _check_pair(input, target)
        with torch.no_grad():
            target_saliency = local_saliency_map(target.detach(), **self.saliency_kwargs)
        input_saliency = local_saliency_map(input, **self.saliency_kwargs)
        return reduce_loss((input_saliency - target_saliency) ** 2, self.reduction)
