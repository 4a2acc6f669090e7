# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""ValidationHandler with empty validation data (MONAI Label's val_split 0): training runs, nothing is validated."""

from __future__ import annotations

import logging

import torch
from ignite.engine import Engine
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator

from monai_ext.handlers import ValidationHandler


def _evaluator(items: list[dict]) -> SupervisedEvaluator:
    loader = DataLoader(items, batch_size=1)
    return SupervisedEvaluator(device=torch.device("cpu"), val_data_loader=loader, network=torch.nn.Identity())


def test_empty_validation_data_attaches_nothing(caplog):
    evaluator = _evaluator([])
    runs: list[int] = []
    evaluator.run = lambda global_epoch=1: runs.append(global_epoch)  # type: ignore[method-assign]
    trainer = Engine(lambda engine, batch: None)
    with caplog.at_level(logging.INFO, logger="monai_ext"):
        ValidationHandler(interval=1, validator=evaluator).attach(trainer)
    trainer.run([0], max_epochs=3)
    assert runs == []
    assert "the validation data is empty: training runs without validation" in caplog.text


def test_validation_data_present_validates_every_interval_and_last_epoch():
    evaluator = _evaluator([{"image": torch.zeros(1, 2, 2), "label": torch.zeros(1, 2, 2)}])
    runs: list[int] = []
    evaluator.run = lambda global_epoch=1: runs.append(global_epoch)  # type: ignore[method-assign]
    trainer = Engine(lambda engine, batch: None)
    ValidationHandler(interval=2, validator=evaluator).attach(trainer)
    trainer.run([0], max_epochs=5)
    assert runs == [2, 4, 5]
