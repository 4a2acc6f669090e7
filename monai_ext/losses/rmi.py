# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Region Mutual Information (RMI) loss.

Zhao, Wang, Cai, He, "Region Mutual Information Loss for Semantic Segmentation", NeurIPS 2019
(arXiv:1910.12037). Used as the fused-segmentation proxy loss of DS2F and SS-MAF.

Minimising the RMI term maximises the paper's lower bound of the mutual information between the label and the
prediction in every ``radius x radius`` neighbourhood. Per class, with the regulariser of the published code,

    RMI_c = 1/2 * log det( Sigma_Y - Cov(Y, P) (Sigma_P + alpha I)^-1 Cov(Y, P)^T + alpha I ) / d,

where ``Y`` and ``P`` are the ``d = radius**2``-dimensional vectors of neighbouring label / probability
values (after downsampling), the covariances are centred sums over all positions (not divided by their
count) and ``alpha = reg = 5e-4``. The loss is ``lambda * BCE + (1 - lambda) * sum_c mean_n RMI_c``.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from monai.utils import LossReduction, convert_to_tensor
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction

__all__ = ["RMILoss"]

_PROB_OFFSET = 1e-6  # added to the probabilities before pooling, as in the published code
_LOG_EPS = 1e-8  # added to the Cholesky diagonal before the log, as in the published code
_CPU_BAND_BYTES = 8 * 2**20  # size of one band of neighbourhood vectors on the CPU (see _CentredGram)
_POOL_MODES = ("avg", "max", "interpolate")


