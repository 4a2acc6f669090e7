# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Evaluation report writers: per-image CSV, JSON summary and segmentation overlay PNGs.

* ``write_segmentation_report`` turns per-image confusion counts into a CSV (one row per image, then a ``pooled``
  row = scores of the summed counts, as the papers report, and a ``mean`` row = mean of the per-image scores)
  and a JSON summary.
* ``overlay_image`` / ``write_overlay`` draw ground truth in green, prediction in red and their overlap in
  yellow over the image (the style of Figure 4 of the DS2F paper).

Output names derive from sample ids. ``safe_output_path`` confines them to the output folder: ids with a path
separator, ``..`` or NUL are refused with a ``ValueError``; other characters outside
``[A-Za-z0-9._-]`` become ``_``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

# one implementation of output paths, in monai_ext.utils.paths; this module keeps exporting its two names
from ..utils.paths import sample_output_path as safe_output_path
from ..utils.paths import sanitize_sample_id as sanitize_id
from .segmentation import SEGMENTATION_METRICS, canonical_metric_name, reduce_classes, scores_from_counts

__all__ = [
    "GT_COLOR",
    "CLASSIFICATION_HEADLINE_METRICS",
    "HEADLINE_METRICS",
    "PRED_COLOR",
    "OVERLAP_COLOR",
    "OVERLAY_LEGEND",
    "write_overlay_legend",
    "sanitize_id",
    "safe_output_path",
    "segmentation_report_tables",
    "write_metrics_csv",
    "write_classification_report",
    "write_json",
    "write_segmentation_report",
    "overlay_image",
    "write_overlay",
]

GT_COLOR = (0, 255, 0)
PRED_COLOR = (255, 0, 0)
OVERLAP_COLOR = (255, 255, 0)
#: (colour name, colour, meaning) of the overlay colours, for legends.
OVERLAY_LEGEND = (
    ("green", GT_COLOR, "ground truth only (missed)"),
    ("red", PRED_COLOR, "prediction only (false positive)"),
    ("yellow", OVERLAP_COLOR, "both (correct)"),
)
_COUNT_NAMES = ("tp", "fp", "tn", "fn")
#: pooled scores copied into the ``headline`` object of ``summary.json`` (those the evaluation computed)
HEADLINE_METRICS = ("dice", "iou", "mcc", "bm", "recall")
#: scores copied into the ``headline`` object of a classification ``summary.json``
CLASSIFICATION_HEADLINE_METRICS = ("accuracy", "macro_f1", "kappa", "mcc")


def _metric_columns(metric_name: Sequence[str], num_classes: int) -> list[str]:
    names = [canonical_metric_name(m) for m in metric_name]
    if num_classes == 2:
        return list(_COUNT_NAMES) + names
    cols = [f"{c}_{k}" for k in range(1, num_classes) for c in _COUNT_NAMES]
    return cols + names + [f"{m}_{k}" for m in names for k in range(1, num_classes)]


def _score_row(counts: torch.Tensor, names: Sequence[str], with_counts: bool) -> dict[str, float]:
    """One CSV row from (C, 4) counts of one image or of the pooled set."""
    num_classes = counts.shape[0]
    row: dict[str, float] = {}
    if with_counts:
        if num_classes == 2:
            row.update({c: int(v) for c, v in zip(_COUNT_NAMES, counts[1].tolist())})
        else:
            for k in range(1, num_classes):
                row.update({f"{c}_{k}": int(v) for c, v in zip(_COUNT_NAMES, counts[k].tolist())})
    scores = scores_from_counts(counts, names)
    for m, v in scores.items():
        row[m] = float(reduce_classes(v, "mean_foreground"))
        if num_classes > 2:
            row.update({f"{m}_{k}": float(v[k]) for k in range(1, num_classes)})
    return row


