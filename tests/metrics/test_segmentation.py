# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the segmentation counts, scores, PR curves and cumulative metrics against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_ext.metrics import (
    SEGMENTATION_METRICS,
    PooledPRAUCMetric,
    PooledSegmentationMetric,
    average_precision,
    label_confusion_matrix,
    per_image_mean_scores,
    pooled_scores,
    pr_auc,
    pr_histogram,
    precision_recall_curve,
    precision_recall_curve_from_histogram,
    scores_from_counts,
    segmentation_counts,
)

# target / prediction of the 3x3 example: TP = 2, FP = 2, FN = 1, TN = 4
TARGET = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
PRED = torch.tensor([[1, 0, 0], [1, 1, 1], [0, 0, 0]])


def expected_scores(tp: float, fp: float, tn: float, fn: float) -> dict[str, float]:
    """The formulas of the reference code (all denominators non-zero here)."""
    recall, spec = tp / (tp + fn), tn / (tn + fp)
    return {
        "dice": 2 * tp / (2 * tp + fp + fn),
        "iou": tp / (tp + fp + fn),
        "recall": recall,
        "precision": tp / (tp + fp),
        "specificity": spec,
        "accuracy": (tp + tn) / (tp + fp + tn + fn),
        "mcc": (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)),
        "bm": recall + spec - 1,
    }


def logits_from_labels(labels: torch.Tensor, num_classes: int = 2) -> torch.Tensor:
    """(N, H, W) labels -> (N, C, H, W) logits whose argmax is the label."""
    return torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float() * 3.0 - 1.0


def test_scores_from_counts_brief_example():
    # TP=3, FP=1, TN=5, FN=1
    s = scores_from_counts(torch.tensor([3, 1, 5, 1]))
    assert s["dice"].item() == pytest.approx(6 / 8)
    assert s["iou"].item() == pytest.approx(3 / 5)
    assert s["recall"].item() == pytest.approx(3 / 4)
    assert s["precision"].item() == pytest.approx(3 / 4)
    assert s["specificity"].item() == pytest.approx(5 / 6)
    assert s["accuracy"].item() == pytest.approx(8 / 10)
    assert s["mcc"].item() == pytest.approx((3 * 5 - 1 * 1) / math.sqrt(4 * 4 * 6 * 6))
    assert s["bm"].item() == pytest.approx(3 / 4 + 5 / 6 - 1)
    assert list(s) == list(SEGMENTATION_METRICS)


def test_aliases_and_unknown_name():
    s = scores_from_counts(torch.tensor([3, 1, 5, 1]), ["sensitivity", "f1", "jaccard"])
    assert list(s) == ["recall", "dice", "iou"]
    with pytest.raises(ValueError, match="hausdorff"):
        scores_from_counts(torch.tensor([3, 1, 5, 1]), "hausdorff")


@pytest.mark.parametrize("form", ["labels", "logits", "onehot_target"])
def test_counts_of_3x3_example(form):
    pred = PRED[None, None]
    target = TARGET[None, None]
    if form == "logits":
        pred = logits_from_labels(PRED[None])
    if form == "onehot_target":
        target = logits_from_labels(TARGET[None]) > 0
    counts = segmentation_counts(pred, target)
    assert counts.dtype == torch.int64 and counts.shape == (1, 2, 4)
    assert counts[0, 1].tolist() == [2, 2, 4, 1]  # TP, FP, TN, FN of the foreground
    assert counts[0, 0].tolist() == [4, 1, 2, 2]  # background one-vs-rest
    scores = pooled_scores(counts)
    for name, value in expected_scores(2, 2, 4, 1).items():
        assert scores[name].item() == pytest.approx(value), name


def test_confusion_matrix_rows_are_target():
    cm = label_confusion_matrix(PRED[None, None], TARGET[None, None])
    # rows = target, columns = prediction: [[TN, FP], [FN, TP]]
    assert cm[0].tolist() == [[4, 2], [1, 2]]


def test_fov_mask_excludes_pixels():
    fov = torch.ones(3, 3, dtype=torch.uint8)
    fov[1, 2] = 0  # removes one FP
    fov[0, 1] = 0  # removes the FN
    fov[2, 2] = 0  # removes one TN
    counts = segmentation_counts(PRED[None, None], TARGET[None, None], fov=fov[None, None])
    assert counts[0, 1].tolist() == [2, 1, 3, 0]
    with pytest.raises(ValueError, match="fov"):
        segmentation_counts(PRED[None, None], TARGET[None, None], fov=torch.ones(1, 1, 2, 2))


