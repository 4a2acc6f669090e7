# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.utils: small helpers shared by the other subpackages (no dependency on them).

The standard-library helpers (output paths, image-file listing, error reports, run folders) are imported with the
package, which ``import monai_ext`` does. The helpers that need torch (checkpoint reading and writing, seeding,
process ranks, network placement) are imported on first use, e.g. ``monai_ext.utils.safe_load_checkpoint``, so
that importing ``monai_ext`` alone stays light (command-line tools such as ``python -m monai_ext.bundle.lint`` need
no torch).
"""

from __future__ import annotations

import importlib
from typing import Any

from .paths import (
    MAX_NAME_BYTES, UnsafeOutputPathError, output_name_from_path, safe_output_path, sample_output_path,
    sanitize_output_name, sanitize_sample_id,
)
from .image_files import (
    FOLDER_INFERENCE_SUFFIXES, HISTOLOGY_SUFFIXES, IMAGE_SUFFIXES, NIFTI_SUFFIXES, find_image_files, has_suffix,
    list_image_paths,
)
from .errors import format_user_error, install_excepthook, user_error_in_chain
from .log_messages import log_message
from .options import RENAMED_IDS, RENAMED_OPTIONS, RenamedOptionError, check_renamed_options
from .run_paths import (
    WEIGHT_PATTERNS, TrainingOutputError, default_bundle_root, git_tracked_files, optional_weights_file,
    run_or_shipped_file, running_in_monailabel, shipped_weights, stage_checkpoint_path, stage_checkpoint_paths,
    stage_file_prefix, training_ckpt_dir,
)

#: names exported on first access, by the module (in this package) that defines them.
_LAZY_EXPORTS = {
    **dict.fromkeys(
        (
            "TEMP_PREFIX", "CheckpointReadError", "MissingWeightsError", "UnsafeCheckpointError", "atomic_torch_save",
            "missing_weights_message", "restore_objects", "safe_load_checkpoint",
        ),
        "checkpoint_io",
    ),
    **dict.fromkeys(("epoch_seed", "make_generator", "seed_everything", "seed_worker"), "seeding"),
    **dict.fromkeys(("get_rank", "get_world_size"), "ranks"),
    "place_network": "devices",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))
