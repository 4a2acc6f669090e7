# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Multi-class classification metrics for the SAI diagnosis bundle (capsule endoscopy, histopathology).

All functions take ``(y_true, y_pred)`` as integer class indices (torch tensors, numpy arrays or sequences).
``y_pred`` may also be (N, K) scores/probabilities, in which case the class is ``argmax`` over dim 1.
Everything is computed from one K x K confusion matrix (rows = true class, columns = predicted class) built with
``torch.bincount``.

Zero-denominator convention (scores are finite): a per-class ratio whose denominator is 0 (a class that never
occurs / is never predicted) takes ``zero_division`` (default 0, like scikit-learn); Cohen's kappa is 1 when the
expected agreement is 1 (both raters use one single class, hence agree everywhere); MCC is 1 when there is no
error and 0 otherwise when its denominator is 0.

References:
    Cohen, "A coefficient of agreement for nominal scales", Educ. Psychol. Meas. 1960.
    Gorodkin, "Comparing two K-category assignments by a K-category correlation coefficient",
    Comput. Biol. Chem. 2004 (the multi-class MCC, R_K).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "classification_confusion_matrix",
    "classification_accuracy",
    "per_class_sensitivity",
    "per_class_specificity",
    "macro_sensitivity",
    "macro_specificity",
    "per_class_f1",
    "macro_f1",
    "cohen_kappa",
    "multiclass_mcc",
    "classification_metrics",
]

ArrayLike = torch.Tensor | np.ndarray | Sequence[int]


def _as_labels(y: Any, what: str) -> torch.Tensor:
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if t.ndim == 2 and t.is_floating_point():
        t = t.argmax(dim=1)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ValueError(f"{what} must be 1-D class indices or (N, K) scores, got shape {tuple(t.shape)}.")
    if t.is_floating_point():
        if not bool(torch.all(t == t.round())):
            raise ValueError(f"{what} holds non-integer values; pass class indices or (N, K) scores.")
    return t.long()


def classification_confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> torch.Tensor:
    """K x K confusion matrix, rows = true class, columns = predicted class.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted class indices or (N, K) scores (argmax taken).
        num_classes: K; inferred as ``max(y_true, y_pred) + 1`` when None.

    Returns:
        (K, K) int64 tensor.

    Raises:
        ValueError: on different lengths, an empty input or indices outside ``[0, K)``.
    """
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred").to(t.device)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.numel()} and {p.numel()}.")
    if t.numel() == 0:
        raise ValueError("classification metrics need at least one sample, got empty y_true / y_pred.")
    low = int(torch.minimum(t.min(), p.min()))
    high = int(torch.maximum(t.max(), p.max()))
    k = high + 1 if num_classes is None else int(num_classes)
    if low < 0 or high >= k:
        raise ValueError(f"class indices must lie in [0, {k - 1}], got values in [{low}, {high}].")
    return torch.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _ratio(num: torch.Tensor, den: torch.Tensor, zero_division: float) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.full_like(num, zero_division))


