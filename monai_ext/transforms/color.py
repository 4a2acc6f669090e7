# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Colour jitter for RGB fundus images (brightness, contrast, saturation, hue).

MONAI has intensity shifts and gamma but no saturation or hue jitter; the DS2F/SS-MAF training recipe uses
albumentations' ``ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform

__all__ = ["RandColorJitterd", "rgb_to_hsv", "hsv_to_rgb", "adjust_hue"]


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """Convert an RGB image in [0, 1], shape (3, H, W), to HSV in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = rgb.unbind(0)
    maxc, _ = rgb.max(0)
    minc, _ = rgb.min(0)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    return torch.stack([h, s, maxc])


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = hsv.unbind(0)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(hsv)
    for k, (rr, gg, bb) in enumerate(choices):
        sel = i == k
        out[0] = torch.where(sel, rr, out[0])
        out[1] = torch.where(sel, gg, out[1])
        out[2] = torch.where(sel, bb, out[2])
    return out


def adjust_hue(rgb: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the hue of an RGB image in [0, 1] by ``shift`` turns (in [-0.5, 0.5])."""
    hsv = rgb_to_hsv(rgb)
    hsv[0] = (hsv[0] + shift) % 1.0
    return hsv_to_rgb(hsv)


class RandColorJitterd(RandomizableTransform, MapTransform):
    """Randomly jitter brightness, contrast, saturation and hue, with the same parameters for every key.

    Each factor is drawn uniformly: brightness and contrast and saturation in ``[1 - x, 1 + x]``, hue shift in
    ``[-hue, hue]`` turns; the four adjustments are applied in that order (like albumentations' ColorJitter with a
    fixed order). Saturation and hue apply to 3-channel images only; single-channel images get brightness and
    contrast.

    Args:
        keys: image keys (channel-first, intensities in ``value_range``).
        brightness: brightness jitter amount.
        contrast: contrast jitter amount.
        saturation: saturation jitter amount.
        hue: hue jitter amount in turns, at most 0.5.
        prob: probability of applying the jitter.
        value_range: (low, high) intensity range of the images, e.g. (0, 255).
        allow_missing_keys: do not fail on missing keys.
    """

    backend = ["torch"]

    def __init__(
        self,
        keys: KeysCollection,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.1,
        prob: float = 0.5,
        value_range: Sequence[float] = (0.0, 255.0),
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {hue}.")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self._factors = (1.0, 1.0, 1.0, 0.0)

    def randomize(self, data: object = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        u = self.R.uniform
        self._factors = (
            u(1 - self.brightness, 1 + self.brightness),
            u(1 - self.contrast, 1 + self.contrast),
            u(1 - self.saturation, 1 + self.saturation),
            u(-self.hue, self.hue),
        )

    def _jitter(self, img: torch.Tensor) -> torch.Tensor:
        low, high = self.value_range
        x = (img.float() - low) / (high - low)
        b, c, s, h = self._factors
        x = (x * b).clamp(0, 1)
        gray = x.mean(0, keepdim=True) if x.shape[0] != 3 else (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
        x = ((x - gray.mean()) * c + gray.mean()).clamp(0, 1)
        if x.shape[0] == 3:
            gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
            x = ((x - gray) * s + gray).clamp(0, 1)
            if h != 0.0:
                x = adjust_hue(x, h)
        return x * (high - low) + low

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        for key in self.key_iterator(d):
            d[key] = self._jitter(torch.as_tensor(d[key])).to(dtype=torch.float32)
        return d
