# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of PSNR, SSIM, RMSE, BT.601 luma and the gradient sharpness against their formulas."""

from __future__ import annotations

import math

import pytest
import torch
from pytorch_msssim import ssim as reference_ssim

from monai_ext.metrics import (
    fov_mask_from_image,
    gradient_sharpness,
    masked_super_resolution_metrics,
    psnr,
    rgb_to_y,
    rmse,
    ssim,
    super_resolution_metrics,
)


def test_rgb_to_y_bt601():
    rgb = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).view(1, 3, 1, 3)  # white, black, red
    y = rgb_to_y(rgb)
    assert y.shape == (1, 1, 1, 3)
    assert y.flatten().tolist() == pytest.approx([235 / 255, 16 / 255, (16 + 65.481) / 255])
    # the same colours in [-1, 1]
    assert torch.allclose(rgb_to_y(rgb * 2 - 1, intensity_range=(-1, 1)), y)


def test_psnr_and_rmse_formulas_all_channels():
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.full((2, 3, 4, 4), 0.1)
    assert psnr(pred, target, y_channel=False).tolist() == pytest.approx([20.0, 20.0])
    assert rmse(pred, target, y_channel=False).tolist() == pytest.approx([0.1, 0.1])
    # the same images in [-1, 1]: -1 -> 0, -0.8 -> 0.1
    assert psnr(pred * 2 - 1, target * 2 - 1, intensity_range=(-1, 1), y_channel=False).tolist() == pytest.approx(
        [20.0, 20.0]
    )
    # per-sample ranges as collated from the `intensity_range` key
    ranges = torch.tensor([[0.0, 1.0], [-1.0, 1.0]])
    mixed = psnr(torch.stack([pred[0], pred[1] * 2 - 1]), torch.stack([target[0], target[1] * 2 - 1]), ranges, False)
    assert mixed.tolist() == pytest.approx([20.0, 20.0])


def test_psnr_on_y_channel():
    target = torch.zeros(1, 3, 4, 4)
    pred = torch.full((1, 3, 4, 4), 0.1)  # grey offset 0.1 -> luma offset 0.1 * 219 / 255
    d = 0.1 * (65.481 + 128.553 + 24.966) / 255
    assert psnr(pred, target).item() == pytest.approx(-20 * math.log10(d))
    assert rmse(pred, target).item() == pytest.approx(d)
    assert torch.isinf(psnr(target, target)).all()


def test_crop_border():
    target = torch.zeros(1, 1, 6, 6)
    pred = target.clone()
    pred[..., 0, :] = 1.0  # error only on the border row
    assert rmse(pred, target, crop_border=1).item() == 0.0
    assert rmse(pred, target).item() == pytest.approx(math.sqrt(6 / 36))
    with pytest.raises(ValueError, match="crop_border"):
        rmse(pred, target, crop_border=3)


def test_ssim_constant_images_formula():
    a, b = 0.2, 0.5
    x = torch.full((1, 1, 16, 16), a)
    y = torch.full((1, 1, 16, 16), b)
    c1 = 0.01**2
    # constant images: zero variances, so SSIM reduces to the luminance term
    assert ssim(x, y, y_channel=False).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-5)


def test_ssim_matches_pytorch_msssim_on_luma():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 24, 24, generator=g) * 2 - 1
    pred = (target + 0.2 * torch.randn(2, 3, 24, 24, generator=g)).clamp(-1, 1)
    expected = reference_ssim(
        rgb_to_y(pred, (-1, 1)).float(), rgb_to_y(target, (-1, 1)).float(), data_range=1.0, size_average=False
    )
    assert torch.allclose(ssim(pred, target, intensity_range=(-1, 1)), expected, atol=1e-6)
    assert ssim(target, target, intensity_range=(-1, 1)).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)


