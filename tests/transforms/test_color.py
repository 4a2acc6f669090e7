# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for the colour jitter transform and the HSV conversions."""

from __future__ import annotations

import colorsys

import numpy as np
import torch

from monai_ext.transforms import RandColorJitterd, adjust_hue, hsv_to_rgb, rgb_to_hsv


def test_hsv_round_trip_and_reference():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(3, 5, 7, generator=g)
    hsv = rgb_to_hsv(rgb)
    for y, x in [(0, 0), (2, 3), (4, 6)]:
        ref = colorsys.rgb_to_hsv(*rgb[:, y, x].tolist())
        np.testing.assert_allclose(hsv[:, y, x].numpy(), ref, atol=1e-5)
    torch.testing.assert_close(hsv_to_rgb(hsv), rgb, atol=1e-5, rtol=0)


def test_hue_shift_of_pure_red():
    red = torch.zeros(3, 1, 1)
    red[0] = 1.0
    green = adjust_hue(red, 1 / 3)
    torch.testing.assert_close(green[:, 0, 0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-5, rtol=0)


def test_jitter_same_parameters_for_all_keys_and_range_kept():
    img = torch.rand(3, 8, 8) * 255
    t = RandColorJitterd(keys=("image", "hr_image"), prob=1.0)
    t.set_random_state(3)
    out = t({"image": img.clone(), "hr_image": img.clone()})
    torch.testing.assert_close(out["image"], out["hr_image"])
    assert not torch.allclose(out["image"], img)
    assert out["image"].min() >= 0 and out["image"].max() <= 255


def test_jitter_prob_zero_is_identity_and_brightness_only():
    img = torch.rand(3, 4, 4) * 100
    out = RandColorJitterd(keys="image", prob=0.0)({"image": img})
    torch.testing.assert_close(out["image"], img)
    t = RandColorJitterd(keys="image", brightness=0.5, contrast=0, saturation=0, hue=0, prob=1.0)
    t.set_random_state(0)
    out = t({"image": img})
    ratio = out["image"] / img
    torch.testing.assert_close(ratio, torch.full_like(ratio, ratio[0, 0, 0].item()), atol=1e-4, rtol=0)


def test_single_channel_image():
    img = torch.rand(1, 6, 6) * 255
    t = RandColorJitterd(keys="image", prob=1.0)
    t.set_random_state(1)
    assert t({"image": img})["image"].shape == (1, 6, 6)
