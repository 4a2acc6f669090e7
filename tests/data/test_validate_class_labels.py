# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dataset validation of classification data lists: integer class labels instead of mask paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_ext.data import validate_dataset
from monai_ext.data.errors import DataError
from monai_ext.data.validate import ensure_valid_dataset
from tests.data import fakes


@pytest.fixture
def images(tmp_path):
    return [str(fakes.write(tmp_path / f"p{i}.png", fakes.rgb(i))) for i in range(6)]


def test_integer_labels_in_range_pass_and_are_not_read_as_masks(images):
    datalist = [{"image": p, "label": i % 3, "id": f"p{i}"} for i, p in enumerate(images)]
    datalist[1]["label"] = np.int64(1)
    datalist[2]["label"] = torch.tensor(2)
    datalist[3]["label"] = 0.0  # integral float, e.g. read from a CSV
    report = validate_dataset(datalist, num_classes=3)
    assert report.ok and report.num_entries == 6, str(report)
    # without num_classes the labels are not checked (the behaviour before the option)
    assert validate_dataset([dict(datalist[0], label=7)]).ok


def test_bad_class_labels_are_reported_with_the_file(images, tmp_path):
    datalist = [
        {"image": images[0], "label": 3, "id": "a"},  # out of range for 3 classes
        {"image": images[1], "label": -1, "id": "b"},
        {"image": images[2], "label": 1.5, "id": "c"},
        {"image": images[3], "label": "1", "id": "d"},  # a string is a mask path, and this file does not exist
        {"image": images[4], "label": 2, "id": "a"},  # duplicate id
        {"image": str(tmp_path / "missing.png"), "label": 0, "id": "f"},
    ]
    report = validate_dataset(datalist, num_classes=3)
    found = {(p.path.rsplit("/", 1)[-1], p.message) for p in report.problems}
    assert ("p0.png", "label 3 is out of range for 3 classes (expected 0..2)") in found
    assert ("p1.png", "label -1 is out of range for 3 classes (expected 0..2)") in found
    assert ("p2.png", "label 1.5 is not an integer class index") in found
    assert ("1", "file not found") in found
    assert any(name == "p4.png" and "duplicate id 'a'" in message for name, message in found)
    assert ("missing.png", "file not found") in found
    assert len(report.problems) == 6


def test_ensure_valid_dataset_stops_on_an_unreadable_image(images, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    train = [{"image": p, "label": i % 2, "id": f"p{i}"} for i, p in enumerate(images[:4])]
    val = [{"image": str(broken), "label": 1, "id": "broken"}]
    assert ensure_valid_dataset(train, name="histology", num_classes=2).ok
    with pytest.raises(DataError, match="broken.png") as info:
        ensure_valid_dataset(train, val, name="histology", num_classes=2)
    assert "histology failed validation" in str(info.value)


def test_check_datalists_is_the_config_form_with_a_switch(images, tmp_path):
    from monai.bundle import ConfigParser

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    train = [{"image": p, "label": i % 2, "id": f"p{i}"} for i, p in enumerate(images[:4])]
    val = [{"image": str(broken), "label": 1, "id": "broken"}]
    config = {
        "validate_data": True,
        "train": train,
        "val": val,
        "check": {
            "_target_": "monai_ext.data.check_datalists", "datalists": ["@train", "@val"], "name": "histology",
            "num_classes": 2, "enabled": "@validate_data",
        },
    }
    # MONAI wraps what a `_target_` raises; the DataError is the cause (the bundle command line prints it alone)
    with pytest.raises(RuntimeError) as info:
        ConfigParser(config).get_parsed_content("check")
    assert isinstance(info.value.__cause__, DataError)
    assert "histology failed validation" in str(info.value.__cause__) and "broken.png" in str(info.value.__cause__)
    assert ConfigParser(dict(config, validate_data=False)).get_parsed_content("check") is None
    report = ConfigParser(dict(config, val=[])).get_parsed_content("check")
    assert report.ok and report.num_entries == 4
