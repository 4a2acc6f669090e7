# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.engines.resume`` moved to :mod:`monai_ext.handlers.resume`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.resume import (
    CHECKPOINT_EXTENSIONS,
    CheckpointInfo,
    ResumeFromCheckpoint,
    find_checkpoints,
    find_latest_checkpoint,
)
from ..utils.deprecation import warn_moved_module

__all__ = [
    "CHECKPOINT_EXTENSIONS",
    "CheckpointInfo",
    "ResumeFromCheckpoint",
    "find_checkpoints",
    "find_latest_checkpoint",
]

warn_moved_module(__name__, "monai_ext.handlers.resume")
