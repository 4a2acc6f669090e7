# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The inputs of an ``inference.json``: the user's folder or file list, else the embedded test split."""

from __future__ import annotations

import pytest

from monai_ext.data import build_datalist, embedded_dataset_dir, image_datalist, inference_images


def test_user_input_wins_over_the_test_split(tmp_path):
    assert inference_images(str(tmp_path), "chasedb1", embedded_dataset_dir("chasedb1")) == str(tmp_path)
    assert inference_images(tmp_path, "chasedb1", "/nowhere") == str(tmp_path)
    files = ["b.png", "a.png"]
    assert inference_images(files, "chasedb1", "/nowhere") is files


def test_default_is_the_test_split():
    root = embedded_dataset_dir("chasedb1")
    expected = [str(item["image"]) for item in build_datalist("chasedb1", root, "test")]
    assert expected and inference_images(None, "chasedb1", root) == expected
    assert inference_images("", "chasedb1", root) == expected


def test_datalist_of_a_folder_and_of_files(tmp_path):
    for name in ("b.png", "a.JPG", "scan.nii.gz", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()  # a folder with an image suffix is not a file
    assert image_datalist(str(tmp_path)) == [
        {"image": str(tmp_path / name)} for name in ("a.JPG", "b.png", "scan.nii.gz")
    ]
    assert image_datalist([tmp_path / "z.png", "a.png"], image_key="img") == [
        {"img": str(tmp_path / "z.png")}, {"img": "a.png"},
    ]


def test_missing_folder(tmp_path):
    missing = tmp_path / "missing"
    assert image_datalist(missing, missing_ok=True) == []
    with pytest.raises(ValueError, match="missing"):
        image_datalist(str(missing))
