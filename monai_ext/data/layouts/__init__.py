# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dataset layouts: official folder layouts turned into MONAI data lists, one registry for every bundle.

* :mod:`.registry`: :func:`register_layout`, :func:`get_layout`, :func:`list_datasets`, :func:`build_datalist` and
  the seeded split helpers (:func:`seeded_holdout`, :func:`stratified_holdout`, :func:`pick_train_or_val`, ...);
* :mod:`.folders`: folder and file helpers of the layout builders (:func:`find_child_dir`,
  :func:`list_image_files`, :class:`Pairing`, ...);
* :mod:`.vessel`: DRIVE, CHASE_DB1, HRF, STARE, FIVES, PRIME-FP20 and the embedded ``chasedb1``;
* :mod:`.lesion`: IDRiD, E-Ophtha-EX, DDR and the embedded ``idrid_ex_512``;
* :mod:`.classification`: the embedded ``histology_96``, PCam, CAD-CAP and Kvasir-Capsule;
* :mod:`.image_folder`: any unlabelled folder of images (``image_folder``, alias ``folder``: SR training).

Importing this package imports the four layout modules once, which registers their builders; the layout modules
import :mod:`.registry` and :mod:`.folders` only, never this package's ``__init__``, so there is no import loop.
"""

from __future__ import annotations

from .registry import (
    SPLITS,
    DatasetLayout,
    build_datalist,
    get_layout,
    list_datasets,
    natural_key,
    pick_by_groups,
    pick_train_or_val,
    register_layout,
    seeded_holdout,
    stratified_holdout,
)
from .folders import (
    IMAGE_SUFFIXES,
    SPLIT_FOLDER_ALIASES,
    Pairing,
    descend_into,
    find_child_dir,
    layout_error,
    list_image_files,
    require_dir,
    split_folder_names,
    stem_of,
)
from . import classification, image_folder, lesion, vessel  # noqa: F401  (importing them registers their layouts)
from .classification import split_classification_pool

__all__ = [
    "SPLITS",
    "SPLIT_FOLDER_ALIASES",
    "IMAGE_SUFFIXES",
    "DatasetLayout",
    "register_layout",
    "list_datasets",
    "get_layout",
    "build_datalist",
    "natural_key",
    "seeded_holdout",
    "stratified_holdout",
    "pick_train_or_val",
    "pick_by_groups",
    "split_classification_pool",
    "split_folder_names",
    "layout_error",
    "require_dir",
    "find_child_dir",
    "descend_into",
    "list_image_files",
    "stem_of",
    "Pairing",
    "classification",
    "image_folder",
    "lesion",
    "vessel",
]