def test_gradient_sharpness_step_edge():
    image = torch.zeros(1, 1, 5, 6)
    image[..., 3:] = 1.0  # vertical unit step between columns 2 and 3
    # valid output 3 x 4; Gx = 1 + 2 + 1 = 4 on the two columns next to the step, Gy = 0
    assert gradient_sharpness(image, y_channel=False).item() == pytest.approx(16 * 2 * 3 / (3 * 4))
    assert gradient_sharpness(torch.full((1, 1, 5, 5), 0.7), y_channel=False).item() == 0.0
    # on luma, a grey step has height 219 / 255
    grey = image.expand(1, 3, 5, 6)
    assert gradient_sharpness(grey).item() == pytest.approx(8.0 * (219 / 255) ** 2)
    with pytest.raises(ValueError, match="3x3"):
        gradient_sharpness(torch.zeros(1, 1, 2, 5))


def test_summary_and_errors():
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 3, 16, 16, generator=g)
    blurred = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1, count_include_pad=False)
    m = super_resolution_metrics(blurred, target)
    assert set(m) == {"psnr", "ssim", "rmse", "sharpness", "sharpness_target"}
    assert m["sharpness"].item() < m["sharpness_target"].item()  # blurring lowers the gradient energy
    assert m["psnr"].item() == pytest.approx(-20 * math.log10(m["rmse"].item()))
    with pytest.raises(ValueError, match="same shape"):
        psnr(target, target[..., :8])
    with pytest.raises(ValueError, match="high > low"):
        psnr(target, target, intensity_range=(1, 1))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        psnr(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4))


def test_masked_metrics_full_mask_equal_whole_image_metrics():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 40, 36)
    pred = (target + 0.05 * torch.randn_like(target)).clamp(0, 1)
    full = torch.ones(2, 1, 40, 36, dtype=torch.bool)
    masked = masked_super_resolution_metrics(pred, target, full, crop_border=2)
    whole = super_resolution_metrics(pred, target, crop_border=2)
    for key in ("psnr", "rmse", "sharpness", "sharpness_target"):
        torch.testing.assert_close(masked[key], whole[key])
    torch.testing.assert_close(masked["ssim"].float(), whole["ssim"], atol=1e-5, rtol=0)
    torch.testing.assert_close(masked["fov_fraction"], torch.ones(2, dtype=torch.float64))


def test_masked_metrics_ignore_the_border_and_fov_threshold():
    torch.manual_seed(0)
    target = torch.zeros(1, 3, 48, 48)
    target[..., 8:40, 8:40] = 0.3 + 0.4 * torch.rand(1, 3, 32, 32)  # a "retina" on a black border
    fov = fov_mask_from_image(target)
    assert fov.shape == (1, 1, 48, 48) and fov.dtype == torch.bool
    assert int(fov.sum()) == 32 * 32 and bool(fov[..., 8:40, 8:40].all())
    pred = target.clone()
    pred[..., 8:40, 8:40] += 0.02  # error inside the FOV only
    masked = masked_super_resolution_metrics(pred, target, fov, y_channel=False)
    whole = super_resolution_metrics(pred, target, y_channel=False)
    torch.testing.assert_close(masked["psnr"], torch.tensor([10 * math.log10(1 / 0.02**2)], dtype=torch.float64))
    assert float(whole["psnr"]) > float(masked["psnr"]) + 3.0  # the exact border inflates whole-image PSNR
    noisy = target.clone()
    noisy[..., 8:40, 8:40] += 0.05 * torch.randn(1, 3, 32, 32)  # structure lost inside the FOV only
    masked_ssim = float(masked_super_resolution_metrics(noisy, target, fov)["ssim"])
    assert masked_ssim < float(super_resolution_metrics(noisy, target)["ssim"]) - 0.01
    assert abs(float(masked["fov_fraction"]) - 32 * 32 / 48**2) < 1e-9
    with pytest.raises(ValueError, match="empty"):
        masked_super_resolution_metrics(pred, target, torch.zeros_like(fov))
    with pytest.raises(ValueError, match="mask"):
        masked_super_resolution_metrics(pred, target, fov[..., :40])