def test_pooled_differs_from_per_image_mean():
    # image 1: TP=1, FP=0, TN=2, FN=1 ; image 2: TP=3, FP=1, TN=0, FN=0
    t1, p1 = torch.tensor([[1, 1], [0, 0]]), torch.tensor([[1, 0], [0, 0]])
    t2, p2 = torch.tensor([[1, 1], [1, 0]]), torch.tensor([[1, 1], [1, 1]])
    counts = segmentation_counts(torch.stack([p1, p2])[:, None], torch.stack([t1, t2])[:, None])
    assert counts[:, 1].tolist() == [[1, 0, 2, 1], [3, 1, 0, 0]]
    pooled = pooled_scores(counts, ["dice", "iou"])
    assert pooled["dice"].item() == pytest.approx(2 * 4 / (2 * 4 + 1 + 1))
    assert pooled["iou"].item() == pytest.approx(4 / 6)
    mean = per_image_mean_scores(counts, ["dice", "iou", "specificity"])
    assert mean["dice"].item() == pytest.approx((2 / 3 + 6 / 7) / 2)
    assert mean["iou"].item() == pytest.approx((1 / 2 + 3 / 4) / 2)
    # image 2 has no background pixel in the target: specificity 0 / 1 ... TN + FP = 1 -> 0
    assert mean["specificity"].item() == pytest.approx((1.0 + 0.0) / 2)


def test_multiclass_one_vs_rest_and_means():
    target = torch.tensor([[0, 1, 1], [2, 2, 0]])
    pred = torch.tensor([[0, 1, 2], [2, 0, 0]])
    counts = segmentation_counts(pred[None, None], target[None, None], num_classes=3)
    # class 1: TP=1 (0,1), FP=0, FN=1 (0,2), TN=4 ; class 2: TP=1 (1,0), FP=1 (0,2), FN=1 (1,1), TN=3
    assert counts[0, 1].tolist() == [1, 0, 4, 1]
    assert counts[0, 2].tolist() == [1, 1, 3, 1]
    m = pooled_scores(counts, ["dice", "iou"])
    assert m["dice"].item() == pytest.approx((2 / 3 + 2 / 4) / 2)  # mDice without background
    assert m["iou"].item() == pytest.approx((1 / 2 + 1 / 3) / 2)
    per_class = pooled_scores(counts, "dice", class_reduction="none")["dice"]
    assert per_class.shape == (3,)
    assert per_class[2].item() == pytest.approx(2 / 4)
    # num_classes inferred from the channels of logits
    inferred = segmentation_counts(logits_from_labels(pred[None], 3), target[None, None])
    assert torch.equal(inferred, counts)


@pytest.mark.parametrize(
    "pred_fill, target_fill, expected",
    [
        # both empty: perfect agreement on background
        (None, None, dict(dice=1, iou=1, recall=1, precision=1, specificity=1, accuracy=1, mcc=1, bm=1)),
        # both full
        ("all", "all", dict(dice=1, iou=1, recall=1, precision=1, specificity=1, accuracy=1, mcc=1, bm=1)),
        # empty prediction, one target pixel: TP=0, FN=1, TN=15
        (None, "one", dict(dice=0, iou=0, recall=0, precision=1, specificity=1, accuracy=15 / 16, mcc=0, bm=0)),
        # single pixel hit: TP=1, TN=15 -> mcc = 15 / sqrt(1*1*15*15) = 1
        ("one", "one", dict(dice=1, iou=1, recall=1, precision=1, specificity=1, accuracy=1, mcc=1, bm=1)),
        # full prediction, empty target: FP=16
        ("all", None, dict(dice=0, iou=0, recall=1, precision=0, specificity=0, accuracy=0, mcc=0, bm=0)),
    ],
)
def test_edge_cases_are_finite_and_follow_the_convention(pred_fill, target_fill, expected):
    def mask(fill):
        m = torch.zeros(1, 1, 4, 4, dtype=torch.long)
        if fill == "all":
            m[:] = 1
        elif fill == "one":
            m[0, 0, 2, 1] = 1
        return m

    counts = segmentation_counts(mask(pred_fill), mask(target_fill))
    for reduce in (pooled_scores, per_image_mean_scores):
        scores = reduce(counts)
        for name, value in expected.items():
            assert torch.isfinite(scores[name]), name
            assert scores[name].item() == pytest.approx(value), name


def test_large_counts_stay_exact():
    big = 2**40
    s = scores_from_counts(torch.tensor([big, 1, 2 * big, 3]), ["dice", "mcc"])
    assert s["dice"].item() == pytest.approx(2 * big / (2 * big + 4), rel=1e-15)
    assert torch.isfinite(s["mcc"])


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="255"):
        segmentation_counts(PRED[None, None], TARGET[None, None] * 255)
    with pytest.raises(ValueError, match="same batch and spatial shape"):
        segmentation_counts(PRED[None, None], TARGET[None, None, :2])


