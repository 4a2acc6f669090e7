# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Classification metrics inside an ignite evaluator: the ``EpochMetric`` compute function and the report writer.

An evaluation config computes every classification score at the end of the epoch with ignite's ``EpochMetric``,
whose ``compute_fn`` receives ``(y_pred, y)``, and then writes the report from ``evaluator.state.metrics``. In a
bundle config (``evaluate.json`` of ``sai_diagnosis``)::

    "compute_fn": {"_target_": "monai_ext.metrics.epoch_classification_metrics", "_mode_": "callable",
                   "num_classes": "@num_classes"}

    {"_target_": "monai_ext.metrics.write_evaluator_classification_report", "evaluator": "@validate#evaluator",
     "paths": ["@report_path", "@summary_path"], "info": "@report_info"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .classification import ArrayLike, classification_metrics
from .reports import write_classification_report

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = ["epoch_classification_metrics", "write_evaluator_classification_report"]


def epoch_classification_metrics(
    y_pred: ArrayLike, y: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> dict[str, Any]:
    """:func:`~monai_ext.metrics.classification_metrics` with the ``(y_pred, y)`` argument order of ignite and MONAI.

    ``classification_metrics`` takes the truth first, ``(y_true, y_pred)``, as scikit-learn does; ignite's
    ``EpochMetric`` calls its ``compute_fn`` with the predictions first. This function swaps them, nothing else.

    Args:
        y_pred: (N,) predicted class indices or (N, K) scores (the class is the ``argmax`` over dim 1).
        y: (N,) true class indices.
        num_classes: K, inferred when ``None``.
        zero_division: value of a per-class ratio whose denominator is 0.

    Returns:
        The dict of :func:`~monai_ext.metrics.classification_metrics`.
    """
    return classification_metrics(y, y_pred, num_classes, zero_division=zero_division)


def write_evaluator_classification_report(
    evaluator: Engine,
    paths: str | Path | Sequence[str | Path],
    metric_name: str = "classification",
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the classification report of a finished evaluator run to one or more JSON files.

    ``write_classification_report(evaluator.state.metrics[metric_name], paths, **info)``.

    Args:
        evaluator: the ignite engine (MONAI evaluator) that has run, with the output of
            :func:`epoch_classification_metrics` (or ``classification_metrics``) under ``metric_name`` in its
            ``state.metrics``.
        paths: JSON file path(s) to write (folders are created).
        metric_name: name of the classification metric in ``evaluator.state.metrics``.
        info: further report entries (class names, checkpoint, sample count, ...); ``None`` values are kept.

    Returns:
        The report written.

    Raises:
        KeyError: the evaluator has no metric ``metric_name`` (it has not run, or the metric is named otherwise), or
            the metric lacks a headline score.
    """
    metrics = evaluator.state.metrics
    if metric_name not in metrics:
        raise KeyError(
            f"write_evaluator_classification_report: the evaluator has no metric {metric_name!r} "
            f"(it has {sorted(metrics)}); run the evaluator first."
        )
    return write_classification_report(metrics[metric_name], paths, **dict(info or {}))
