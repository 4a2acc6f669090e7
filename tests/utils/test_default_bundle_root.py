# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""default_bundle_root: the bundle folder from the repository root, "." inside the bundle."""

from __future__ import annotations

from monai_ext.utils import default_bundle_root


def test_repository_root_gives_the_bundle_folder(tmp_path, monkeypatch):
    (tmp_path / "bundles" / "ds2f" / "configs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert default_bundle_root("ds2f") == "bundles/ds2f"
    # a bundle without a configs folder there is not taken for one
    (tmp_path / "bundles" / "ss_maf").mkdir()
    assert default_bundle_root("ss_maf") == "."


def test_inside_the_bundle_gives_the_current_folder(tmp_path, monkeypatch):
    bundle = tmp_path / "bundles" / "ds2f"
    (bundle / "configs").mkdir(parents=True)
    monkeypatch.chdir(bundle)
    assert default_bundle_root("ds2f") == "."
