# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.engines.run_outputs`` moved to :mod:`monai_ext.utils.run_paths`,
:mod:`monai_ext.handlers.validation` and :mod:`monai_ext.handlers.run_report`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.run_report import TrainingSummaryHandler, log_epoch_metrics
from ..handlers.validation import ValidationHandler
from ..utils.deprecation import warn_moved_module
from ..utils.run_paths import (
    WEIGHT_PATTERNS,
    TrainingOutputError,
    git_tracked_files,
    run_or_shipped_file,
    running_in_monailabel,
    shipped_weights,
    training_ckpt_dir,
)

__all__ = [
    "WEIGHT_PATTERNS",
    "TrainingOutputError",
    "git_tracked_files",
    "run_or_shipped_file",
    "running_in_monailabel",
    "shipped_weights",
    "training_ckpt_dir",
    "ValidationHandler",
    "TrainingSummaryHandler",
    "log_epoch_metrics",
]

warn_moved_module(
    __name__, "monai_ext.utils.run_paths, monai_ext.handlers.validation and monai_ext.handlers.run_report"
)
