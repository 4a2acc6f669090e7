# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the block-centred Gaussian downsampling (``LowResolutionPaird(method="gaussian")``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from monai_ext.transforms import LowResolutionPaird, gaussian_downsample


def _ramp(size: int = 64) -> torch.Tensor:
    rows = torch.arange(size, dtype=torch.float64).view(-1, 1)
    cols = torch.arange(size, dtype=torch.float64).view(1, -1)
    return (0.5 * rows + 2.0 * cols + 3.0).unsqueeze(0)  # (1, H, W)


def _interior(factor: int, sigma: float, size: int) -> slice:
    """LR indices whose Gaussian support stays inside the image (reflect padding plays no role there)."""
    radius = max(1, int(round(3 * sigma)))
    first = -(-radius // factor)
    last = (size - factor - radius) // factor
    return slice(first, last + 1)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_linear_ramp_downsamples_to_block_centre_values(factor):
    ramp = _ramp()
    lr = gaussian_downsample(ramp.unsqueeze(0), factor)[0, 0]
    # block means of a linear image = its value at the block centre k * r + (r - 1) / 2
    block_means = ramp[0].reshape(64 // factor, factor, 64 // factor, factor).mean(dim=(1, 3))
    centres = torch.arange(64 // factor, dtype=torch.float64) * factor + (factor - 1) / 2
    expected = 0.5 * centres.view(-1, 1) + 2.0 * centres.view(1, -1) + 3.0
    torch.testing.assert_close(block_means, expected)
    inner = _interior(factor, factor / 2, 64)
    assert inner.stop - inner.start >= 2
    torch.testing.assert_close(lr[inner, inner], expected[inner, inner], rtol=0, atol=1e-9)
    # the old convention (pixel r // 2 of each block) is half an HR pixel off along both axes for even factors
    old = ramp[0, factor // 2 :: factor, factor // 2 :: factor]
    assert torch.allclose(old[inner, inner] - lr[inner, inner], torch.tensor(0.5 * 0.5 + 2.0 * 0.5, dtype=old.dtype))


@pytest.mark.parametrize("factor", [2, 4])
def test_transform_is_on_the_antialias_grid(factor):
    ramp = _ramp().float()
    gauss = LowResolutionPaird(scale_factor=factor, method="gaussian")({"image": ramp})
    anti = LowResolutionPaird(scale_factor=factor, method="antialias")({"image": ramp})
    assert gauss["image"].shape == anti["image"].shape == (1, 64 // factor, 64 // factor)
    torch.testing.assert_close(gauss["hr_image"], anti["hr_image"])
    inner = _interior(factor, factor / 2, 64)
    torch.testing.assert_close(gauss["image"][0, inner, inner], anti["image"][0, inner, inner], rtol=0, atol=1e-3)
    torch.testing.assert_close(gauss["image"], gaussian_downsample(ramp.unsqueeze(0), factor)[0])


def test_even_factor_matches_direct_2d_gaussian_sum():
    """Interior LR pixels against the 2D Gaussian-weighted sum centred at the block centre, written out directly."""
    rng = np.random.default_rng(0)
    image = rng.random((24, 32))
    factor, sigma = 4, 1.3
    lr = gaussian_downsample(torch.from_numpy(image)[None, None], factor, sigma)[0, 0].numpy()
    rows, cols = np.meshgrid(np.arange(24), np.arange(32), indexing="ij")
    radius = int(round(3 * sigma)) + (factor - 1) / 2
    for i in range(1, 5):
        for j in range(1, 7):
            ci, cj = i * factor + (factor - 1) / 2, j * factor + (factor - 1) / 2
            inside = (np.abs(rows - ci) <= radius) & (np.abs(cols - cj) <= radius)
            weights = np.exp(-((rows - ci) ** 2 + (cols - cj) ** 2) / (2 * sigma**2)) * inside
            np.testing.assert_allclose(lr[i, j], (weights * image).sum() / weights.sum(), rtol=1e-10)


def test_odd_factor_is_blur_then_block_centre_pixel():
    """For odd r the block centre is pixel r // 2: scipy blur (whole-sample mirror = torch reflect) then slicing."""
    rng = np.random.default_rng(1)
    image = rng.random((2, 3, 18, 27))
    lr = gaussian_downsample(torch.from_numpy(image), 3, sigma=1.0).numpy()
    # the kernel spans the block: radius round(3 sigma) + (r - 1) / 2 = 4 HR pixels
    blurred = ndimage.gaussian_filter(image, sigma=(0, 0, 1.0, 1.0), mode="mirror", truncate=4.0)
    np.testing.assert_allclose(lr, blurred[:, :, 1::3, 1::3], rtol=1e-10, atol=1e-12)


def test_batch_dtype_constant_and_mass():
    torch.manual_seed(0)
    batch = torch.rand(2, 3, 16, 24)
    lr = gaussian_downsample(batch, 4)
    assert lr.shape == (2, 3, 4, 6) and lr.dtype == torch.float32
    for n in range(2):
        single = LowResolutionPaird(scale_factor=4, method="gaussian")({"image": batch[n]})["image"]
        torch.testing.assert_close(lr[n], single)
    torch.testing.assert_close(lr[:, 1:2], gaussian_downsample(batch[:, 1:2], 4))  # channels are independent
    constant = torch.full((1, 1, 32, 32), 0.3, dtype=torch.float64)
    out = gaussian_downsample(constant, 8)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.full((1, 1, 4, 4), 0.3, dtype=torch.float64))
    impulse = torch.zeros(1, 1, 32, 32)
    impulse[..., 15:17, 15:17] = 1.0  # an HR block straddling the centre: 4 units of mass
    torch.testing.assert_close(gaussian_downsample(impulse, 2).sum(), torch.tensor(1.0), rtol=1e-4, atol=0)
    assert torch.equal(gaussian_downsample(batch, 1), batch)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="divisible"):
        gaussian_downsample(torch.rand(1, 1, 16, 18), 4)
    with pytest.raises(ValueError, match="too small"):
        gaussian_downsample(torch.rand(1, 1, 16, 16), 16)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gaussian_downsample(torch.rand(16, 16), 2)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_downsample(torch.rand(1, 1, 16, 16), 2, sigma=0.0)
    with pytest.raises(ValueError, match="factor"):
        gaussian_downsample(torch.rand(1, 1, 16, 16), 0)

