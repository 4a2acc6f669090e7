# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dataset builders on tiny generated files in the official layouts."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest

from monai_ext.data import DataError, DatasetLayoutError, build_datalist, list_datasets, seeded_holdout
from monai_ext.data.layouts import stratified_holdout
from tests.data import fakes


def ids(entries):
    return [e["id"] for e in entries]


def assert_partition(train, val, test, total):
    all_ids = ids(train) + ids(val) + ids(test)
    assert len(all_ids) == total and len(set(all_ids)) == total


def test_registry_lists_every_layout():
    expected = {"drive", "chase_db1", "chasedb1", "hrf", "stare", "fives", "prime_fp20", "idrid", "e_ophtha_ex", "ddr",
                "idrid_ex_512"}
    assert expected <= set(list_datasets())


def test_unknown_dataset_split_and_option():
    with pytest.raises(ValueError, match="available datasets: .*drive"):
        build_datalist("nope", "/tmp")
    with pytest.raises(ValueError, match="split must be one of"):
        build_datalist("chasedb1", split="training")
    with pytest.raises(ValueError, match="unknown option.*use_fov.*accepted options"):
        build_datalist("chasedb1", split="train", use_fov=True)


def test_seeded_holdout_matches_reference_permutation():
    items = [f"x{i}" for i in range(54)]
    kept, held = seeded_holdout(items, 0.2, 66)
    n_test = math.ceil(0.2 * 54)  # train_test_split's rule: ceil(test_size * n) at the head of the permutation
    reference = {items[i] for i in np.random.RandomState(66).permutation(54)[:n_test]}
    assert set(held) == reference and len(held) == 11 and len(kept) == 43
    assert kept == [x for x in items if x not in reference]  # order kept
    assert seeded_holdout(items, 0.2, 66) == (kept, held)
    assert seeded_holdout(items, 0.2, 0)[1] != held
    assert seeded_holdout(list(range(30)), 0.1, 0)[1].__len__() == 3  # no float noise (0.1 * 30 = 3.0000000000000004)
    with pytest.raises(DatasetLayoutError, match="nothing would be left"):
        seeded_holdout([1], 0.2, 0)
    with pytest.raises(ValueError):
        seeded_holdout(items, 1.0, 0)


def test_stratified_holdout_keeps_class_proportions():
    classes = ["A"] * 10 + ["N"] * 20 + ["G"] * 5
    items = list(range(len(classes)))
    kept, held = stratified_holdout(items, classes, 0.2, 0)
    held_classes = [classes[i] for i in held]
    assert held_classes.count("A") == 2 and held_classes.count("N") == 4 and held_classes.count("G") == 1
    assert sorted(kept + held) == items


def test_drive(tmp_path):
    root = fakes.make_drive(tmp_path / "DRIVE")
    train = build_datalist("drive", str(tmp_path), "train", use_fov=True)  # parent folder accepted
    val = build_datalist("drive", str(root), "val", use_fov=True)
    test = build_datalist("drive", str(root), "test")
    assert (len(train), len(val), len(test)) == (4, 1, 3)  # ceil(0.2 * 5) = 1 held out
    assert_partition(train, val, test, 8)
    entry = train[0]
    assert entry["id"].endswith("_training") and entry["label"].endswith("_manual1.gif")
    assert entry["fov"].endswith("_training_mask.gif") and "fov" not in test[0]
    assert os.path.basename(entry["label"]).split("_")[0] == entry["id"].split("_")[0]
    second = build_datalist("drive", str(root), "test", annotator=2)
    assert all(e["label"].endswith("_manual2.gif") for e in second)
    assert len(build_datalist("drive", str(root), "all")) == 8
    assert len(build_datalist("drive", str(root), "train", val_fraction=0)) == 5


def test_drive_test_without_manual_raises_clearly(tmp_path):
    root = fakes.make_drive(tmp_path / "DRIVE", test_labels=False)
    assert len(build_datalist("drive", str(root), "train", val_fraction=0)) == 5
    with pytest.raises(DatasetLayoutError, match=r"1st_manual: folder not found.*without manual annotations"):
        build_datalist("drive", str(root), "test")


def test_chase_db1_split_and_annotator(tmp_path):
    root = fakes.make_chase(tmp_path / "CHASEDB1")
    full_train = build_datalist("chase_db1", str(root), "train", val_fraction=0)
    test = build_datalist("chase_db1", str(root), "test")
    assert ids(full_train) == fakes.chase_stems()[:20] and ids(test) == fakes.chase_stems()[20:]
    train, val = build_datalist("chase_db1", str(root), "train"), build_datalist("chase_db1", str(root), "val")
    assert (len(train), len(val)) == (16, 4)
    assert_partition(train, val, test, 28)
    assert all(e["label"] == e["image"][:-4] + "_2ndHO.png" for e in build_datalist("chase", str(root), "test",
                                                                                      annotator=2))


