# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Segmentation metrics computed the way the DS2F / SS-MAF authors report them.

The reference evaluation (imed_vision ``comm/metrics/metric.py`` and ``vessel_segmentation_evaluation.py``) takes
``argmax`` over the class channels, accumulates **one confusion matrix over all pixels of all test images**
(dataset-pooled, "micro") and reports the scores of the foreground class. PR-AUC is the trapezoidal area under the
precision-recall curve of the foreground probabilities, pooled over all pixels of all images.

This module provides:

* exact integer confusion counts per image and class (``label_confusion_matrix``, ``segmentation_counts``),
  computed with one ``torch.bincount`` (no one-hot expansion, int64, so pooled counts stay exact far beyond the
  2**24 pixels a float32 count can hold);
* scores from counts (``scores_from_counts``) with a fixed, NaN-free convention for empty denominators;
* dataset-pooled and per-image-mean reductions (``pooled_scores``, ``per_image_mean_scores``);
* precision-recall curves, PR-AUC and average precision, exact (sort + cumsum) or from a fixed-bin histogram;
* MONAI ``CumulativeIterationMetric`` classes (``PooledSegmentationMetric``, ``PooledPRAUCMetric``) that
  accumulate over an evaluator run (ignite wrappers are in ``monai_ext.handlers``).

Zero-denominator convention (all scores are finite):

==============  ===========================  ===============================================================
score           formula                      value when the denominator is 0
==============  ===========================  ===============================================================
dice            2TP / (2TP + FP + FN)        1 (prediction and target both empty: perfect agreement)
iou             TP / (TP + FP + FN)          1 (both empty)
recall          TP / (TP + FN)               1 (no target foreground: nothing to miss)
precision       TP / (TP + FP)               1 (no predicted foreground: no false alarm)
specificity     TN / (TN + FP)               1 (no target background)
accuracy        (TP + TN) / (TP+FP+TN+FN)    1 (no pixel counted, e.g. an empty FOV)
mcc             (TP TN - FP FN) / sqrt(...)  1 when FP = FN = 0 (prediction equals target), otherwise 0
bm              recall + specificity - 1     follows from the recall / specificity conventions
==============  ===========================  ===============================================================

On a real test set pooled denominators are never 0, so the convention only matters for per-image means over
images without foreground (e.g. healthy E-Ophtha images), where an empty prediction scores 1 and any false
positive scores 0, like MONAI's ``DiceMetric(ignore_empty=False)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.distributed as dist
from monai.metrics import CumulativeIterationMetric
from monai.utils import ensure_tuple

__all__ = [
    "SEGMENTATION_METRICS",
    "canonical_metric_name",
    "to_label_map",
    "label_confusion_matrix",
    "counts_from_confusion_matrix",
    "segmentation_counts",
    "scores_from_counts",
    "reduce_classes",
    "pooled_scores",
    "per_image_mean_scores",
    "mean_image_pr_auc",
    "precision_recall_curve",
    "pr_histogram",
    "precision_recall_curve_from_histogram",
    "curve_area",
    "pr_auc",
    "average_precision",
    "PooledSegmentationMetric",
    "PooledPRAUCMetric",
]

SEGMENTATION_METRICS: tuple[str, ...] = ("dice", "iou", "recall", "precision", "specificity", "accuracy", "mcc", "bm")

_ALIASES = {
    "f1": "dice",
    "f1_score": "dice",
    "jaccard": "iou",
    "sensitivity": "recall",
    "tpr": "recall",
    "ppv": "precision",
    "tnr": "specificity",
    "acc": "accuracy",
    "informedness": "bm",
}

_CLASS_REDUCTIONS = ("mean_foreground", "none")


def canonical_metric_name(name: str) -> str:
    """Return the canonical name of a segmentation score (``"sensitivity"`` -> ``"recall"``, ...).

    Args:
        name: a name from ``SEGMENTATION_METRICS`` or an alias (f1, jaccard, sensitivity, tpr, ppv, tnr, acc,
            informedness); case and spaces are ignored.

    Returns:
        The canonical name.

    Raises:
        ValueError: when the name is unknown.
    """
    key = str(name).strip().lower().replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in SEGMENTATION_METRICS:
        raise ValueError(
            f"unknown segmentation metric '{name}'; expected one of {SEGMENTATION_METRICS} "
            f"or an alias {tuple(_ALIASES)}."
        )
    return key


