# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The embedded sample datasets (real files) and their splits."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from monai_ext.data import DataError, build_datalist, embedded_dataset_dir


def ids(entries):
    return [e["id"] for e in entries]


def test_embedded_dataset_dir():
    for name in ("chasedb1", "idrid_ex_512", "IDRiD-EX-512"):
        folder = embedded_dataset_dir(name)
        assert os.path.isabs(folder) and os.path.isdir(folder)
    with pytest.raises(DataError, match="unknown embedded dataset 'drive'") as info:
        embedded_dataset_dir("drive")
    assert "chasedb1" in str(info.value) and "idrid_ex_512" in str(info.value)


def test_chasedb1_conventional_split():
    train = build_datalist("chasedb1", split="train", val_fraction=0)
    test = build_datalist("chasedb1", split="test")
    assert len(train) == 20 and len(test) == 8
    assert ids(train)[0] == "Image_01L" and ids(train)[-1] == "Image_10R"
    assert ids(test) == [f"Image_{c}{e}" for c in range(11, 15) for e in "LR"]
    for entry in train + test:
        assert os.path.isfile(entry["image"]) and entry["label"] == entry["image"][:-4] + "_1stHO.png"
    held_train, val = build_datalist("chasedb1", split="train"), build_datalist("chasedb1", split="val")
    assert (len(held_train), len(val)) == (16, 4) and sorted(ids(held_train) + ids(val)) == sorted(ids(train))
    assert build_datalist("chase_db1", embedded_dataset_dir("chasedb1"), "test") == test


def test_idrid_ex_512_official_split_and_seeded_val():
    full = build_datalist("idrid_ex_512", split="train", val_fraction=0)
    test = build_datalist("idrid_ex_512", split="test")
    assert len(full) == 54 and len(test) == 27
    assert ids(full) == [f"IDRiD_{i:02d}" for i in range(1, 55)]
    assert ids(test) == [f"IDRiD_{i:02d}" for i in range(55, 82)]
    train, val = build_datalist("idrid_ex_512", split="train"), build_datalist("idrid_ex_512", split="val")
    assert (len(train), len(val)) == (43, 11)
    n_val = math.ceil(0.2 * 54)  # train_test_split(test_size=0.2, random_state=66) on the sorted list
    expected = sorted(f"IDRiD_{i + 1:02d}" for i in np.random.RandomState(66).permutation(54)[:n_val])
    assert sorted(ids(val)) == expected
    assert not set(ids(train)) & set(ids(val))
    assert all(e["label"].endswith(e["id"] + "_EX.png") for e in full + test)
    assert len(build_datalist("idrid_ex_512", split="all")) == 81
