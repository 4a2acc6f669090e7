# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Classification layouts of the registry (``histology_96``, ``pcam``, ``cadcap``, ``kvasir_capsule``) against the
data lists the ``sai_diagnosis`` configs built by hand before the registry covered them: the same entries, in the
same order, with the same labels, for every split and fold option."""

from __future__ import annotations

import os
import pathlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_ext.data import (
    DatasetLayoutError,
    PCamDataset,
    build_cadcap_datalist,
    build_datalist,
    build_histology_datalist,
    build_kvasir_capsule_datalist,
    embedded_dataset_dir,
    k_fold_split,
    kvasir_capsule_classes,
    stratified_holdout,
)
from monai_ext.data.validate import main as validate_main

HISTOLOGY = embedded_dataset_dir("histology_96")


# ---------------------------------------------------------------------------------------------------------------------
# the expressions of the sai_diagnosis configs before the registry (train.json, datasets/{cadcap,kvasir_capsule}.json)


def _old_train_json(pools: dict, eval_split: str, num_folds: int, fold: int, fold_seed: int) -> tuple[list, list]:
    """``train_datalist`` and ``val_datalist`` of the former train.json from its three pools."""
    kfold_pool = pools["kfold_pool"]
    train = k_fold_split(kfold_pool, num_folds, fold, fold_seed)[0] if num_folds > 1 else pools["train_pool"]
    val = k_fold_split(kfold_pool, num_folds, fold, fold_seed)[1] if num_folds > 1 else pools["val_pool"]
    return train, val


def _old_histology_pools(dataset_dir: str, eval_split: str) -> dict:
    return {
        "train_pool": build_histology_datalist(dataset_dir, "train"),
        "val_pool": build_histology_datalist(dataset_dir, eval_split),
        "kfold_pool": build_histology_datalist(dataset_dir, ["train", "val"]),
    }


def _old_holdout_pools(kfold_pool: list[dict], fold_seed: int) -> dict:
    return {
        "kfold_pool": kfold_pool,
        "train_pool": stratified_holdout(kfold_pool, [d["label"] for d in kfold_pool], 0.2, fold_seed)[0],
        "val_pool": stratified_holdout(kfold_pool, [d["label"] for d in kfold_pool], 0.2, fold_seed)[1],
    }


def _old_kvasir_class_names(dataset_dir: str) -> list[str]:
    return sorted(
        p.name
        for p in pathlib.Path(
            dataset_dir, "labelled_images" if os.path.isdir(os.path.join(dataset_dir, "labelled_images")) else ""
        ).iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )


def _new_lists(dataset: str, dataset_dir: str | None, eval_split: str, **options) -> tuple[list, list]:
    return (
        build_datalist(dataset, dataset_dir, "train", **options),
        build_datalist(dataset, dataset_dir, eval_split, **options),
    )


FOLD_CASES = [(1, 0, 0), (1, 0, 3), (3, 1, 0), (5, 4, 2), (2, 0, 1)]


# ---------------------------------------------------------------------------------------------------------------------
# small real image trees


def _write_image(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    Image.fromarray(np.full((6, 6, 3), value % 256, np.uint8)).save(path, "JPEG" if suffix == ".jpg" else "PNG")


def _class_tree(root: Path, counts: dict[str, int]) -> None:
    """``root/<class>/...`` with ``counts[class]`` small images, some in a nested folder, mixed suffixes."""
    for c, (name, count) in enumerate(counts.items()):
        for i in range(count):
            sub = "nested/" if i % 4 == 3 else ""
            _write_image(root / name / f"{sub}{name[:3].lower()}_{i:02d}{'.jpg' if i % 3 == 0 else '.png'}", c * 40 + i)


@pytest.fixture(scope="module")
def cadcap_dir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("cadcap")
    _class_tree(root, {"Normal": 11, "inflammatory": 7, "Vascular": 6})
    return str(root)


@pytest.fixture(scope="module")
def kvasir_dir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("kvasir")
    _class_tree(root / "labelled_images", {"Normal clean mucosa": 9, "Angiectasia": 5, "Foreign body": 4, "Ulcer": 3})
    (root / "labelled_images" / ".cache").mkdir()  # hidden folders are not classes
    return str(root)


def _histology_tree(root: Path, items: list[dict], splits: dict[str, str]) -> str:
    import json

    for d in items:
        target = root / ("normal", "tumour")[d["label"]] / Path(d["image"]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(d["image"]).read_bytes())
    (root / "splits.json").write_text(json.dumps({d["id"]: splits[d["id"]] for d in items}))
    return str(root)


# ---------------------------------------------------------------------------------------------------------------------
# histology


@pytest.mark.parametrize("eval_split", ["val", "test"])
@pytest.mark.parametrize("num_folds, fold, fold_seed", FOLD_CASES)
def test_histology_matches_former_train_json(eval_split, num_folds, fold, fold_seed):
    old = _old_train_json(_old_histology_pools(HISTOLOGY, eval_split), eval_split, num_folds, fold, fold_seed)
    options = {"num_folds": num_folds, "fold": fold, "fold_seed": fold_seed}
    assert _new_lists("histology_96", HISTOLOGY, eval_split, **options) == old
    assert _new_lists("histology_96", None, eval_split, **options) == old  # the embedded copy by default


def test_histology_splits_and_all(tmp_path):
    for split in ("train", "val", "test", "all"):
        assert build_datalist("histology_96", None, split) == build_histology_datalist(HISTOLOGY, split)
    pool = build_histology_datalist(HISTOLOGY, ["train", "val"])
    assert build_datalist("histology", None, "all", num_folds=3, fold=2) == pool
    # a copy of a few patches in the same layout
    source = build_histology_datalist(HISTOLOGY, "all")
    items = [d for d in source if d["label"] == 0][:5] + [d for d in source if d["label"] == 1][:5]
    splits = {d["id"]: ("train", "val", "test")[i % 3] for i, d in enumerate(items)}
    root = _histology_tree(tmp_path / "histology", items, splits)
    for split in ("train", "val", "test"):
        got = build_datalist("histology_96", root, split)
        assert got == build_histology_datalist(root, split)
        assert {d["id"] for d in got} == {i for i, s in splits.items() if s == split}
    old = _old_train_json(_old_histology_pools(root, "val"), "val", 2, 1, 0)
    assert _new_lists("histology_96", root, "val", num_folds=2, fold=1, fold_seed=0) == old


# ---------------------------------------------------------------------------------------------------------------------
# CAD-CAP and Kvasir-Capsule


@pytest.mark.parametrize("eval_split", ["val", "test"])
@pytest.mark.parametrize("num_folds, fold, fold_seed", FOLD_CASES)
def test_cadcap_matches_former_config(cadcap_dir, eval_split, num_folds, fold, fold_seed):
    pools = _old_holdout_pools(build_cadcap_datalist(cadcap_dir), fold_seed)
    old = _old_train_json(pools, eval_split, num_folds, fold, fold_seed)
    options = {"val_fraction": 0.2, "seed": fold_seed, "num_folds": num_folds, "fold": fold, "fold_seed": fold_seed}
    new = _new_lists("cadcap", cadcap_dir, eval_split, **options)
    assert new == old
    train, val = new
    assert {d["label"] for d in train} == {d["label"] for d in val} == {0, 1, 2}
    assert not {d["image"] for d in train} & {d["image"] for d in val}
    assert len(train) + len(val) == 24


@pytest.mark.parametrize("eval_split", ["val", "test"])
@pytest.mark.parametrize("num_folds, fold, fold_seed", FOLD_CASES)
def test_kvasir_capsule_matches_former_config(kvasir_dir, eval_split, num_folds, fold, fold_seed):
    class_names = _old_kvasir_class_names(kvasir_dir)
    pools = _old_holdout_pools(build_kvasir_capsule_datalist(kvasir_dir, class_names), fold_seed)
    old = _old_train_json(pools, eval_split, num_folds, fold, fold_seed)
    options = {"val_fraction": 0.2, "seed": fold_seed, "num_folds": num_folds, "fold": fold, "fold_seed": fold_seed}
    assert _new_lists("kvasir_capsule", kvasir_dir, eval_split, classes=class_names, **options) == old
    assert _new_lists("kvasir_capsule", kvasir_dir, eval_split, **options) == old  # classes default to the same


def test_kvasir_capsule_classes_helper(kvasir_dir, tmp_path):
    expected = ["Angiectasia", "Foreign body", "Normal clean mucosa", "Ulcer"]
    assert kvasir_capsule_classes(kvasir_dir) == _old_kvasir_class_names(kvasir_dir) == expected
    inner = os.path.join(kvasir_dir, "labelled_images")
    assert kvasir_capsule_classes(inner) == _old_kvasir_class_names(inner) == expected
    subset = ["Ulcer", "Angiectasia"]
    train = build_datalist("kvasir", kvasir_dir, "train", classes=subset)
    assert {(Path(d["image"]).parent.name, d["label"]) for d in train} == {("Ulcer", 0), ("Angiectasia", 1)}
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="no class subfolder"):
        kvasir_capsule_classes(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        kvasir_capsule_classes(tmp_path / "missing")


def test_holdout_options_all_split_and_errors(cadcap_dir):
    pool = build_cadcap_datalist(cadcap_dir)
    assert build_datalist("cadcap", cadcap_dir, "all") == pool  # every entry once, although val == test
    assert build_datalist("cadcap", cadcap_dir, "all", num_folds=5, fold=1) == pool
    assert build_datalist("cadcap", cadcap_dir, "val") == build_datalist("cadcap", cadcap_dir, "test")
    train, held = stratified_holdout(pool, [d["label"] for d in pool], 0.3, 7)
    assert build_datalist("cadcap", cadcap_dir, "train", val_fraction=0.3, seed=7) == train
    assert build_datalist("cad-cap", cadcap_dir, "val", val_fraction=0.3, seed=7) == held
    assert build_datalist("cadcap", cadcap_dir, "train", val_fraction=0.0) == pool
    with pytest.raises(DatasetLayoutError, match="split 'val' is empty.*val_fraction > 0"):
        build_datalist("cadcap", cadcap_dir, "val", val_fraction=0.0)
    with pytest.raises(ValueError, match="num_folds must be at least 1"):
        build_datalist("cadcap", cadcap_dir, "train", num_folds=0)
    with pytest.raises(ValueError, match="fold must be in"):
        build_datalist("cadcap", cadcap_dir, "train", num_folds=5, fold=5)
    with pytest.raises(ValueError, match="unknown option.*classes"):
        build_datalist("cadcap", cadcap_dir, "train", classes=["normal"])
    with pytest.raises(DatasetLayoutError, match="dataset_dir not given"):
        build_datalist("cadcap", None, "train")
    with pytest.raises(ValueError, match="unknown option.*val_fraction"):
        build_datalist("histology_96", None, "train", val_fraction=0.2)  # a fixed split


def test_validate_command_on_a_class_folder_dataset(cadcap_dir, capsys):
    assert validate_main(["--dataset", "cadcap", "--dataset_dir", cadcap_dir]) == 0
    assert "checked 24 entries: 0 problem(s)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------------------
# PCam


def _write_pcam(folder: Path, split: str, n: int, seed: int) -> None:
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
        f["x"] = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
    with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
        f["y"] = rng.integers(0, 2, (n, 1, 1, 1), dtype=np.uint8)


def test_pcam_entries_match_pcam_dataset(tmp_path, capsys):
    pytest.importorskip("h5py")
    for seed, (split, n) in enumerate((("train", 6), ("valid", 3), ("test", 4))):
        _write_pcam(tmp_path, split, n, seed)
    for split in ("train", "val", "test"):
        entries = build_datalist("pcam", str(tmp_path), split)
        dataset = PCamDataset(tmp_path, split)
        assert len(entries) == len(dataset)
        for i, entry in enumerate(entries):
            item = dataset[i]
            assert (entry["id"], entry["label"], entry["index"]) == (item["id"], item["label"], i)
            assert entry["image"] == str(dataset.x_path)
    everything = build_datalist("patch_camelyon", str(tmp_path), "all")
    assert [d["id"] for d in everything][:1] == ["pcam_train_000000"] and len(everything) == 13
    with pytest.raises(ValueError, match="unknown option.*num_folds"):
        build_datalist("pcam", str(tmp_path), "train", num_folds=5)
    assert validate_main(["--dataset", "pcam", "--dataset_dir", str(tmp_path)]) == 0
    assert "13 entries listed" in capsys.readouterr().out
    (tmp_path / "camelyonpatch_level_2_split_test_y.h5").unlink()
    with pytest.raises(DatasetLayoutError, match="missing"):
        build_datalist("pcam", str(tmp_path), "test")