def segmentation_report_tables(
    ids: Sequence[Any], counts: torch.Tensor, metric_name: Sequence[str] = SEGMENTATION_METRICS
) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, float]]:
    """Per-image rows, pooled scores and mean-of-images scores from per-image counts.

    Scores of a multi-class task are the mean over the foreground classes (columns ``<metric>``) plus one column
    per foreground class (``<metric>_<k>``); binary tasks report the foreground class only.

    Args:
        ids: one id per image.
        counts: (N, C, 4) counts ``[TP, FP, TN, FN]`` from ``segmentation_counts``.
        metric_name: score names.

    Returns:
        ``(rows, pooled, mean)``: ``rows`` one dict per image (``id``, counts, scores), ``pooled`` the scores
        (and counts) of the summed counts, ``mean`` the mean over images of each per-image score.

    Raises:
        ValueError: when the numbers of ids and images differ, or there is no image.
    """
    if counts.ndim != 3 or counts.shape[-1] != 4:
        raise ValueError(f"counts must be (N, C, 4), got shape {tuple(counts.shape)}.")
    if len(ids) != counts.shape[0]:
        raise ValueError(f"got {len(ids)} ids for {counts.shape[0]} images.")
    if counts.shape[0] == 0:
        raise ValueError("a report needs at least one image.")
    counts = counts.detach().cpu()
    names = [canonical_metric_name(m) for m in metric_name]
    rows = [{"id": str(i), **_score_row(c, names, True)} for i, c in zip(ids, counts)]
    pooled = _score_row(counts.sum(dim=0), names, True)
    count_keys = set(_COUNT_NAMES) | {f"{c}_{k}" for c in _COUNT_NAMES for k in range(counts.shape[1])}
    score_keys = [k for k in rows[0] if k != "id" and k not in count_keys]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in score_keys}
    return rows, pooled, mean


def write_metrics_csv(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    summary_rows: Mapping[str, Mapping[str, Any]] | None = None,
    columns: Sequence[str] | None = None,
) -> Path:
    """Write per-image rows, then summary rows (``id`` = the summary name), to a CSV file.

    Args:
        path: CSV file path (its folder is created).
        rows: one mapping per image, each with an ``id``.
        summary_rows: e.g. ``{"pooled": {...}, "mean": {...}}``; missing columns stay empty.
        columns: column order; by default ``id`` then the keys of the first row, then new summary keys.

    Returns:
        the path written.
    """
    summary_rows = summary_rows or {}
    if columns is None:
        columns = ["id"]
        for r in list(rows) + list(summary_rows.values()):
            columns += [k for k in r if k not in columns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), restval="", extrasaction="raise")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_value(v) for k, v in r.items()})
        for name, r in summary_rows.items():
            writer.writerow({**{k: _csv_value(v) for k, v in r.items()}, "id": name})
    return path


def _csv_value(v: Any) -> Any:
    return repr(v) if isinstance(v, float) else v


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().tolist()
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (tensors and numpy values converted; inf/nan written as strings).

    Args:
        path: JSON file path (its folder is created).
        obj: the object.

    Returns:
        the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(obj), indent=2))
    return path


def write_classification_report(
    metrics: Mapping[str, Any], paths: str | Path | Sequence[str | Path], **info: Any
) -> dict[str, Any]:
    """Write a classification evaluation (``classification_metrics``' output plus ``info``) to one or more JSON files.

    The report gets a ``headline`` object with the scores a classifier is judged by
    (:data:`CLASSIFICATION_HEADLINE_METRICS`), as the segmentation bundles' ``summary.json``.

    Args:
        metrics: the output of :func:`monai_ext.metrics.classification_metrics`.
        paths: JSON file path(s) to write (folders are created).
        info: further entries (class names, checkpoint, sample count, ...); ``None`` values are kept.

    Returns:
        The report written.

    Raises:
        KeyError: when ``metrics`` lacks a headline score.
    """
    missing = [k for k in CLASSIFICATION_HEADLINE_METRICS if k not in metrics]
    if missing:
        raise KeyError(f"write_classification_report: the metrics lack {missing}; pass classification_metrics' output.")
    report = {**dict(metrics), **info, "headline": {k: metrics[k] for k in CLASSIFICATION_HEADLINE_METRICS}}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        write_json(path, report)
    return report


