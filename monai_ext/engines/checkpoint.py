# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.engines.checkpoint`` moved to :mod:`monai_ext.utils.checkpoint_io` and
:mod:`monai_ext.handlers.checkpoint`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.checkpoint import AtomicCheckpointSaver, AtomicDiskSaver, InitialWeightsLoader, SafeCheckpointLoader
from ..utils.checkpoint_io import (
    TEMP_PREFIX,
    CheckpointReadError,
    MissingWeightsError,
    UnsafeCheckpointError,
    atomic_torch_save,
    missing_weights_message,
    restore_objects,
    safe_load_checkpoint,
)
from ..utils.deprecation import warn_moved_module

__all__ = [
    "TEMP_PREFIX",
    "CheckpointReadError",
    "MissingWeightsError",
    "UnsafeCheckpointError",
    "atomic_torch_save",
    "missing_weights_message",
    "restore_objects",
    "safe_load_checkpoint",
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "InitialWeightsLoader",
    "SafeCheckpointLoader",
]

warn_moved_module(__name__, "monai_ext.utils.checkpoint_io and monai_ext.handlers.checkpoint")