def _one_vs_rest(cm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    c = cm.to(torch.float64)
    tp = torch.diagonal(c)
    fp = c.sum(dim=0) - tp
    fn = c.sum(dim=1) - tp
    tn = c.sum() - tp - fp - fn
    return tp, fp, tn, fn


def _sensitivity(cm: torch.Tensor, zero_division: float) -> torch.Tensor:
    tp, _, _, fn = _one_vs_rest(cm)
    return _ratio(tp, tp + fn, zero_division)


def _specificity(cm: torch.Tensor, zero_division: float) -> torch.Tensor:
    _, fp, tn, _ = _one_vs_rest(cm)
    return _ratio(tn, tn + fp, zero_division)


def _f1(cm: torch.Tensor, zero_division: float) -> torch.Tensor:
    tp, fp, _, fn = _one_vs_rest(cm)
    return _ratio(2 * tp, 2 * tp + fp + fn, zero_division)


def _kappa(cm: torch.Tensor) -> torch.Tensor:
    c = cm.to(torch.float64)
    n = c.sum()
    p_o = torch.diagonal(c).sum() / n
    p_e = (c.sum(dim=0) * c.sum(dim=1)).sum() / (n * n)
    # p_e == 1 only if both raters put every sample in one and the same class: complete agreement
    return torch.where(p_e < 1, (p_o - p_e) / (1 - p_e).clamp_min(1e-300), torch.ones_like(p_o))


def _mcc(cm: torch.Tensor) -> torch.Tensor:
    c = cm.to(torch.float64)
    s = c.sum()
    correct = torch.diagonal(c).sum()
    p_k = c.sum(dim=0)  # times class k was predicted
    t_k = c.sum(dim=1)  # times class k truly occurs
    num = correct * s - (p_k * t_k).sum()
    den = torch.sqrt((s * s - (p_k * p_k).sum()) * (s * s - (t_k * t_k).sum()))
    fallback = torch.where(correct == s, torch.ones_like(s), torch.zeros_like(s))
    return torch.where(den > 0, num / den.clamp_min(1e-300), fallback)


def classification_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of correctly classified samples.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.

    Returns:
        accuracy in [0, 1].
    """
    cm = classification_confusion_matrix(y_true, y_pred)
    return float(torch.diagonal(cm).sum() / cm.sum())


def per_class_sensitivity(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> torch.Tensor:
    """Per-class sensitivity (recall) TP_k / (TP_k + FN_k), one-vs-rest.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: value for a class that never occurs.

    Returns:
        (K,) float64 tensor.
    """
    return _sensitivity(classification_confusion_matrix(y_true, y_pred, num_classes), zero_division)


def per_class_specificity(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> torch.Tensor:
    """Per-class specificity TN_k / (TN_k + FP_k), one-vs-rest.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: value when every sample belongs to class k.

    Returns:
        (K,) float64 tensor.
    """
    return _specificity(classification_confusion_matrix(y_true, y_pred, num_classes), zero_division)


def macro_sensitivity(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> float:
    """Unweighted mean of the per-class sensitivities (= balanced accuracy).

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: see ``per_class_sensitivity``.

    Returns:
        macro sensitivity.
    """
    return float(per_class_sensitivity(y_true, y_pred, num_classes, zero_division).mean())


def macro_specificity(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> float:
    """Unweighted mean of the per-class specificities.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: see ``per_class_specificity``.

    Returns:
        macro specificity.
    """
    return float(per_class_specificity(y_true, y_pred, num_classes, zero_division).mean())


def per_class_f1(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> torch.Tensor:
    """Per-class F1 = 2 TP_k / (2 TP_k + FP_k + FN_k).

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: value for a class that is neither present nor predicted.

    Returns:
        (K,) float64 tensor.
    """
    return _f1(classification_confusion_matrix(y_true, y_pred, num_classes), zero_division)


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0) -> float:
    """Unweighted mean of the per-class F1 scores (``sklearn.metrics.f1_score(average="macro")``).

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: see ``per_class_f1``.

    Returns:
        macro F1.
    """
    return float(per_class_f1(y_true, y_pred, num_classes, zero_division).mean())


def cohen_kappa(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None) -> float:
    """Cohen's kappa (p_o - p_e) / (1 - p_e), unweighted.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.

    Returns:
        kappa in [-1, 1].
    """
    return float(_kappa(classification_confusion_matrix(y_true, y_pred, num_classes)))


def multiclass_mcc(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None) -> float:
    """Matthews correlation coefficient generalised to K classes (Gorodkin's R_K).

    ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2))`` with ``s`` samples, ``c`` correct,
    ``p_k`` times class k was predicted and ``t_k`` times it occurs; equals the binary MCC for K = 2.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.

    Returns:
        MCC in [-1, 1].
    """
    return float(_mcc(classification_confusion_matrix(y_true, y_pred, num_classes)))


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None, zero_division: float = 0.0
) -> dict[str, Any]:
    """Every classification metric from one confusion matrix.

    Args:
        y_true: (N,) true class indices.
        y_pred: (N,) predicted indices or (N, K) scores.
        num_classes: K, inferred when None.
        zero_division: see ``per_class_sensitivity``.

    Returns:
        dict with floats ``accuracy``, ``macro_f1``, ``macro_sensitivity``, ``macro_specificity``, ``kappa``,
        ``mcc`` and lists ``sensitivity``, ``specificity``, ``f1`` (per class) and ``confusion_matrix`` (K x K).
    """
    cm = classification_confusion_matrix(y_true, y_pred, num_classes)
    sens = _sensitivity(cm, zero_division)
    spec = _specificity(cm, zero_division)
    f1 = _f1(cm, zero_division)
    return {
        "accuracy": float(torch.diagonal(cm).sum() / cm.sum()),
        "macro_f1": float(f1.mean()),
        "macro_sensitivity": float(sens.mean()),
        "macro_specificity": float(spec.mean()),
        "kappa": float(_kappa(cm)),
        "mcc": float(_mcc(cm)),
        "sensitivity": sens.tolist(),
        "specificity": spec.tolist(),
        "f1": f1.tolist(),
        "confusion_matrix": cm.tolist(),
    }
