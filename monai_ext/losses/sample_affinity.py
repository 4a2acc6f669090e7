# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Sample-affinity losses of the SAI diagnosis network and its rank loss.

* :class:`SampleAffinityConsistencyLoss` (SAC, eq. 9): the SR and LR branches should relate the samples of a
  batch to each other in the same way, ``sum_k d(A_SR^k, A_LR^k)``.
* :class:`SampleAffinityRegularizationLoss` (SAR, eq. 11): the interaction matrices of adjacent stages should
  agree, ``0.5 sum_k [d(M_s2l^{k+1}, M_s2l^k) + d(M_l2s^{k+1}, M_l2s^k)]``.
* :class:`RankLoss` (eq. 13): the ensemble should be more confident in the true class than each single head.

``d(X, Y) = ||softmax_row(X / T) - softmax_row(Y / T)||_F^2 / B^2`` for B x B matrices. Nothing is detached:
gradients reach both arguments.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-C.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction

__all__ = [
    "affinity_distance",
    "SampleAffinityConsistencyLoss",
    "SampleAffinityRegularizationLoss",
    "RankLoss",
]

def affinity_distance(x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Row contributions of ``d(X, Y) = ||softmax_row(X/T) - softmax_row(Y/T)||_F^2 / B^2``.

    Args:
        x: (B, B) matrix.
        y: (B, B) matrix.
        temperature: softmax temperature ``T``.

    Returns:
        (B,) tensor ``r_i = sum_j (P_ij - Q_ij)^2 / B``, so that ``r.mean() = d(X, Y)``.

    Raises:
        ValueError: when the matrices are not square or differ in shape.
    """
    if x.ndim != 2 or x.shape[0] != x.shape[1] or x.shape != y.shape:
        raise ValueError(
            f"affinity_distance: expected two B x B matrices of the same size, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}."
        )
    diff = torch.softmax(x / temperature, dim=1) - torch.softmax(y / temperature, dim=1)
    return diff.square().sum(dim=1) / x.shape[0]


def _as_stages(matrices: torch.Tensor | Sequence[torch.Tensor], name: str, owner: str) -> list[torch.Tensor]:
    if isinstance(matrices, torch.Tensor):
        return [matrices] if matrices.ndim == 2 else list(matrices.unbind(0))
    stages = list(matrices)
    if not stages:
        raise ValueError(f"{owner}: {name} holds no matrices.")
    return stages


class SampleAffinityConsistencyLoss(_Loss):
    """SAC loss, eq. 9: ``sum_k d(A_SR^k, A_LR^k)`` over the SAI stages.

    The released code computes the same term twice ("s2l" and "l2s", equal values) and averages them, which
    equals this single sum. With a batch of one sample the affinities are 1 x 1, their row softmax is 1, and the
    loss is exactly 0 (no gradient signal).

    Args:
        temperature: row-softmax temperature ``T`` (1 in the released code).
        reduction: ``"mean"`` gives the paper value; ``"sum"`` is ``B`` times it; ``"none"`` gives the (B,) row
            (sample) contributions summed over stages, whose mean is the paper value.

    Raises:
        ValueError: on an unknown ``reduction`` or a non-positive ``temperature``.
    """

    def __init__(self, temperature: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=validate_reduction(reduction, type(self).__name__))
        if temperature <= 0:
            raise ValueError(f"{type(self).__name__}: temperature must be > 0, got {temperature}.")
        self.temperature = temperature

    def forward(
        self,
        affinity_sr: torch.Tensor | Sequence[torch.Tensor],
        affinity_lr: torch.Tensor | Sequence[torch.Tensor],
    ) -> torch.Tensor:
        """Args:
            affinity_sr: SR-branch affinities ``A_SR^k``: a (B, B) matrix, a (K, B, B) stack or a sequence.
            affinity_lr: LR-branch affinities ``A_LR^k``, same layout.

        Returns:
            The reduced loss (scalar, or (B,) for ``"none"``).

        Raises:
            ValueError: when the numbers of stages or matrix shapes differ.
        """
        owner = type(self).__name__
        sr = _as_stages(affinity_sr, "affinity_sr", owner)
        lr = _as_stages(affinity_lr, "affinity_lr", owner)
        if len(sr) != len(lr):
            raise ValueError(f"{owner}: {len(sr)} SR stages but {len(lr)} LR stages.")
        per_sample = torch.stack([affinity_distance(s, l, self.temperature) for s, l in zip(sr, lr)]).sum(0)
        return reduce_loss(per_sample, self.reduction)


class SampleAffinityRegularizationLoss(_Loss):
    """SAR loss, eq. 11: ``0.5 sum_{k=1}^{K-1} [d(M_s2l^{k+1}, M_s2l^k) + d(M_l2s^{k+1}, M_l2s^k)]``.

    Adjacent stages, both interaction directions, nothing detached (as in the released code). For a batch of one
    sample the loss is exactly 0.

    Args:
        temperature: row-softmax temperature ``T``.
        reduction: as in :class:`SampleAffinityConsistencyLoss`.

    Raises:
        ValueError: on an unknown ``reduction`` or a non-positive ``temperature``.
    """

    def __init__(self, temperature: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=validate_reduction(reduction, type(self).__name__))
        if temperature <= 0:
            raise ValueError(f"{type(self).__name__}: temperature must be > 0, got {temperature}.")
        self.temperature = temperature

    def forward(
        self,
        mixing_s2l: torch.Tensor | Sequence[torch.Tensor],
        mixing_l2s: torch.Tensor | Sequence[torch.Tensor],
    ) -> torch.Tensor:
        """Args:
            mixing_s2l: SR-to-LR interaction matrices ``M_s2l^k`` of K >= 2 stages ((K, B, B) stack or sequence).
            mixing_l2s: LR-to-SR interaction matrices ``M_l2s^k``, same layout.

        Returns:
            The reduced loss (scalar, or (B,) for ``"none"``).

        Raises:
            ValueError: with fewer than 2 stages or mismatched inputs.
        """
        owner = type(self).__name__
        s2l = _as_stages(mixing_s2l, "mixing_s2l", owner)
        l2s = _as_stages(mixing_l2s, "mixing_l2s", owner)
        if len(s2l) != len(l2s) or len(s2l) < 2:
            raise ValueError(f"{owner}: needs the same number (>= 2) of stages, got {len(s2l)} and {len(l2s)}.")
        terms = [
            affinity_distance(seq[k + 1], seq[k], self.temperature)
            for seq in (s2l, l2s)
            for k in range(len(seq) - 1)
        ]
        return reduce_loss(0.5 * torch.stack(terms).sum(0), self.reduction)


class RankLoss(_Loss):
    """Rank loss, eq. 13: the ensemble must be more confident in the true class than the single heads.

    With ``p`` the true-class score of each head, per sample
    ``[p_LR - p_SR + m]_+ + [p_SR - p_ens + m]_+ + [p_aux - p_ens + m]_+ + [p_LR - p_ens + 2m]_+``
    (the pairs and margins of the released code).

    Args:
        margin: ``m`` (0.05).
        use_probabilities: score with softmax probabilities ``p^t`` (paper, default) or with raw true-class
            logits (released code, False).
        reduction: ``"mean"``/``"sum"`` over the batch or ``"none"`` for (B,).

    Raises:
        ValueError: on an unknown ``reduction`` or a negative ``margin``.
    """

    def __init__(self, margin: float = 0.05, use_probabilities: bool = True, reduction: str = "mean") -> None:
        super().__init__(reduction=validate_reduction(reduction, type(self).__name__))
        if margin < 0:
            raise ValueError(f"RankLoss: margin must be >= 0, got {margin}.")
        self.margin = margin
        self.use_probabilities = use_probabilities

    def _true_class_score(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        scores = torch.softmax(logits, dim=1) if self.use_probabilities else logits
        return scores.gather(1, target.unsqueeze(1)).squeeze(1)

    def forward(
        self,
        logits_sr: torch.Tensor,
        logits_lr: torch.Tensor,
        logits_aux: torch.Tensor,
        logits_ens: torch.Tensor,
        target: torch.Tensor,
    ) -> torch.Tensor:
        """Args:
            logits_sr: SR-branch logits (B, K).
            logits_lr: LR-branch logits (B, K).
            logits_aux: auxiliary-head logits (B, K).
            logits_ens: ensemble logits (B, K).
            target: class indices (B,) or (B, 1).

        Returns:
            The reduced loss (scalar, or (B,) for ``"none"``).

        Raises:
            ValueError: on mismatched shapes.
        """
        shapes = {tuple(t.shape) for t in (logits_sr, logits_lr, logits_aux, logits_ens)}
        if len(shapes) != 1 or logits_ens.ndim != 2:
            raise ValueError(f"RankLoss: all logits must share one (B, K) shape, got {sorted(shapes)}.")
        target = target.reshape(-1).long()
        if target.shape[0] != logits_ens.shape[0]:
            raise ValueError(f"RankLoss: {target.shape[0]} targets for a batch of {logits_ens.shape[0]}.")
        p_sr, p_lr, p_aux, p_ens = (
            self._true_class_score(t, target) for t in (logits_sr, logits_lr, logits_aux, logits_ens)
        )
        m = self.margin
        per_sample = (
            torch.relu(p_lr - p_sr + m)
            + torch.relu(p_sr - p_ens + m)
            + torch.relu(p_aux - p_ens + m)
            + torch.relu(p_lr - p_ens + 2 * m)
        )
        return reduce_loss(per_sample, self.reduction)
