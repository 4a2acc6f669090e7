# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for output paths confined to the output folder."""

from __future__ import annotations

import os

import pytest

from monai_ext.engines import UnsafeOutputPathError, output_name_from_path, safe_output_path, sanitize_output_name

HOSTILE = [
    "../evil",
    "..",
    ".",
    "a/../../b",
    "sub/name",
    "..\\..\\windows",
    "/etc/passwd",
    "C:evil",
    "C:\\Windows\\system32",
    "name\x00.png",
    "",
    "   ",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_traversal_and_separators_are_refused(tmp_path, name):
    with pytest.raises(UnsafeOutputPathError):
        safe_output_path(tmp_path, name, "_seg.png")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Image_01L", "Image_01L"),
        ("img 01 (copy)", "img_01__copy_"),
        ("..hidden", "hidden"),
        (".bashrc", "bashrc"),
        ("a;rm -rf ~", "a_rm_-rf__"),
        ("$(whoami)", "__whoami_"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("Straße_ü", "Straße_ü"),
        ("***", "unnamed___"),
    ],
)
def test_names_are_sanitised(name, expected):
    assert sanitize_output_name(name) == expected


@pytest.mark.parametrize("name", ["Image_01L", "img 01 (copy)", ".bashrc", "$(whoami)", "x" * 400, "é" * 300])
def test_result_is_directly_inside_output_dir(tmp_path, name):
    path = safe_output_path(tmp_path / "out", name, "_seg.png")
    assert os.path.dirname(path) == os.path.abspath(tmp_path / "out")
    base = os.path.basename(path)
    assert base.endswith("_seg.png") and not base.startswith(".")
    assert len(base.encode("utf-8")) <= 255
    os.makedirs(tmp_path / "out", exist_ok=True)
    with open(path, "w") as stream:  # the file system accepts the name
        stream.write("x")


def test_suffix_with_separator_is_refused(tmp_path):
    with pytest.raises(UnsafeOutputPathError, match="suffix"):
        safe_output_path(tmp_path, "ok", "/../../x.png")


def test_existing_symlink_target_is_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / "case_seg.png")
    with pytest.raises(UnsafeOutputPathError, match="symbolic link"):
        safe_output_path(out, "case", "_seg.png")
    assert outside.read_text() == "keep"


def test_non_string_name_is_refused(tmp_path):
    with pytest.raises(UnsafeOutputPathError, match="string"):
        safe_output_path(tmp_path, 3, ".png")


@pytest.mark.parametrize(
    "path, stem",
    [("/data/a/Image_01L.jpg", "Image_01L"), ("x/case.nii.gz", "case"), ("noext", "noext"), ("a.b.png", "a.b")],
)
def test_output_name_from_path(path, stem):
    assert output_name_from_path(path) == stem