def to_label_map(x: torch.Tensor) -> torch.Tensor:
    """Convert a batch-first prediction or target to an int64 class-index map.

    Args:
        x: (N, C, *spatial). With C >= 2 (logits, probabilities or one-hot) the class is ``argmax`` over the
            channels, like the reference code (softmax -> argmax; for C = 2 this is p_fg > 0.5). With C = 1
            the values are class indices (float values, e.g. from ``AsDiscrete(argmax=True)``, are rounded).
            Single-channel sigmoid probabilities must be thresholded by the caller first.

    Returns:
        (N, *spatial) int64 tensor.

    Raises:
        ValueError: when ``x`` has fewer than 2 dimensions.
    """
    if x.ndim < 2:
        raise ValueError(f"expected a batch-first (N, C, *spatial) tensor, got shape {tuple(x.shape)}.")
    x = x.as_subclass(torch.Tensor)  # drop MetaTensor metadata tracking
    if x.shape[1] > 1:
        return _channel_argmax(x.to(torch.uint8) if x.dtype == torch.bool else x)
    if x.is_floating_point():
        return x[:, 0].round().long()
    return x[:, 0].long()


def _channel_argmax(x: torch.Tensor) -> torch.Tensor:
    """``x.argmax(dim=1)`` (first maximum wins ties) as C - 1 passes over contiguous channel planes.

    A channel-dim ``argmax`` is a strided reduction that is several times slower on CPU for the few channels of
    segmentation logits.
    """
    best = x[:, 0]
    index = torch.zeros(best.shape, dtype=torch.int64, device=x.device)
    for c in range(1, x.shape[1]):
        better = x[:, c] > best
        index = torch.where(better, c, index)
        best = torch.where(better, x[:, c], best)
    return index


def _check_label_range(labels: torch.Tensor, num_classes: int, what: str) -> None:
    if labels.numel() == 0:
        return
    low, high = torch.aminmax(labels)
    # one host sync per batch (not per pixel): out-of-range indices would silently corrupt the bincount
    if bool(low < 0) or bool(high >= num_classes):
        raise ValueError(
            f"{what} holds class indices in [{int(low)}, {int(high)}], outside [0, {num_classes - 1}] "
            f"for num_classes={num_classes}; binarise 0/255 masks (e.g. mask > 0) before computing metrics."
        )


def _infer_num_classes(pred: torch.Tensor, target: torch.Tensor, num_classes: int | None) -> int:
    if num_classes is not None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (channel 0 = background), got {num_classes}.")
        return int(num_classes)
    if pred.ndim >= 2 and pred.shape[1] > 1:
        return int(pred.shape[1])
    if target.ndim >= 2 and target.shape[1] > 1:
        return int(target.shape[1])
    return 2


def label_confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, fov: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-image C x C confusion matrices (rows = target class, columns = predicted class).

    Args:
        pred: (N, C, *spatial) logits / probabilities / one-hot (argmax taken) or (N, 1, *spatial) label map.
        target: (N, C, *spatial) one-hot or (N, 1, *spatial) label map, same spatial size as ``pred``.
        num_classes: number of classes; inferred from a multi-channel ``pred`` or ``target`` when None, else 2.
        fov: optional (N, 1, *spatial) field-of-view mask; only pixels where it is non-zero are counted.

    Returns:
        (N, C, C) int64 tensor on the device of ``pred``.

    Raises:
        ValueError: on mismatched shapes or class indices outside ``[0, num_classes)``.
    """
    n_cls = _infer_num_classes(pred, target, num_classes)
    p = to_label_map(pred)
    t = to_label_map(target).to(p.device)
    if p.shape != t.shape:
        raise ValueError(
            f"prediction and target must have the same batch and spatial shape, got {tuple(pred.shape)} "
            f"(labels {tuple(p.shape)}) and {tuple(target.shape)} (labels {tuple(t.shape)})."
        )
    _check_label_range(p, n_cls, "prediction")
    _check_label_range(t, n_cls, "target")
    n = p.shape[0]
    index = t.reshape(n, -1) * n_cls + p.reshape(n, -1)
    index = index + torch.arange(n, device=p.device).unsqueeze(1) * (n_cls * n_cls)
    if fov is not None:
        f = fov.as_subclass(torch.Tensor).to(p.device)
        if f.ndim == p.ndim + 1 and f.shape[1] == 1:
            f = f[:, 0]
        if f.shape != p.shape:
            raise ValueError(f"fov mask shape {tuple(fov.shape)} does not match the label shape {tuple(p.shape)}.")
        index = index[f.reshape(n, -1) != 0]
    counts = torch.bincount(index.reshape(-1), minlength=n * n_cls * n_cls)
    return counts.reshape(n, n_cls, n_cls)


def counts_from_confusion_matrix(confusion: torch.Tensor) -> torch.Tensor:
    """One-vs-rest binary counts of every class from C x C confusion matrices.

    Args:
        confusion: (..., C, C) with rows = target, columns = prediction.

    Returns:
        (..., C, 4) counts ordered ``[TP, FP, TN, FN]`` (MONAI's ``get_confusion_matrix`` order).
    """
    tp = torch.diagonal(confusion, dim1=-2, dim2=-1)
    fp = confusion.sum(dim=-2) - tp
    fn = confusion.sum(dim=-1) - tp
    total = confusion.sum(dim=(-2, -1)).unsqueeze(-1)
    tn = total - tp - fp - fn
    return torch.stack([tp, fp, tn, fn], dim=-1)


def segmentation_counts(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, fov: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-image, per-class binary confusion counts ``[TP, FP, TN, FN]``.

    Args:
        pred: see ``label_confusion_matrix``.
        target: see ``label_confusion_matrix``.
        num_classes: see ``label_confusion_matrix``.
        fov: optional field-of-view mask (off by default, as in the reference code).

    Returns:
        (N, C, 4) int64 tensor; index 1 of dim 1 is the foreground of a binary task.
    """
    return counts_from_confusion_matrix(label_confusion_matrix(pred, target, num_classes, fov))


def _ratio(num: torch.Tensor, den: torch.Tensor, empty_value: float) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.full_like(num, empty_value))


