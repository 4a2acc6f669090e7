# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""A distillation loss together with its frozen teacher, in the ``loss(output, targets)`` form of MONAI's trainers.

``SupervisedTrainer`` calls its ``loss_function`` as ``loss_function(student_output, targets)``. A distillation loss
such as :class:`~monai_ext.losses.RecursionDistillationLoss` also needs the teacher's output for the same input, so
:class:`TeacherDistillationLoss` runs the teacher on the input it finds in ``targets`` (put there by
:class:`~monai_ext.engines.DualStreamPrepareBatch`) and passes both outputs, with the target, to the wrapped loss.
In a bundle config (``distill.json`` of ``sai_diagnosis``)::

    "loss": {"_target_": "monai_ext.losses.TeacherDistillationLoss", "teacher": "@teacher",
             "distillation_loss": "@distill_loss", "teacher_kwargs": {"return_features": true}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.loss import _Loss

__all__ = ["TeacherDistillationLoss"]


class TeacherDistillationLoss(_Loss):
    """``distillation_loss(output, teacher(targets[input_key], **teacher_kwargs), targets[target_key])``.

    The teacher is frozen when the loss is built (``eval()`` and ``requires_grad_(False)``) and stays in eval mode
    when the loss is switched to training mode. Its forward pass is not wrapped in ``torch.no_grad()``: it runs in
    the trainer's context (autocast included) like the student's, and its output carries no gradient because none of
    its parameters requires one. Weights loaded into the teacher object later (e.g. from a checkpoint in the bundle's
    ``run``) are used, since the loss keeps a reference to it.

    Like MONAI's loss wrappers (``DeepSupervisionLoss``, ``MaskedLoss``), it takes no ``reduction`` of its own: the
    reduction is that of ``distillation_loss`` (``self.reduction`` reports it).

    Args:
        teacher: the teacher network.
        distillation_loss: called as ``distillation_loss(student_output, teacher_output, target)``, or
            ``distillation_loss(student_output, teacher_output)`` when ``target_key`` is ``None``.
        teacher_kwargs: keyword arguments of the teacher call, e.g. ``{"return_features": True}`` for MRC-Net.
        input_key: key of the network input in ``targets``, given to the teacher.
        target_key: key of the target in ``targets`` (the HR image), or ``None`` to pass no target.

    Raises:
        TypeError: ``teacher`` is not a ``torch.nn.Module`` or ``distillation_loss`` is not callable.
    """

    def __init__(
        self,
        teacher: nn.Module,
        distillation_loss: Callable[..., torch.Tensor],
        teacher_kwargs: Mapping[str, Any] | None = None,
        input_key: str = "image",
        target_key: str | None = "hr_image",
    ) -> None:
        if not isinstance(teacher, nn.Module):
            raise TypeError(
                f"TeacherDistillationLoss: teacher must be a torch.nn.Module, got {type(teacher).__name__}."
            )
        if not callable(distillation_loss):
            raise TypeError(
                f"TeacherDistillationLoss: distillation_loss must be callable, got {type(distillation_loss).__name__}."
            )
        super().__init__(reduction=getattr(distillation_loss, "reduction", "mean"))
        self.teacher = teacher.eval().requires_grad_(False)
        self.distillation_loss = distillation_loss
        self.teacher_kwargs = dict(teacher_kwargs or {})
        self.input_key = input_key
        self.target_key = target_key

    def train(self, mode: bool = True) -> TeacherDistillationLoss:
        """Set the training mode of the loss and of ``distillation_loss``; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    @property
    def last_terms(self) -> dict[str, torch.Tensor]:
        """The ``last_terms`` of ``distillation_loss`` (empty when it keeps none), for ``LossTermsHandler``."""
        return getattr(self.distillation_loss, "last_terms", {})

    def forward(self, output: Any, targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Run the teacher on ``targets[input_key]`` and return the distillation loss of ``output``.

        Args:
            output: the student network's output (for MRC-Net, its dict with ``return_features=True``).
            targets: the target dict of the trainer's batch preparation, holding ``input_key`` and ``target_key``.

        Returns:
            What ``distillation_loss`` returns.

        Raises:
            KeyError: ``targets`` lacks ``input_key`` or ``target_key``.
        """
        missing = [k for k in (self.input_key, self.target_key) if k is not None and k not in targets]
        if missing:
            raise KeyError(
                f"TeacherDistillationLoss: the targets lack {missing} (they have {sorted(targets)}); the batch "
                "preparation must copy the network input and the target into the targets dict."
            )
        teacher_output = self.teacher(targets[self.input_key], **self.teacher_kwargs)
        if self.target_key is None:
            return self.distillation_loss(output, teacher_output)
        return self.distillation_loss(output, teacher_output, targets[self.target_key])
