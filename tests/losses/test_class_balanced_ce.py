# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of monai_ext.losses.ClassBalancedCELoss against the class-balanced CE formula computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_ext.losses import ClassBalancedCELoss


def _hand_cbce(logits: np.ndarray, labels: np.ndarray, beta: float, num_classes: int, ignore: int = -100) -> float:
    """sum_i w_{y_i} (-log softmax_{y_i}) / sum_i w_{y_i}, with w_c = (1 - beta) / (1 - beta**n_c)."""
    flat_labels = labels.ravel()
    counts = [int(np.sum(flat_labels == c)) for c in range(num_classes)]
    weights = [(1 - beta) / (1 - beta**n) if n > 0 else 0.0 for n in counts]
    n, c = logits.shape[:2]
    flat_logits = np.moveaxis(logits, 1, -1).reshape(-1, c)
    num = den = 0.0
    for z, y in zip(flat_logits, flat_labels):
        if y == ignore:
            continue
        log_softmax = z[y] - (z.max() + math.log(np.exp(z - z.max()).sum()))
        num += weights[y] * -log_softmax
        den += weights[y]
    return num / den


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 6, 5, generator=g, dtype=torch.float64)
    labels = torch.tensor([0] * 40 + [1] * 15 + [2] * 5)[torch.randperm(60, generator=g)].view(2, 6, 5)
    return logits, labels


@pytest.mark.parametrize("beta", [0.9999, 0.99, 0.5])
def test_matches_hand_formula(batch, beta):
    logits, labels = batch
    got = ClassBalancedCELoss(beta=beta)(logits, labels)
    np.testing.assert_allclose(got.item(), _hand_cbce(logits.numpy(), labels.numpy(), beta, 3), rtol=1e-10)
    # the (N, 1, H, W) label layout of the contract gives the same value
    torch.testing.assert_close(ClassBalancedCELoss(beta=beta)(logits, labels.unsqueeze(1)), got)


def test_weights_are_effective_number_inverse(batch):
    _, labels = batch
    w = ClassBalancedCELoss(beta=0.99).class_weights(labels, 4)
    expected = [(1 - 0.99) / (1 - 0.99**n) for n in (40, 15, 5)] + [0.0]
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-12)


def test_reductions_and_pixel_weights(batch):
    logits, labels = batch
    w = ClassBalancedCELoss(beta=0.99).class_weights(labels, 3)
    plain = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    none = ClassBalancedCELoss(beta=0.99, reduction="none")(logits, labels)
    torch.testing.assert_close(none, plain * w[labels])
    torch.testing.assert_close(ClassBalancedCELoss(beta=0.99, reduction="sum")(logits, labels), none.sum())


def test_ignore_index_excluded_from_counts_and_loss(batch):
    logits, labels = batch
    labels = labels.clone()
    labels[0, 0] = 255
    got = ClassBalancedCELoss(beta=0.999, ignore_index=255)(logits, labels)
    np.testing.assert_allclose(got.item(), _hand_cbce(logits.numpy(), labels.numpy(), 0.999, 3, ignore=255))
    all_ignored = ClassBalancedCELoss(ignore_index=255)(logits, torch.full_like(labels, 255))
    assert all_ignored.item() == 0.0


def test_absent_class_is_finite_with_finite_grad():
    logits = torch.randn(2, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    labels = torch.zeros(2, 8, 8, dtype=torch.long)  # empty lesion mask: class 1 absent
    loss = ClassBalancedCELoss()(logits, labels)
    expected = torch.nn.functional.cross_entropy(logits, labels)  # a single present class: plain mean CE
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_gradcheck(batch):
    logits, labels = batch
    logits = logits[:, :, :3, :3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(ClassBalancedCELoss(beta=0.9), (logits, labels[:, :3, :3]))


def test_invalid_arguments(batch):
    logits, labels = batch
    with pytest.raises(ValueError, match="beta"):
        ClassBalancedCELoss(beta=1.0)
    with pytest.raises(ValueError, match="reduction"):
        ClassBalancedCELoss(reduction="batch")
    with pytest.raises(ValueError, match="channels"):
        ClassBalancedCELoss(num_classes=2)(logits, labels)
    with pytest.raises(ValueError, match="shape"):
        ClassBalancedCELoss()(logits, labels[:, :4])