def scores_from_counts(
    counts: torch.Tensor, metric_name: Sequence[str] | str = SEGMENTATION_METRICS
) -> dict[str, torch.Tensor]:
    """Scores from binary counts, NaN-free (see the module docstring for the empty-denominator convention).

    Args:
        counts: (..., 4) counts ``[TP, FP, TN, FN]`` (any integer or float dtype).
        metric_name: one name or a sequence of names (canonical or alias).

    Returns:
        dict canonical name -> float64 tensor of shape ``counts.shape[:-1]``, in the order requested.

    Raises:
        ValueError: when the last dimension is not 4 or a name is unknown.
    """
    if counts.shape[-1] != 4:
        raise ValueError(f"counts must have a last dimension of 4 (TP, FP, TN, FN), got shape {tuple(counts.shape)}.")
    c = counts.to(torch.float64)
    tp, fp, tn, fn = c.unbind(-1)
    names = [canonical_metric_name(m) for m in ensure_tuple(metric_name)]
    out: dict[str, torch.Tensor] = {}
    for name in names:
        if name == "dice":
            out[name] = _ratio(2 * tp, 2 * tp + fp + fn, 1.0)
        elif name == "iou":
            out[name] = _ratio(tp, tp + fp + fn, 1.0)
        elif name == "recall":
            out[name] = _ratio(tp, tp + fn, 1.0)
        elif name == "precision":
            out[name] = _ratio(tp, tp + fp, 1.0)
        elif name == "specificity":
            out[name] = _ratio(tn, tn + fp, 1.0)
        elif name == "accuracy":
            out[name] = _ratio(tp + tn, tp + fp + tn + fn, 1.0)
        elif name == "mcc":
            den = torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            perfect = torch.where((fp + fn) == 0, torch.ones_like(tp), torch.zeros_like(tp))
            out[name] = torch.where(den > 0, (tp * tn - fp * fn) / den.clamp_min(1e-300), perfect)
        elif name == "bm":
            out[name] = _ratio(tp, tp + fn, 1.0) + _ratio(tn, tn + fp, 1.0) - 1.0
    return out


def reduce_classes(scores: torch.Tensor, class_reduction: str = "mean_foreground") -> torch.Tensor:
    """Reduce per-class scores (last dimension = class).

    Args:
        scores: (..., C) per-class scores, class 0 = background.
        class_reduction: ``"mean_foreground"`` (mean over classes 1..C-1, i.e. the foreground score of a binary
            task, mDice / mIoU of a multi-class one) or ``"none"`` (keep every class, background included).

    Returns:
        (...) or (..., C) tensor.

    Raises:
        ValueError: on an unknown reduction or fewer than 2 classes.
    """
    if class_reduction not in _CLASS_REDUCTIONS:
        raise ValueError(f"class_reduction must be one of {_CLASS_REDUCTIONS}, got '{class_reduction}'.")
    if class_reduction == "none":
        return scores
    if scores.shape[-1] < 2:
        raise ValueError(f"'mean_foreground' needs at least 2 classes, got scores of shape {tuple(scores.shape)}.")
    return scores[..., 1:].mean(dim=-1)


