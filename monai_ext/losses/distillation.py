# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Recursion distillation loss: train the single-pass MRC-Net student from the recursive teacher.

``L = w_rec * L1(SR_s, HR) + gamma_d * sum_j gamma_j * MSE(f_s^j, f_t^j)`` over the cell state, the LSTM output
and the features before and after pixel shuffle of the last recursion step, with
``gamma = (2, 2, 2, 0.5)``, ``gamma_d = 1`` and the teacher's features detached.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-A (recursion distillation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction

__all__ = ["RecursionDistillationLoss", "DISTILLATION_FEATURE_KEYS"]

#: MRC-Net output keys distilled by default, in the order of ``feature_weights``.
DISTILLATION_FEATURE_KEYS = ("cell_state", "lstm_output", "feat_pre_ps", "feat_post_ps")


class RecursionDistillationLoss(_Loss):
    """Reconstruction + weighted feature distillation between MRC-Net student and teacher outputs.

    Args:
        feature_weights: ``gamma_j`` of the distilled features, in the order of ``feature_keys``.
        distillation_weight: ``gamma_d``, the weight of the whole distillation term.
        reconstruction_weight: weight of the reconstruction term (0 disables it).
        feature_keys: output-dict keys of the distilled features.
        distance: feature distance, ``"mse"`` (default) or ``"l1"``.
        reconstruction: reconstruction distance, ``"l1"`` (default, as in the fine-tuning stage) or ``"mse"``.
        reduction: ``"mean"``/``"sum"`` over the batch, or ``"none"`` for the (B,) per-sample losses (each term
            averaged over its non-batch elements).

    ``last_terms`` holds the batch means of the unweighted terms of the last call (one per feature key, and
    ``reconstruction``) and the ``total`` (batch mean), detached and on the device, for
    ``monai_ext.handlers.LossTermsHandler``.

    Raises:
        ValueError: on an unknown option or when ``feature_weights`` and ``feature_keys`` differ in length.
    """

    def __init__(
        self,
        feature_weights: Sequence[float] = (2.0, 2.0, 2.0, 0.5),
        distillation_weight: float = 1.0,
        reconstruction_weight: float = 1.0,
        feature_keys: Sequence[str] = DISTILLATION_FEATURE_KEYS,
        distance: str = "mse",
        reconstruction: str = "l1",
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "RecursionDistillationLoss"))
        if len(feature_weights) != len(feature_keys):
            raise ValueError(
                f"RecursionDistillationLoss: {len(feature_weights)} feature_weights for {len(feature_keys)} "
                f"feature_keys {tuple(feature_keys)}."
            )
        for name, value in (("distance", distance), ("reconstruction", reconstruction)):
            if value not in ("mse", "l1"):
                raise ValueError(f"RecursionDistillationLoss: {name} must be 'mse' or 'l1', got {value!r}.")
        self.feature_weights = tuple(float(w) for w in feature_weights)
        self.feature_keys = tuple(feature_keys)
        self.distillation_weight = distillation_weight
        self.reconstruction_weight = reconstruction_weight
        self.distance = distance
        self.reconstruction = reconstruction
        self.last_terms: dict[str, torch.Tensor] = {}

    @staticmethod
    def _per_sample(a: torch.Tensor, b: torch.Tensor, kind: str, key: str) -> torch.Tensor:
        if a.shape != b.shape:
            raise ValueError(f"RecursionDistillationLoss: '{key}' shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}.")
        diff = a - b
        err = diff.square() if kind == "mse" else diff.abs()
        return err.flatten(1).mean(dim=1)

    def forward(
        self,
        student: Mapping[str, torch.Tensor],
        teacher: Mapping[str, torch.Tensor],
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Args:
            student: student MRC-Net output dict (``return_features=True``).
            teacher: teacher output dict; its tensors are detached here.
            target: HR image (B, C, rH, rW) for the reconstruction term (may be None when its weight is 0).

        Returns:
            The reduced loss (scalar, or (B,) for ``"none"``).

        Raises:
            KeyError: when a distilled key is missing from either dict.
            ValueError: on shape mismatches or a missing target.
        """
        per_sample: torch.Tensor | None = None
        logged: dict[str, torch.Tensor] = {}
        for key, weight in zip(self.feature_keys, self.feature_weights):
            if key not in student or key not in teacher:
                raise KeyError(
                    f"RecursionDistillationLoss: key '{key}' missing (student has {sorted(student)}, "
                    f"teacher has {sorted(teacher)})."
                )
            distance = self._per_sample(student[key], teacher[key].detach(), self.distance, key)
            logged[key] = distance.detach().mean()
            term = weight * distance
            per_sample = term if per_sample is None else per_sample + term
        if per_sample is not None:
            per_sample = self.distillation_weight * per_sample
        if self.reconstruction_weight != 0:
            if target is None:
                raise ValueError(
                    "RecursionDistillationLoss: target (HR image) is required for the reconstruction term."
                )
            rec = self._per_sample(student["sr"], target, self.reconstruction, "sr")
            logged["reconstruction"] = rec.detach().mean()
            rec = self.reconstruction_weight * rec
            per_sample = rec if per_sample is None else per_sample + rec
        if per_sample is None:
            raise ValueError("RecursionDistillationLoss: no feature keys and no reconstruction term to compute.")
        logged["total"] = per_sample.detach().mean()
        self.last_terms = logged
        return reduce_loss(per_sample, self.reduction)
