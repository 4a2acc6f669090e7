# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the SAI Table V benchmark's pieces: LR simulation, paired augmentation, merging and lr selection."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from benchmarks import quality_sai_diagnosis as qsd


def test_degrade_is_the_antialiased_bicubic_downsampling_of_the_sr_stages():
    from monai_ext.transforms import LowResolutionPaird

    images = torch.rand(3, 3, 16, 16)
    lr = qsd.degrade(images, 2)
    assert lr.shape == (3, 3, 8, 8)
    for image, low in zip(images, lr):
        expected = LowResolutionPaird(hr_key=None, scale_factor=2, clip_range=(0, 1))({"image": image})["image"]
        torch.testing.assert_close(low, expected)
    torch.testing.assert_close(qsd.degrade(images, 1), images)


def test_augment_moves_every_input_of_a_sample_the_same_way():
    hr = torch.rand(6, 3, 8, 8)
    inputs = {"hr": hr, "big": F.interpolate(hr, scale_factor=2, mode="nearest")}
    out = qsd.augment(inputs, torch.Generator().manual_seed(0))
    torch.testing.assert_close(F.interpolate(out["hr"], scale_factor=2, mode="nearest"), out["big"])
    assert not torch.equal(out["hr"], hr)  # some sample was flipped or turned


def _report(lr: float, variant: str, vals: list[float], accs: list[float], **settings) -> dict:
    runs = [{"seed": s, "val_accuracy": v, "best_epoch": 1, "train_wall_s": 1.0,
             "test": {k: a for k in qsd.REPORTED}} for s, (v, a) in enumerate(zip(vals, accs))]
    base = {"lr_downscale": 2, "epochs": 3, "batch_size": 8, "lr": lr, "weight_decay": 1e-5, "seeds": [0, 1],
            "bank_size": 8, "student": "s.pt", "widen_factor": 0.25, "threads": 1, "variants": [variant]}
    return {"settings": {**base, **settings}, "command": f"run {lr} {variant}", "split_sizes": {"val": 4, "test": 4},
            "sr_source": "x", "results": {variant: {"label": qsd.VARIANTS[variant], "runs": runs,
                                                    "summary": qsd.summarise(runs)}},
            "wall_s": 10.0, "cpu_s": 5.0, "load_start": 0.1, "load_end": 0.2}


def test_select_learning_rates_chooses_on_validation_not_test(tmp_path):
    # lr 1e-3 has the better validation mean but the worse test scores: it must still be chosen
    a = _report(1e-4, "lr_only", vals=[0.6, 0.6], accs=[0.9, 0.8])
    b = _report(1e-3, "lr_only", vals=[0.7, 0.8], accs=[0.5, 0.6])
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, report in zip(paths, (a, b)):
        path.write_text(json.dumps(report))
    selection = qsd.select_learning_rates(paths, tmp_path / "sel.json")
    (row,) = selection["rows"]
    assert row["lr"] == 1e-3 and row["val_accuracy_mean"] == pytest.approx(0.75)
    assert row["test"]["accuracy"]["mean"] == pytest.approx(0.55)
    assert row["test"]["accuracy"]["std"] == pytest.approx(0.0707107, abs=1e-6)  # sample std of 0.5, 0.6
    assert "| LR only (ResNet-18) | 0.001 | 0.750 |" in (tmp_path / "sel.md").read_text()
    (tmp_path / "c.json").write_text(json.dumps(_report(1e-4, "lr_only", [0.6], [0.9], epochs=5)))
    with pytest.raises(SystemExit, match="epochs"):
        qsd.select_learning_rates([paths[0], tmp_path / "c.json"], tmp_path / "x.json")


def test_merge_reports_joins_variants_of_like_runs(tmp_path):
    paths = [tmp_path / "p1.json", tmp_path / "p2.json"]
    paths[0].write_text(json.dumps(_report(1e-4, "sr_only", [0.7, 0.7], [0.8, 0.8])))
    paths[1].write_text(json.dumps(_report(1e-4, "lr_only", [0.6, 0.6], [0.7, 0.7])))
    merged = qsd.merge_reports(paths, tmp_path / "m.json")
    assert list(merged["results"]) == ["lr_only", "sr_only"]  # the table's order, not the files'
    assert merged["cpu_s"] == 10.0 and merged["wall_s"] == 10.0
    assert "2 parallel processes" in (tmp_path / "m.md").read_text()
    paths[1].write_text(json.dumps(_report(5e-4, "lr_only", [0.6, 0.6], [0.7, 0.7])))
    with pytest.raises(SystemExit, match="lr"):
        qsd.merge_reports(paths, tmp_path / "m2.json")
