# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.utils: small helpers shared by the other subpackages (no dependency on them)."""

from __future__ import annotations

from .paths import (
    MAX_NAME_BYTES, UnsafeOutputPathError, output_name_from_path, safe_output_path, sample_output_path,
    sanitize_output_name, sanitize_sample_id,
)
from .image_files import (
    FOLDER_INFERENCE_SUFFIXES, HISTOLOGY_SUFFIXES, IMAGE_SUFFIXES, NIFTI_SUFFIXES, find_image_files, has_suffix,
)
from .errors import format_user_error, install_excepthook, user_error_in_chain
