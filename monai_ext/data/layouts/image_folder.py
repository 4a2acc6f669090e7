# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""An unlabelled folder of images (super-resolution training on one's own HR images) as a registered layout."""

from __future__ import annotations

import os

from ..histology import build_sr_folder_datalist
from .registry import register_layout, seeded_holdout

__all__ = ["image_folder"]


@register_layout(
    "image_folder",
    "any folder of images, no labels (super-resolution training): every image, or a seeded val_fraction held out",
    ["folder", "sr_folder"],
    optional_splits=("val", "test"),
)
def image_folder(dataset_dir: str | os.PathLike, split: str, val_fraction: float = 0.0, seed: int = 0) -> list[dict]:
    """Every image file below ``dataset_dir`` (any depth), as ``{"image": path, "id": relative path}`` entries.

    Split: ``train`` is every image, or the rest after a seeded hold-out of ``val_fraction`` of them, which is
    ``val`` (empty when ``val_fraction`` is 0, the default); ``test`` is always empty. Entries are sorted by
    relative path (:func:`~monai_ext.data.histology.build_sr_folder_datalist`).

    Args:
        dataset_dir: the image folder.
        split: ``train``, ``val`` or ``test``.
        val_fraction: fraction of the images held out as ``val``.
        seed: hold-out seed.
    """
    if split == "test":
        return []
    train, val = seeded_holdout(build_sr_folder_datalist(dataset_dir), val_fraction, seed)
    return train if split == "train" else val
