# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""epoch_classification_metrics and write_evaluator_classification_report against the expressions they replace in
sai_diagnosis' evaluate.json: ``lambda y_pred, y: classification_metrics(y, y_pred, @num_classes)`` and
``write_classification_report(@validate#evaluator.state.metrics['classification'], [...], **@report_info)``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from ignite.metrics import EpochMetric
from monai.bundle import ConfigParser
from monai.handlers import from_engine

from monai_ext.metrics import (
    classification_metrics,
    epoch_classification_metrics,
    write_classification_report,
    write_evaluator_classification_report,
)

LABELS = torch.tensor([0, 1, 1, 0, 1])
LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])  # TP 2, FN 1, TN 2, FP 0

#: the ``compute_fn`` of evaluate.json's ``classification`` metric
COMPUTE_FN = {"_target_": "monai_ext.metrics.epoch_classification_metrics", "_mode_": "callable", "num_classes": 2}


def _old_compute_fn(num_classes: int):
    return lambda y_pred, y: classification_metrics(y, y_pred, num_classes)


def test_same_numbers_as_classification_metrics_with_swapped_arguments():
    assert epoch_classification_metrics(LOGITS, LABELS, 2) == classification_metrics(LABELS, LOGITS, 2)
    assert epoch_classification_metrics(LOGITS, LABELS, 2) == _old_compute_fn(2)(LOGITS, LABELS)
    metrics = epoch_classification_metrics(LOGITS, LABELS, 2)
    assert metrics["confusion_matrix"] == [[2, 0], [1, 2]]
    assert metrics["accuracy"] == pytest.approx(4 / 5)
    assert metrics["mcc"] == pytest.approx((2 * 2 - 0 * 1) / np.sqrt(2 * 3 * 2 * 3))
    # class indices, a class that never occurs, and zero_division passed through
    y_pred, y = torch.tensor([0, 2, 2, 0]), torch.tensor([0, 2, 1, 0])
    assert epoch_classification_metrics(y_pred, y, 3) == classification_metrics(y, y_pred, 3)
    assert epoch_classification_metrics(y_pred, y) == classification_metrics(y, y_pred)
    assert epoch_classification_metrics(y_pred, y, 4, zero_division=1.0) == classification_metrics(
        y, y_pred, 4, zero_division=1.0
    )
    assert epoch_classification_metrics(y_pred, y, 4, zero_division=1.0)["sensitivity"][3] == 1.0


def _evaluate(compute_fn, batches) -> Engine:
    """An ignite engine whose output is ``{"pred": logits, "label": labels}``, with evaluate.json's metric."""
    engine = Engine(lambda engine, batch: {"pred": batch[0], "label": batch[1]})
    metric = EpochMetric(compute_fn, output_transform=from_engine(["pred", "label"]), check_compute_fn=False)
    metric.attach(engine, "classification")
    engine.run(batches, max_epochs=1)
    return engine


def test_config_callable_in_ignite_epoch_metric():
    compute_fn = ConfigParser({"compute_fn": COMPUTE_FN}).get_parsed_content("compute_fn")
    batches = [(LOGITS[:3], LABELS[:3]), (LOGITS[3:], LABELS[3:])]
    new = _evaluate(compute_fn, batches).state.metrics["classification"]
    old = _evaluate(_old_compute_fn(2), batches).state.metrics["classification"]
    assert new == old == classification_metrics(LABELS, LOGITS, 2)


def test_report_of_an_evaluator_equals_the_former_expression(tmp_path):
    engine = _evaluate(_old_compute_fn(2), [(LOGITS, LABELS)])
    info = {"class_names": ["normal", "tumour"], "num_samples": 5, "checkpoint": "m.pt", "fold": None}
    new_paths = [tmp_path / "new" / "metrics.json", tmp_path / "new" / "evaluation" / "summary.json"]
    old_paths = [tmp_path / "old" / "metrics.json", tmp_path / "old" / "evaluation" / "summary.json"]
    report = write_evaluator_classification_report(engine, new_paths, "classification", info)
    expected = write_classification_report(engine.state.metrics["classification"], old_paths, **info)
    assert report == expected
    assert report["headline"]["accuracy"] == pytest.approx(4 / 5) and report["fold"] is None
    for new, old in zip(new_paths, old_paths):
        assert new.read_bytes() == old.read_bytes()
        assert json.loads(new.read_text())["class_names"] == ["normal", "tumour"]
    # one path, and no info
    single = write_evaluator_classification_report(engine, str(tmp_path / "single.json"))
    assert single == write_classification_report(engine.state.metrics["classification"], tmp_path / "x.json")


def test_report_errors(tmp_path):
    engine = Engine(lambda engine, batch: None)
    with pytest.raises(KeyError, match="no metric 'classification'"):
        write_evaluator_classification_report(engine, tmp_path / "r.json")
    engine.state.metrics["scores"] = {"accuracy": 1.0}
    with pytest.raises(KeyError, match="macro_f1"):
        write_evaluator_classification_report(engine, tmp_path / "r.json", metric_name="scores")
    assert not (tmp_path / "r.json").exists()
