# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""DS2F multi-class lesion segmentation (the paper's Table VIII): ``datasets/idrid_lesions.json`` on a small folder in
the official IDRiD layout (synthetic images and lesion masks, some lesion types missing as in the real data), trained
for one epoch and evaluated: five classes, scores averaged over the four lesion classes, per-class columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_ext.data import build_datalist
from tests.bundles.helpers import bundle_workflow

CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "ds2f" / "configs"
FOLDERS = {"MA": "1. Microaneurysms", "HE": "2. Haemorrhages", "EX": "3. Hard Exudates", "SE": "4. Soft Exudates"}
SIZE = (96, 64)  # PIL (W, H)


def _write_idrid(root: Path) -> Path:
    rng = np.random.default_rng(0)
    seg = root / "A. Segmentation"
    for part, numbers in (("a. Training Set", range(1, 6)), ("b. Testing Set", range(55, 57))):
        images = seg / "1. Original Images" / part
        images.mkdir(parents=True)
        for n in numbers:
            name = f"IDRiD_{n:02d}"
            Image.fromarray(rng.integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8)).save(images / f"{name}.jpg")
            for k, (kind, folder) in enumerate(FOLDERS.items()):
                if kind == "SE" and n % 2:  # soft exudates exist for about half of the images
                    continue
                mask = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8)
                y, x = rng.integers(0, SIZE[1] - 8), rng.integers(0, SIZE[0] - 8)
                mask[y : y + 4 + 2 * k, x : x + 4 + 2 * k] = 255
                out = seg / "2. All Segmentation Groundtruths" / part / folder
                out.mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask).save(out / f"{name}_{kind}.tif")
    return root


def test_idrid_lesions_trains_and_reports_four_lesion_classes(tmp_path):
    dataset = _write_idrid(tmp_path / "IDRiD")
    train = build_datalist("idrid", str(dataset), "train", lesion=["MA", "HE", "EX", "SE"])
    assert all(len(d["label"]) == 4 for d in train) and any(d["label"][3] is None for d in train)
    overrides = {
        "bundle_root": str(tmp_path / "run"),
        "dataset_dir": str(dataset),
        "hr_spatial_size": [32, 64],
        "base_channels": 4,
        "max_epochs": 1,
        "val_interval": 1,
        "validate_data": False,
    }
    files = [CONFIGS / "train.json", CONFIGS / "datasets" / "idrid_lesions.json"]
    workflow = bundle_workflow(CONFIGS, files, "train", initialize=True, **overrides)
    batch = next(iter(workflow.parser.get_parsed_content("train#dataloader")))
    _, targets = workflow.parser.get_parsed_content("train#trainer").prepare_batch(batch, torch.device("cpu"))
    label = targets["label"]
    assert label.shape[1] == 1 and set(torch.unique(label).tolist()) <= {0, 1, 2, 3, 4}
    workflow.run()
    workflow.finalize()
    assert (tmp_path / "run" / "models" / "model.pt").is_file()

    evaluation = bundle_workflow(CONFIGS, files + [CONFIGS / "evaluate.json"], "eval", initialize=True, **overrides)
    evaluation.run()
    evaluation.finalize()
    out = tmp_path / "run" / "eval" / "evaluation"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_classes"] == 5 and summary["num_images"] == 2
    pooled = summary["pooled"]
    # mDice / mIoU: the means of the four lesion classes' pooled scores
    assert pooled["dice"] == pytest.approx(np.mean([pooled[f"dice_{k}"] for k in range(1, 5)]))
    assert pooled["iou"] == pytest.approx(np.mean([pooled[f"iou_{k}"] for k in range(1, 5)]))
    assert summary["headline"]["dice"] == pooled["dice"] and 0.0 <= summary["headline"]["pr_auc"] <= 1.0
    with (out / "metrics.csv").open() as f:
        header = next(csv.reader(f))
    assert {f"dice_{k}" for k in range(1, 5)} <= set(header)