def write_segmentation_report(
    output_dir: str | Path,
    ids: Sequence[Any],
    counts: torch.Tensor,
    metric_name: Sequence[str] = SEGMENTATION_METRICS,
    extra_summary: Mapping[str, Any] | None = None,
    csv_name: str = "metrics.csv",
    json_name: str = "summary.json",
) -> dict[str, Any]:
    """Write ``metrics.csv`` (per image + ``pooled`` + ``mean`` rows) and ``summary.json`` to ``output_dir``.

    Args:
        output_dir: the output folder (created).
        ids: one id per image.
        counts: (N, C, 4) per-image counts.
        metric_name: score names.
        extra_summary: more entries for the JSON summary (e.g. ``{"pr_auc": 0.81}``).
        csv_name: CSV file name inside ``output_dir``.
        json_name: JSON file name inside ``output_dir``.

    Returns:
        the summary written to JSON: ``headline`` (the pooled scores a bundle is judged by, see
        :data:`HEADLINE_METRICS`, with ``pr_auc`` when given in ``extra_summary``), ``num_images``, ``num_classes``,
        ``metric_names``, ``pooled``, ``mean``, the extra entries, and ``aggregation_note``.
    """
    out = Path(output_dir)
    rows, pooled, mean = segmentation_report_tables(ids, counts, metric_name)
    extra = dict(extra_summary or {})
    headline = {m: pooled[m] for m in HEADLINE_METRICS if m in pooled}
    if "pr_auc" in extra:
        headline["pr_auc"] = float(extra["pr_auc"])
    write_metrics_csv(out / Path(csv_name).name, rows, {"pooled": pooled, "mean": mean})
    summary: dict[str, Any] = {
        "headline": headline,
        "num_images": len(rows),
        "num_classes": int(counts.shape[1]),
        "metric_names": [canonical_metric_name(m) for m in metric_name],
        "pooled": pooled,
        "mean": mean,
    }
    summary.update(extra)
    summary["aggregation_note"] = (
        "pooled: scores of one confusion matrix summed over all pixels of all images (as the papers report); "
        "mean: mean over images of per-image scores; multi-class scores are means over foreground classes."
    )
    write_json(out / Path(json_name).name, summary)
    return summary


def _to_uint8_rgb(image: torch.Tensor | np.ndarray, size: tuple[int, int], image_range: Sequence[float] | None):
    img = image.as_subclass(torch.Tensor) if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    img = img.detach().cpu().to(torch.float32)
    if img.ndim == 2:
        img = img.unsqueeze(0)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"overlay image must be (H, W), (1, H, W) or (3, H, W), got shape {tuple(img.shape)}.")
    if tuple(img.shape[-2:]) != size:
        img = F.interpolate(img.unsqueeze(0), size=size, mode="bilinear", align_corners=False)[0]
    if image_range is None:
        low, high = float(img.min()), float(img.max())
    else:
        low, high = float(image_range[0]), float(image_range[1])
    img = ((img - low) / max(high - low, 1e-12)).clamp(0, 1) * 255
    img = img.round().to(torch.uint8).expand(3, *size)
    return img.permute(1, 2, 0).numpy()


def _mask(x: torch.Tensor | np.ndarray, what: str) -> np.ndarray:
    m = x.as_subclass(torch.Tensor) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    m = m.detach().cpu()
    if m.ndim == 3:
        # channel-first: multi-channel -> argmax, single channel -> values
        m = m.argmax(dim=0) if m.shape[0] > 1 else m[0]
    if m.ndim != 2:
        raise ValueError(f"{what} must be (H, W), (1, H, W) or (C, H, W), got shape {tuple(m.shape)}.")
    return (m.round() if m.is_floating_point() else m).numpy() > 0


