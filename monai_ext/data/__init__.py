# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.data."""

from __future__ import annotations
from .histology import (
    CADCAP_CLASSES, HISTOLOGY_CLASSES, IMAGE_EXTENSIONS, PCamDataset, build_cadcap_datalist, build_class_folder_datalist,
    build_histology_datalist, build_kvasir_capsule_datalist, build_sr_folder_datalist, k_fold_split,
    kvasir_capsule_classes, pcam_file_paths,
)
from .errors import DataError, DatasetLayoutError
from .embedded import EMBEDDED_DATASETS, embedded_dataset_dir
from .inference_inputs import image_datalist, inference_images
from .readers import (
    CheckPairSized, LoadFundusImaged, LoadMaskd, decode_image, load_fundus_image, load_mask, read_image_size,
)
from .layouts import build_datalist, get_layout, list_datasets, register_layout, seeded_holdout, stratified_holdout
from .layouts.vessel import chase_db1, drive, fives, hrf, prime_fp20, stare
from .layouts.lesion import LESION_TYPES, ddr, e_ophtha_ex, idrid, idrid_ex_512
from . import lesion_layouts, vessel_layouts  # noqa: F401  (former module paths, kept as re-exports)


def __getattr__(name: str):
    # imported lazily so that `python -m monai_ext.data.validate` does not import validate.py twice (runpy warning)
    if name in ("ValidationReport", "validate_dataset", "ensure_valid_dataset", "check_datalists"):
        from . import validate

        return getattr(validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
