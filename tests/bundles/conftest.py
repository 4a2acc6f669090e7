# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Bundle tests: workflows built with :func:`tests.bundles.helpers.bundle_workflow` write into the test's tmp_path."""

from __future__ import annotations

import pytest

from tests.bundles import helpers


@pytest.fixture(autouse=True)
def _bundle_outputs_in_tmp_path(tmp_path, monkeypatch):
    scratch = tmp_path / "bundle_outputs"
    scratch.mkdir()
    monkeypatch.setattr(helpers, "SCRATCH_ROOT", str(scratch))
    yield
