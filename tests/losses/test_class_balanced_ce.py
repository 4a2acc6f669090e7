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


def test_reference_pixels_weights_crop_like_whole_image():
    # a 2x1440x960 batch with 1% foreground (the paper's whole images) against a 2x192x192 crop with the same
    # fraction: raw counts weight the crop's rare class far more; reference_pixels gives the whole-image weights
    beta, whole_pixels = 0.9999, 2 * 1440 * 960
    crop = torch.zeros(2, 192, 192, dtype=torch.long)
    crop.view(-1)[: int(0.01 * crop.numel())] = 1
    whole_counts = [0.99 * whole_pixels, 0.01 * whole_pixels]
    expected = torch.tensor([(1 - beta) / (1 - beta**n) for n in whole_counts], dtype=torch.float64)
    fraction = crop.float().mean().item()
    expected_exact = torch.tensor(
        [(1 - beta) / (1 - beta ** ((1 - fraction) * whole_pixels)), (1 - beta) / (1 - beta ** (fraction * whole_pixels))],
        dtype=torch.float64,
    )
    scaled = ClassBalancedCELoss(beta=beta, reference_pixels=whole_pixels).class_weights(crop, 2)
    raw = ClassBalancedCELoss(beta=beta).class_weights(crop, 2)
    torch.testing.assert_close(scaled, expected_exact)
    torch.testing.assert_close(scaled, expected, rtol=2e-2, atol=0.0)
    assert scaled[1] / scaled[0] < 1.1  # whole-image ratio, about 1.07
    assert raw[1] / raw[0] > 10.0  # the crop without rescaling


def test_reference_pixels_ignores_ignored_pixels_and_is_finite():
    labels = torch.tensor([[0, 0, 1, 255]])
    loss = ClassBalancedCELoss(beta=0.99, ignore_index=255, reference_pixels=300)
    # 3 valid pixels rescaled to 300: counts 200 and 100
    expected = torch.tensor([(1 - 0.99) / (1 - 0.99**200), (1 - 0.99) / (1 - 0.99**100)], dtype=torch.float64)
    torch.testing.assert_close(loss.class_weights(labels, 2), expected)
    logits = torch.randn(1, 2, 4, requires_grad=True)
    value = loss(logits, labels)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match="reference_pixels"):
        ClassBalancedCELoss(reference_pixels=0)
