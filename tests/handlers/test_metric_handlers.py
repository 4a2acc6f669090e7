# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The metric handlers and the report handler inside a real MONAI SupervisedEvaluator run."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.handlers import from_engine

from monai_ext.handlers import EvaluationReportHandler, PooledPRAUCHandler, PooledSegmentationHandler

# predictions (image > 0) and labels of the three samples, with their hand-counted TP, FP, TN, FN
PREDS = [
    [[1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]],
]
LABELS = [
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],  # TP=2, FP=2, TN=10, FN=2
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]],  # TP=0, FP=0, TN=15, FN=1
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]],  # TP=3, FP=1, TN=12, FN=0
]
# pooled: TP=5, FP=3, TN=37, FN=3


def make_evaluator(handlers, key_metric, additional=None) -> SupervisedEvaluator:
    data = [
        {
            "image": torch.tensor(p, dtype=torch.float32)[None] * 2 - 1,  # +1 where predicted, -1 elsewhere
            "label": torch.tensor(lab, dtype=torch.int64)[None],
            "id": f"s{i}",
        }
        for i, (p, lab) in enumerate(zip(PREDS, LABELS))
    ]
    net = torch.nn.Conv2d(1, 2, kernel_size=1)
    with torch.no_grad():  # fixed network: logits (-x, x), so argmax = (x > 0)
        net.weight.copy_(torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1))
        net.bias.zero_()
    return SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(Dataset(data), batch_size=2, num_workers=0),
        network=net,
        key_val_metric=key_metric,
        additional_metrics=additional,
        val_handlers=handlers,
    )


def test_key_metric_and_report_in_supervised_evaluator(tmp_path):
    report = EvaluationReportHandler(
        tmp_path / "eval", metric_name=["iou", "dice"], num_overlays=2, image_key="image", image_range=(-1, 1),
        pr_auc=True,
    )
    evaluator = make_evaluator(
        [report],
        {"val_iou": PooledSegmentationHandler(metric_name=["iou", "dice", "recall", "mcc"])},
        {"val_pr_auc": PooledPRAUCHandler(metric_name=["pr_auc", "average_precision"])},
    )
    evaluator.run()
    metrics = evaluator.state.metrics
    tp, fp, tn, fn = 5, 3, 37, 3
    assert metrics["val_iou"] == pytest.approx(tp / (tp + fp + fn))
    assert metrics["val_iou_dice"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert metrics["val_iou_recall"] == pytest.approx(tp / (tp + fn))
    mcc = (tp * tn - fp * fn) / ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    assert metrics["val_iou_mcc"] == pytest.approx(mcc)
    assert evaluator.state.best_metric == pytest.approx(5 / 11)
    assert evaluator.state.metric_details["val_iou"][:, 1].tolist() == [[2, 2, 10, 2], [0, 0, 15, 1], [3, 1, 12, 0]]

    # two score levels: the 8 predicted pixels (5 positives) and the other 40 (3 positives), 8 positives in all
    expected_auc = (5 / 8) * (1 + 5 / 8) / 2 + (3 / 8) * (5 / 8 + 8 / 48) / 2
    expected_ap = (5 / 8) * (5 / 8) + (3 / 8) * (8 / 48)
    assert metrics["val_pr_auc"] == pytest.approx(expected_auc)
    assert metrics["val_pr_auc_average_precision"] == pytest.approx(expected_ap)

    with (tmp_path / "eval" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["s0", "s1", "s2", "pooled", "mean"]
    assert [int(rows[2][k]) for k in ("tp", "fp", "tn", "fn")] == [3, 1, 12, 0]
    assert float(rows[3]["iou"]) == pytest.approx(5 / 11)
    assert float(rows[4]["iou"]) == pytest.approx((2 / 6 + 0 + 3 / 4) / 3)
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["pooled"]["dice"] == pytest.approx(10 / 16)
    assert summary["pr_auc"] == pytest.approx(expected_auc)
    overlays = sorted(p.name for p in (tmp_path / "eval" / "overlays").iterdir())
    assert overlays == ["s0_overlay.png", "s1_overlay.png"]

    # a second run starts from scratch (STARTED resets the collected counts)
    evaluator.run()
    with (tmp_path / "eval" / "metrics.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 5


def test_handler_with_fov_from_output_transform():
    fov = torch.ones(1, 1, 4, 4)
    fov[..., 0, 2:] = 0  # removes the two FP of sample 0

    def with_fov(output):
        preds, labels = from_engine(["pred", "label"])(output)
        return preds, labels, [fov[0]] * len(preds)

    handler = PooledSegmentationHandler(["precision"], include_fov=True, output_transform=with_fov)
    evaluator = make_evaluator(None, {"val_precision": handler})
    evaluator.run()
    assert evaluator.state.metrics["val_precision"] == pytest.approx(5 / 6)


def test_report_handler_on_batch_first_output(tmp_path):
    report = EvaluationReportHandler(tmp_path, metric_name=["dice"], id_key="name")
    pred = torch.tensor([PREDS[0], PREDS[2]])[:, None]
    label = torch.tensor([LABELS[0], LABELS[2]])[:, None]
    engine = SimpleNamespace(state=SimpleNamespace(output={"pred": pred, "label": label}, batch={"name": ["u", "v"]}))
    report(engine)
    summary = report.write()
    assert summary["pooled"]["dice"] == pytest.approx(2 * 5 / (2 * 5 + 3 + 2))
    with (tmp_path / "metrics.csv").open() as f:
        assert [r["id"] for r in csv.DictReader(f)] == ["u", "v", "pooled", "mean"]


def test_report_handler_errors(tmp_path):
    report = EvaluationReportHandler(tmp_path, num_overlays=1)
    small = SimpleNamespace(
        state=SimpleNamespace(output=[{"pred": torch.zeros(2, 2, 2), "label": torch.zeros(1, 4, 4)}], batch=None)
    )
    with pytest.raises(ValueError, match="differ in size"):
        report(small)
    missing = SimpleNamespace(state=SimpleNamespace(output=[{"pred": torch.zeros(2, 2, 2)}], batch=None))
    with pytest.raises(KeyError, match="label"):
        report(missing)
    evil = SimpleNamespace(
        state=SimpleNamespace(
            output=[{"pred": torch.zeros(2, 2, 2), "label": torch.zeros(1, 2, 2)}], batch=[{"id": "../x"}]
        )
    )
    with pytest.raises(ValueError, match=r"'\.\./x'"):
        report(evil)


def test_handlers_instantiate_from_a_bundle_config(tmp_path):
    from monai.bundle import ConfigParser

    parser = ConfigParser(
        {
            "key_metric": {
                "val_iou": {
                    "_target_": "monai_ext.handlers.PooledSegmentationHandler",
                    "metric_name": ["iou", "dice"],
                    "output_transform": "$monai.handlers.from_engine(['pred', 'label'])",
                }
            },
            "report": {
                "_target_": "monai_ext.handlers.EvaluationReportHandler",
                "output_dir": str(tmp_path),
                "num_overlays": 1,
            },
        }
    )
    key_metric = parser.get_parsed_content("key_metric")
    evaluator = make_evaluator([parser.get_parsed_content("report")], key_metric)
    evaluator.run()
    assert evaluator.state.metrics["val_iou"] == pytest.approx(5 / 11)
    assert (tmp_path / "metrics.csv").is_file() and (tmp_path / "overlays" / "s0_overlay.png").is_file()
