# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The ``image_folder`` layout (alias ``folder``): unlabelled images for SR training through build_datalist."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from monai_ext.data import DatasetLayoutError, build_datalist


def _images(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(path)


def test_every_image_is_train_and_val_test_are_empty(tmp_path):
    _images(tmp_path, ["b.png", "a.jpg", "sub/c.tif", ".hidden.png"])
    (tmp_path / "notes.txt").write_text("not an image")
    train = build_datalist("folder", tmp_path, "train")
    assert [d["id"] for d in train] == ["a", "b", "sub_c"]
    assert all("label" not in d for d in train)
    assert build_datalist("folder", tmp_path, "val") == []
    assert build_datalist("image_folder", tmp_path, "test") == []
    assert [d["id"] for d in build_datalist("sr_folder", tmp_path, "all")] == ["a", "b", "sub_c"]


def test_seeded_validation_hold_out(tmp_path):
    _images(tmp_path, [f"{i:02d}.png" for i in range(10)])
    train = build_datalist("folder", tmp_path, "train", val_fraction=0.2, seed=3)
    val = build_datalist("folder", tmp_path, "val", val_fraction=0.2, seed=3)
    assert len(val) == 2 and len(train) == 8
    assert {d["id"] for d in train} | {d["id"] for d in val} == {f"{i:02d}" for i in range(10)}
    assert val == build_datalist("folder", tmp_path, "val", val_fraction=0.2, seed=3)


def test_missing_or_empty_folder_names_it(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        build_datalist("folder", tmp_path / "nope", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="no image file"):
        build_datalist("folder", tmp_path / "empty", "train")
