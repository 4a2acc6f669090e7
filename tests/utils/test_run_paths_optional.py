# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""optional_weights_file: which path a stage gets for an optional earlier-stage weights file, and the log line."""

from __future__ import annotations

import logging

from monai_ext.utils import optional_weights_file


def test_existing_file_is_used_and_logged(tmp_path, caplog):
    weights = tmp_path / "student.pt"
    weights.write_bytes(b"x")
    with caplog.at_level(logging.INFO, logger="monai_ext"):
        assert optional_weights_file(weights, description="SR branch") == str(weights)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "SR branch: initialising from" in caplog.text and str(weights) in caplog.text


def test_missing_optional_file_gives_none_and_a_warning(tmp_path, caplog):
    missing = tmp_path / "student.pt"
    with caplog.at_level(logging.INFO, logger="monai_ext"):
        assert optional_weights_file(missing, description="SR branch", missing_hint="random start") is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert f"SR branch: no file at {missing}; random start" in caplog.text


def test_missing_required_file_is_returned_for_the_loader_to_fail(tmp_path, caplog):
    missing = tmp_path / "student.pt"
    with caplog.at_level(logging.INFO, logger="monai_ext"):
        assert optional_weights_file(missing, required=True) == str(missing)
    assert not caplog.records