def overlay_image(
    label: torch.Tensor | np.ndarray,
    pred: torch.Tensor | np.ndarray,
    image: torch.Tensor | np.ndarray | None = None,
    image_range: Sequence[float] | None = None,
    alpha: float = 1.0,
) -> np.ndarray:
    """RGB overlay: ground truth only green, prediction only red, both yellow, elsewhere the image.

    Foreground is any class > 0 (multi-channel inputs are argmax-ed first).

    Args:
        label: (H, W) or (1, H, W) ground truth; (C, H, W) one-hot.
        pred: (H, W) or (1, H, W) label map, or (C, H, W) logits / probabilities.
        image: optional (H, W), (1, H, W) or (3, H, W) background, resized bilinearly to the mask size;
            black when None.
        image_range: ``(low, high)`` of the image values; None = the image's own min / max.
        alpha: opacity of the colours (1 = pure colour, as in the paper figure).

    Returns:
        (H, W, 3) uint8 array.

    Raises:
        ValueError: on shape mismatches or ``alpha`` outside [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}.")
    gt = _mask(label, "label")
    pr = _mask(pred, "pred")
    if gt.shape != pr.shape:
        raise ValueError(f"label {gt.shape} and prediction {pr.shape} must have the same size.")
    if image is None:
        out = np.zeros((*gt.shape, 3), dtype=np.float64)
    else:
        out = _to_uint8_rgb(image, gt.shape, image_range).astype(np.float64)
    for region, color in ((gt & ~pr, GT_COLOR), (pr & ~gt, PRED_COLOR), (gt & pr, OVERLAP_COLOR)):
        out[region] = (1.0 - alpha) * out[region] + alpha * np.asarray(color, dtype=np.float64)
    return np.round(out).astype(np.uint8)


def write_overlay(
    output_dir: str | Path,
    identifier: Any,
    label: torch.Tensor | np.ndarray,
    pred: torch.Tensor | np.ndarray,
    image: torch.Tensor | np.ndarray | None = None,
    image_range: Sequence[float] | None = None,
    alpha: float = 1.0,
    suffix: str = "_overlay.png",
) -> Path:
    """Save ``overlay_image`` as ``<output_dir>/<id><suffix>`` (the id is checked with ``safe_output_path``).

    Args:
        output_dir: the output folder (created).
        identifier: the sample id.
        label: ground truth, see ``overlay_image``.
        pred: prediction, see ``overlay_image``.
        image: optional background image.
        image_range: value range of ``image``.
        alpha: colour opacity.
        suffix: file-name suffix, ending in ``.png``.

    Returns:
        the path written.

    Raises:
        ValueError: on an unsafe id (path traversal) or bad inputs.
    """
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    path = safe_output_path(output_dir, identifier, suffix)
    info = PngInfo()
    info.add_text("Description", "; ".join(f"{name}: {text}" for name, _, text in OVERLAY_LEGEND))
    Image.fromarray(overlay_image(label, pred, image, image_range, alpha)).save(path, pnginfo=info)
    return path


def write_overlay_legend(path: str | Path) -> Path:
    """Save a small PNG legend of the overlay colours (green, red, yellow swatches with their meaning) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    row, pad = 22, 6
    legend = Image.new("RGB", (320, pad * 2 + row * len(OVERLAY_LEGEND)), (255, 255, 255))
    draw = ImageDraw.Draw(legend)
    font = ImageFont.load_default()
    for i, (name, color, text) in enumerate(OVERLAY_LEGEND):
        top = pad + i * row
        draw.rectangle([pad, top + 3, pad + 16, top + 19], fill=color, outline=(0, 0, 0))
        draw.text((pad + 26, top + 5), f"{name}: {text}", fill=(0, 0, 0), font=font)
    legend.save(path)
    return path
