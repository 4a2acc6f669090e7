# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dataset validation: every problem reported at once, accepted peculiarities not reported as problems."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from monai_ext.data import build_datalist, validate_dataset
from monai_ext.data.validate import main
from tests.data import fakes


def make_mixed_folder(root):
    """idrid_ex_512 layout with a truncated JPEG, a wrong-size mask, an RGBA PNG and a 16-bit TIFF image."""
    images, masks = root / "train" / "images", root / "train" / "masks"
    fakes.truncated_jpeg(images / "IDRiD_01.jpg")
    fakes.write(masks / "IDRiD_01_EX.png", fakes.binary_mask(1, 64, 64))
    fakes.write(images / "IDRiD_02.png", fakes.rgb(2))
    fakes.write(masks / "IDRiD_02_EX.png", fakes.binary_mask(2, height=10))
    rgba = np.concatenate([fakes.rgb(3), np.full((12, 16, 1), 200, np.uint8)], axis=-1)
    fakes.write(images / "IDRiD_03.png", rgba)
    fakes.write(masks / "IDRiD_03_EX.png", fakes.binary_mask(3))
    fakes.write(images / "IDRiD_04.tif", (fakes.rgb(4)[..., 0].astype(np.uint16) * 250))
    fakes.write(masks / "IDRiD_04_EX.png", np.zeros((12, 16), np.uint8))  # no foreground: accepted
    return root


def test_report_lists_exactly_the_two_problems(tmp_path):
    root = make_mixed_folder(tmp_path / "mixed")
    datalist = build_datalist("idrid_ex_512", str(root), "train", val_fraction=0)
    report = validate_dataset(datalist)
    assert not report.ok and report.num_entries == 4
    assert len(report.problems) == 2
    broken, wrong = report.problems
    assert broken.path.endswith("IDRiD_01.jpg") and "truncated" in broken.message
    assert wrong.path.endswith("IDRiD_02_EX.png") and "mask size 10x16 (HxW) differs from image" in wrong.message
    flagged = {p.path for p in report.problems}
    assert not any(e["image"] in flagged or e["label"] in flagged for e in datalist if e["id"] in ("IDRiD_03",
                                                                                                   "IDRiD_04"))
    notes = "\n".join(str(n) for n in report.notes)
    assert "IDRiD_03.png: RGBA image: alpha channel dropped" in notes
    assert "IDRiD_04.tif: 16-bit image" in notes and "IDRiD_04_EX.png: mask without foreground" in notes
    lines = str(report).splitlines()
    assert lines[0].startswith("checked 4 entries: 2 problem(s)")
    assert sum(line.startswith("PROBLEM") for line in lines) == 2
    assert any(line.startswith("PROBLEM") and "IDRiD_01.jpg" in line for line in lines)


def test_cli_exit_status(tmp_path, capsys):
    root = make_mixed_folder(tmp_path / "mixed")
    args = ["--dataset", "idrid_ex_512", "--dataset_dir", str(root), "--split", "train", "--option", "val_fraction=0"]
    assert main(args) == 1
    printed = capsys.readouterr().out
    assert "2 problem(s)" in printed and "IDRiD_02_EX.png" in printed
    assert main(["--dataset", "chasedb1", "--split", "test"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
    assert main(["--dataset", "drive", "--dataset_dir", str(tmp_path / "absent")]) == 1
    assert "folder not found" in capsys.readouterr().out


def test_cli_as_module(tmp_path):
    root = make_mixed_folder(tmp_path / "mixed")
    command = [sys.executable, "-m", "monai_ext.data.validate", "--dataset", "idrid_ex_512", "--dataset_dir",
               str(root), "--split", "train", "--option", "val_fraction=0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "IDRiD_01.jpg" in result.stdout
    assert "RuntimeWarning" not in result.stderr


def test_mask_values_pairs_and_duplicates(tmp_path):
    image = str(fakes.write(tmp_path / "a.png", fakes.rgb(0)))
    gray_levels = np.tile(np.array([0, 60, 120, 255], np.uint8), (12, 4))
    datalist = [
        {"image": image, "label": str(fakes.write(tmp_path / "levels.png", gray_levels)), "id": "a"},
        {"image": image, "label": str(fakes.write(tmp_path / "half.png", (gray_levels > 100) * np.uint8(128))),
         "id": "b"},
        {"image": image, "label": str(fakes.write(tmp_path / "ones.png", fakes.binary_mask(0, high=1))), "id": "c"},
        {"image": image, "label": str(tmp_path / "absent.png"), "id": "d"},
        {"image": None, "label": str(fakes.write(tmp_path / "orphan.png", fakes.binary_mask(1))), "id": "e"},
        {"image": image, "id": "a"},
        {"image": image, "label": None, "id": "healthy"},
    ]
    report = validate_dataset(datalist)
    found = [str(p) for p in report.problems]
    assert len(found) == 6, found
    assert any("levels.png: not a binary mask: 4 distinct values (0, 60, 120, 255)" in p for p in found)
    assert any("half.png: unexpected mask values (0, 128)" in p for p in found)
    assert any("absent.png: file not found" in p for p in found)
    assert any("orphan.png: mask without image" in p for p in found)
    assert any("duplicate id 'a'" in p for p in found)
    assert any("image without mask" in p for p in found)
    assert not any("ones.png" in p or "healthy" in p for p in found)
    assert validate_dataset(datalist[:1], binary_masks=False).ok


def test_palette_gif_masks_and_lenient_layout(tmp_path):
    root = fakes.make_drive(tmp_path / "DRIVE", n_train=3, n_test=1)
    (root / "training/1st_manual/22_manual1.gif").unlink()
    with pytest.raises(ValueError, match="unpaired"):
        build_datalist("drive", str(root), "train", val_fraction=0)
    datalist = build_datalist("drive", str(root), "train", val_fraction=0, strict=False, use_fov=True)
    report = validate_dataset(datalist)
    # palette GIF manuals and FOV masks (0/255 after the palette) are accepted; only the absent manual is reported
    assert [str(p) for p in report.problems] == [f"{root}/training/1st_manual/22_manual1.gif: file not found"]


def test_embedded_datasets_validate_clean():
    report = validate_dataset(build_datalist("chasedb1", split="test"))
    assert report.ok and report.num_entries == 8
