# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the CSV / JSON report writers, the overlay colours and the id sanitising."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from monai_ext.metrics import (
    overlay_image,
    safe_output_path,
    sanitize_id,
    segmentation_counts,
    write_overlay,
    write_segmentation_report,
)


def two_image_counts() -> torch.Tensor:
    # image "a": TP=1, FP=0, TN=2, FN=1 ; image "b": TP=3, FP=1, TN=0, FN=0
    t = torch.tensor([[[1, 1], [0, 0]], [[1, 1], [1, 0]]])[:, None]
    p = torch.tensor([[[1, 0], [0, 0]], [[1, 1], [1, 1]]])[:, None]
    return segmentation_counts(p, t)


def test_csv_and_json_contents(tmp_path):
    summary = write_segmentation_report(
        tmp_path, ["a", "b"], two_image_counts(), ["dice", "iou"], extra_summary={"pr_auc": 0.5}
    )
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["a", "b", "pooled", "mean"]
    assert list(rows[0]) == ["id", "tp", "fp", "tn", "fn", "dice", "iou"]
    assert [int(rows[0][k]) for k in ("tp", "fp", "tn", "fn")] == [1, 0, 2, 1]
    assert float(rows[0]["dice"]) == pytest.approx(2 / 3)
    assert float(rows[1]["iou"]) == pytest.approx(3 / 4)
    assert [int(rows[2][k]) for k in ("tp", "fp", "tn", "fn")] == [4, 1, 2, 1]
    assert float(rows[2]["dice"]) == pytest.approx(8 / 10)  # pooled
    assert float(rows[3]["dice"]) == pytest.approx((2 / 3 + 6 / 7) / 2)  # mean of images
    assert rows[3]["tp"] == ""
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data == json.loads(json.dumps(summary))
    assert data["num_images"] == 2 and data["num_classes"] == 2
    assert data["pooled"]["iou"] == pytest.approx(4 / 6)
    assert data["mean"]["iou"] == pytest.approx((1 / 2 + 3 / 4) / 2)
    assert data["pr_auc"] == 0.5
    # headline: the pooled foreground scores that were computed, plus the PR-AUC
    assert data["headline"] == {"dice": pytest.approx(8 / 10), "iou": pytest.approx(4 / 6), "pr_auc": 0.5}


def test_headline_keeps_the_bundle_metrics_in_order(tmp_path):
    names = ["iou", "dice", "mcc", "bm", "recall", "precision", "specificity"]
    summary = write_segmentation_report(tmp_path, ["a", "b"], two_image_counts(), names)
    tp, fp, tn, fn = 4, 1, 2, 1
    recall, specificity = tp / (tp + fn), tn / (tn + fp)
    mcc = (tp * tn - fp * fn) / ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    assert list(summary["headline"]) == ["dice", "iou", "mcc", "bm", "recall"]
    assert summary["headline"]["mcc"] == pytest.approx(mcc)
    assert summary["headline"]["bm"] == pytest.approx(recall + specificity - 1)
    assert summary["headline"]["recall"] == pytest.approx(recall)
    assert "pr_auc" not in summary["headline"]


def test_multiclass_columns(tmp_path):
    target = torch.tensor([[0, 1, 1], [2, 2, 0]])[None, None]
    pred = torch.tensor([[0, 1, 2], [2, 0, 0]])[None, None]
    counts = segmentation_counts(pred, target, num_classes=3)
    write_segmentation_report(tmp_path, ["x"], counts, ["dice"])
    with (tmp_path / "metrics.csv").open() as f:
        row = next(csv.DictReader(f))
    assert float(row["dice_1"]) == pytest.approx(2 / 3)
    assert float(row["dice_2"]) == pytest.approx(2 / 4)
    assert float(row["dice"]) == pytest.approx((2 / 3 + 2 / 4) / 2)
    assert int(row["fp_2"]) == 1


def test_report_rejects_mismatched_ids(tmp_path):
    with pytest.raises(ValueError, match="1 ids for 2 images"):
        write_segmentation_report(tmp_path, ["a"], two_image_counts())


