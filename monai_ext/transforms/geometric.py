# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Random shift / rotate augmentation with the shift given as a fraction of the image size."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import Affine, MapTransform, RandomizableTransform

__all__ = ["RandShiftRotated"]


class RandShiftRotated(RandomizableTransform, MapTransform):
    """Rotate by up to ``rotate_degrees`` and shift by up to ``shift_fraction`` of each side, same draw for all keys.

    This is the geometric part of the DS2F/SS-MAF recipe (albumentations ``ShiftScaleRotate(shift_limit=0.1,
    scale_limit=0, rotate_limit=60)``, border reflected). MONAI's ``RandAffined`` takes shifts in pixels; here the
    shift scales with each image, so one config serves datasets of any resolution.

    Args:
        keys: keys to transform (images and masks, channel-first 2D).
        shift_fraction: maximal shift as a fraction of the height / width.
        rotate_degrees: maximal rotation angle in degrees.
        prob: probability of applying the transform.
        mode: interpolation per key (``"bilinear"`` for images, ``"nearest"`` for masks).
        padding_mode: border handling (``"reflection"`` as albumentations' reflect-101 default, ``"zeros"``, ...).
        allow_missing_keys: do not fail on missing keys.
    """

    backend = Affine.backend

    def __init__(
        self,
        keys: KeysCollection,
        shift_fraction: float = 0.1,
        rotate_degrees: float = 60.0,
        prob: float = 0.5,
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str = "reflection",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.shift_fraction = float(shift_fraction)
        self.rotate_degrees = float(rotate_degrees)
        modes = [mode] * len(self.keys) if isinstance(mode, str) else list(mode)
        if len(modes) != len(self.keys):
            raise ValueError(f"Got {len(modes)} modes for {len(self.keys)} keys.")
        self.modes = dict(zip(self.keys, modes))
        self.padding_mode = padding_mode
        self._angle = 0.0
        self._shift = (0.0, 0.0)

    def randomize(self, data: object = None) -> None:
        super().randomize(None)
        if self._do_transform:
            self._angle = math.radians(self.R.uniform(-self.rotate_degrees, self.rotate_degrees))
            self._shift = (
                self.R.uniform(-self.shift_fraction, self.shift_fraction),
                self.R.uniform(-self.shift_fraction, self.shift_fraction),
            )

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        for key in self.key_iterator(d):
            img = d[key]
            h, w = img.shape[-2:]
            affine = Affine(
                rotate_params=self._angle,
                translate_params=(-self._shift[0] * h, -self._shift[1] * w),  # MONAI moves the grid
                mode=self.modes[key],
                padding_mode=self.padding_mode,
                image_only=True,
            )
            out = affine(torch.as_tensor(img).float())
            d[key] = out.to(img.dtype) if self.modes[key] == "nearest" else out
        return d