# --------------------------------------------------------------------------------------------------------------
# precision-recall


def direct_curve(scores: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision / recall at every distinct threshold, computed independently with a loop over thresholds."""
    precision, recall = [1.0], [0.0]
    positives = target.sum()
    for t in np.unique(scores)[::-1]:
        predicted = scores >= t
        tp = np.sum(predicted & target)
        fp = np.sum(predicted & ~target)
        precision.append(tp / (tp + fp))
        recall.append(tp / positives)
    return np.array(precision), np.array(recall)


def test_pr_auc_hand_example():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    target = torch.tensor([1, 0, 1, 0])
    # points (R, P): (0, 1), (.5, 1), (.5, .5), (1, 2/3), (1, .5)
    assert pr_auc(scores, target).item() == pytest.approx(0.5 * (1 + 1) / 2 + 0.5 * (0.5 + 2 / 3) / 2)
    assert average_precision(scores, target).item() == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    precision, recall, thresholds = precision_recall_curve(scores, target)
    assert recall.tolist() == pytest.approx([0, 0.5, 0.5, 1, 1])
    assert precision.tolist() == pytest.approx([1, 1, 0.5, 2 / 3, 0.5])
    assert thresholds[1:].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])


def test_pr_auc_ties():
    # one threshold: P = .5, R = 1 -> trapezoid from (0, 1) = .75, AP = .5
    assert pr_auc(torch.tensor([0.5, 0.5]), torch.tensor([1, 0])).item() == pytest.approx(0.75)
    assert average_precision(torch.tensor([0.5, 0.5]), torch.tensor([1, 0])).item() == pytest.approx(0.5)


def test_pr_auc_against_direct_trapezoid():
    g = torch.Generator().manual_seed(3)
    scores = torch.round(torch.rand(2, 1, 12, 12, generator=g) * 40) / 40  # many ties
    target = torch.rand(2, 1, 12, 12, generator=g) < scores * 0.8
    precision, recall = direct_curve(scores.numpy().ravel(), target.numpy().ravel())
    trapezoid = np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2)
    step = np.sum(np.diff(recall) * precision[1:])
    assert pr_auc(scores, target).item() == pytest.approx(trapezoid, rel=1e-12)
    assert average_precision(scores, target).item() == pytest.approx(step, rel=1e-12)


def test_pr_auc_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(5)
    scores = torch.rand(500, generator=g)
    target = torch.rand(500, generator=g) < scores
    p, r, _ = metrics.precision_recall_curve(target.numpy(), scores.numpy())
    assert pr_auc(scores, target).item() == pytest.approx(metrics.auc(r, p), rel=1e-10)
    expected_ap = metrics.average_precision_score(target.numpy(), scores.numpy())
    assert average_precision(scores, target).item() == pytest.approx(expected_ap, rel=1e-10)


def test_histogram_curve_equals_exact_curve_of_quantised_scores():
    num_bins = 10
    g = torch.Generator().manual_seed(1)
    k = torch.randint(0, num_bins, (300,), generator=g)
    scores = (k.double() + 0.5) / num_bins
    target = torch.rand(300, generator=g) < scores
    hist = pr_histogram(scores, target, num_bins)
    assert hist.sum().item() == 300 and hist[1].sum().item() == target.sum().item()
    p_h, r_h, _ = precision_recall_curve_from_histogram(hist)
    p_e, r_e, _ = precision_recall_curve(scores, target)
    assert torch.allclose(p_h, p_e) and torch.allclose(r_h, r_e)
    assert pr_auc(scores, target, num_bins=num_bins).item() == pytest.approx(pr_auc(scores, target).item())
    assert average_precision(scores, target, num_bins=num_bins).item() == pytest.approx(
        average_precision(scores, target).item()
    )


def test_pr_auc_without_positives_is_zero():
    assert pr_auc(torch.rand(10), torch.zeros(10)).item() == 0.0
    assert average_precision(torch.rand(10), torch.zeros(10), num_bins=4).item() == 0.0


# --------------------------------------------------------------------------------------------------------------
# cumulative metrics


def test_pooled_segmentation_metric_accumulates_batches_and_lists():
    metric = PooledSegmentationMetric(metric_name=("iou", "dice"))
    metric(logits_from_labels(PRED[None]), TARGET[None, None])  # TP=2, FP=2, TN=4, FN=1
    # a list of channel-first images of another size: 2x2 with TP=1, FP=0, TN=2, FN=1
    metric([torch.tensor([[[1, 0], [0, 0]]])], [torch.tensor([[[1, 1], [0, 0]]])])
    iou, dice = metric.aggregate()
    assert iou.item() == pytest.approx(3 / (3 + 2 + 2))
    assert dice.item() == pytest.approx(6 / (6 + 2 + 2))
    assert metric.get_buffer().shape == (2, 2, 4)
    per_image = PooledSegmentationMetric("iou", aggregation="per_image")
    per_image(logits_from_labels(PRED[None]), TARGET[None, None])
    per_image([torch.tensor([[[1, 0], [0, 0]]])], [torch.tensor([[[1, 1], [0, 0]]])])
    assert per_image.aggregate()[0].item() == pytest.approx((2 / 5 + 1 / 2) / 2)
    metric.reset()
    with pytest.raises(ValueError, match="before any prediction"):
        metric.aggregate()


def test_pooled_segmentation_metric_fov():
    metric = PooledSegmentationMetric("precision", include_fov=True)
    with pytest.raises(ValueError, match="fov"):
        metric(PRED[None, None], TARGET[None, None])
    fov = torch.ones(1, 1, 3, 3)
    fov[0, 0, 1, 0] = 0  # drops one of the two FP
    metric(PRED[None, None], TARGET[None, None], fov=fov)
    assert metric.aggregate()[0].item() == pytest.approx(2 / 3)


@pytest.mark.parametrize("num_bins", [None, 1000])
def test_pooled_pr_auc_metric(num_bins):
    g = torch.Generator().manual_seed(7)
    logits = [torch.randn(2, 2, 5, 5, generator=g), torch.randn(1, 2, 5, 5, generator=g)]
    labels = [torch.randint(0, 2, (2, 1, 5, 5), generator=g), torch.randint(0, 2, (1, 1, 5, 5), generator=g)]
    metric = PooledPRAUCMetric(("pr_auc", "average_precision"), num_bins=num_bins)
    for lg, lb in zip(logits, labels):
        metric(lg, lb)
    fg = torch.cat([torch.softmax(lg, 1)[:, 1] for lg in logits])
    target = torch.cat(labels)[:, 0]
    auc, ap = metric.aggregate()
    assert auc.item() == pytest.approx(pr_auc(fg, target, num_bins=num_bins).item(), rel=1e-6)
    assert ap.item() == pytest.approx(average_precision(fg, target, num_bins=num_bins).item(), rel=1e-6)
    if num_bins is not None:  # 1000 bins stay close to the exact value
        assert auc.item() == pytest.approx(pr_auc(fg, target).item(), abs=0.02)


def test_pooled_pr_auc_metric_multiclass_mean():
    g = torch.Generator().manual_seed(11)
    logits = torch.randn(2, 3, 6, 6, generator=g)
    labels = torch.randint(0, 3, (2, 1, 6, 6), generator=g)
    metric = PooledPRAUCMetric(class_reduction="none")
    metric(logits, labels)
    per_class = metric.aggregate()[0]
    probs = torch.softmax(logits, 1)
    expected = [pr_auc(probs[:, k], labels[:, 0] == k).item() for k in (1, 2)]
    assert per_class.tolist() == pytest.approx(expected)
    mean_metric = PooledPRAUCMetric()
    mean_metric(logits, labels)
    assert mean_metric.aggregate()[0].item() == pytest.approx(sum(expected) / 2)


def test_counts_and_scores_agree_with_monai_confusion_matrix():
    from monai.metrics import compute_confusion_matrix_metric, get_confusion_matrix

    g = torch.Generator().manual_seed(2)
    target = torch.randint(0, 3, (2, 1, 7, 5), generator=g)
    logits = torch.randn(2, 3, 7, 5, generator=g)
    ours = segmentation_counts(logits, target)
    onehot = torch.nn.functional.one_hot
    reference = get_confusion_matrix(
        onehot(logits.argmax(1), 3).permute(0, 3, 1, 2).float(), onehot(target[:, 0], 3).permute(0, 3, 1, 2).float()
    )
    assert torch.equal(ours, reference.long())
    monai_names = {"dice": "f1 score", "iou": "threat score", "recall": "sensitivity", "mcc": "mcc", "bm": "bm"}
    scores = scores_from_counts(ours.sum(0), list(monai_names))
    for name, monai_name in monai_names.items():
        expected = compute_confusion_matrix_metric(monai_name, reference.sum(0))
        assert torch.allclose(scores[name], expected.double()), name


def test_label_map_matches_torch_argmax_with_ties():
    from monai_ext.metrics import to_label_map

    g = torch.Generator().manual_seed(4)
    x = torch.randint(0, 3, (3, 4, 6, 6), generator=g).float()  # many ties: the first maximum wins
    assert torch.equal(to_label_map(x), x.argmax(dim=1))
    assert torch.equal(to_label_map(x > 1), (x > 1).long().argmax(dim=1))
    assert torch.equal(to_label_map(torch.tensor([[[[0.0, 2.0]]]])), torch.tensor([[[0, 2]]]))
