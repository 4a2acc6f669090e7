# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.metrics."""

from __future__ import annotations

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
from .handlers import EvaluationReportHandler, PooledPRAUCHandler, PooledSegmentationHandler
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
