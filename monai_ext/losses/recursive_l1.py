# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""L1 reconstruction loss of a recursive SR network (MRC-Net): the final output, or every recursion step."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction

__all__ = ["RecursiveL1Loss"]


class RecursiveL1Loss(_Loss):
    """L1 between a recursive SR network's output and the HR target.

    The network returns a dict with ``"sr"`` (the final SR image) and ``"sr_steps"`` (the SR image of every recursion
    step, final included), as :class:`monai_ext.networks.MRCNet` does. With ``all_steps=False`` the loss is
    ``|sr - hr|``; with ``all_steps=True`` it is the mean over the ``T`` steps of ``|sr_t - hr|`` (deep supervision of
    every recursion). A plain tensor output is taken as ``"sr"``.

    Args:
        all_steps: supervise every recursion step, not only the final output.
        reduction: ``"mean"`` (the mean absolute error), ``"sum"``, or ``"none"`` (the per-element error, averaged
            over the steps, shaped like the target).
    """

    def __init__(self, all_steps: bool = False, reduction: LossReduction | str = LossReduction.MEAN) -> None:
        super().__init__(reduction=validate_reduction(reduction, type(self).__name__))
        self.all_steps = all_steps

    def forward(self, output: Mapping[str, torch.Tensor] | torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Args:
            output: the network's output dict (or the SR tensor).
            target: the HR image, shaped like each SR image.
        """
        if isinstance(output, torch.Tensor):
            steps = [output]
        elif self.all_steps:
            steps = list(output["sr_steps"])
        else:
            steps = [output["sr"]]
        for sr in steps:
            if sr.shape != target.shape:
                raise ValueError(
                    f"RecursiveL1Loss: SR shape {tuple(sr.shape)} differs from target {tuple(target.shape)}"
                )
        errors = torch.stack([F.l1_loss(sr, target, reduction="none") for sr in steps]).mean(dim=0)
        return reduce_loss(errors, self.reduction)
