# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""EveryNEvents as the iteration filter of MONAI's StatsHandler on a real ignite engine."""

from __future__ import annotations

import logging

import pytest
from ignite.engine import Engine
from monai.bundle import ConfigParser
from monai.handlers import StatsHandler

from monai_ext.handlers import EveryNEvents


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_stats_handler_logs_every_third_iteration():
    engine = Engine(lambda engine, batch: float(batch))
    collect = _Collect()
    StatsHandler(
        name="every3", tag_name="loss", output_transform=lambda x: x, iteration_log=EveryNEvents(3), epoch_log=False
    ).attach(engine)
    logger = logging.getLogger("every3")
    logger.addHandler(collect)
    try:
        engine.run(list(range(4)), max_epochs=2)  # iterations 1..8 over the run
    finally:
        logger.removeHandler(collect)
    assert len(collect.messages) == 2
    assert "Epoch: 1/2, Iter: 3/4" in collect.messages[0]
    assert "Epoch: 2/2, Iter: 2/4" in collect.messages[1]  # global iteration 6


def test_built_from_a_config_with_target():
    config = {"log_interval": 5, "f": {"_target_": "monai_ext.handlers.EveryNEvents", "interval": "@log_interval"}}
    parser = ConfigParser(config)
    event_filter = parser.get_parsed_content("f")
    assert [n for n in range(1, 21) if event_filter(None, n)] == [5, 10, 15, 20]
    assert repr(event_filter) == "EveryNEvents(interval=5)"


@pytest.mark.parametrize("interval", [0, -2, 1.5, True, "3"])
def test_rejects_invalid_interval(interval):
    with pytest.raises((ValueError, TypeError)):
        EveryNEvents(interval)
