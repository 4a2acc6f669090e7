# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Total training loss of the SAI diagnosis framework.

``L = 2 CE(y_ens) + CE(y_SR) + CE(y_LR) + CE(y_aux) + 100 L_SAC + 100 L_SAR + L_rank`` (weights of the released
training command; all configurable).

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-C.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction
from .sample_affinity import RankLoss, SampleAffinityConsistencyLoss, SampleAffinityRegularizationLoss

__all__ = ["SAIDiagnosisLoss"]

#: ``last_terms`` names of the cross-entropy terms: the names of their weights (``ensemble_weight`` ...)
_LOG_NAMES = {"ce_ens": "ensemble", "ce_sr": "sr", "ce_lr": "lr", "ce_aux": "aux"}


class SAIDiagnosisLoss(_Loss):
    """Weighted sum of the four cross-entropies, SAC, SAR and the rank loss.

    Args:
        ensemble_weight: weight of ``CE(y_ens)`` (2).
        sr_weight: weight of ``CE(y_SR)`` (1).
        lr_weight: weight of ``CE(y_LR)`` (1).
        aux_weight: weight of ``CE(y_aux)`` (1).
        consistency_weight: weight of the SAC loss (100).
        regularization_weight: weight of the SAR loss (100).
        rank_weight: weight of the rank loss (1).
        temperature: row-softmax temperature of SAC and SAR (1).
        margin: rank-loss margin (0.05).
        rank_use_probabilities: rank on softmax probabilities (paper, True) or raw logits (released code).
        label_key: key of the class indices in the targets dict.
        reduction: ``"mean"``/``"sum"`` over the batch or ``"none"`` for (B,) per-sample totals (SAC/SAR
            contribute their per-row values).

    ``last_terms`` holds the batch means of the unweighted terms of the last call (``ensemble``, ``sr``, ``lr``,
    ``aux``: the cross-entropies; ``consistency``, ``regularization``, ``rank``), named like the weights, and the
    ``total`` (batch mean of the weighted sum), detached and still on the device, for
    ``monai_ext.handlers.LossTermsHandler``.

    Raises:
        ValueError: on an unknown ``reduction``.
    """

    def __init__(
        self,
        ensemble_weight: float = 2.0,
        sr_weight: float = 1.0,
        lr_weight: float = 1.0,
        aux_weight: float = 1.0,
        consistency_weight: float = 100.0,
        regularization_weight: float = 100.0,
        rank_weight: float = 1.0,
        temperature: float = 1.0,
        margin: float = 0.05,
        rank_use_probabilities: bool = True,
        label_key: str = "label",
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "SAIDiagnosisLoss"))
        self.ce_weights = {
            "logits_ens": ensemble_weight,
            "logits_sr": sr_weight,
            "logits_lr": lr_weight,
            "logits_aux": aux_weight,
        }
        self.consistency_weight = consistency_weight
        self.regularization_weight = regularization_weight
        self.rank_weight = rank_weight
        self.label_key = label_key
        self.consistency = SampleAffinityConsistencyLoss(temperature, reduction="none")
        self.regularization = SampleAffinityRegularizationLoss(temperature, reduction="none")
        self.rank = RankLoss(margin, rank_use_probabilities, reduction="none")
        self.last_terms: dict[str, torch.Tensor] = {}

    def _labels(self, targets: Mapping[str, torch.Tensor] | torch.Tensor, batch: int) -> torch.Tensor:
        labels = targets if isinstance(targets, torch.Tensor) else targets.get(self.label_key)
        if labels is None:
            raise KeyError(f"SAIDiagnosisLoss: targets have no '{self.label_key}' (keys: {sorted(targets)}).")
        labels = torch.as_tensor(labels).reshape(-1).long()
        if labels.shape[0] != batch:
            raise ValueError(f"SAIDiagnosisLoss: {labels.shape[0]} labels for a batch of {batch}.")
        return labels

    def terms(
        self, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor] | torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Weighted per-sample terms.

        Args:
            outputs: training-mode output dict of ``SAIDiagnosisNet``/``SAIFramework``.
            targets: dict with class indices under ``label_key`` ((B,) or (B, 1)), or the index tensor itself.

        Returns:
            Dict ``ce_ens, ce_sr, ce_lr, ce_aux, consistency, regularization, rank`` of (B,) tensors, already
            multiplied by their weights.
        """
        return {name: weight * value for name, (weight, value) in self._weighted_terms(outputs, targets).items()}

    def _weighted_terms(
        self, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor] | torch.Tensor
    ) -> dict[str, tuple[float, torch.Tensor]]:
        """``{name: (weight, unweighted (B,) term)}`` with the names of :meth:`terms`."""
        labels = self._labels(targets, outputs["logits_ens"].shape[0])
        terms = {
            "ce_" + key.split("_")[1]: (weight, F.cross_entropy(outputs[key], labels, reduction="none"))
            for key, weight in self.ce_weights.items()
        }
        terms["consistency"] = (
            self.consistency_weight,
            self.consistency(outputs["affinity_sr"], outputs["affinity_lr"]),
        )
        terms["regularization"] = (
            self.regularization_weight,
            self.regularization(outputs["mixing_s2l"], outputs["mixing_l2s"]),
        )
        terms["rank"] = (
            self.rank_weight,
            self.rank(outputs["logits_sr"], outputs["logits_lr"], outputs["logits_aux"], outputs["logits_ens"], labels),
        )
        return terms

    def forward(
        self, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor] | torch.Tensor
    ) -> torch.Tensor:
        """Args:
            outputs: training-mode output dict of ``SAIDiagnosisNet``/``SAIFramework``.
            targets: dict with class indices under ``label_key``, or the index tensor itself.

        Returns:
            The reduced total loss (scalar, or (B,) for ``"none"``).
        """
        weighted = self._weighted_terms(outputs, targets)
        per_sample = torch.stack([weight * value for weight, value in weighted.values()]).sum(0)
        with torch.no_grad():
            values = torch.stack([value.detach().float().mean() for _, value in weighted.values()])
            names = [_LOG_NAMES.get(name, name) for name in weighted]
            self.last_terms = dict(zip(names, values.unbind()))
            self.last_terms["total"] = per_sample.detach().float().mean()
        return reduce_loss(per_sample, self.reduction)
