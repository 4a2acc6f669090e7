# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.metrics.handlers`` moved to :mod:`monai_ext.handlers.segmentation_metrics` and
:mod:`monai_ext.handlers.evaluation_report`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.evaluation_report import EvaluationReportHandler
from ..handlers.segmentation_metrics import PooledPRAUCHandler, PooledSegmentationHandler
from ..utils.deprecation import warn_moved_module

__all__ = [
    "PooledPRAUCHandler",
    "PooledSegmentationHandler",
    "EvaluationReportHandler",
]

warn_moved_module(__name__, "monai_ext.handlers.segmentation_metrics and monai_ext.handlers.evaluation_report")