def test_overlay_colours_at_pixels():
    label = torch.tensor([[1, 1, 0], [0, 0, 0]])
    pred = torch.tensor([[1, 0, 1], [0, 0, 0]])
    rgb = overlay_image(label, pred)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    assert rgb[0, 0].tolist() == [255, 255, 0]  # overlap: yellow
    assert rgb[0, 1].tolist() == [0, 255, 0]  # ground truth only: green
    assert rgb[0, 2].tolist() == [255, 0, 0]  # prediction only: red
    assert rgb[1, 1].tolist() == [0, 0, 0]  # background without image: black


def test_overlay_over_image_and_alpha():
    label = torch.tensor([[[1, 0], [0, 0]]])
    logits = torch.stack([torch.zeros(2, 2), torch.tensor([[0.0, 0.0], [0.0, 1.0]])])  # pred fg at (1, 1)
    image = torch.tensor([[[-1.0, 0.0], [1.0, 0.5]]])  # in [-1, 1]
    rgb = overlay_image(label, logits, image, image_range=(-1, 1), alpha=0.5)
    assert rgb[0, 1].tolist() == [128, 128, 128]  # 0 -> 127.5 rounds to 128
    assert rgb[1, 0].tolist() == [255, 255, 255]
    assert rgb[0, 0].tolist() == [0, 128, 0]  # black blended half with green
    # 0.5 -> 191.25 -> grey 191, blended half with red: (191 + 255) / 2 = 223, 191 / 2 = 95.5 -> 96
    assert rgb[1, 1].tolist() == [223, 96, 96]


def test_write_overlay_png(tmp_path):
    label = np.array([[1, 0], [0, 0]])
    pred = np.array([[1, 1], [0, 0]])
    path = write_overlay(tmp_path / "ov", "Image_01L", label, pred)
    assert path == (tmp_path / "ov" / "Image_01L_overlay.png").resolve()
    saved = np.asarray(Image.open(path).convert("RGB"))
    assert saved[0, 0].tolist() == [255, 255, 0] and saved[0, 1].tolist() == [255, 0, 0]


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "..", "", "..\\evil", "/etc/passwd"])
def test_path_traversal_is_refused(tmp_path, bad_id):
    with pytest.raises(ValueError, match="sample id"):
        write_overlay(tmp_path, bad_id, np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError) as err:
        safe_output_path(tmp_path, bad_id, ".png")
    assert repr(bad_id) in str(err.value)
    assert not list(tmp_path.iterdir())


def test_ids_are_sanitised():
    assert sanitize_id("img 01:left*") == "img_01_left_"
    assert sanitize_id(7) == "7"
    assert safe_output_path("/tmp/out", "a b", ".csv").name == "a_b.csv"


def test_classification_report_has_the_headline_scores_in_every_file(tmp_path):
    from monai_ext.metrics import classification_metrics, write_classification_report

    labels = torch.tensor([0, 1, 1, 0, 1])
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    metrics = classification_metrics(labels, logits, 2)  # TP 2, FN 1, TN 2, FP 0
    paths = [tmp_path / "metrics.json", tmp_path / "evaluation" / "summary.json"]
    report = write_classification_report(metrics, paths, checkpoint="m.pt", fold=None)
    assert report["headline"]["accuracy"] == pytest.approx(0.8)
    kappa = (0.8 - (2 / 5 * 3 / 5 + 3 / 5 * 2 / 5)) / (1 - (2 / 5 * 3 / 5 + 3 / 5 * 2 / 5))
    assert report["headline"]["kappa"] == pytest.approx(kappa)
    assert report["headline"]["mcc"] == pytest.approx((2 * 2 - 0 * 1) / np.sqrt(2 * 3 * 2 * 3))
    assert set(report["headline"]) == {"accuracy", "macro_f1", "kappa", "mcc"}
    for path in paths:
        written = json.loads(path.read_text())
        assert written["headline"] == report["headline"] and written["fold"] is None
        assert written["confusion_matrix"] == [[2, 0], [1, 2]]
    with pytest.raises(KeyError, match="macro_f1"):
        write_classification_report({"accuracy": 1.0}, tmp_path / "x.json")
