# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.metrics: segmentation, classification and super-resolution metrics, and the report writers.

The ignite metric / report handlers (``PooledSegmentationHandler``, ``PooledPRAUCHandler``,
``EvaluationReportHandler``) are in :mod:`monai_ext.handlers`; their old names here
(``monai_ext.metrics.PooledSegmentationHandler``, module ``monai_ext.metrics.handlers``) still resolve to the same
objects for one release, with a ``FutureWarning`` naming the new path.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..utils.deprecation import moved_attribute
from .classification import (
    classification_accuracy,
    classification_confusion_matrix,
    classification_metrics,
    cohen_kappa,
    macro_f1,
    macro_sensitivity,
    macro_specificity,
    multiclass_mcc,
    per_class_f1,
    per_class_sensitivity,
    per_class_specificity,
)
from .evaluator_classification import epoch_classification_metrics, write_evaluator_classification_report
from .reports import (
    overlay_image,
    safe_output_path,
    sanitize_id,
    segmentation_report_tables,
    write_classification_report,
    write_json,
    write_metrics_csv,
    write_overlay,
    write_segmentation_report,
)
from .segmentation import (
    SEGMENTATION_METRICS,
    PooledPRAUCMetric,
    PooledSegmentationMetric,
    average_precision,
    counts_from_confusion_matrix,
    label_confusion_matrix,
    mean_image_pr_auc,
    per_image_mean_scores,
    pooled_scores,
    pr_auc,
    pr_histogram,
    precision_recall_curve,
    precision_recall_curve_from_histogram,
    scores_from_counts,
    segmentation_counts,
    to_label_map,
)
from .super_resolution import (
    fov_mask_from_image,
    gradient_sharpness,
    masked_super_resolution_metrics,
    psnr,
    rgb_to_y,
    rmse,
    ssim,
    super_resolution_metrics,
)

#: names that moved out of ``monai_ext.metrics``, by their new package (the old names forward there for one release).
MOVED_NAMES: dict[str, str] = dict.fromkeys(
    ("EvaluationReportHandler", "PooledPRAUCHandler", "PooledSegmentationHandler"), "monai_ext.handlers"
)


def __getattr__(name: str) -> Any:
    if name == "handlers":  # the old module, now a thin re-export that warns when imported
        return importlib.import_module(f"{__name__}.handlers")
    return moved_attribute(__name__, name, MOVED_NAMES)
