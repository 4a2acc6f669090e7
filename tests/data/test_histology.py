# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the sai_diagnosis dataset builders and of the embedded histology patches."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import re
import struct
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import monai_ext
from monai_ext.data import (
    DataError,
    DatasetLayoutError,
    PCamDataset,
    build_cadcap_datalist,
    build_class_folder_datalist,
    build_histology_datalist,
    build_kvasir_capsule_datalist,
    build_sr_folder_datalist,
    k_fold_split,
)

SAMPLE = Path(monai_ext.__file__).parent / "data" / "sample"
PATCH_DIR = SAMPLE / "histology_96"
HR_DIR = SAMPLE / "histology_hr"
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bundles" / "sai_diagnosis" / "scripts" / "make_histology_patches.py"
WHEEL = Path(os.environ.get("HISTOLYTICS_WHEEL", "/tmp/histolytics_wheel/histolytics-0.3.0-py3-none-any.whl"))
ID_PATTERN = re.compile(r"^(nest|stroma)_r(\d{4})_c(\d{4})$")
PATCH, CENTRE, CROP = 96, 32, 1500

needs_wheel = pytest.mark.skipif(not WHEEL.is_file(), reason=f"histolytics wheel not found at {WHEEL}")


def _origin(patch_id: str) -> tuple[str, int, int]:
    match = ID_PATTERN.match(patch_id)
    assert match, patch_id
    return match.group(1), int(match.group(2)), int(match.group(3))


