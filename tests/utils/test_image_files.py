# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""``monai_ext.utils.image_files``: the one image-file listing and suffix tables, and the old paths built on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import monai_ext.data
import monai_ext.data.histology
import monai_ext.data.layouts
import monai_ext.data.readers
import monai_ext.engines
import monai_ext.engines.folder_inference
import monai_ext.utils
from monai_ext.data import DatasetLayoutError
from monai_ext.utils.image_files import (
    FOLDER_INFERENCE_SUFFIXES, HISTOLOGY_SUFFIXES, IMAGE_SUFFIXES, NIFTI_SUFFIXES, find_image_files, has_suffix,
)


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "in"
    _touch(
        root, "b10.png", "b2.PNG", "a.jpg", "vol.nii.gz", "skip.txt", ".hidden.png", "Thumbs.db", "x.pbm",
        "sub/c.png", ".cache/d.png", "sub/.e.png",
    )
    (root / "dir.png").mkdir()  # a folder with an image suffix is not a file
    return root


def test_suffix_tables_keep_their_values():
    assert IMAGE_SUFFIXES == (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm", ".bmp")
    assert NIFTI_SUFFIXES == (".nii", ".nii.gz")
    assert FOLDER_INFERENCE_SUFFIXES == (
        ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".bmp", ".nii", ".nii.gz"
    )
    assert HISTOLOGY_SUFFIXES == (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
    assert set(HISTOLOGY_SUFFIXES) <= set(IMAGE_SUFFIXES)


def test_old_names_of_the_suffix_tables_are_the_same_objects():
    assert monai_ext.data.readers.IMAGE_SUFFIXES is IMAGE_SUFFIXES
    assert monai_ext.data.layouts.IMAGE_SUFFIXES is IMAGE_SUFFIXES
    assert monai_ext.engines.folder_inference.DEFAULT_IMAGE_SUFFIXES is FOLDER_INFERENCE_SUFFIXES
    assert monai_ext.data.IMAGE_EXTENSIONS is HISTOLOGY_SUFFIXES
    assert monai_ext.data.histology.IMAGE_EXTENSIONS is HISTOLOGY_SUFFIXES
    assert monai_ext.utils.find_image_files is find_image_files


def test_has_suffix():
    assert has_suffix("A.NII.GZ", NIFTI_SUFFIXES)
    assert has_suffix("x.Jpg", (".JPG",))
    assert not has_suffix("x.gz", NIFTI_SUFFIXES)


def test_find_image_files(folder):
    names = lambda paths: [p.relative_to(folder).as_posix() for p in paths]  # noqa: E731
    assert names(find_image_files(folder)) == ["a.jpg", "b10.png", "b2.PNG", "x.pbm"]
    assert all(isinstance(p, Path) and p.parent == folder for p in find_image_files(str(folder)))
    assert names(find_image_files(folder, FOLDER_INFERENCE_SUFFIXES)) == ["a.jpg", "b10.png", "b2.PNG", "vol.nii.gz"]
    assert names(find_image_files(folder, recursive=True)) == ["a.jpg", "b10.png", "b2.PNG", "sub/c.png", "x.pbm"]
    assert names(find_image_files(folder, name_pattern=r"b\d+\.png")) == ["b10.png", "b2.PNG"]
    assert names(find_image_files(folder, (".db",), ignored_names={"thumbs.db"})) == []
    assert names(find_image_files(folder, (".db",))) == ["Thumbs.db"]
    by_length = find_image_files(folder, sort_key=lambda p: (len(p.name), p.name))
    assert names(by_length) == ["a.jpg", "x.pbm", "b2.PNG", "b10.png"]
    with pytest.raises(NotADirectoryError, match="missing"):
        find_image_files(folder / "missing")


def test_engines_list_image_files_returns_joined_strings(folder):
    listed = monai_ext.engines.list_image_files(str(folder) + os.sep)
    assert listed == [os.path.join(str(folder) + os.sep, n) for n in ("a.jpg", "b10.png", "b2.PNG", "vol.nii.gz")]
    assert monai_ext.engines.list_image_files is monai_ext.engines.folder_inference.list_image_files
    # one listing for folder inference and the inference.json data lists
    assert monai_ext.engines.list_image_files is monai_ext.utils.list_image_paths
    assert [d["image"] for d in monai_ext.data.image_datalist(folder)] == monai_ext.utils.list_image_paths(folder)
    assert monai_ext.engines.list_image_files(folder, (".pbm",)) == [os.path.join(str(folder), "x.pbm")]
    with pytest.raises(ValueError, match="does not exist"):
        monai_ext.engines.list_image_files(folder / "missing")


def test_layouts_list_image_files_sorts_naturally_and_raises_layout_errors(folder, tmp_path):
    listed = monai_ext.data.layouts.list_image_files(folder, "X", "layout text")
    assert listed == [folder / n for n in ("a.jpg", "b2.PNG", "b10.png", "x.pbm")]
    pngs = monai_ext.data.layouts.list_image_files(folder, "X", "t", r".+\.png")
    assert pngs == [folder / "b2.PNG", folder / "b10.png"]
    assert monai_ext.data.layouts.list_image_files(tmp_path / "missing", "X", "t", required=False) == []
    with pytest.raises(DatasetLayoutError, match="folder not found"):
        monai_ext.data.layouts.list_image_files(tmp_path / "missing", "X", "t")
    with pytest.raises(DatasetLayoutError, match=r"no files matching '.+\\.gif'"):
        monai_ext.data.layouts.list_image_files(folder, "X", "t", r".+\.gif")


def test_histology_listing_is_recursive(folder):
    files = monai_ext.data.histology._image_files(folder)
    assert [p.relative_to(folder).as_posix() for p in files] == ["a.jpg", "b10.png", "b2.PNG", "sub/c.png"]
    assert monai_ext.data.histology._image_files(folder / "missing") == []
