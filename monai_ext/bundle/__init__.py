# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.bundle: model-zoo checks, offline metadata validation, export and packaging of the bundles."""

from __future__ import annotations

from .schema import (
    META_SCHEMA_MD5, META_SCHEMA_NAME, META_SCHEMA_PATH, META_SCHEMA_URL, OFFICIAL_META_SCHEMA_MD5, load_metadata,
    schema_copy_is_intact, verify_bundle_metadata,
)
from .zoo import discover_bundles, zoo_compliance_problems
from .export import (
    build_network, export_onnx, export_torchscript, fake_input_shape, fake_spatial_shape, run_onnx, run_torchscript,
    verify_network_shapes,
)
from .package import load_zipped_bundle, package_bundle, zipped_bundle_name
from .zoo_ci import (
    LARGE_FILES_NAME, ZOO_MAX_FILE_KB, bundle_requirements, large_file_entry, large_file_problems, precommit_problems,
    premerge_problems, read_large_files, requirement_problems, sha256_of, verify_min_problems, write_large_files,
    write_requirements,
)
