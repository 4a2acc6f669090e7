# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the classification metrics against hand computations (and scikit-learn when installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_ext.metrics import (
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
    scores_from_counts,
)

Y_TRUE = [0, 0, 1, 1, 2, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0, 2]
# confusion matrix (rows true): [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
# per class: TP = [1, 2, 2], FP = [1, 1, 0], FN = [1, 0, 1], TN = [4, 4, 4]
# predicted counts p = [2, 3, 2], true counts t = [2, 2, 3], N = 7, correct = 5


def test_confusion_matrix():
    cm = classification_confusion_matrix(np.array(Y_TRUE), torch.tensor(Y_PRED))
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert classification_confusion_matrix(Y_TRUE, Y_PRED, num_classes=4).shape == (4, 4)


def test_hand_computed_values():
    assert classification_accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    assert per_class_sensitivity(Y_TRUE, Y_PRED).tolist() == pytest.approx([1 / 2, 1, 2 / 3])
    assert per_class_specificity(Y_TRUE, Y_PRED).tolist() == pytest.approx([4 / 5, 4 / 5, 1])
    assert macro_sensitivity(Y_TRUE, Y_PRED) == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    assert macro_specificity(Y_TRUE, Y_PRED) == pytest.approx((4 / 5 + 4 / 5 + 1) / 3)
    assert per_class_f1(Y_TRUE, Y_PRED).tolist() == pytest.approx([2 / 4, 4 / 5, 4 / 5])
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx(0.7)
    # kappa: p_o = 5/7, p_e = (2*2 + 3*2 + 2*3) / 49 = 16/49
    assert cohen_kappa(Y_TRUE, Y_PRED) == pytest.approx((5 / 7 - 16 / 49) / (1 - 16 / 49))
    assert cohen_kappa(Y_TRUE, Y_PRED) == pytest.approx(19 / 33)
    # Gorodkin: (5*7 - 16) / sqrt((49 - 17) * (49 - 17))
    assert multiclass_mcc(Y_TRUE, Y_PRED) == pytest.approx(19 / 32)


def test_summary_dict_matches_functions():
    m = classification_metrics(Y_TRUE, Y_PRED)
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["macro_f1"] == pytest.approx(0.7)
    assert m["kappa"] == pytest.approx(19 / 33)
    assert m["mcc"] == pytest.approx(19 / 32)
    assert m["sensitivity"] == pytest.approx([1 / 2, 1, 2 / 3])
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]


def test_scores_input_is_argmaxed():
    scores = torch.nn.functional.one_hot(torch.tensor(Y_PRED), 3).float() * 0.8 + 0.05
    assert classification_accuracy(Y_TRUE, scores) == pytest.approx(5 / 7)


def test_binary_mcc_equals_the_binary_formula():
    y_true = [1, 1, 1, 0, 0, 0, 0, 1, 0, 0]
    y_pred = [1, 0, 1, 0, 1, 0, 0, 1, 1, 0]
    # TP = 3, FP = 2, TN = 4, FN = 1
    expected = (3 * 4 - 2 * 1) / math.sqrt(5 * 4 * 6 * 5)
    assert multiclass_mcc(y_true, y_pred) == pytest.approx(expected)
    assert scores_from_counts(torch.tensor([3, 2, 4, 1]), "mcc")["mcc"].item() == pytest.approx(expected)


def test_degenerate_inputs_are_finite():
    assert cohen_kappa([2, 2, 2], [2, 2, 2]) == 1.0
    assert multiclass_mcc([2, 2, 2], [2, 2, 2]) == 1.0
    assert multiclass_mcc([0, 1, 1], [1, 1, 1]) == 0.0  # constant prediction: no correlation
    # class 2 never occurs nor is predicted: its sensitivity / F1 take zero_division
    assert per_class_sensitivity([0, 1], [0, 1], num_classes=3).tolist() == [1.0, 1.0, 0.0]
    assert per_class_f1([0, 1], [0, 1], num_classes=3, zero_division=1.0).tolist() == [1.0, 1.0, 1.0]


def test_errors():
    with pytest.raises(ValueError, match="same length"):
        classification_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        classification_confusion_matrix([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="at least one sample"):
        classification_accuracy([], [])


def test_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    assert macro_f1(y_true, y_pred) == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
    assert cohen_kappa(y_true, y_pred) == pytest.approx(metrics.cohen_kappa_score(y_true, y_pred))
    assert multiclass_mcc(y_true, y_pred) == pytest.approx(metrics.matthews_corrcoef(y_true, y_pred))
    assert macro_sensitivity(y_true, y_pred) == pytest.approx(metrics.balanced_accuracy_score(y_true, y_pred))