def pooled_scores(
    counts: torch.Tensor,
    metric_name: Sequence[str] | str = SEGMENTATION_METRICS,
    class_reduction: str = "mean_foreground",
) -> dict[str, torch.Tensor]:
    """Dataset-pooled scores: one confusion matrix summed over all images, as the papers report.

    Args:
        counts: (N, C, 4) per-image counts from ``segmentation_counts``.
        metric_name: score names.
        class_reduction: see ``reduce_classes``.

    Returns:
        dict name -> scalar (or (C,) for ``class_reduction="none"``) float64 tensor.
    """
    pooled = scores_from_counts(counts.sum(dim=0), metric_name)
    return {k: reduce_classes(v, class_reduction) for k, v in pooled.items()}


def per_image_mean_scores(
    counts: torch.Tensor,
    metric_name: Sequence[str] | str = SEGMENTATION_METRICS,
    class_reduction: str = "mean_foreground",
) -> dict[str, torch.Tensor]:
    """Mean over images of the per-image scores (each image scored from its own counts).

    Args:
        counts: (N, C, 4) per-image counts.
        metric_name: score names.
        class_reduction: see ``reduce_classes`` (applied after the mean over images).

    Returns:
        dict name -> scalar (or (C,)) float64 tensor.

    Raises:
        ValueError: when ``counts`` holds no image.
    """
    if counts.shape[0] == 0:
        raise ValueError("per-image mean needs at least one image, got counts of shape (0, ...).")
    per_image = scores_from_counts(counts, metric_name)
    return {k: reduce_classes(v.mean(dim=0), class_reduction) for k, v in per_image.items()}


# ---------------------------------------------------------------------------------------------------------------
# precision-recall curves
# ---------------------------------------------------------------------------------------------------------------


