# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of monai_ext.losses.SSIMLoss against pytorch_msssim.ssim used directly."""

from __future__ import annotations

import pytest
import torch
from pytorch_msssim import ssim

from monai_ext.losses import SSIMLoss


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 3, 24, 20, generator=g, dtype=torch.float64) * 2 - 1
    pred = (target + 0.3 * torch.randn(3, 3, 24, 20, generator=g, dtype=torch.float64)).clamp(-1, 1)
    return pred, target


def test_fixed_data_range_matches_pytorch_msssim(images):
    pred, target = images
    got = SSIMLoss(data_range=2.0)(pred, target)
    torch.testing.assert_close(got, 1 - ssim(pred, target, data_range=2.0))
    none = SSIMLoss(data_range=2.0, reduction="none")(pred, target)
    torch.testing.assert_close(none, 1 - ssim(pred, target, data_range=2.0, size_average=False))
    torch.testing.assert_close(SSIMLoss(data_range=2.0, reduction="sum")(pred, target), none.sum())


def test_call_time_intensity_range(images):
    pred, target = images
    intensity_range = torch.tensor([[-1.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
    loss = SSIMLoss(reduction="none")
    got = loss(pred, target, data_range=intensity_range)
    for i, value in enumerate((2.0, 1.0, 2.0)):
        torch.testing.assert_close(got[i], 1 - ssim(pred[i : i + 1], target[i : i + 1], data_range=value))
    torch.testing.assert_close(loss(pred, target, data_range=2.0), 1 - ssim(pred, target, 2.0, size_average=False))
    # the call-time value wins over the constructor's
    torch.testing.assert_close(SSIMLoss(data_range=5.0)(pred, target, data_range=2.0), SSIMLoss(2.0)(pred, target))


def test_authors_data_range_uses_one(images):
    pred, target = images
    authors = SSIMLoss(authors_data_range=True)(pred, target, data_range=torch.tensor([[-1.0, 1.0]] * 3))
    torch.testing.assert_close(authors, 1 - ssim(pred, target, data_range=1.0))
    assert not torch.isclose(authors, SSIMLoss(data_range=2.0)(pred, target))


def test_options_pass_through(images):
    pred, target = images
    loss = SSIMLoss(data_range=2.0, win_size=7, win_sigma=1.0, nonnegative_ssim=True, K=(0.02, 0.04))
    expected = 1 - ssim(pred, target, data_range=2.0, win_size=7, win_sigma=1.0, nonnegative_ssim=True, K=(0.02, 0.04))
    torch.testing.assert_close(loss(pred, target), expected)


def test_identical_images_zero_loss_and_gradients(images):
    _, target = images
    pred = target.clone().requires_grad_(True)
    loss = SSIMLoss(data_range=2.0)(pred, target)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    noisy = (target + 0.1).requires_grad_(True)
    SSIMLoss(data_range=2.0)(noisy, target).backward()
    assert torch.isfinite(noisy.grad).all() and noisy.grad.abs().sum() > 0


def test_errors(images):
    pred, target = images
    with pytest.raises(ValueError, match="no data range"):
        SSIMLoss()(pred, target)
    with pytest.raises(ValueError, match="channels"):
        SSIMLoss(data_range=2.0, channel=1)(pred, target)
    with pytest.raises(ValueError, match="authors_data_range"):
        SSIMLoss(data_range=2.0, authors_data_range=True)
    with pytest.raises(ValueError, match="odd"):
        SSIMLoss(win_size=10)
    with pytest.raises(ValueError, match="intensity_range"):
        SSIMLoss()(pred, target, data_range=torch.ones(2, 2))