def _write_png(path: Path, value: int = 0, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


# ---------------------------------------------------------------- embedded dataset


def test_embedded_splits_balanced_and_disjoint():
    datalists = {s: build_histology_datalist(PATCH_DIR, s) for s in ("train", "val", "test")}
    everything = build_histology_datalist(PATCH_DIR, "all")
    splits = json.loads((PATCH_DIR / "splits.json").read_text())
    assert len(everything) == len(splits) == sum(len(d) for d in datalists.values())
    assert len(list(PATCH_DIR.glob("*/*.png"))) == len(splits)
    for split, datalist in datalists.items():
        labels = Counter(d["label"] for d in datalist)
        assert labels[0] > 0 and labels[1] > 0, split
        assert labels[0] == labels[1], split  # one normal per tumour patch in every split
        for d in datalist:
            assert Path(d["image"]).parent.name == ("tumour" if d["label"] else "normal")
            assert splits[d["id"]] == split
    # the test split is a real hold-out: at least 15 % of the data
    assert len(datalists["test"]) >= 0.15 * len(everything)


def test_embedded_patches_do_not_overlap_across_splits():
    splits = json.loads((PATCH_DIR / "splits.json").read_text())
    boxes = {s: [] for s in ("train", "val", "test")}
    for patch_id, split in splits.items():
        crop, top, left = _origin(patch_id)
        assert 0 <= top <= CROP - PATCH and 0 <= left <= CROP - PATCH
        boxes[split].append((crop, top, left))
    for a in boxes:
        for b in boxes:
            if a >= b:
                continue
            for crop in ("nest", "stroma"):
                pa = np.array([(t, l) for c, t, l in boxes[a] if c == crop]).reshape(-1, 1, 2)
                pb = np.array([(t, l) for c, t, l in boxes[b] if c == crop]).reshape(1, -1, 2)
                overlap = (np.abs(pa - pb) < PATCH).all(-1)
                assert not overlap.any(), f"{a} and {b} patches overlap in {crop}"


def test_embedded_patch_files_and_hr_tiles():
    for path in sorted(PATCH_DIR.glob("*/*.png"))[::25]:
        with Image.open(path) as im:
            assert im.mode == "RGB" and im.size == (PATCH, PATCH)
    hr = build_sr_folder_datalist(HR_DIR)
    assert len(hr) >= 16 and {Path(d["image"]).parent.name for d in hr} == {"train", "val"}
    for d in hr:
        with Image.open(d["image"]) as im:
            assert im.mode == "RGB" and im.size == (192, 192)
    # HR tiles come from train / val blocks only: no overlap with any test patch
    test_boxes = [_origin(k) for k, v in json.loads((PATCH_DIR / "splits.json").read_text()).items() if v == "test"]
    for d in hr:
        crop, top, left = _origin(Path(d["image"]).stem)
        for c, t, l in test_boxes:
            assert c != crop or not (t < top + 192 and top < t + PATCH and l < left + 192 and left < l + PATCH)
    total = sum(p.stat().st_size for folder in (PATCH_DIR, HR_DIR) for p in folder.rglob("*") if p.is_file())
    assert total < 8.5e6
    for folder in (PATCH_DIR, HR_DIR):
        text = (folder / "LICENSE.txt").read_text()
        assert "BSD 3-Clause" in text and "HautaniemiLab" in text and "histolytics" in text


# ---------------------------------------------------------------- re-derivation from the source wheel


def _decode_wkb(wkb: bytes) -> np.ndarray:
    """Exterior ring of a little-endian 2-D WKB polygon (written independently of the generation script)."""
    assert wkb[0] == 1 and struct.unpack("<I", wkb[1:5])[0] == 3
    n = struct.unpack("<I", wkb[9:13])[0]
    return np.frombuffer(wkb[13 : 13 + 16 * n], "<f8").reshape(n, 2)


def _inside(ring: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Even-odd ray casting at pixel centres (x = column, y = row)."""
    px, py = xs + 0.0, ys + 0.0
    inside = np.zeros(np.broadcast(px, py).shape, bool)
    x0, y0 = ring[:-1, 0], ring[:-1, 1]
    x1, y1 = ring[1:, 0], ring[1:, 1]
    for a, b, c, d in zip(x0, y0, x1, y1):
        crosses = (b > py) != (d > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = a + (py - b) * (c - a) / (d - b)
        inside ^= crosses & (px < x_cross)
    return inside


@needs_wheel
def test_labels_rederived_from_source_arrays():
    wheel = zipfile.ZipFile(WHEEL)
    nest_type = np.load(io.BytesIO(wheel.read("histolytics/data/hgsc_nest_type_mask.npz")))["nuc_raster"]
    images = {
        "nest": np.asarray(Image.open(io.BytesIO(wheel.read("histolytics/data/hgsc_nest.jpg"))).convert("RGB")),
        "stroma": np.asarray(Image.open(io.BytesIO(wheel.read("histolytics/data/hgsc_stromal_he.jpg"))).convert("RGB")),
    }
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(io.BytesIO(wheel.read("histolytics/data/hgsc_stromal_cells.parquet")))
    rings = [
        _decode_wkb(g)
        for g, c in zip(table.column("geometry").to_pylist(), table.column("class_name").to_pylist())
        if c == "neoplastic"
    ]
    assert len(rings) > 0
    off = (PATCH - CENTRE) // 2
    checked = Counter()
    for d in build_histology_datalist(PATCH_DIR, "all"):
        crop, top, left = _origin(d["id"])
        if crop == "nest":
            centre = nest_type[top + off : top + off + CENTRE, left + off : left + off + CENTRE]
            assert d["label"] == int((centre == 3).any()), d["id"]
        else:
            # tolerant at the polygon boundary: tumour -> a neoplastic pixel in the centre grown by 1 px,
            # normal -> none in the centre shrunk by 1 px
            grow = 1 if d["label"] else -1
            r0, r1 = top + off - grow, top + off + CENTRE + grow
            c0, c1 = left + off - grow, left + off + CENTRE + grow
            ys, xs = np.meshgrid(np.arange(r0, r1) + 0.5, np.arange(c0, c1) + 0.5, indexing="ij")
            hit = any(_inside(ring, ys, xs).any() for ring in rings)
            assert hit == bool(d["label"]), d["id"]
        checked[(crop, d["label"])] += 1
        if checked[(crop, d["label"])] <= 3:  # pixel content of a few patches per crop and class
            with Image.open(d["image"]) as im:
                patch = np.asarray(im).astype(np.int16)
            source = images[crop][top : top + PATCH, left : left + PATCH].astype(np.int16)
            assert np.abs(patch - source).mean() < 1.0, d["id"]
    assert checked[("stroma", 1)] > 0 and checked[("nest", 0)] > 0


@needs_wheel
def test_generation_script_reproduces_the_embedded_dataset(tmp_path):
    pytest.importorskip("pyarrow.parquet")
    spec = importlib.util.spec_from_file_location("make_histology_patches", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.polygon_check_iou(script.source_reader(WHEEL)) > 0.9  # polygon convention matches the raster
    summary = script.generate(WHEEL, tmp_path / "histology_96", tmp_path / "histology_hr")
    assert (tmp_path / "histology_96" / "splits.json").read_text() == (PATCH_DIR / "splits.json").read_text()
    for name in ("histology_96", "histology_hr"):
        ours = sorted(p.relative_to(tmp_path / name).as_posix() for p in (tmp_path / name).rglob("*"))
        assert ours == sorted(p.relative_to(SAMPLE / name).as_posix() for p in (SAMPLE / name).rglob("*"))
    assert (tmp_path / "histology_96" / "README.md").read_text() == (PATCH_DIR / "README.md").read_text()
    assert set(summary["stroma_polygon_classes"]) == {"connective", "inflammatory", "neoplastic"}
    n_files = {c: len(list((tmp_path / "histology_96" / c).glob("*.png"))) for c in ("normal", "tumour")}
    for cls, n in n_files.items():
        assert n == sum(v for counts in summary["counts"].values() for k, v in counts.items() if k.startswith(cls))


# ---------------------------------------------------------------- builders on generated folders


def test_histology_builder_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="splits.json"):
        build_histology_datalist(tmp_path, "train")
    _write_png(tmp_path / "normal" / "a.png")
    _write_png(tmp_path / "tumour" / "b.png")
    (tmp_path / "splits.json").write_text(json.dumps({"a": "train", "b": "test"}))
    assert build_histology_datalist(tmp_path, "train") == [
        {"image": str(tmp_path / "normal" / "a.png"), "label": 0, "id": "a"}
    ]
    assert [d["id"] for d in build_histology_datalist(tmp_path, ["train", "test"])] == ["a", "b"]
    with pytest.raises(DatasetLayoutError, match="unknown split"):
        build_histology_datalist(tmp_path, "validation")
    _write_png(tmp_path / "tumour" / "c.png")
    with pytest.raises(DatasetLayoutError, match="c.png"):
        build_histology_datalist(tmp_path, "train")


def test_sr_folder_builder(tmp_path):
    for rel in ("b/2.png", "a/1.JPG", "a/sub/0.tif", "c.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")  # the builder lists files, it does not decode them
    (tmp_path / "notes.txt").write_text("not an image")
    _write_png(tmp_path / ".hidden" / "x.png")
    datalist = build_sr_folder_datalist(tmp_path)
    assert [Path(d["image"]).relative_to(tmp_path).as_posix() for d in datalist] == [
        "a/1.JPG",
        "a/sub/0.tif",
        "b/2.png",
        "c.png",
    ]
    assert [d["id"] for d in datalist] == ["a_1", "a_sub_0", "b_2", "c"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="no image file"):
        build_sr_folder_datalist(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        build_sr_folder_datalist(tmp_path / "missing")


def test_cadcap_builder(tmp_path):
    for cls, n in (("Normal", 2), ("inflammatory", 1), ("vascular", 3)):
        for i in range(n):
            _write_png(tmp_path / cls / f"{cls}_{i}.png")
    datalist = build_cadcap_datalist(tmp_path)
    assert Counter(d["label"] for d in datalist) == {0: 2, 1: 1, 2: 3}
    assert all(d["id"].lower().startswith(("normal", "inflammatory", "vascular")[d["label"]]) for d in datalist)
    for p in (tmp_path / "vascular").iterdir():
        p.unlink()
    (tmp_path / "vascular").rmdir()
    with pytest.raises(DatasetLayoutError, match="vascular"):
        build_cadcap_datalist(tmp_path)


def test_kvasir_capsule_builder(tmp_path):
    root = tmp_path / "labelled_images"
    for cls in ("Normal clean mucosa", "Angiectasia", "Foreign body"):
        _write_png(root / cls / f"{cls[:3]}.jpg")
    datalist = build_kvasir_capsule_datalist(tmp_path)
    names = sorted(["Normal clean mucosa", "Angiectasia", "Foreign body"])
    assert [(Path(d["image"]).parent.name, d["label"]) for d in datalist] == [(n, i) for i, n in enumerate(names)]
    subset = build_kvasir_capsule_datalist(root, classes=["Normal clean mucosa", "Angiectasia"])
    assert [(Path(d["image"]).parent.name, d["label"]) for d in subset] == [
        ("Normal clean mucosa", 0),
        ("Angiectasia", 1),
    ]
    with pytest.raises(DatasetLayoutError, match="Polyp"):
        build_class_folder_datalist(root, classes=["Polyp"])
    (root / "Empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="holds no image"):
        build_class_folder_datalist(root)


# ---------------------------------------------------------------- PCam HDF5


def _write_pcam(folder: Path, split: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
    y = rng.integers(0, 2, (n, 1, 1, 1), dtype=np.uint8)
    with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(1, 96, 96, 3))
    with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
        f.create_dataset("y", data=y)
    return x, y


def test_pcam_dataset(tmp_path):
    pytest.importorskip("h5py")
    x, y = _write_pcam(tmp_path, "valid", 5)
    dataset = PCamDataset(tmp_path, "val")
    assert len(dataset) == 5
    for i in (0, 3, -1):
        item = dataset[i]
        assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 96, 96)
        assert torch.equal(item["image"], torch.from_numpy(x[i]).permute(2, 0, 1))
        assert item["label"] == int(y[i, 0, 0, 0]) and isinstance(item["label"], int)
    assert dataset[-1]["id"] == "pcam_valid_000004"
    with pytest.raises(IndexError):
        dataset[5]
    clone = pickle.loads(pickle.dumps(dataset))  # picklable after opening (DataLoader workers)
    assert torch.equal(clone[2]["image"], dataset[2]["image"])
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=5)))
    assert batch["image"].shape == (5, 3, 96, 96) and batch["label"].tolist() == y.reshape(-1).tolist()
    scaled = PCamDataset(tmp_path, "valid", transform=lambda d: {**d, "image": d["image"].float() / 255})
    assert torch.allclose(scaled[1]["image"], torch.from_numpy(x[1]).permute(2, 0, 1).float() / 255)


def test_pcam_errors(tmp_path):
    h5py = pytest.importorskip("h5py")
    (tmp_path / "camelyonpatch_level_2_split_test_x.h5.gz").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match="decompress"):
        PCamDataset(tmp_path, "test")
    with pytest.raises(DatasetLayoutError, match="unknown PCam split"):
        PCamDataset(tmp_path, "training")
    _write_pcam(tmp_path, "train", 3)
    with h5py.File(tmp_path / "camelyonpatch_level_2_split_train_y.h5", "w") as f:
        f.create_dataset("y", data=np.zeros((2, 1, 1, 1), np.uint8))
    with pytest.raises(DataError, match="split_train_y.h5"):
        PCamDataset(tmp_path, "train")


# ---------------------------------------------------------------- k-fold


def test_k_fold_stratified_and_disjoint():
    labels = [0] * 23 + [1] * 11 + [2] * 6
    datalist = [{"image": f"{i}.png", "label": lab, "id": str(i)} for i, lab in enumerate(labels)]
    k = 5
    seen = []
    for fold in range(k):
        train, val = k_fold_split(datalist, k, fold, seed=3)
        ids_train, ids_val = {d["id"] for d in train}, {d["id"] for d in val}
        assert not ids_train & ids_val and len(ids_train | ids_val) == len(datalist)
        assert [d["id"] for d in val] == sorted((d["id"] for d in val), key=int)  # input order kept
        for label, n in Counter(labels).items():
            n_val = sum(d["label"] == label for d in val)
            assert n // k <= n_val <= -(-n // k)  # floor(n/k) .. ceil(n/k)
        assert len(datalist) // k <= len(val) <= -(-len(datalist) // k)
        seen += [d["id"] for d in val]
    assert sorted(seen, key=int) == [d["id"] for d in datalist]  # val parts partition the data
    assert k_fold_split(datalist, k, 1, seed=3) == k_fold_split(datalist, k, 1, seed=3)
    assert k_fold_split(datalist, k, 1, seed=3)[1] != k_fold_split(datalist, k, 1, seed=4)[1]


def test_k_fold_errors():
    datalist = [{"image": "a", "label": 0}, {"image": "b", "label": 1}]
    with pytest.raises(ValueError, match="k must"):
        k_fold_split(datalist, 1, 0)
    with pytest.raises(ValueError, match="fold must"):
        k_fold_split(datalist, 2, 2)
    with pytest.raises(ValueError, match="label"):
        k_fold_split([{"image": "a"}], 2, 0)