def _curve_from_cumulative(tp: torch.Tensor, fp: torch.Tensor, num_pos: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Precision / recall at decreasing thresholds, with the (recall 0, precision 1) anchor prepended."""
    tp = tp.to(torch.float64)
    fp = fp.to(torch.float64)
    pos = num_pos.to(torch.float64)
    precision = _ratio(tp, tp + fp, 1.0)
    # with no positive pixel at all the curve degenerates: recall 0 everywhere, so every area is 0
    recall = _ratio(tp, pos.expand_as(tp), 0.0)
    one = torch.ones(1, dtype=torch.float64, device=tp.device)
    return torch.cat([one, precision]), torch.cat([one - 1, recall])


def precision_recall_curve(
    scores: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact precision-recall curve over all distinct score thresholds (sort + cumsum, vectorised).

    A pixel is predicted positive at threshold ``t`` when ``score >= t``. The points are ordered by decreasing
    threshold (increasing recall) and start with the anchor (recall 0, precision 1, threshold +inf), so the curve
    is the same as ``sklearn.metrics.precision_recall_curve`` (and torcheval's ``BinaryPrecisionRecallCurve``)
    read backwards.

    Args:
        scores: foreground probabilities, any shape.
        target: binary target of the same number of elements (non-zero = positive).
        mask: optional mask of the same number of elements; only pixels where it is non-zero are used.

    Returns:
        ``(precision, recall, thresholds)``, float64, each of length (number of distinct scores + 1).

    Raises:
        ValueError: when the numbers of elements differ.
    """
    s = scores.reshape(-1)
    t = target.reshape(-1).to(s.device) != 0
    if s.numel() != t.numel():
        raise ValueError(f"scores and target must have the same number of elements, got {s.numel()} and {t.numel()}.")
    if mask is not None:
        m = mask.reshape(-1).to(s.device) != 0
        if m.numel() != s.numel():
            raise ValueError(f"mask has {m.numel()} elements, scores have {s.numel()}.")
        s, t = s[m], t[m]
    s_sorted, order = torch.sort(s, descending=True)
    tp_cum = torch.cumsum(t[order].to(torch.int64), dim=0)
    if s.numel() == 0:
        last = torch.zeros(0, dtype=torch.int64, device=s.device)
    else:
        change = torch.nonzero(s_sorted[1:] != s_sorted[:-1]).reshape(-1)
        last = torch.cat([change, torch.tensor([s.numel() - 1], device=s.device)])
    tp = tp_cum[last]
    fp = last + 1 - tp
    num_pos = tp_cum[-1:] if s.numel() else torch.zeros(1, dtype=torch.int64, device=s.device)
    precision, recall = _curve_from_cumulative(tp, fp, num_pos)
    inf = torch.full((1,), float("inf"), dtype=torch.float64, device=s.device)
    thresholds = torch.cat([inf, s_sorted[last].to(torch.float64)])
    return precision, recall, thresholds


def pr_histogram(
    scores: torch.Tensor, target: torch.Tensor, num_bins: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Fixed-bin histogram of scores in [0, 1] for negatives and positives (memory-bounded PR curves).

    Bin ``k`` holds scores in ``[k / num_bins, (k + 1) / num_bins)`` (1.0 goes to the last bin; values outside
    [0, 1] are clamped). Histograms of several images / ranks add up.

    Args:
        scores: probabilities in [0, 1], any shape.
        target: binary target with the same number of elements.
        num_bins: number of bins (>= 1).
        mask: optional mask of the same number of elements.

    Returns:
        (2, num_bins) int64: row 0 negatives, row 1 positives.

    Raises:
        ValueError: on ``num_bins < 1`` or mismatched sizes.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}.")
    s = scores.reshape(-1)
    t = (target.reshape(-1).to(s.device) != 0).to(torch.int64)
    if s.numel() != t.numel():
        raise ValueError(f"scores and target must have the same number of elements, got {s.numel()} and {t.numel()}.")
    bins = torch.clamp((s.to(torch.float64) * num_bins).floor().to(torch.int64), 0, num_bins - 1)
    index = t * num_bins + bins
    if mask is not None:
        m = mask.reshape(-1).to(s.device) != 0
        if m.numel() != s.numel():
            raise ValueError(f"mask has {m.numel()} elements, scores have {s.numel()}.")
        index = index[m]
    return torch.bincount(index, minlength=2 * num_bins).reshape(2, num_bins)


def precision_recall_curve_from_histogram(histogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision-recall curve from ``pr_histogram`` counts, thresholds at the bin lower edges.

    This equals the exact curve of scores quantised to the lower edge of their bin. Empty bins add no point.

    Args:
        histogram: (2, num_bins) negatives / positives per bin.

    Returns:
        ``(precision, recall, thresholds)`` ordered like ``precision_recall_curve``.
    """
    num_bins = histogram.shape[-1]
    neg = torch.flip(histogram[0], dims=(0,))
    pos = torch.flip(histogram[1], dims=(0,))
    keep = (neg + pos) > 0
    tp = torch.cumsum(pos, 0)[keep]
    fp = torch.cumsum(neg, 0)[keep]
    precision, recall = _curve_from_cumulative(tp, fp, pos.sum().reshape(1))
    edges = torch.flip(torch.arange(num_bins, dtype=torch.float64, device=histogram.device), dims=(0,)) / num_bins
    inf = torch.full((1,), float("inf"), dtype=torch.float64, device=histogram.device)
    return precision, recall, torch.cat([inf, edges[keep]])


def curve_area(precision: torch.Tensor, recall: torch.Tensor, method: str = "trapezoid") -> torch.Tensor:
    """Area under a precision-recall curve ordered by increasing recall.

    Args:
        precision: curve precision values.
        recall: curve recall values (non-decreasing).
        method: ``"trapezoid"`` (``sklearn.metrics.auc(recall, precision)``, what the authors call PR-AUC) or
            ``"step"`` (average precision, ``sum (R_n - R_{n-1}) P_n`` as ``sklearn.metrics.average_precision_score``).

    Returns:
        scalar float64 tensor.

    Raises:
        ValueError: on an unknown method.
    """
    d_recall = recall[1:] - recall[:-1]
    if method == "trapezoid":
        return (d_recall * (precision[1:] + precision[:-1]) / 2).sum()
    if method == "step":
        return (d_recall * precision[1:]).sum()
    raise ValueError(f"method must be 'trapezoid' or 'step', got '{method}'.")


def pr_auc(
    scores: torch.Tensor, target: torch.Tensor, num_bins: int | None = None, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """PR-AUC as the papers report it: trapezoidal area under the pooled precision-recall curve.

    Matches ``sklearn.metrics.auc(recall, precision)`` on the curve of ``precision_recall_curve`` (torcheval /
    sklearn in the reference eval script). With no positive pixel the area is 0.

    Args:
        scores: foreground probabilities, any shape (all pixels of all images, pooled).
        target: binary target with the same number of elements.
        num_bins: None for the exact curve, else a fixed-bin histogram approximation (see ``pr_histogram``).
        mask: optional pixel mask.

    Returns:
        scalar float64 tensor.
    """
    if num_bins is None:
        precision, recall, _ = precision_recall_curve(scores, target, mask)
    else:
        precision, recall, _ = precision_recall_curve_from_histogram(pr_histogram(scores, target, num_bins, mask))
    return curve_area(precision, recall, "trapezoid")


def mean_image_pr_auc(
    outputs: Sequence[Mapping[str, torch.Tensor]],
    num_bins: int | None = None,
    pred_key: str = "pred",
    label_key: str = "label",
    foreground: int = 1,
) -> float:
    """Mean over images of each image's :func:`pr_auc`, from an engine's decollated output (one dict per image).

    The per-image PR-AUC of the SS-MAF evaluation (``ignite.metrics.Average`` with this as its output transform,
    ``_mode_: callable`` in ``evaluate.json``); the pooled PR-AUC is :class:`PooledPRAUCMetric`.

    Args:
        outputs: dicts with the logits (C, *spatial) under ``pred_key`` and the binary mask under ``label_key``.
        num_bins: None for the exact curve, else the histogram approximation.
        pred_key: key of the logits (softmax over the channel dimension gives the probabilities).
        label_key: key of the target mask.
        foreground: the channel scored.

    Returns:
        the mean PR-AUC of the images.

    Raises:
        ValueError: for an empty output.
    """
    if len(outputs) == 0:
        raise ValueError("mean_image_pr_auc: no image in the output.")
    areas = [
        float(pr_auc(torch.softmax(o[pred_key].float(), 0)[foreground], o[label_key], num_bins)) for o in outputs
    ]
    return sum(areas) / len(areas)


def average_precision(
    scores: torch.Tensor, target: torch.Tensor, num_bins: int | None = None, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Average precision (step-wise area, ``sklearn.metrics.average_precision_score``); see ``pr_auc``.

    Args:
        scores: foreground probabilities, any shape.
        target: binary target with the same number of elements.
        num_bins: None for exact, else the histogram approximation.
        mask: optional pixel mask.

    Returns:
        scalar float64 tensor.
    """
    if num_bins is None:
        precision, recall, _ = precision_recall_curve(scores, target, mask)
    else:
        precision, recall, _ = precision_recall_curve_from_histogram(pr_histogram(scores, target, num_bins, mask))
    return curve_area(precision, recall, "step")


# ---------------------------------------------------------------------------------------------------------------
# MONAI cumulative metrics
# ---------------------------------------------------------------------------------------------------------------


def _split_fov(y_pred: Sequence[torch.Tensor], fov) -> list:
    if fov is None:
        return [None] * len(y_pred)
    if isinstance(fov, (list, tuple)):
        if len(fov) != len(y_pred):
            raise ValueError(f"got {len(fov)} fov masks for {len(y_pred)} predictions.")
        return list(fov)
    return [f for f in fov]


class PooledSegmentationMetric(CumulativeIterationMetric):
    """Accumulates per-image confusion counts over an evaluator run; aggregates to pooled (or mean) scores.

    Each call stores the (N, C, 4) int64 counts ``[TP, FP, TN, FN]`` of its images (see ``segmentation_counts``);
    ``aggregate`` sums them over the whole run (dataset-pooled, as the DS2F / SS-MAF evaluation) or averages the
    per-image scores. Counts are kept per image, so ``get_buffer()`` gives per-image details and the buffers are
    synchronised across ranks like any MONAI cumulative metric.

    Args:
        metric_name: one or more names of ``SEGMENTATION_METRICS`` (aliases allowed).
        num_classes: number of classes, None to infer from multi-channel predictions (else 2).
        include_fov: count only pixels inside the field-of-view mask passed as ``fov`` (off by default; the
            reference code counts all pixels).
        class_reduction: ``"mean_foreground"`` (foreground of a binary task, mean over classes 1..C-1 otherwise)
            or ``"none"`` (per-class values).
        aggregation: ``"pooled"`` (one confusion matrix over all pixels of all images) or ``"per_image"``.

    Example::

        metric = PooledSegmentationMetric(metric_name=("iou", "dice"))
        for batch in loader:
            metric(y_pred=net(batch["image"]), y=batch["label"])
        iou, dice = metric.aggregate()
    """

    def __init__(
        self,
        metric_name: Sequence[str] | str = ("iou",),
        num_classes: int | None = None,
        include_fov: bool = False,
        class_reduction: str = "mean_foreground",
        aggregation: str = "pooled",
    ) -> None:
        super().__init__()
        self.metric_name = tuple(canonical_metric_name(m) for m in ensure_tuple(metric_name))
        if not self.metric_name:
            raise ValueError("metric_name must name at least one metric.")
        if class_reduction not in _CLASS_REDUCTIONS:
            raise ValueError(f"class_reduction must be one of {_CLASS_REDUCTIONS}, got '{class_reduction}'.")
        if aggregation not in ("pooled", "per_image"):
            raise ValueError(f"aggregation must be 'pooled' or 'per_image', got '{aggregation}'.")
        self.num_classes = num_classes
        self.include_fov = include_fov
        self.class_reduction = class_reduction
        self.aggregation = aggregation

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor, fov: torch.Tensor | None = None
    ) -> torch.Tensor:
        return segmentation_counts(y_pred, y, self.num_classes, fov if self.include_fov else None)

    def __call__(self, y_pred, y=None, fov=None, **kwargs):  # type: ignore[override]
        """Count one batch and add its per-image counts to the buffers.

        Args:
            y_pred: batch-first tensor (N, C, *spatial) or a list of channel-first tensors (images may differ
                in size).
            y: the targets, same layout.
            fov: field-of-view masks (batch-first tensor or list), required when ``include_fov=True``.

        Returns:
            (N, C, 4) int64 counts of this batch.

        Raises:
            ValueError: when ``y`` is missing, or ``include_fov=True`` and ``fov`` is missing.
        """
        if y is None:
            raise ValueError(f"{self.__class__.__name__} needs targets y.")
        if self.include_fov and fov is None:
            raise ValueError(f"{self.__class__.__name__}(include_fov=True) needs a fov mask for every image.")
        if isinstance(y_pred, (list, tuple)) or isinstance(y, (list, tuple)):
            if len(y_pred) != len(y):
                raise ValueError(f"got {len(y_pred)} predictions and {len(y)} targets.")
            fovs = _split_fov(y_pred, fov)
            counts = torch.cat(
                [
                    self._compute_tensor(
                        p.detach().unsqueeze(0), t.detach().unsqueeze(0), None if f is None else f.unsqueeze(0)
                    )
                    for p, t, f in zip(y_pred, y, fovs)
                ]
            )
        else:
            counts = self._compute_tensor(y_pred.detach(), y.detach(), fov)
        self.extend(counts)
        return counts

    def aggregate(self) -> list[torch.Tensor]:  # type: ignore[override]
        """Scores over everything accumulated since the last ``reset``.

        Returns:
            list of float64 tensors, one per ``metric_name`` in order (scalars, or (C,) with
            ``class_reduction="none"``).

        Raises:
            ValueError: when nothing was accumulated.
        """
        counts = self.get_buffer()
        if not isinstance(counts, torch.Tensor) or counts.shape[0] == 0:
            raise ValueError(f"{self.__class__.__name__}.aggregate() called before any prediction was counted.")
        reduce = pooled_scores if self.aggregation == "pooled" else per_image_mean_scores
        scores = reduce(counts, self.metric_name, self.class_reduction)
        return [scores[m] for m in self.metric_name]


class PooledPRAUCMetric(CumulativeIterationMetric):
    """Dataset-pooled PR-AUC (and average precision) of the foreground class(es) over an evaluator run.

    ``y_pred`` holds class logits (``softmax=True``) or probabilities (``softmax=False``), (N, C, *spatial) with
    C >= 2; the score of class k is its probability. ``y`` is the label map (N, 1, *spatial) or one-hot. Per
    foreground class the one-vs-rest curve is pooled over all pixels of all images; with C > 2 the result is the
    mean over classes 1..C-1 (mAUC).

    Exact mode (``num_bins=None``) keeps every pixel's score until ``aggregate`` (5 bytes a pixel and foreground
    class, plus the sort) and does not synchronise across ranks; the histogram mode (``num_bins``) keeps
    (N, C-1, 2, num_bins) counts that go through MONAI's distributed buffers.

    Args:
        metric_name: ``"pr_auc"`` (trapezoid, the authors' PR-AUC) and/or ``"average_precision"``.
        num_bins: None for the exact curve, else the number of histogram bins over [0, 1].
        softmax: apply softmax over channels to ``y_pred`` first. For C = 2, softmax of probabilities preserves
            the ranking, so the result does not depend on it; for C > 2 set it to match the input.
        class_reduction: ``"mean_foreground"`` or ``"none"`` (per foreground class, shape (C-1,)).
    """

    def __init__(
        self,
        metric_name: Sequence[str] | str = ("pr_auc",),
        num_bins: int | None = None,
        softmax: bool = True,
        class_reduction: str = "mean_foreground",
    ) -> None:
        super().__init__()
        self.metric_name = tuple(ensure_tuple(metric_name))
        for m in self.metric_name:
            if m not in ("pr_auc", "average_precision"):
                raise ValueError(f"metric_name must be 'pr_auc' or 'average_precision', got '{m}'.")
        if num_bins is not None and num_bins < 1:
            raise ValueError(f"num_bins must be None or >= 1, got {num_bins}.")
        if class_reduction not in _CLASS_REDUCTIONS:
            raise ValueError(f"class_reduction must be one of {_CLASS_REDUCTIONS}, got '{class_reduction}'.")
        self.num_bins = num_bins
        self.softmax = softmax
        self.class_reduction = class_reduction
        self._exact_scores: list[torch.Tensor] = []
        self._exact_targets: list[torch.Tensor] = []

    def reset(self) -> None:
        super().reset()
        self._exact_scores = []
        self._exact_targets = []

    def _class_inputs(self, y_pred: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C-1, P) foreground scores and (N, C-1, P) boolean one-vs-rest targets."""
        if y_pred.ndim < 3 or y_pred.shape[1] < 2:
            raise ValueError(
                f"PR-AUC needs (N, C>=2, *spatial) logits or probabilities, got shape {tuple(y_pred.shape)}."
            )
        n, n_cls = y_pred.shape[:2]
        y_pred = y_pred.as_subclass(torch.Tensor).float()
        probs = torch.softmax(y_pred, dim=1) if self.softmax else y_pred
        labels = to_label_map(y).to(probs.device)
        if labels.shape != probs.shape[:1] + probs.shape[2:]:
            raise ValueError(f"target shape {tuple(y.shape)} does not match prediction shape {tuple(y_pred.shape)}.")
        _check_label_range(labels, n_cls, "target")
        classes = torch.arange(1, n_cls, device=probs.device).view(1, -1, 1)
        targets = labels.reshape(n, 1, -1) == classes
        return probs[:, 1:].reshape(n, n_cls - 1, -1), targets

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        scores, targets = self._class_inputs(y_pred, y)
        if self.num_bins is None:
            self._exact_scores.append(scores.transpose(0, 1).reshape(scores.shape[1], -1))
            self._exact_targets.append(targets.transpose(0, 1).reshape(targets.shape[1], -1))
            # the buffers then hold the per-image positive pixel counts (N, C-1) as details
            return targets.sum(dim=-1)
        nb = self.num_bins
        bins = torch.clamp((scores.to(torch.float64) * nb).floor().to(torch.int64), 0, nb - 1)
        n, k = scores.shape[:2]
        offset = (torch.arange(n * k, device=bins.device) * 2 * nb).view(n, k, 1)
        index = offset + targets.to(torch.int64) * nb + bins
        return torch.bincount(index.reshape(-1), minlength=n * k * 2 * nb).reshape(n, k, 2, nb)

    def __call__(self, y_pred, y=None, **kwargs):  # type: ignore[override]
        if y is None:
            raise ValueError(f"{self.__class__.__name__} needs targets y.")
        ret = super().__call__(y_pred=y_pred, y=y)
        return ret

    def aggregate(self) -> list[torch.Tensor]:  # type: ignore[override]
        """PR-AUC / AP over everything accumulated since the last ``reset``.

        Returns:
            list of float64 tensors in ``metric_name`` order (scalar, or (C-1,) with ``class_reduction="none"``).

        Raises:
            ValueError: when nothing was accumulated, or exact mode runs on more than one rank.
        """
        methods = {"pr_auc": "trapezoid", "average_precision": "step"}
        curves = []
        if self.num_bins is None:
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                raise ValueError("exact PR-AUC does not synchronise across ranks; set num_bins for distributed runs.")
            if not self._exact_scores:
                raise ValueError(f"{self.__class__.__name__}.aggregate() called before any prediction was counted.")
            scores = torch.cat(self._exact_scores, dim=1)
            targets = torch.cat(self._exact_targets, dim=1)
            for k in range(scores.shape[0]):
                precision, recall, _ = precision_recall_curve(scores[k], targets[k])
                curves.append((precision, recall))
        else:
            hist = self.get_buffer()
            if not isinstance(hist, torch.Tensor) or hist.shape[0] == 0:
                raise ValueError(f"{self.__class__.__name__}.aggregate() called before any prediction was counted.")
            hist = hist.sum(dim=0)
            for k in range(hist.shape[0]):
                precision, recall, _ = precision_recall_curve_from_histogram(hist[k])
                curves.append((precision, recall))
        results = []
        for m in self.metric_name:
            per_class = torch.stack([curve_area(p, r, methods[m]) for p, r in curves])
            results.append(per_class if self.class_reduction == "none" else per_class.mean())
        return results
