# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the saliency-weighted MSE (eq. 7) and the local saliency loss (eq. 9)."""

from __future__ import annotations

import pytest
import torch

from monai_ext.losses import LocalSaliencyLoss, SaliencyWeightedMSELoss
from monai_ext.transforms import local_saliency_map


def test_weighted_mse_by_hand():
    pred = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    sal = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    # (0*1 + 0.5*4 + 1*9 + 0.25*16) / 4
    assert SaliencyWeightedMSELoss()(pred, target, sal).item() == pytest.approx(3.75)
    assert SaliencyWeightedMSELoss(reduction="sum")(pred, target, sal).item() == pytest.approx(15.0)
    # offset 1: (1*1 + 1.5*4 + 2*9 + 1.25*16) / 4
    assert SaliencyWeightedMSELoss(weight_offset=1.0)(pred, target, sal).item() == pytest.approx(11.25)
    none = SaliencyWeightedMSELoss(reduction="none")(pred, target, sal)
    torch.testing.assert_close(none, torch.tensor([[[[0.0, 2.0], [9.0, 4.0]]]]))


def test_weighted_mse_weights_come_from_target_saliency():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 12, 17), torch.rand(2, 3, 12, 17)
    loss = SaliencyWeightedMSELoss(intensity_range=(0, 1))(pred, target)
    weights = local_saliency_map(target)
    expected = (weights * (pred - target) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    assert SaliencyWeightedMSELoss()(target, target).item() == 0.0


def test_weighted_mse_gradcheck_and_gradient_only_to_input():
    torch.manual_seed(0)
    pred = torch.rand(1, 3, 8, 10, dtype=torch.float64, requires_grad=True)
    target = torch.rand(1, 3, 8, 10, dtype=torch.float64, requires_grad=True)
    loss_fn = SaliencyWeightedMSELoss(weight_offset=0.5)
    assert torch.autograd.gradcheck(lambda p: loss_fn(p, target.detach()), (pred,))
    loss_fn(pred, target).backward()
    # target enters through (pred - target)^2 only; the saliency weights are constants
    weights = local_saliency_map(target.detach()) + 0.5
    expected = -2 * weights * (pred.detach() - target.detach()) / pred.numel()
    torch.testing.assert_close(target.grad, expected)


def test_local_saliency_loss_zero_positive_and_finite_gradients():
    torch.manual_seed(0)
    hr = torch.rand(1, 3, 16, 20)
    sr = (hr + 0.1 * torch.randn_like(hr)).clamp(0, 1).requires_grad_()
    loss_fn = LocalSaliencyLoss()
    assert loss_fn(hr, hr).item() == 0.0
    loss = loss_fn(sr, hr)
    assert loss.item() > 0
    loss.backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0
    expected = ((local_saliency_map(sr.detach(), histogram="soft") - local_saliency_map(hr, histogram="soft")) ** 2)
    torch.testing.assert_close(loss, expected.mean())
    assert LocalSaliencyLoss(reduction="none")(sr, hr).shape == (1, 1, 16, 20)


def test_local_saliency_loss_gradcheck_float64():
    torch.manual_seed(1)
    hr = 0.1 + 0.8 * torch.rand(1, 1, 9, 7, dtype=torch.float64)
    sr = (0.1 + 0.8 * torch.rand(1, 1, 9, 7, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: LocalSaliencyLoss(reduction="sum")(x, hr), (sr,), atol=1e-5)


def test_flat_images_stay_finite():
    flat = torch.full((1, 3, 8, 12), 0.5, requires_grad=True)
    other = torch.full((1, 3, 8, 12), 0.2)
    for loss_fn in (LocalSaliencyLoss(), SaliencyWeightedMSELoss(weight_offset=1.0)):
        loss = loss_fn(flat, other)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(flat.grad).all()


def test_invalid_arguments():
    with pytest.raises(ValueError, match="reduction"):
        SaliencyWeightedMSELoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        LocalSaliencyLoss(reduction="max")
    with pytest.raises(ValueError, match="same shape"):
        LocalSaliencyLoss()(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9))
    with pytest.raises(ValueError, match="saliency"):
        SaliencyWeightedMSELoss()(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), torch.rand(1, 1, 4, 4))
