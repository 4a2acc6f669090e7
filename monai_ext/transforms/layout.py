# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Spatial axis order of 2D images: this package's ``(C, H, W)`` and MONAI's ``(C, W, H)``.

:class:`~monai_ext.data.LoadFundusImaged` and :class:`~monai_ext.data.LoadMaskd` return ``(C, H, W)`` tensors: rows
first, as the pixels lie in the file and as PIL and NumPy show them. Training, evaluation, ``hr_spatial_size``
(``[H, W]``) and our own PNG writers work in that order.

MONAI's ``LoadImage`` (``PILReader``, ``ITKReader``) returns a 2D image as ``(W, H)`` (``(C, W, H)`` with a channel),
records ``meta["spatial_shape"]`` as ``(W, H)``, and MONAI's writers (``SaveImage``, ``PILWriter``, ``ITKWriter``) and
MONAI Label's ``Writer`` transpose back on saving. A tensor in our order handed to one of them is written transposed
(and a non-square label map no longer fits its image).

The bundles therefore convert at their boundary: the last step of an ``inference.json`` postprocessing,
:class:`ToMonaiSpatialOrderd`, turns the image, the probabilities and the label map into MONAI's order, so that any
MONAI tool writes the label on its image. Our :class:`~monai_ext.engines.SegmentationPNGWriter` is then configured
with ``transpose=True``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

__all__ = ["SPATIAL_ORDER_KEY", "to_monai_spatial_order", "ToMonaiSpatialOrderd"]

#: ``meta`` entry recording the spatial order of a tensor after :func:`to_monai_spatial_order` (``"WH"``).
SPATIAL_ORDER_KEY = "spatial_order"


def _swap_shape(value: Any) -> Any:
    shape = np.asarray(value).reshape(-1)
    if shape.size < 2:
        return value
    swapped = shape.copy()
    swapped[-2], swapped[-1] = shape[-1], shape[-2]
    return swapped


def to_monai_spatial_order(img: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Swap the two spatial axes of a 2D image from ``(C, H, W)`` (or ``(H, W)``) to MONAI's ``(C, W, H)``.

    The swap is its own inverse. For a ``MetaTensor`` the ``meta["spatial_shape"]`` entry (the original size of the
    image file) is swapped too and ``meta["spatial_order"]`` is set to ``"WH"``; the affine is left as it is (2D
    files carry none).

    Args:
        img: channel-first ``(C, H, W)`` tensor or array, or a ``(H, W)`` one.

    Returns:
        The same type, contiguous, with the last two axes swapped.

    Raises:
        ValueError: for inputs with fewer than 2 or more than 3 dimensions (not a 2D image).
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"expected a 2D image (H, W) or (C, H, W), got shape {tuple(img.shape)}")
    if isinstance(img, np.ndarray):
        return np.ascontiguousarray(np.swapaxes(img, -1, -2))
    swapped = img.transpose(-1, -2).contiguous()
    if isinstance(img, MetaTensor):
        meta = dict(img.meta)
        if "spatial_shape" in meta:
            meta["spatial_shape"] = _swap_shape(meta["spatial_shape"])
        meta[SPATIAL_ORDER_KEY] = "HW" if meta.get(SPATIAL_ORDER_KEY) == "WH" else "WH"
        swapped = MetaTensor(swapped.as_tensor(), meta=meta)  # meta carries the affine
    return swapped


class ToMonaiSpatialOrderd(MapTransform):
    """Dictionary version of :func:`to_monai_spatial_order`: hand 2D images and labels over to MONAI tools.

    Used as the last postprocessing step of the segmentation bundles' ``inference.json``, on the image, the class
    probabilities and the label map. Afterwards they have the layout ``monai.transforms.LoadImage`` gives the same
    file, ``(C, W, H)`` with ``meta["spatial_shape"] == (W, H)``: MONAI Label's ``Restored`` finds nothing to resize
    and its ``Writer``, like MONAI's ``SaveImage``, writes the label map on its image.

    Args:
        keys: keys of ``(C, H, W)`` or ``(H, W)`` tensors.
        allow_missing_keys: do not raise when a key is absent.
    """

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = to_monai_spatial_order(d[key])
        return d
