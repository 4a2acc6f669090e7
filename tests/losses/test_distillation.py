# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of RecursionDistillationLoss against its formula and with real MRC-Net student/teacher outputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.losses import RecursionDistillationLoss
from monai_ext.networks import MRCNet

KEYS = ("cell_state", "lstm_output", "feat_pre_ps", "feat_post_ps")


def _outputs(seed: int, batch: int = 2, dtype=torch.float32, requires_grad: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"sr": (batch, 3, 8, 8), "cell_state": (batch, 4, 4, 4), "lstm_output": (batch, 4, 4, 4),
              "feat_pre_ps": (batch, 4, 4, 4), "feat_post_ps": (batch, 4, 8, 8)}
    return {k: torch.randn(s, generator=g, dtype=dtype).requires_grad_(requires_grad) for k, s in shapes.items()}


def test_value_matches_formula():
    student, teacher = _outputs(0), _outputs(1)
    hr = torch.rand(2, 3, 8, 8)
    expected = F.l1_loss(student["sr"], hr) + 1.0 * (
        2 * F.mse_loss(student["cell_state"], teacher["cell_state"])
        + 2 * F.mse_loss(student["lstm_output"], teacher["lstm_output"])
        + 2 * F.mse_loss(student["feat_pre_ps"], teacher["feat_pre_ps"])
        + 0.5 * F.mse_loss(student["feat_post_ps"], teacher["feat_post_ps"])
    )
    torch.testing.assert_close(RecursionDistillationLoss()(student, teacher, hr), expected)
    gamma_d = 3.0
    scaled = RecursionDistillationLoss(distillation_weight=gamma_d, distance="l1", reconstruction="mse")
    expected_scaled = F.mse_loss(student["sr"], hr) + gamma_d * sum(
        w * F.l1_loss(student[k], teacher[k]) for k, w in zip(KEYS, (2, 2, 2, 0.5))
    )
    torch.testing.assert_close(scaled(student, teacher, hr), expected_scaled)
    only_features = RecursionDistillationLoss(reconstruction_weight=0.0)(student, teacher)
    torch.testing.assert_close(only_features, expected - F.l1_loss(student["sr"], hr))


def test_reductions():
    student, teacher, hr = _outputs(0, batch=3), _outputs(1, batch=3), torch.rand(3, 3, 8, 8)
    per_sample = RecursionDistillationLoss(reduction="none")(student, teacher, hr)
    assert per_sample.shape == (3,)
    torch.testing.assert_close(per_sample.mean(), RecursionDistillationLoss()(student, teacher, hr))
    torch.testing.assert_close(per_sample.sum(), RecursionDistillationLoss(reduction="sum")(student, teacher, hr))
    first = RecursionDistillationLoss(reduction="none")({k: v[:1] for k, v in student.items()},
                                                        {k: v[:1] for k, v in teacher.items()}, hr[:1])
    torch.testing.assert_close(first, per_sample[:1])  # batch of one is finite and per-sample


def test_teacher_is_detached_and_gradcheck():
    student = _outputs(0, dtype=torch.float64, requires_grad=True)
    teacher = _outputs(1, dtype=torch.float64, requires_grad=True)
    hr = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    RecursionDistillationLoss()(student, teacher, hr).backward()
    assert all(t.grad is None for t in teacher.values())
    assert all(student[k].grad is not None and torch.any(student[k].grad != 0) for k in ("sr",) + KEYS)
    loss = RecursionDistillationLoss()
    keys = ("sr",) + KEYS
    inputs = tuple(_outputs(2, dtype=torch.float64, requires_grad=True)[k] for k in keys)
    fixed = _outputs(3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda *s: loss(dict(zip(keys, s)), fixed, hr), inputs)


def test_with_mrcnet_student_and_teacher():
    torch.manual_seed(0)
    teacher = MRCNet(scale_factor=2, num_recursions=3).eval()
    student = MRCNet(scale_factor=2, num_recursions=1).train()
    student.load_state_dict(teacher.state_dict())
    x, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        t_out = teacher(x, return_features=True)
    loss = RecursionDistillationLoss()(student(x), t_out, hr)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert student.head.conv1.conv.weight.grad is not None
    assert all(p.grad is None for p in teacher.parameters())


def test_errors():
    student, teacher = _outputs(0), _outputs(1)
    with pytest.raises(ValueError, match="reduction"):
        RecursionDistillationLoss(reduction="avg")
    with pytest.raises(ValueError, match="feature_weights"):
        RecursionDistillationLoss(feature_weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="distance"):
        RecursionDistillationLoss(distance="cosine")
    with pytest.raises(ValueError, match="target"):
        RecursionDistillationLoss()(student, teacher)
    del teacher["cell_state"]
    with pytest.raises(KeyError, match="cell_state"):
        RecursionDistillationLoss()(student, teacher, torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="feat_post_ps"):
        RecursionDistillationLoss(feature_keys=("feat_post_ps",), feature_weights=(1.0,))(
            student, {"feat_post_ps": torch.zeros(2, 4, 4, 4)}, torch.zeros(2, 3, 8, 8))
