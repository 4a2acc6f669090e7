# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for the random shift/rotate augmentation."""

from __future__ import annotations

import torch

from monai_ext.transforms import RandShiftRotated


def test_same_transform_for_image_and_mask():
    img = torch.zeros(1, 40, 60)
    img[:, 10:20, 15:30] = 1.0
    mask = (img > 0.5).to(torch.uint8)
    t = RandShiftRotated(keys=("image", "label"), prob=1.0, mode=("bilinear", "nearest"), padding_mode="zeros")
    t.set_random_state(5)
    out = t({"image": img, "label": mask})
    assert out["image"].shape == (1, 40, 60) and out["label"].shape == (1, 40, 60)
    assert out["label"].dtype == torch.uint8
    assert set(out["label"].unique().tolist()) <= {0, 1}
    moved = (out["image"] > 0.5).to(torch.uint8)
    agreement = (moved == out["label"]).float().mean()
    assert agreement > 0.97  # image and mask moved together (only boundary pixels differ)
    assert not torch.equal(out["label"], mask)


def test_pure_shift_moves_by_fraction():
    img = torch.zeros(1, 20, 40)
    img[:, 10, 20] = 1.0
    t = RandShiftRotated(keys="image", shift_fraction=0.25, rotate_degrees=0.0, prob=1.0, padding_mode="zeros")
    t.set_random_state(0)
    out = t({"image": img})["image"]
    dy, dx = t._shift[0] * 20, t._shift[1] * 40
    y, x = divmod(int(out.argmax()), 40)
    assert abs(y - (10 + dy)) <= 1 and abs(x - (20 + dx)) <= 1


def test_prob_zero_identity():
    img = torch.rand(3, 8, 8)
    out = RandShiftRotated(keys="image", prob=0.0)({"image": img})
    torch.testing.assert_close(out["image"], img)
