# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""log_message against the ``$logging.getLogger(name).info(...)`` expression it replaces in sai_diagnosis'
distill.json: the same logger, level and formatted line."""

from __future__ import annotations

import logging

import pytest
from monai.bundle import ConfigParser

from monai_ext.utils import log_message

#: ``run#0`` of distill.json, with the path of the teacher
RUN_ITEM = {
    "teacher_path": "/runs/models/teacher.pt",
    "log": {
        "_target_": "monai_ext.utils.log_message",
        "message": "loading the MRC-Net teacher from %s (written by train_sr.json)",
        "args": ["@teacher_path"],
        "logger_name": "sai_diagnosis",
    },
}


def _formatted(caplog) -> list[tuple[str, int, str]]:
    formatter = logging.Formatter("%(name)s - %(levelname)s - %(message)s")  # the bundle's logging.conf, no time
    return [(r.name, r.levelno, formatter.format(r)) for r in caplog.records]


def test_config_item_logs_the_line_of_the_former_expression(caplog):
    teacher_path = RUN_ITEM["teacher_path"]
    with caplog.at_level(logging.INFO, logger="sai_diagnosis"):
        logging.getLogger("sai_diagnosis").info(
            "loading the MRC-Net teacher from " + teacher_path + " (written by train_sr.json)"
        )
        old = _formatted(caplog)
        caplog.clear()
        assert ConfigParser(RUN_ITEM).get_parsed_content("log") is None
        new = _formatted(caplog)
    assert new == old
    assert new[0][2] == (
        "sai_diagnosis - INFO - loading the MRC-Net teacher from /runs/models/teacher.pt (written by train_sr.json)"
    )


def test_levels_arguments_and_default_logger(caplog):
    with caplog.at_level(logging.DEBUG):
        log_message("plain %d%%", [5], level="warning")
        log_message("no args, a literal 100%")
        log_message("%s and %s", ("a", "b"), logger_name="x.y", level=logging.DEBUG)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("monai_ext", logging.WARNING, "plain 5%"),
        ("monai_ext", logging.INFO, "no args, a literal 100%"),
        ("x.y", logging.DEBUG, "a and b"),
    ]


def test_unknown_level():
    with pytest.raises(ValueError, match="unknown logging level 'loud'"):
        log_message("x", level="loud")
