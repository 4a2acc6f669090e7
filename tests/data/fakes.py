# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tiny generated datasets in the official folder layouts, written to a temporary folder by the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT, WIDTH = 12, 16


def rgb(seed: int = 0, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (height, width, 3), dtype=np.uint8)


def binary_mask(seed: int = 0, height: int = HEIGHT, width: int = WIDTH, high: int = 255) -> np.ndarray:
    return (np.random.RandomState(seed + 1000).rand(height, width) > 0.7).astype(np.uint8) * high


def write(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    """Write ``array`` with PIL, the format chosen by the suffix; ``mode`` converts first (e.g. ``"P"``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if mode is not None:
        image = image.convert(mode)
    image.save(path)
    return path


def write_pair(image_path: Path, mask_path: Path, seed: int, mask_mode: str | None = None) -> None:
    write(image_path, rgb(seed))
    write(mask_path, binary_mask(seed), mask_mode)


def truncated_jpeg(path: Path, keep: float = 0.5) -> Path:
    """A JPEG cut after ``keep`` of its bytes (header intact, scan data truncated)."""
    write(path, rgb(7, 64, 64))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_drive(root: Path, n_train: int = 5, n_test: int = 3, test_labels: bool = True) -> Path:
    for i in range(n_train):
        number = 21 + i
        write_pair(root / "training/images" / f"{number}_training.tif",
                   root / "training/1st_manual" / f"{number}_manual1.gif", number, "P")
        write(root / "training/mask" / f"{number}_training_mask.gif", np.full((HEIGHT, WIDTH), 255, np.uint8), "P")
    for i in range(n_test):
        number = f"{i + 1:02d}"
        write(root / "test/images" / f"{number}_test.tif", rgb(i))
        if test_labels:
            write(root / "test/1st_manual" / f"{number}_manual1.gif", binary_mask(i), "P")
            write(root / "test/2nd_manual" / f"{number}_manual2.gif", binary_mask(i + 50), "P")
        write(root / "test/mask" / f"{number}_test_mask.gif", np.full((HEIGHT, WIDTH), 255, np.uint8), "P")
    return root


def chase_stems() -> list[str]:
    return [f"Image_{child:02d}{eye}" for child in range(1, 15) for eye in "LR"]


def make_chase(root: Path) -> Path:
    for i, stem in enumerate(chase_stems()):
        write_pair(root / f"{stem}.jpg", root / f"{stem}_1stHO.png", i)
        write(root / f"{stem}_2ndHO.png", binary_mask(i + 100))
    return root


def make_hrf(root: Path) -> Path:
    for number in range(1, 16):
        for category in ("dr", "g", "h"):
            stem = f"{number:02d}_{category}"
            suffix = ".JPG" if category == "dr" else ".jpg"  # HRF mixes suffix cases
            write_pair(root / "images" / f"{stem}{suffix}", root / "manual1" / f"{stem}.tif", number)
            write(root / "mask" / f"{stem}_mask.tif", np.full((HEIGHT, WIDTH), 255, np.uint8))
    return root


STARE_IDS = ["im0001", "im0002", "im0003", "im0004", "im0005", "im0044", "im0077", "im0081", "im0082", "im0139",
             "im0162", "im0163", "im0235", "im0236", "im0239", "im0240", "im0255", "im0291", "im0319", "im0324"]


def make_stare(root: Path, unlabelled: int = 2) -> Path:
    for i, key in enumerate(STARE_IDS):
        write_pair(root / "stare-images" / f"{key}.ppm", root / "labels-ah" / f"{key}.ah.ppm", i)
        write(root / "labels-vk" / f"{key}.vk.ppm", binary_mask(i + 7))
    for i in range(unlabelled):
        write(root / "stare-images" / f"im09{i:02d}.ppm", rgb(i))
    return root


def make_fives(root: Path, per_class_train: int = 5, per_class_test: int = 2) -> Path:
    for part, per_class in (("train", per_class_train), ("test", per_class_test)):
        number = 1
        for letter in "ADGN":
            for _ in range(per_class):
                write_pair(root / part / "Original" / f"{number}_{letter}.png",
                           root / part / "Ground truth" / f"{number}_{letter}.png", number)
                number += 1
    return root


def make_prime(root: Path, n_folders: int = 10, patches: int = 2, fov: bool = True) -> Path:
    for folder in range(n_folders):
        for patch in range(patches):
            name = f"patch_{patch}.png"
            write_pair(root / "images" / f"{folder:02d}" / name, root / "masks" / f"{folder:02d}" / name, folder)
            if fov:
                write(root / "fov" / f"{folder:02d}" / name, np.full((HEIGHT, WIDTH), 255, np.uint8))
    return root


IDRID_FOLDERS = {"MA": "1. Microaneurysms", "HE": "2. Haemorrhages", "EX": "3. Hard Exudates",
                 "SE": "4. Soft Exudates"}


def make_idrid(root: Path, n_train: int = 10, n_test: int = 4) -> Path:
    """IDRiD layout; SE masks exist only for odd image numbers (as in the real set, SE is missing for many)."""
    base = root / "A. Segmentation"
    for number in range(1, n_train + n_test + 1):
        part = "a. Training Set" if number <= n_train else "b. Testing Set"
        stem = f"IDRiD_{number:02d}"
        write(base / "1. Original Images" / part / f"{stem}.jpg", rgb(number))
        for kind, folder in IDRID_FOLDERS.items():
            if kind == "SE" and number % 2 == 0:
                continue
            mask = binary_mask(number + 10 * len(kind) + ord(kind[0]))
            write(base / "2. All Segmentation Groundtruths" / part / folder / f"{stem}_{kind}.tif", mask)
    return root


def make_e_ophtha(root: Path) -> Path:
    """5 EX patients with 2 images each (one of them without annotation) and 3 healthy patients."""
    base = root / "e_optha_EX"
    for patient in range(5):
        for image in range(2):
            stem = f"C{patient:03d}{image}"
            write(base / "EX" / f"E{patient:04d}" / f"{stem}.jpg", rgb(patient * 2 + image))
            if not (patient == 0 and image == 1):
                write(base / "Annotation_EX" / f"E{patient:04d}" / f"{stem}_EX.png", binary_mask(patient))
    for patient in range(3):
        write(base / "healthy" / f"H{patient:04d}" / f"DS{patient:04d}.JPG", rgb(50 + patient))
    (base / "EX" / "E0000" / "Thumbs.db").write_bytes(b"not an image")
    return root


def make_ddr(root: Path, counts: dict[str, int] | None = None) -> Path:
    base = root / "DDR-dataset" / "lesion_segmentation"
    counts = counts or {"train": 4, "valid": 2, "test": 3}
    index = 0
    for part, count in counts.items():
        for _ in range(count):
            stem = f"007-{3000 + index}-100"
            write(base / part / "image" / f"{stem}.jpg", rgb(index))
            for kind in ("EX", "HE", "MA", "SE"):
                write(base / part / "label" / kind / f"{stem}.tif", binary_mask(index + ord(kind[0])))
            index += 1
    return root
