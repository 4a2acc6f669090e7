# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for the LR/HR pair, intensity range and resize-to-reference transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from monai_ext.transforms import IntensityRanged, LowResolutionPaird, ResizeToReferenced, resize_image


def _keys_weight(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    t = np.abs(t)
    return np.where(
        t <= 1,
        (a + 2) * t**3 - (a + 3) * t**2 + 1,
        np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0),
    )


def _opencv_cubic_1d(x: np.ndarray, out_len: int) -> np.ndarray:
    """OpenCV INTER_CUBIC along the last axis: half-pixel centres, Keys a=-0.75, replicated border."""
    n = x.shape[-1]
    scale = n / out_len
    out = np.zeros(x.shape[:-1] + (out_len,))
    for j in range(out_len):
        src = (j + 0.5) * scale - 0.5
        i0 = int(np.floor(src))
        frac = src - i0
        for k in range(-1, 3):
            idx = min(max(i0 + k, 0), n - 1)
            out[..., j] += _keys_weight(np.array(frac - k)) * x[..., idx]
    return out


def _opencv_cubic(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = _opencv_cubic_1d(img, size[1])
    return np.swapaxes(_opencv_cubic_1d(np.swapaxes(rows, -1, -2), size[0]), -1, -2)


@pytest.fixture
def image() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 40, 36, generator=g) * 2 - 1


def test_pair_sizes_and_mask(image):
    mask = (torch.rand(1, 40, 36) > 0.5).to(torch.uint8)
    t = LowResolutionPaird(scale_factor=2, hr_spatial_size=(32, 24), label_keys="label")
    out = t({"image": image, "label": mask})
    assert out["hr_image"].shape == (3, 32, 24)
    assert out["image"].shape == (3, 16, 12)
    assert out["label"].shape == (1, 32, 24)
    assert out["label"].dtype == torch.uint8
    assert set(out["label"].unique().tolist()) <= {0, 1}


@pytest.mark.parametrize("rate", [1, 2, 4, 8, 16])
def test_rates(rate):
    img = torch.rand(3, 64, 48)
    out = LowResolutionPaird(scale_factor=rate)({"image": img})
    assert out["hr_image"].shape == (3, 64, 48)
    assert out["image"].shape == (3, 64 // rate, 48 // rate)
    if rate == 1:
        torch.testing.assert_close(out["image"], out["hr_image"])


def test_indivisible_size_rejected():
    with pytest.raises(ValueError, match="not divisible"):
        LowResolutionPaird(scale_factor=4, hr_spatial_size=(30, 32))
    with pytest.raises(ValueError, match="not divisible"):
        LowResolutionPaird(scale_factor=4)({"image": torch.rand(3, 30, 32)})


def test_unknown_method_rejected():
    with pytest.raises(ValueError, match="Unknown LR method"):
        LowResolutionPaird(method="lanczos")


def test_opencv_method_matches_reference_bicubic(image):
    """The authors' LR: plain bicubic from the original, as cv2.resize(INTER_CUBIC) computes it."""
    out = LowResolutionPaird(scale_factor=2, hr_spatial_size=(24, 20), method="opencv")({"image": image})
    ref_lr = _opencv_cubic(image.double().numpy(), (12, 10))
    ref_hr = _opencv_cubic(image.double().numpy(), (24, 20))
    np.testing.assert_allclose(out["image"].numpy(), ref_lr, atol=1e-5)
    np.testing.assert_allclose(out["hr_image"].numpy(), ref_hr, atol=1e-5)


def test_antialias_method_matches_pil_bicubic():
    """Antialiased bicubic downsampling equals PIL's BICUBIC resize (which low-passes when shrinking)."""
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(1, 32, 28, generator=g)
    out = LowResolutionPaird(scale_factor=4)({"image": hr})
    pil = Image.fromarray(hr[0].numpy().astype(np.float32), mode="F").resize((7, 8), Image.BICUBIC)
    np.testing.assert_allclose(out["image"][0].numpy(), np.asarray(pil), atol=1e-4)


def test_antialias_suppresses_aliasing():
    """Stripes above the LR Nyquist frequency alias to a strong pattern without antialiasing, to grey with it."""
    xx = torch.arange(64).float()
    board = torch.cos(2 * torch.pi * xx / 2.5).view(1, 1, 64).repeat(3, 64, 1)
    aa = LowResolutionPaird(scale_factor=4, method="antialias")({"image": board})["image"]
    cv = LowResolutionPaird(scale_factor=4, method="opencv")({"image": board})["image"]
    assert aa.abs().max() < 0.1
    assert cv.std() > 5 * aa.std()


def test_gaussian_method_blurs_then_subsamples():
    img = torch.zeros(1, 32, 32)
    img[:, 16, 16] = 1.0
    out = LowResolutionPaird(scale_factor=2, method="gaussian", blur_sigma=1.0)({"image": img})
    assert out["image"].shape == (1, 16, 16)
    np.testing.assert_allclose(out["image"].sum().item(), 0.25, rtol=0.05)  # 1/r^2 of the blurred mass


def test_clip_range(image):
    out = LowResolutionPaird(scale_factor=2, hr_spatial_size=(80, 72), clip_range=(-1, 1))({"image": image})
    assert out["hr_image"].min() >= -1 and out["hr_image"].max() <= 1
    unclipped = LowResolutionPaird(scale_factor=2, hr_spatial_size=(80, 72))({"image": image})
    assert unclipped["hr_image"].abs().max() > 1  # bicubic overshoot exists, so clipping did something


def test_intensity_range_records_range():
    img = torch.tensor([[[0.0, 127.5, 255.0]]])
    out = IntensityRanged(in_range=(0, 255), out_range=(-1, 1))({"image": img})
    torch.testing.assert_close(out["image"], torch.tensor([[[-1.0, 0.0, 1.0]]]))
    torch.testing.assert_close(out["intensity_range"], torch.tensor([-1.0, 1.0]))
    out01 = IntensityRanged(out_range=(0, 1))({"image": img})
    torch.testing.assert_close(out01["image"], torch.tensor([[[0.0, 0.5, 1.0]]]))
    with pytest.raises(ValueError):
        IntensityRanged(out_range=(1, -1))


def test_resize_to_reference_nearest():
    pred = torch.arange(4.0).view(1, 2, 2)
    out = ResizeToReferenced(keys="pred", ref_key="label")({"pred": pred, "label": torch.zeros(1, 4, 6)})
    assert out["pred"].shape == (1, 4, 6)
    assert set(out["pred"].unique().tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert out["pred"][0, 0, 0] == 0 and out["pred"][0, 3, 5] == 3


def test_resize_image_identity_is_copy(image):
    out = resize_image(image, image.shape[-2:])
    torch.testing.assert_close(out, image)
    out.add_(1)
    assert not torch.equal(out, image)


def test_low_resolution_pair_without_hr_key_keeps_only_the_lr_image():
    image = torch.rand(3, 16, 12)
    both = LowResolutionPaird(scale_factor=2, clip_range=(0, 1))({"image": image})
    only = LowResolutionPaird(hr_key=None, scale_factor=2, clip_range=(0, 1))({"image": image})
    assert set(only) == {"image"} and only["image"].shape == (3, 8, 6)
    torch.testing.assert_close(only["image"], both["image"])
    same = LowResolutionPaird(hr_key=None, scale_factor=1)({"image": image})
    torch.testing.assert_close(same["image"], image)
