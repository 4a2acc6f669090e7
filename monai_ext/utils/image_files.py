# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Image-file suffixes and the one function that lists image files in a folder.

The suffix tables of the package live here; the modules that used to define them re-export them:

* :data:`IMAGE_SUFFIXES` (``monai_ext.data.readers.IMAGE_SUFFIXES``): the raster formats the fundus readers open;
  the dataset layouts list these.
* :data:`FOLDER_INFERENCE_SUFFIXES` (``monai_ext.engines.folder_inference.DEFAULT_IMAGE_SUFFIXES``): what folder
  inference takes from an input folder: the raster formats except PBM, plus NIfTI.
* :data:`HISTOLOGY_SUFFIXES` (``monai_ext.data.IMAGE_EXTENSIONS``): what the histology / capsule-endoscopy
  class-folder builders take.

:func:`find_image_files` does the listing for :func:`list_image_paths` (paths as ``str``: folder inference's
``monai_ext.engines.list_image_files`` and ``monai_ext.data.image_datalist`` of the bundle configs),
``monai_ext.data.layouts.list_image_files`` (``Path`` objects, layout errors) and the histology builders
(recursive).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "IMAGE_SUFFIXES", "NIFTI_SUFFIXES", "FOLDER_INFERENCE_SUFFIXES", "HISTOLOGY_SUFFIXES", "has_suffix",
    "find_image_files", "list_image_paths",
]

#: raster formats (lower case) the fundus readers open with PIL; the dataset layouts treat these as images or masks.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm", ".bmp")
#: NIfTI volumes, read with MONAI's ``LoadImage``.
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: the default of folder inference: :data:`IMAGE_SUFFIXES` without ``.pbm``, then :data:`NIFTI_SUFFIXES`.
FOLDER_INFERENCE_SUFFIXES = tuple(s for s in IMAGE_SUFFIXES if s != ".pbm") + NIFTI_SUFFIXES
#: patch formats of the histology and capsule-endoscopy data sets (class folders), in the order of their messages.
HISTOLOGY_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def has_suffix(name: str, suffixes: Sequence[str]) -> bool:
    """Whether the file name ``name`` ends with one of ``suffixes``, case-insensitively (``.nii.gz`` works)."""
    return name.lower().endswith(tuple(s.lower() for s in suffixes))


def find_image_files(
    folder: str | os.PathLike,
    suffixes: Sequence[str] = IMAGE_SUFFIXES,
    *,
    recursive: bool = False,
    name_pattern: str | None = None,
    ignored_names: Collection[str] = (),
    sort_key: Callable[[Path], Any] | None = None,
) -> list[Path]:
    """Files with an image suffix in ``folder`` (or below it), hidden entries skipped.

    Args:
        folder: an existing folder.
        suffixes: file-name endings taken as images, compared case-insensitively.
        recursive: also list the files in sub-folders (symbolic links to folders are not followed); a file inside a
            hidden folder (name starting with ``.``) is skipped like a hidden file.
        name_pattern: a regular expression the whole file name must match too (case-insensitive).
        ignored_names: file names (lower case) never listed, e.g. ``{"thumbs.db"}``.
        sort_key: sort key of the returned paths; by default the path relative to ``folder`` (``a/1.png``), which is
            the file name when not ``recursive``.

    Returns:
        ``Path`` objects ``Path(folder) / relative path``, sorted.

    Raises:
        NotADirectoryError: ``folder`` is not an existing folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{os.fspath(folder)!r} does not exist or is not a folder")
    pattern = re.compile(name_pattern, re.IGNORECASE) if name_pattern else None
    endings = tuple(s.lower() for s in suffixes)
    candidates = root.rglob("*") if recursive else root.iterdir()
    files = [
        path
        for path in candidates
        if not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.name.lower() not in ignored_names
        and path.name.lower().endswith(endings)
        and (pattern is None or pattern.fullmatch(path.name))
        and path.is_file()
    ]
    if sort_key is None:
        return sorted(files, key=lambda path: path.relative_to(root).as_posix())
    return sorted(files, key=sort_key)


def list_image_paths(folder: str | os.PathLike, suffixes: Sequence[str] = FOLDER_INFERENCE_SUFFIXES) -> list[str]:
    """Sorted image files directly inside ``folder`` (hidden files skipped), as ``os.path.join(folder, name)``.

    The input listing of folder inference (``monai_ext.engines.list_image_files``) and of the ``inference.json``
    data lists (``monai_ext.data.image_datalist``).

    Raises:
        ValueError: the folder does not exist.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"input folder {folder!r} does not exist or is not a folder")
    return [os.path.join(folder, path.name) for path in find_image_files(folder, suffixes)]
