# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Ignite / MONAI metric handlers of the dataset-pooled segmentation metrics.

* ``PooledSegmentationHandler``: an ``IgniteMetricHandler`` around ``PooledSegmentationMetric`` for
  ``validate#key_metric`` / ``additional_metrics``. Its value is the first ``metric_name`` (foreground IoU by
  default, the authors' best-checkpoint criterion); the other names go to ``engine.state.metrics`` as
  ``<name>_<metric>``.
* ``PooledPRAUCHandler``: the same for the dataset-pooled PR-AUC.

The metrics themselves are in :mod:`monai_ext.metrics.segmentation`; the per-image report of an evaluator run is
written by :class:`~monai_ext.handlers.evaluation_report.EvaluationReportHandler`.

Bundle config example (``evaluate.json``)::

    "validate#key_metric": {"val_iou": {"_target_": "monai_ext.handlers.PooledSegmentationHandler",
        "metric_name": ["iou", "dice", "recall", "precision", "specificity", "accuracy", "mcc", "bm"],
        "output_transform": "$monai.handlers.from_engine(['pred', 'label'])"}}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from monai.handlers import IgniteMetricHandler, from_engine
from monai.utils import min_version, optional_import

from ..metrics.segmentation import PooledPRAUCMetric, PooledSegmentationMetric

reinit__is_reduced, _ = optional_import("ignite.metrics.metric", "0.4.11", min_version, "reinit__is_reduced")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", "0.4.11", min_version, "Engine")

__all__ = ["PooledSegmentationHandler", "PooledPRAUCHandler"]


class _MultiValueMetricHandler(IgniteMetricHandler):
    """IgniteMetricHandler whose metric returns one value per name: the first is the handler's value."""

    metric_fn: Any

    def __init__(self, metric_fn: Any, output_transform: Callable, save_details: bool) -> None:
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
        # hand whole lists of images (and the optional fov list) to the metric; ignite would otherwise unroll
        # (pred, label) lists sample by sample and refuses a third (fov) item
        self._skip_unrolling = True
        self._all_values: dict[str, torch.Tensor] = {}

    @reinit__is_reduced
    def update(self, output: Sequence[Any]) -> None:
        """Args:
        output: ``(y_pred, y)`` or ``(y_pred, y, fov)``.

        Raises:
            ValueError: when ``output`` does not have 2 or 3 items.
        """
        if len(output) not in (2, 3):
            raise ValueError(f"output must be (y_pred, y) or (y_pred, y, fov), got {len(output)} items.")
        if len(output) == 3:
            self.metric_fn(output[0], output[1], fov=output[2])
        else:
            self.metric_fn(output[0], output[1])

    def compute(self) -> Any:
        values = self.metric_fn.aggregate()
        self._all_values = {m: v for m, v in zip(self.metric_fn.metric_name, values)}
        self._is_reduced = True
        if self.save_details:
            if self._engine is None or self._name is None:
                raise RuntimeError("please call the attach() function to connect expected engine first.")
            self._engine.state.metric_details[self._name] = self.metric_fn.get_buffer()
        return _to_python(values[0])

    def completed(self, engine: Engine, name: str) -> None:
        super().completed(engine, name)
        for m, v in list(self._all_values.items())[1:]:
            engine.state.metrics[f"{name}_{m}"] = _to_python(v)


def _to_python(value: torch.Tensor) -> Any:
    value = value.detach().cpu()
    return value.item() if value.ndim == 0 else value


class PooledSegmentationHandler(_MultiValueMetricHandler):
    """Dataset-pooled segmentation scores as an ignite metric (``validate#key_metric``).

    The value under the handler's name is ``metric_name[0]`` (default foreground IoU, the authors' best-checkpoint
    criterion); the others are stored as ``engine.state.metrics["<name>_<metric>"]``. With ``save_details`` the
    per-image (N, C, 4) counts go to ``engine.state.metric_details[name]``.

    Args:
        metric_name: names from ``SEGMENTATION_METRICS`` (first = the key value).
        num_classes: number of classes, None to infer from multi-channel predictions (else 2).
        include_fov: count only pixels inside the FOV; ``output_transform`` must then return
            ``(pred, label, fov)``.
        class_reduction: ``"mean_foreground"`` or ``"none"``.
        aggregation: ``"pooled"`` or ``"per_image"``.
        output_transform: maps ``engine.state.output`` to ``(pred, label[, fov])``; default
            ``from_engine(["pred", "label"])`` (plus ``"fov"`` when ``include_fov``).
        save_details: store per-image counts in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        metric_name: Sequence[str] | str = ("iou",),
        num_classes: int | None = None,
        include_fov: bool = False,
        class_reduction: str = "mean_foreground",
        aggregation: str = "pooled",
        output_transform: Callable | None = None,
        save_details: bool = True,
    ) -> None:
        metric_fn = PooledSegmentationMetric(metric_name, num_classes, include_fov, class_reduction, aggregation)
        if output_transform is None:
            output_transform = from_engine(["pred", "label", "fov"] if include_fov else ["pred", "label"])
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)


class PooledPRAUCHandler(_MultiValueMetricHandler):
    """Dataset-pooled PR-AUC (trapezoid) and / or average precision as an ignite metric.

    Args:
        metric_name: ``"pr_auc"`` and / or ``"average_precision"`` (first = the handler's value).
        num_bins: None for the exact curve (single process), else histogram bins (distributed-safe).
        softmax: apply softmax to ``pred`` (logits) first.
        class_reduction: ``"mean_foreground"`` (mAUC for C > 2) or ``"none"``.
        output_transform: maps ``engine.state.output`` to ``(pred, label)``; default ``from_engine``.
        save_details: store the per-image buffers in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        metric_name: Sequence[str] | str = ("pr_auc",),
        num_bins: int | None = None,
        softmax: bool = True,
        class_reduction: str = "mean_foreground",
        output_transform: Callable | None = None,
        save_details: bool = False,
    ) -> None:
        metric_fn = PooledPRAUCMetric(metric_name, num_bins, softmax, class_reduction)
        if output_transform is None:
            output_transform = from_engine(["pred", "label"])
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
