# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""run_training_stage: the checkpoint saver is attached after the trainer's own handlers, then the trainer runs."""

from __future__ import annotations

import torch
from ignite.engine import Engine, Events
from monai.bundle import ConfigParser

from monai_ext.engines import run_training_stage


class _RecordingSaver:
    def __init__(self, order: list[str]):
        self.order = order

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: self.order.append(f"save {e.state.epoch}"))


def _trainer(order: list[str], max_epochs: int = 2) -> Engine:
    trainer = Engine(lambda engine, batch: batch)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: order.append(f"validate {e.state.epoch}"))
    trainer.state.max_epochs = max_epochs
    return trainer


def _data() -> list[torch.Tensor]:
    return [torch.zeros(1)] * 3


def test_saver_runs_after_the_trainers_handlers_every_epoch():
    order: list[str] = []
    trainer = _trainer(order)
    trainer.run = lambda: Engine.run(trainer, _data(), max_epochs=2)
    state = run_training_stage(trainer, _RecordingSaver(order))
    assert order == ["validate 1", "save 1", "validate 2", "save 2"]
    assert state.epoch == 2 and state.iteration == 6


def test_no_saver_and_disabled_stage_from_a_config():
    order: list[str] = []
    trainer = _trainer(order)
    trainer.run = lambda: Engine.run(trainer, _data(), max_epochs=1)
    config = {
        "epochs": 0,
        "run": [
            {"_target_": "monai_ext.engines.run_training_stage", "trainer": "@trainer", "_disabled_": "$@epochs == 0"},
            {"_target_": "monai_ext.engines.run_training_stage", "trainer": "@trainer", "checkpoint_saver": None},
        ],
    }
    parser = ConfigParser(config)
    parser["trainer"] = trainer
    assert parser.get_parsed_content("run#0") is None
    assert order == []
    assert parser.get_parsed_content("run#1").epoch == 1
    assert order == ["validate 1"]


def test_a_stage_of_zero_epochs_is_skipped_and_saves_nothing():
    order: list[str] = []
    trainer = _trainer(order, max_epochs=0)
    trainer.run = lambda: order.append("ran")
    saver = _RecordingSaver(order)
    saver.attach = lambda engine: order.append("attached")
    state = run_training_stage(trainer, saver)
    assert order == [] and state is trainer.state and state.epoch == 0