class _CentredGram(torch.autograd.Function):
    """Centred Gram matrix of the stacked ``r x r`` neighbourhood vectors of a probability and a label map.

    For maps ``P`` (differentiable) and ``L`` (constant) of shape (B, 1, H, W) the ``d = r * r`` shifted views are
    stacked into ``X = [P; L]`` of shape (B, 2d, m) and ``X X^T - s s^T / m`` (``s`` the row sums) is returned:
    the prediction covariance, the label-prediction cross covariance and the label covariance in one matrix
    multiplication. The backward pass writes the gradient of the prediction rows directly,
    ``(G + G^T)[:d] X - ((G + G^T)[:d] s / m) 1^T``, instead of letting autograd differentiate three products and
    sum their gradients.

    The inputs may be of any floating dtype: they are copied once into one float64 map (B, 2, H, W), where all
    products are accumulated, and the gradient is returned in the dtype of ``probs``.

    On the CPU ``X`` is built and multiplied in bands of output rows of about ``_CPU_BAND_BYTES`` (forward and
    backward alike), so that it stays in cache and is never held whole: at 1168 x 1752 the whole ``X`` of a batch
    of 2 x 2 classes is 130 MB of float64, and writing it dominated the loss. On other devices one band covers the map.
    """

    @staticmethod
    def _bands(maps: torch.Tensor, radius: int) -> list[tuple[int, int]]:
        b, k, h, w = maps.shape
        rows = h - radius + 1
        if maps.device.type == "cpu":
            bytes_per_row = b * k * radius * radius * (w - radius + 1) * maps.element_size()
            step = max(1, _CPU_BAND_BYTES // max(bytes_per_row, 1))
        else:
            step = rows
        return [(y0, min(y0 + step, rows)) for y0 in range(0, rows, step)]

    @staticmethod
    def forward(ctx, probs: torch.Tensor, labels: torch.Tensor, radius: int) -> torch.Tensor:
        b, _, h, w = probs.shape
        maps = probs.new_empty(b, 2, h, w, dtype=torch.float64)
        maps[:, :1].copy_(probs)
        maps[:, 1:].copy_(labels)
        size = 2 * radius * radius
        gram = maps.new_zeros(b, size, size)
        sums = maps.new_zeros(b, size, 1)
        for y0, y1 in _CentredGram._bands(maps, radius):
            band = F.unfold(maps[:, :, y0 : y1 + radius - 1], kernel_size=radius)  # (B, 2d, m_band)
            gram.baddbmm_(band, band.transpose(-1, -2))
            sums += band.sum(dim=-1, keepdim=True)
        m = (h - radius + 1) * (w - radius + 1)
        gram.baddbmm_(sums, sums.transpose(-1, -2), alpha=-1.0 / m)
        ctx.save_for_backward(maps, sums)
        ctx.radius, ctx.m, ctx.probs_dtype = radius, m, probs.dtype
        return gram

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_gram: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        maps, sums = ctx.saved_tensors
        r = ctx.radius
        weight = (grad_gram + grad_gram.transpose(-1, -2))[:, : r * r]  # (B, d, 2d)
        offset = (weight @ sums) / ctx.m  # (B, d, 1)
        b, _, h, w = maps.shape
        grad = maps.new_zeros(b, 1, h, w)
        for y0, y1 in _CentredGram._bands(maps, r):
            band = F.unfold(maps[:, :, y0 : y1 + r - 1], kernel_size=r)
            grad_views = weight @ band
            grad_views -= offset
            grad[:, :, y0 : y1 + r - 1] += F.fold(grad_views, (y1 - y0 + r - 1, w), kernel_size=r)
        return grad.to(ctx.probs_dtype), None, None


class RMILoss(_Loss):
    """Region Mutual Information loss with the sigmoid BCE term of the published implementation.

    Each channel goes through its own sigmoid (even for mutually exclusive classes), as in the reference code
    used by DS2F / SS-MAF. All classes and batch items are handled by single batched float64 linear-algebra
    calls on the input's device (the released DS2F code moved them to the CPU).

    Edge cases:

    * all-background / all-foreground masks: the label covariance of a constant map is zero, so the RMI term is
      the finite constant ``0.5 * log(reg)`` for that class with a zero gradient;
    * maps that are smaller than ``radius`` after downsampling (no ``radius x radius`` neighbourhood exists):
      the RMI term is skipped (contributes 0) with a warning, and the loss is ``lambda * BCE``;
    * ignored pixels (``ignore_index`` or any value outside ``[0, num_classes)``) get a zero one-hot label and a
      probability of ``1e-6`` in the RMI term, and are left out of the BCE term, as in the published code.

    Args:
        num_classes: number of channels ``C`` of the logits (>= 2; binary tasks use background + foreground).
        radius: side of the square neighbourhood; the vectors have ``radius**2`` entries.
        pool: downsampling before the RMI term: ``"avg"`` (``avg_pool2d``, zero padding counted as in the
            published code), ``"max"`` (``max_pool2d``) or ``"interpolate"`` (nearest for labels, bilinear with
            ``align_corners=True`` for probabilities, to ``(H // pool_stride, W // pool_stride)``).
        pool_size: pooling window (padding ``pool_size // 2``).
        pool_stride: pooling stride; ``1`` disables downsampling.
        lambda_weight: ``lambda`` of ``lambda * BCE + (1 - lambda) * RMI``; ``0`` gives the RMI term alone.
        ignore_index: label value left out of both terms.
        reg: ``alpha``, added to the diagonal of the prediction covariance and of the posterior covariance.
        reduction: ``"mean"`` (the published value: BCE pooled over all valid pixels of the batch,
            ``sum / (n_valid + 1)``, RMI averaged over the batch), ``"sum"`` (sum of the per-sample values) or
            ``"none"`` (per-sample values of shape ``(N,)``, each with its own BCE normalisation
            ``sum_n / (n_valid_n + 1)``).

    Raises:
        ValueError: on an unknown ``pool``/``reduction`` or non-positive sizes.
    """

    def __init__(
        self,
        num_classes: int = 2,
        radius: int = 3,
        pool: str = "avg",
        pool_size: int = 3,
        pool_stride: int = 3,
        lambda_weight: float = 0.5,
        ignore_index: int = 255,
        reg: float = 5e-4,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "RMILoss"))
        if num_classes < 2:
            raise ValueError(
                f"RMILoss: num_classes must be >= 2 (binary tasks use 2 channels, background + foreground), "
                f"got {num_classes}."
            )
        if radius < 1:
            raise ValueError(f"RMILoss: radius must be >= 1, got {radius}.")
        if pool not in _POOL_MODES:
            raise ValueError(f"RMILoss: pool must be one of {_POOL_MODES}, got {pool!r}.")
        if pool_size < 1 or pool_stride < 1:
            raise ValueError(f"RMILoss: pool_size and pool_stride must be >= 1, got {pool_size}, {pool_stride}.")
        if reg <= 0:
            raise ValueError(f"RMILoss: reg must be > 0, got {reg}.")
        self.num_classes = int(num_classes)
        self.radius = int(radius)
        self.pool = pool
        self.pool_size = int(pool_size)
        self.pool_stride = int(pool_stride)
        self.lambda_weight = float(lambda_weight)
        self.ignore_index = int(ignore_index)
        self.reg = float(reg)

    def _one_hot(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the valid-masked one-hot labels (N, C, H, W) and the valid mask (N, 1, H, W), in logits' dtype."""
        n, c, h, w = logits.shape
        if target.ndim == 4 and target.shape[1] == c and target.is_floating_point():
            if target.shape != logits.shape:
                raise ValueError(
                    f"RMILoss: one-hot target shape {tuple(target.shape)} != logits {tuple(logits.shape)}."
                )
            one_hot = target.to(logits.dtype)
            valid = (one_hot.sum(dim=1, keepdim=True) > 0).to(logits.dtype)
            return one_hot, valid
        if target.ndim == 4 and target.shape[1] == 1:
            target = target[:, 0]
        if target.shape != (n, h, w):
            raise ValueError(
                f"RMILoss: target must be (N, H, W) / (N, 1, H, W) class indices or (N, C, H, W) one-hot matching "
                f"logits {tuple(logits.shape)}, got {tuple(target.shape)}."
            )
        if target.is_floating_point():
            target = target.round()
        target = target.long()
        valid_bool = (target >= 0) & (target < c) & (target != self.ignore_index)
        valid_bool = valid_bool.unsqueeze(1)
        classes = torch.arange(c, device=target.device).view(1, c, 1, 1)
        one_hot = ((target.unsqueeze(1) == classes) & valid_bool).to(logits.dtype)  # F.one_hot syncs for its check
        return one_hot, valid_bool.to(logits.dtype)

    def _downsample(self, labels: torch.Tensor, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pool_stride <= 1:
            return labels, probs
        k, s, p = self.pool_size, self.pool_stride, self.pool_size // 2
        if self.pool == "avg":
            return F.avg_pool2d(labels, k, s, p), F.avg_pool2d(probs, k, s, p)
        if self.pool == "max":
            return F.max_pool2d(labels, k, s, p), F.max_pool2d(probs, k, s, p)
        size = (max(labels.shape[2] // s, 1), max(labels.shape[3] // s, 1))
        return (
            F.interpolate(labels, size=size, mode="nearest"),
            F.interpolate(probs, size=size, mode="bilinear", align_corners=True),
        )

    def rmi_per_sample(self, labels: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """RMI term ``1/2 log det(posterior covariance + reg I)`` per sample, summed over classes, divided by ``d``.

        Args:
            labels: valid-masked one-hot labels (N, C, H, W).
            probs: probabilities (N, C, H, W), already masked and offset.

        Returns:
            float64 tensor of shape (N,); zeros when the downsampled map is smaller than ``radius``.
        """
        labels, probs = self._downsample(labels, probs)
        n, c, h, w = labels.shape
        r = self.radius
        d = r * r
        if h < r or w < r:
            warnings.warn(
                f"RMILoss: the downsampled map ({h}x{w}) is smaller than radius {r}; the RMI term is skipped (0).",
                stacklevel=3,
            )
            return probs.new_zeros(n, dtype=torch.float64) + 0.0 * probs.sum(dim=(1, 2, 3)).double()
        gram = _CentredGram.apply(probs.reshape(n * c, 1, h, w), labels.detach().reshape(n * c, 1, h, w), r).view(
            n, c, 2 * d, 2 * d
        )
        pr_cov, la_pr_cov, la_cov = gram[..., :d, :d], gram[..., d:, :d], gram[..., d:, d:]
        eye = torch.eye(d, dtype=pr_cov.dtype, device=pr_cov.device)
        pr_chol, _ = torch.linalg.cholesky_ex(pr_cov + self.reg * eye)
        # la_pr_cov @ (pr_cov + reg I)^-1 @ la_pr_cov^T, through a Cholesky solve instead of an explicit inverse
        solved = torch.cholesky_solve(la_pr_cov.transpose(-1, -2), pr_chol)
        appro_var = la_cov - la_pr_cov @ solved
        appro_var = 0.5 * (appro_var + appro_var.transpose(-1, -2)) + self.reg * eye
        chol, _ = torch.linalg.cholesky_ex(appro_var)
        log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1) + _LOG_EPS).sum(dim=-1)
        return (0.5 * log_det).sum(dim=1) / d

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            input: logits (N, C, H, W).
            target: class indices (N, H, W) or (N, 1, H, W), or one-hot (N, C, H, W) float (pixels whose one-hot
                vector is all zero are ignored).

        Returns:
            scalar for ``reduction`` ``"mean"``/``"sum"``, (N,) for ``"none"``, in the dtype of ``input``.

        Raises:
            ValueError: when shapes do not match or ``C != num_classes``.
        """
        logits = convert_to_tensor(input, track_meta=False)
        target = convert_to_tensor(target, track_meta=False)
        if logits.ndim != 4:
            raise ValueError(f"RMILoss: input must be (N, C, H, W) logits, got shape {tuple(logits.shape)}.")
        if logits.shape[1] != self.num_classes:
            raise ValueError(f"RMILoss: input has {logits.shape[1]} channels, num_classes is {self.num_classes}.")
        one_hot, valid = self._one_hot(logits, target)

        bce_map = F.binary_cross_entropy_with_logits(logits, one_hot, weight=valid, reduction="none")
        bce_sum = bce_map.sum(dim=(1, 2, 3))  # (N,)
        n_valid = valid.sum(dim=(1, 2, 3))  # (N,)

        probs = (torch.sigmoid(logits) * valid).add_(_PROB_OFFSET)
        rmi = self.rmi_per_sample(one_hot, probs).to(logits.dtype)  # (N,)

        lam = self.lambda_weight
        if self.reduction == LossReduction.MEAN.value:
            bce = bce_sum.sum() / (n_valid.sum() + 1.0)
            return lam * bce + (1.0 - lam) * rmi.mean()
        per_sample = lam * bce_sum / (n_valid + 1.0) + (1.0 - lam) * rmi
        return reduce_loss(per_sample, self.reduction)