def test_hrf_authors_and_15_30(tmp_path):
    root = fakes.make_hrf(tmp_path / "HRF")
    parts = [build_datalist("hrf", str(root), s, use_fov=True) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [28, 8, 9]  # 45 -> ceil(9.0) = 9 test; 36 -> ceil(7.2) = 8 val
    assert_partition(*parts, 45)
    assert any(e["image"].endswith(".JPG") for e in parts[0] + parts[1] + parts[2])  # mixed suffix case found
    assert all(e["fov"].endswith(e["id"] + "_mask.tif") for e in parts[0])
    common = [build_datalist("hrf", str(root), s, split_mode="15_30", val_fraction=0.0) for s in ("train", "test")]
    assert len(common[0]) == 15 and len(common[1]) == 30
    assert {e["id"][:2] for e in common[0]} == {"01", "02", "03", "04", "05"}


def test_stare_conventional_and_leave_one_out(tmp_path):
    root = fakes.make_stare(tmp_path / "STARE")
    train = build_datalist("stare", str(root), "train", val_fraction=0)
    test = build_datalist("stare", str(root), "test")
    assert ids(train) == fakes.STARE_IDS[:10] and ids(test) == fakes.STARE_IDS[10:]  # unlabelled images ignored
    assert test[0]["label"].endswith("im0162.ah.ppm")
    loo = build_datalist("stare", str(root), "test", split_mode="leave_one_out", fold=3)
    assert ids(loo) == ["im0004"]
    assert len(build_datalist("stare", str(root), "train", split_mode="leave_one_out", fold=3, val_fraction=0)) == 19
    assert build_datalist("stare", str(root), "test", annotator="vk")[0]["label"].endswith(".vk.ppm")


def test_stare_gzipped_raises(tmp_path):
    root = tmp_path / "STARE"
    (root / "stare-images").mkdir(parents=True)
    (root / "labels-ah").mkdir()
    (root / "stare-images" / "im0001.ppm.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(DatasetLayoutError, match="stare-images: holds only gzipped files"):
        build_datalist("stare", str(root), "train")


def test_fives_official_split_stratified_val(tmp_path):
    root = fakes.make_fives(tmp_path / "FIVES")
    train, val = build_datalist("fives", str(root), "train"), build_datalist("fives", str(root), "val")
    test = build_datalist("fives", str(root), "test")
    assert (len(train), len(val), len(test)) == (16, 4, 8)
    assert sorted(e["id"][-1] for e in val) == ["A", "D", "G", "N"]  # one per class (ceil(0.2 * 5))
    assert_partition(train, val, test, 28)  # ids stay unique although file names repeat across train/test
    assert ids(test)[:2] == ["test_1_A", "test_2_A"]
    assert all("Ground truth" in e["label"] for e in train)


def test_prime_fp20_groups_do_not_straddle(tmp_path):
    root = fakes.make_prime(tmp_path / "PRIME")
    parts = [build_datalist("prime_fp20", str(root), s, use_fov=True) for s in ("train", "val", "test")]
    folders = [{e["id"].split("_")[0] for e in p} for p in parts]
    assert [len(f) for f in folders] == [6, 2, 2]  # 10 folders -> 2 test, 8 -> 2 val
    assert not (folders[0] & folders[1]) and not (folders[0] & folders[2]) and not (folders[1] & folders[2])
    assert_partition(*parts, 20)
    assert parts[0][0]["fov"].replace("fov", "images") == parts[0][0]["image"]
    few = build_datalist("prime_fp20", str(root), "all", folders=["00", "01", "02", "03", "04"])
    assert len(few) == 10


def test_idrid_official_layout_and_lesions(tmp_path):
    fakes.make_idrid(tmp_path)
    train, val = build_datalist("idrid", str(tmp_path), "train"), build_datalist("idrid", str(tmp_path), "val")
    test = build_datalist("idrid", str(tmp_path / "A. Segmentation"), "test")
    assert (len(train), len(val), len(test)) == (8, 2, 4)
    assert_partition(train, val, test, 14)
    assert all(e["label"].endswith(e["id"] + "_EX.tif") and "3. Hard Exudates" in e["label"] for e in train)
    soft = {e["id"]: e["label"] for e in build_datalist("idrid", str(tmp_path), "test", lesion="SE")}
    assert soft["IDRiD_12"] is None and soft["IDRiD_11"].endswith("IDRiD_11_SE.tif")  # missing SE = no lesion
    multi = build_datalist("idrid", str(tmp_path), "test", lesion="all")
    assert [os.path.basename(p)[-6:-4] for p in multi[0]["label"]] == ["MA", "HE", "EX", "SE"]
    assert multi[1]["label"][3] is None
    pair = build_datalist("idrid", str(tmp_path), "test", lesion=["HE", "MA"])
    assert [os.path.basename(p)[-6:-4] for p in pair[0]["label"]] == ["HE", "MA"]
    with pytest.raises(ValueError, match="lesion must be one of"):
        build_datalist("idrid", str(tmp_path), "test", lesion="XX")


def test_idrid_orphan_mask_strict_and_lenient(tmp_path):
    fakes.make_idrid(tmp_path)
    folder = tmp_path / "A. Segmentation/2. All Segmentation Groundtruths/b. Testing Set/3. Hard Exudates"
    fakes.write(folder / "IDRiD_99_EX.tif", fakes.binary_mask(0))
    with pytest.raises(DatasetLayoutError, match=r"(?s)1 unpaired file.*IDRiD_99_EX.tif: label file without image"):
        build_datalist("idrid", str(tmp_path), "test")
    lenient = build_datalist("idrid", str(tmp_path), "test", strict=False)
    assert lenient[-1]["image"] is None and lenient[-1]["label"].endswith("IDRiD_99_EX.tif")


def test_e_ophtha_healthy_images_have_no_label(tmp_path):
    fakes.make_e_ophtha(tmp_path)
    parts = [build_datalist("e_ophtha_ex", str(tmp_path), s) for s in ("train", "val", "test")]
    assert_partition(*parts, 13)  # 10 EX images + 3 healthy, Thumbs.db ignored
    everything = {e["id"]: e for p in parts for e in p}
    assert everything["C0001"]["label"] is None  # EX image without annotation file
    assert everything["DS0000"]["label"] is None and everything["C0010"]["label"].endswith("C0010_EX.png")
    assert sum(e["label"] is None for e in everything.values()) == 4
    patients = [{os.path.basename(os.path.dirname(e["image"])) for e in p} for p in parts]
    assert [len(p) for p in patients] == [4, 2, 2]  # 8 patients -> ceil(1.6) = 2 test; 6 -> ceil(1.2) = 2 val
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    without_healthy = build_datalist("e_ophtha_ex", str(tmp_path / "e_optha_EX"), "all", include_healthy=False)
    assert len(without_healthy) == 10


def test_ddr_official_folders(tmp_path):
    fakes.make_ddr(tmp_path)
    parts = [build_datalist("ddr", str(tmp_path), s) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [4, 2, 3]
    assert all(os.path.join("valid", "label", "EX") in e["label"] for e in parts[1])
    multi = build_datalist("ddr", str(tmp_path), "test", lesion="all")
    assert [os.path.basename(os.path.dirname(p)) for p in multi[0]["label"]] == ["MA", "HE", "EX", "SE"]
    os.remove(parts[2][0]["label"])
    with pytest.raises(DatasetLayoutError, match=r"no label file, expected .*007-3006-100.tif"):
        build_datalist("ddr", str(tmp_path), "test")
    assert build_datalist("ddr", str(tmp_path), "test", allow_missing_labels=True)[0]["label"] is None


def test_missing_and_empty_folders_name_the_folder(tmp_path):
    absent = tmp_path / "absent"
    with pytest.raises(DatasetLayoutError, match=rf"{absent}: folder not found; expected the DRIVE layout"):
        build_datalist("drive", str(tmp_path / "absent"))
    (tmp_path / "training" / "images").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match=r"training/images: no image files .* \(empty folder\?\)"):
        build_datalist("drive", str(tmp_path))
    empty = tmp_path / "chase"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match=rf"{empty}: no image files.*CHASE_DB1 layout"):
        build_datalist("chase_db1", str(empty))
    with pytest.raises(DataError, match="dataset_dir: not given"):
        build_datalist("hrf", None)


def test_quirky_folder_names_match(tmp_path):
    fakes.make_idrid(tmp_path, n_train=3, n_test=2)
    base = tmp_path / "A. Segmentation"
    shutil.move(base / "2. All Segmentation Groundtruths", base / "2_all_segmentation_groundtruths")
    assert len(build_datalist("idrid", str(tmp_path), "test")) == 2


def test_empty_val_split_is_explained(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"split 'val' is empty.*val_fraction > 0"):
        build_datalist("chasedb1", split="val", val_fraction=0)
