# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The images an ``inference.json`` runs on, as the two calls its ``image_paths`` and ``dataset#data`` ids make.

``inference_images`` picks the input: the user's ``--input_dir`` (a folder or a list of files) when given, else the
test split of the bundle's embedded data set. ``image_datalist`` turns that input into MONAI's list of dictionaries
(the ``dataset#data`` that MONAI Label and other bundle consumers read).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from monai_ext.data.layouts import build_datalist
from monai_ext.utils.image_files import FOLDER_INFERENCE_SUFFIXES, list_image_paths

__all__ = ["inference_images", "image_datalist"]


def inference_images(
    input_dir: str | os.PathLike | Sequence[str] | None, dataset: str, dataset_dir: str | os.PathLike,
    split: str = "test",
) -> str | list[str]:
    """``input_dir`` when given, else the image paths of ``split`` of the registered data set ``dataset``.

    Args:
        input_dir: a folder of images or a list of image files chosen by the user; ``None`` or ``""`` for the default.
        dataset: registered layout name (see :func:`monai_ext.data.list_datasets`), e.g. ``"chasedb1"``.
        dataset_dir: the data set's root folder.
        split: which split of the data set, ``"test"`` by default.

    Returns:
        ``input_dir`` unchanged (``str`` for a folder, ``list`` of ``str`` for files), or the split's image paths.
    """
    if input_dir:
        return os.fspath(input_dir) if isinstance(input_dir, os.PathLike) else input_dir
    return [os.fspath(item["image"]) for item in build_datalist(dataset, dataset_dir, split)]


def image_datalist(
    images: str | os.PathLike | Sequence[str | os.PathLike],
    image_key: str = "image",
    missing_ok: bool = False,
    suffixes: Sequence[str] = FOLDER_INFERENCE_SUFFIXES,
) -> list[dict[str, Any]]:
    """``[{image_key: path}, ...]`` for a list of image files, or for the image files directly inside a folder.

    Args:
        images: a folder (its image files, sorted by name, hidden files skipped) or a sequence of file paths (kept in
            order, not checked here: the loader reports a missing file with its name).
        image_key: the dictionary key of each path.
        missing_ok: return ``[]`` for a folder that does not exist (an optional sample folder) instead of raising.
        suffixes: file-name endings listed from a folder (case-insensitive); by default those of folder inference.

    Raises:
        ValueError: ``images`` names no existing folder and ``missing_ok`` is false.
    """
    if isinstance(images, (str, os.PathLike)):
        if missing_ok and not os.path.isdir(images):
            return []
        return [{image_key: path} for path in list_image_paths(images, suffixes)]
    return [{image_key: os.fspath(path)} for path in images]
