# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Output paths: one implementation in ``monai_ext.utils.paths``, the old names kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import monai_ext.engines
import monai_ext.metrics
import monai_ext.metrics.reports
import monai_ext.utils
from monai_ext.utils.paths import (
    UnsafeOutputPathError, safe_output_path, sample_output_path, sanitize_output_name, sanitize_sample_id,
)


def test_old_names_are_the_utils_functions():
    assert monai_ext.engines.safe_output_path is safe_output_path
    assert monai_ext.engines.sanitize_output_name is sanitize_output_name
    assert monai_ext.metrics.safe_output_path is sample_output_path
    assert monai_ext.metrics.reports.safe_output_path is sample_output_path
    assert monai_ext.metrics.sanitize_id is sanitize_sample_id
    assert monai_ext.metrics.reports.sanitize_id is sanitize_sample_id
    assert monai_ext.utils.sample_output_path is sample_output_path


def test_the_two_forms(tmp_path):
    # the str form for untrusted names, the resolved Path form for sample ids
    assert safe_output_path(tmp_path, "a b", ".png") == str(tmp_path / "a_b.png")
    path = sample_output_path(tmp_path / "x" / "..", "a b", ".png")
    assert isinstance(path, Path) and path == (tmp_path / "a_b.png").resolve()
    assert sanitize_sample_id(7) == "7"
    # a sample id may not hold '..' anywhere, an untrusted name may
    assert sanitize_output_name("a..b") == "a..b"
    with pytest.raises(UnsafeOutputPathError, match=r"^sample id 'a\.\.b' cannot be used as a file name"):
        sanitize_sample_id("a..b")
    with pytest.raises(ValueError, match="sample id '/etc/passwd'"):
        sample_output_path(tmp_path, "/etc/passwd", ".png")
