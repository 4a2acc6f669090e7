# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The ``reduction`` argument of every loss in :mod:`monai_ext.losses`, through MONAI's ``LossReduction``.

Every loss checks its ``reduction`` in ``__init__`` with :func:`validate_reduction` (``LossReduction(reduction)
.value``, as MONAI's own losses do, with an error message that names the loss and the allowed values) and, where the
reduction is a plain mean or sum of a tensor, applies it with :func:`reduce_loss`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.utils import LossReduction

__all__ = ["REDUCTIONS", "validate_reduction", "reduce_loss"]

#: the reductions of MONAI's ``LossReduction``: ``("mean", "sum", "none")``
REDUCTIONS: tuple[str, ...] = (LossReduction.MEAN.value, LossReduction.SUM.value, LossReduction.NONE.value)


def validate_reduction(
    reduction: str | LossReduction, owner: str, allowed: Sequence[str] = REDUCTIONS, why: str = ""
) -> str:
    """``LossReduction(reduction).value``, also checked against ``allowed``.

    Args:
        reduction: ``"mean"``, ``"sum"``, ``"none"`` or a ``LossReduction`` member.
        owner: the name of the loss, the start of the error message.
        allowed: the reductions this loss supports (a subset of :data:`REDUCTIONS`).
        why: said after the allowed values when ``reduction`` is a valid ``LossReduction`` this loss does not
            support.

    Returns:
        the reduction as a plain string.

    Raises:
        ValueError: ``"<owner>: reduction must be one of (...), got 'x'."``.
    """
    allowed = tuple(LossReduction(r).value for r in allowed)
    try:
        value = LossReduction(reduction).value
    except ValueError as err:
        raise ValueError(f"{owner}: reduction must be one of {allowed}, got {reduction!r}.") from err
    if value not in allowed:
        reason = f" {why}" if why else ""
        raise ValueError(f"{owner}: reduction must be one of {allowed}{reason}, got {reduction!r}.")
    return value


def reduce_loss(values: torch.Tensor, reduction: str | LossReduction) -> torch.Tensor:
    """The mean (``"mean"``), the sum (``"sum"``) or ``values`` unchanged (``"none"``)."""
    reduction = LossReduction(reduction)
    if reduction == LossReduction.MEAN:
        return values.mean()
    if reduction == LossReduction.SUM:
        return values.sum()
    return values
