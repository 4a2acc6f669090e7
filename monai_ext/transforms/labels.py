# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Label-map conversions: binary lesion channels to one class-index map."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_tensor

__all__ = ["ChannelsToClassIndexd", "channels_to_class_index"]


def channels_to_class_index(masks: torch.Tensor) -> torch.Tensor:
    """Merge K binary masks (K, *spatial) into one class-index map (1, *spatial).

    Channel ``k`` becomes class ``k + 1``; background (no channel set) is 0. Where masks overlap, the later channel
    wins, as when the masks are painted one after the other.

    Args:
        masks: (K, *spatial) masks, foreground where ``> 0``.

    Returns:
        uint8 (1, *spatial) class indices in ``[0, K]``.

    Raises:
        ValueError: for fewer than 2 dimensions or more than 255 channels.
    """
    if masks.ndim < 2:
        raise ValueError(f"masks must be (K, *spatial), got shape {tuple(masks.shape)}.")
    if masks.shape[0] > 255:
        raise ValueError(f"at most 255 mask channels fit a uint8 class map, got {masks.shape[0]}.")
    classes = torch.arange(1, masks.shape[0] + 1, dtype=torch.uint8, device=masks.device)
    classes = classes.view(-1, *([1] * (masks.ndim - 1)))
    painted = torch.where(masks > 0, classes, torch.zeros_like(classes))
    return painted.amax(dim=0, keepdim=True)


class ChannelsToClassIndexd(MapTransform):
    """Dictionary version of :func:`channels_to_class_index`: (K, H, W) lesion masks (one channel per lesion type,
    as :class:`~monai_ext.data.LoadMaskd` loads a list of paths) become one (1, H, W) class map for multi-class
    segmentation; the ``MetaTensor`` metadata is kept.

    Args:
        keys: keys of the masks.
        allow_missing_keys: do not raise when a key is absent.
    """

    def __init__(self, keys: KeysCollection = "label", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            value = d[key]
            merged = channels_to_class_index(convert_to_tensor(value, track_meta=False))
            if hasattr(value, "copy_meta_from"):
                merged = type(value)(merged, meta=value.meta)
            d[key] = merged
        return d
