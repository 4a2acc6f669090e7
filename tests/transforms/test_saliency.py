# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the local saliency map (Mahapatra et al., MICCAI 2017)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_ext.transforms import LocalSaliencyMapd, local_saliency_map
from monai_ext.transforms.saliency import curvature_map, local_entropy_map, uniqueness_map


def _radius(h: int, w: int, cy: float, cx: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt()


@pytest.mark.parametrize("derivative", ["gaussian", "finite_difference"])
def test_curvature_of_paraboloid_isophotes_is_inverse_radius(derivative):
    # f = x^2 + y^2 has circular isophotes: curvature 1/r; both derivative filters are exact on quadratics.
    r = _radius(41, 45, 20.0, 22.0)
    k = curvature_map((r**2)[None, None], derivative=derivative, eps=1e-9)[0, 0]
    inner = (slice(5, -5), slice(5, -5))
    mask = r[inner] > 2
    np.testing.assert_allclose(k[inner][mask].numpy(), (1.0 / r[inner][mask]).numpy(), rtol=1e-6)


def test_curvature_of_general_quadratic_matches_formula():
    yy, xx = torch.meshgrid(torch.arange(30.0, dtype=torch.float64), torch.arange(34.0, dtype=torch.float64),
                            indexing="ij")
    a, b, c, d, e = 0.3, -0.2, 0.5, 1.0, -2.0
    f = a * xx**2 + b * yy**2 + c * xx * yy + d * xx + e * yy
    fx, fy, fxx, fyy, fxy = 2 * a * xx + c * yy + d, 2 * b * yy + c * xx + e, 2 * a, 2 * b, c
    eps = 1e-2
    expected = (fxx * fy**2 + fyy * fx**2 - 2 * fxy * fx * fy) / (fx**2 + fy**2 + eps**2) ** 1.5
    k = curvature_map(f[None, None], eps=eps)[0, 0]
    np.testing.assert_allclose(k[4:-4, 4:-4].numpy(), expected[4:-4, 4:-4].numpy(), rtol=1e-8, atol=1e-10)


def test_hard_local_entropy_matches_direct_histograms():
    rng = np.random.default_rng(0)
    img = rng.random((9, 11))
    ent = local_entropy_map(torch.from_numpy(img)[None, None], window=7, num_bins=8)[0, 0].numpy()
    padded = np.pad(img, 3, mode="edge")
    expected = np.zeros_like(img)
    for i in range(img.shape[0]):
        for j in range(img.shape[1]):
            counts, _ = np.histogram(padded[i : i + 7, j : j + 7], bins=8, range=(0.0, 1.0))
            p = counts[counts > 0] / 49.0
            expected[i, j] = -(p * np.log(p)).sum() / math.log(8)
    np.testing.assert_allclose(ent, expected, rtol=1e-10, atol=1e-12)


def test_uniqueness_matches_direct_sum():
    rng = np.random.default_rng(1)
    feat = rng.random((2, 6, 7))
    out = uniqueness_map(torch.from_numpy(feat)[None], window=5)[0].numpy()
    padded = np.pad(feat, ((0, 0), (2, 2), (2, 2)), mode="edge")
    expected = np.zeros_like(feat)
    for ch in range(2):
        for i in range(6):
            for j in range(7):
                for di in range(-2, 3):
                    for dj in range(-2, 3):
                        diff = abs(feat[ch, i, j] - padded[ch, i + 2 + di, j + 2 + dj])
                        expected[ch, i, j] += math.exp(-math.hypot(di, dj)) * diff
    np.testing.assert_allclose(out, expected, rtol=1e-10)


@pytest.mark.parametrize("histogram", ["hard", "soft"])
def test_bright_disk_is_salient_at_the_rim_only(histogram):
    r = _radius(64, 64, 31.5, 31.5).float()
    disk = (r < 16).float()[None, None].repeat(1, 3, 1, 1)
    s = local_saliency_map(disk, histogram=histogram)[0, 0]
    rim = (r > 13) & (r < 19)
    assert s[rim].mean() > 0.4
    assert s.max() == pytest.approx(1.0)
    assert s[r < 6].abs().max() < 1e-6  # flat interior
    assert s[r > 28].abs().max() < 1e-6  # flat background


def test_line_is_salient_and_background_is_not():
    img = torch.zeros(1, 1, 40, 48)
    img[..., 19:22, :] = 1.0
    s = local_saliency_map(img)[0, 0]
    assert s[14:27].mean() > 0.3
    assert s[:8].abs().max() < 1e-6 and s[-8:].abs().max() < 1e-6
    # the line is horizontal and uniform along x: so is its saliency map
    torch.testing.assert_close(s, s[:, 24:25].expand_as(s))


@pytest.mark.parametrize("histogram", ["hard", "soft"])
def test_flat_image_gives_finite_zero_map(histogram):
    s = local_saliency_map(torch.full((2, 3, 10, 13), 0.3), histogram=histogram)
    assert s.shape == (2, 1, 10, 13)
    assert torch.isfinite(s).all() and s.abs().max() == 0


def test_range_non_square_batch_independence_and_intensity_range():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 12, 20)
    s = local_saliency_map(x)
    assert s.shape == (3, 1, 12, 20) and s.min() >= 0 and s.max() <= 1
    single = local_saliency_map(x[1:2])
    torch.testing.assert_close(s[1:2], single)
    torch.testing.assert_close(local_saliency_map(2 * x - 1, intensity_range=(-1, 1)), s, atol=1e-5, rtol=1e-5)


def test_soft_saliency_has_finite_gradients():
    torch.manual_seed(0)
    x = (0.1 + 0.8 * torch.rand(1, 1, 9, 8, dtype=torch.float64)).requires_grad_()
    torch.autograd.gradcheck(lambda t: local_saliency_map(t, histogram="soft"), (x,), eps=1e-6, atol=1e-5)


def test_dictionary_transform():
    torch.manual_seed(0)
    img = torch.rand(3, 10, 14)
    out = LocalSaliencyMapd(keys="hr_image", intensity_range=(0, 1))({"hr_image": img})
    assert out["hr_image_saliency"].shape == (1, 10, 14)
    torch.testing.assert_close(out["hr_image_saliency"], local_saliency_map(img[None])[0])
    assert out["hr_image"] is img


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="N, C, H, W"):
        local_saliency_map(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="intensity_range"):
        local_saliency_map(torch.rand(1, 1, 8, 8), intensity_range=(1, 1))
    with pytest.raises(ValueError, match="derivative"):
        local_saliency_map(torch.rand(1, 1, 8, 8), derivative="sobel")
    with pytest.raises(ValueError, match="histogram"):
        local_saliency_map(torch.rand(1, 1, 8, 8), histogram="kde")
    with pytest.raises(ValueError, match="(C, H, W)"):
        LocalSaliencyMapd(keys="image")({"image": torch.rand(1, 1, 8, 8)})
