# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Layouts of the retinal vessel datasets: DRIVE, CHASE_DB1, HRF, STARE, FIVES, PRIME-FP20 (and embedded CHASE_DB1).

Each builder takes ``(dataset_dir, split, **options)`` and is registered for :func:`monai_ext.data.build_datalist`.
The split rules (official, conventional or the DS2F/SS-MAF authors') are in each docstring and in
``docs/datasets.md``. The authors' splits are from their training script (imed_vision
``scripts/vessel_segmentation_train.py``): HRF ``train_test_split(all, test_size=0.2, random_state=0)``, FIVES the same
stratified by the class letter, PRIME-FP20 the same over per-image folders ``00..09``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..embedded import embedded_dataset_dir
from .folders import (
    Pairing,
    descend_into,
    find_child_dir,
    layout_error,
    list_image_files,
    require_dir,
    split_folder_names,
    stem_of,
)
from .registry import (
    natural_key,
    pick_by_groups,
    pick_train_or_val,
    register_layout,
    seeded_holdout,
    stratified_holdout,
)

__all__ = ["drive", "chase_db1", "chasedb1", "hrf", "stare", "fives", "prime_fp20"]

DRIVE_LAYOUT = """
  DRIVE/training/images/21_training.tif ...      training/1st_manual/21_manual1.gif   training/mask/21_training_mask.gif
  DRIVE/test/images/01_test.tif ...              test/1st_manual/01_manual1.gif       test/mask/01_test_mask.gif
                                                 (test/2nd_manual/01_manual2.gif for annotator=2)
"""
CHASE_LAYOUT = """
  CHASEDB1/Image_01L.jpg, Image_01L_1stHO.png, Image_01L_2ndHO.png, ..., Image_14R.jpg (one flat folder)
"""
HRF_LAYOUT = """
  HRF/images/01_dr.JPG, 01_g.jpg, 01_h.jpg, ...   HRF/manual1/01_dr.tif ...   HRF/mask/01_dr_mask.tif ...
"""
STARE_LAYOUT = """
  STARE/stare-images/im0001.ppm ...   STARE/labels-ah/im0001.ah.ppm ...   (STARE/labels-vk/im0001.vk.ppm ...)
"""
FIVES_LAYOUT = """
  FIVES/train/Original/1_A.png ...   FIVES/train/Ground truth/1_A.png ...
  FIVES/test/Original/1_A.png ...    FIVES/test/Ground truth/1_A.png ...
"""
PRIME_LAYOUT = """
  PRIME-FP20/images/00/<name>.png ... images/14/...   (one folder per original image: the image or its patches)
  PRIME-FP20/masks/00/<name>.png ...                  (vessel masks, same file stems)
  PRIME-FP20/fov/00/<name>.png ...                    (optional FOV masks, same file stems, for use_fov=True)
"""


def _check_split(split: str) -> None:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")


def _by_key(files: list[Path], pattern: str) -> dict[str, Path]:
    """Map files to the first group of ``pattern`` matched against their name (case-insensitive)."""
    regex = re.compile(pattern, re.IGNORECASE)
    keyed = {}
    for f in files:
        match = regex.fullmatch(f.name)
        if match:
            keyed[match.group(1)] = f
    return keyed


def _match_stems(files: list[Path]) -> dict[str, Path]:
    return {stem_of(f).lower(): f for f in files}


@register_layout("drive", "DRIVE: official 20 training / 20 test images; val = seeded fraction of training")
def drive(
    dataset_dir: str | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    annotator: int = 1,
    use_fov: bool = False,
    strict: bool = True,
) -> list[dict]:
    """DRIVE (Staal et al., IEEE TMI 2004), official layout::

        training/images/21_training.tif   training/1st_manual/21_manual1.gif   training/mask/21_training_mask.gif
        test/images/01_test.tif           test/1st_manual/01_manual1.gif       test/mask/01_test_mask.gif

    Split: official ``training`` (20) and ``test`` (20); no official validation set, so ``val`` is a seeded
    ``val_fraction`` of training. Some distributions ship the test folder without ``1st_manual``: asking for
    ``test`` then raises a :class:`DatasetLayoutError` saying so.

    Args:
        dataset_dir: the DRIVE folder (holding ``training/`` and ``test/``) or its parent.
        split: ``train``, ``val`` or ``test``.
        val_fraction: validation fraction of training.
        seed: validation hold-out seed.
        annotator: 1 (``1st_manual``, the reference) or 2 (``2nd_manual``, test set only).
        use_fov: add the FOV masks (``mask/``) as ``fov``.
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    if annotator not in (1, 2):
        raise ValueError(f"DRIVE annotator must be 1 or 2, got {annotator!r}")
    root = descend_into(require_dir(dataset_dir, "DRIVE", DRIVE_LAYOUT), ["DRIVE"])
    part = "test" if split == "test" else "training"
    part_dir = find_child_dir(root, split_folder_names(part), "DRIVE", DRIVE_LAYOUT)
    images = _by_key(
        list_image_files(find_child_dir(part_dir, ["images"], "DRIVE", DRIVE_LAYOUT), "DRIVE", DRIVE_LAYOUT),
        rf"(\d+)_{part}\.tiff?",
    )
    if not images:
        raise layout_error(part_dir / "images", f"no '*_{part}.tif' files found", "DRIVE", DRIVE_LAYOUT)
    manual = f"{'1st' if annotator == 1 else '2nd'}_manual"
    manual_dir = find_child_dir(part_dir, [manual], "DRIVE", DRIVE_LAYOUT, required=False)
    if manual_dir is None:
        note = (
            " (some DRIVE distributions ship the test set without manual annotations; use split='train'/'val' or add "
            "the annotations)"
            if part == "test"
            else ""
        )
        raise layout_error(part_dir / manual, f"folder not found{note}", "DRIVE", DRIVE_LAYOUT)
    labels = _by_key(list_image_files(manual_dir, "DRIVE", DRIVE_LAYOUT), rf"(\d+)_manual{annotator}\.gif")
    fovs = {}
    if use_fov:
        mask_dir = find_child_dir(part_dir, ["mask"], "DRIVE", DRIVE_LAYOUT)
        fovs = _by_key(list_image_files(mask_dir, "DRIVE", DRIVE_LAYOUT), rf"(\d+)_{part}_mask\.gif")
    pairing = Pairing("DRIVE", DRIVE_LAYOUT, strict)
    entries = []
    for number in sorted(images, key=natural_key):
        image = images[number]
        entry = {"image": str(image), "id": stem_of(image)}
        entry["label"] = str(labels[number]) if number in labels else pairing.missing(
            image, manual_dir / f"{number}_manual{annotator}.gif"
        )
        if use_fov:
            entry["fov"] = str(fovs[number]) if number in fovs else pairing.missing(
                image, part_dir / "mask" / f"{number}_{part}_mask.gif", "fov"
            )
        entries.append(entry)
    for number in sorted(set(labels) - set(images), key=natural_key):
        pairing.orphan(labels[number], f"{number}_{part}")
    if part == "training":
        entries = pick_train_or_val(entries, split, val_fraction, seed)
    return pairing.finish(entries)


def _chase_entries(root: Path, split: str, val_fraction: float, seed: int, annotator: int, strict: bool) -> list[dict]:
    _check_split(split)
    if annotator not in (1, 2):
        raise ValueError(f"CHASE_DB1 annotator must be 1 or 2, got {annotator!r}")
    files = list_image_files(root, "CHASE_DB1", CHASE_LAYOUT)
    images = _by_key(files, r"(Image_(\d+)[LR])\.jpe?g")
    if not images:
        raise layout_error(root, "no 'Image_XX[L|R].jpg' files found", "CHASE_DB1", CHASE_LAYOUT)
    suffix = "1stHO" if annotator == 1 else "2ndHO"
    labels = {k.lower(): v for k, v in _by_key(files, rf"(Image_\d+[LR])_{suffix}\.png").items()}
    pairing = Pairing("CHASE_DB1", CHASE_LAYOUT, strict)
    entries = []
    for stem in sorted(images, key=natural_key):
        child = int(re.search(r"\d+", stem).group(0))
        if (child <= 10) != (split != "test"):
            continue
        image = images[stem]
        label = labels.get(stem.lower())
        entries.append(
            {
                "image": str(image),
                "label": str(label) if label else pairing.missing(image, root / f"{stem}_{suffix}.png"),
                "id": stem,
            }
        )
    image_keys = {k.lower() for k in images}
    for key, label in sorted(labels.items()):
        child = int(re.search(r"\d+", key).group(0))
        if key not in image_keys and (child <= 10) == (split != "test"):
            pairing.orphan(label, stem_of(label))
    if split != "test":
        entries = pick_train_or_val(entries, split, val_fraction, seed)
    return pairing.finish(entries)


@register_layout("chase_db1", "CHASE_DB1: first 20 images (children 01-10) train, last 8 (11-14) test", ["chase"])
def chase_db1(
    dataset_dir: str | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    annotator: int = 1,
    strict: bool = True,
) -> list[dict]:
    """CHASE_DB1 (Fraz et al., IEEE TBME 2012), one flat folder::

        Image_01L.jpg  Image_01L_1stHO.png  Image_01L_2ndHO.png  ...  Image_14R.jpg ...

    Split (conventional, no official one): the first 20 images (children 01..10, ``01L..10R``) train, the last 8
    (``11L..14R``) test; ``val`` is a seeded ``val_fraction`` of the 20 training images (16/4 by default). The DS2F
    authors' generic branch would instead take a random 80/20 of all 28 (``random_state=0``).

    Args:
        dataset_dir: the folder holding the images and masks.
        split: ``train``, ``val`` or ``test``.
        val_fraction: validation fraction of the training images.
        seed: validation hold-out seed.
        annotator: 1 (``_1stHO``, the reference) or 2 (``_2ndHO``).
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    root = require_dir(dataset_dir, "CHASE_DB1", CHASE_LAYOUT)
    return _chase_entries(root, split, val_fraction, seed, annotator, strict)


@register_layout("chasedb1", "embedded CHASE_DB1 (monai_ext/data/sample/chasedb1), same split as chase_db1")
def chasedb1(
    dataset_dir: str | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    annotator: int = 1,
    strict: bool = True,
) -> list[dict]:
    """The embedded CHASE_DB1 copy (``dataset_dir=None``) or a folder in the CHASE_DB1 layout; see :func:`chase_db1`."""
    root = require_dir(dataset_dir or embedded_dataset_dir("chasedb1"), "CHASE_DB1", CHASE_LAYOUT)
    return _chase_entries(root, split, val_fraction, seed, annotator, strict)


def _hrf_number(stem: str) -> int:
    match = re.match(r"(\d+)", stem)
    return int(match.group(1)) if match else -1


@register_layout("hrf", "HRF: authors' seeded 80/20 of all 45 (default) or the common 15 train / 30 test")
def hrf(
    dataset_dir: str | None,
    split: str,
    split_mode: str = "authors",
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    seed: int = 0,
    use_fov: bool = False,
    strict: bool = True,
) -> list[dict]:
    """HRF (Budai et al., 2013), official layout::

        images/01_dr.JPG  images/01_g.jpg  images/01_h.jpg ...   (suffix case varies)
        manual1/01_dr.tif ...   mask/01_dr_mask.tif ...

    Split, no official one:

    * ``split_mode="authors"`` (default, DS2F/SS-MAF): ``test`` = seeded ``test_fraction`` (0.2, seed 0) of all 45
      images = 9; ``val`` = seeded ``val_fraction`` of the other 36. (The authors validated on their test part.)
    * ``split_mode="15_30"``: the common split, images ``01..05`` of each category (dr, g, h) train (15), ``06..15``
      test (30); ``val`` from the 15 training images.

    Args:
        dataset_dir: the HRF folder (holding ``images/``, ``manual1/``, ``mask/``).
        split: ``train``, ``val`` or ``test``.
        split_mode: ``"authors"`` or ``"15_30"``.
        test_fraction: test fraction for ``split_mode="authors"``.
        val_fraction: validation fraction of the training images.
        seed: hold-out seed (test and validation).
        use_fov: add the FOV masks (``mask/``) as ``fov``.
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    if split_mode not in ("authors", "15_30"):
        raise ValueError(f"HRF split_mode must be 'authors' or '15_30', got {split_mode!r}")
    root = require_dir(dataset_dir, "HRF", HRF_LAYOUT)
    images = list_image_files(find_child_dir(root, ["images"], "HRF", HRF_LAYOUT), "HRF", HRF_LAYOUT, r".+\.jpe?g")
    manual_dir = find_child_dir(root, ["manual1"], "HRF", HRF_LAYOUT)
    labels = _match_stems(list_image_files(manual_dir, "HRF", HRF_LAYOUT, r".+\.tiff?"))
    fovs = {}
    if use_fov:
        fov_dir = find_child_dir(root, ["mask"], "HRF", HRF_LAYOUT)
        fovs = {k[: -len("_mask")]: v for k, v in _match_stems(list_image_files(fov_dir, "HRF", HRF_LAYOUT)).items()}
    pairing = Pairing("HRF", HRF_LAYOUT, strict)
    entries = []
    for image in images:
        stem = stem_of(image)
        entry = {"image": str(image), "id": stem}
        label = labels.get(stem.lower())
        entry["label"] = str(label) if label else pairing.missing(image, manual_dir / f"{stem}.tif")
        if use_fov:
            fov = fovs.get(stem.lower())
            entry["fov"] = str(fov) if fov else pairing.missing(image, root / "mask" / f"{stem}_mask.tif", "fov")
        entries.append(entry)
    for key in sorted(set(labels) - {stem_of(i).lower() for i in images}):
        pairing.orphan(labels[key], stem_of(labels[key]))
    if split_mode == "authors":
        rest, test = seeded_holdout(entries, test_fraction, seed)
    else:
        rest = [e for e in entries if 1 <= _hrf_number(e["id"]) <= 5]
        test = [e for e in entries if _hrf_number(e["id"]) > 5]
    entries = test if split == "test" else pick_train_or_val(rest, split, val_fraction, seed)
    return pairing.finish(entries)


@register_layout("stare", "STARE: conventional first 10 train / last 10 test, or leave-one-out")
def stare(
    dataset_dir: str | None,
    split: str,
    split_mode: str = "conventional",
    fold: int = 0,
    val_fraction: float = 0.2,
    seed: int = 0,
    annotator: str = "ah",
    strict: bool = True,
) -> list[dict]:
    """STARE (Hoover et al., IEEE TMI 2000), layout of the vessel-segmentation archives::

        stare-images/im0001.ppm ...   labels-ah/im0001.ah.ppm ...   labels-vk/im0001.vk.ppm ...

    Only the 20 images with a vessel label are used; further (unlabelled) STARE images in ``stare-images/`` are
    ignored. Gzipped files (``.ppm.gz``, as downloaded) must be decompressed first.

    Split, no official one:

    * ``split_mode="conventional"`` (default): the first 10 labelled images (natural order) train, the last 10 test;
    * ``split_mode="leave_one_out"``: image number ``fold`` (0..19) is the test set, the other 19 train, the usual
      protocol of many STARE papers (run 20 folds).

    ``val`` is a seeded ``val_fraction`` of the training images.

    Args:
        dataset_dir: the STARE folder.
        split: ``train``, ``val`` or ``test``.
        split_mode: ``"conventional"`` or ``"leave_one_out"``.
        fold: test image index for leave-one-out.
        val_fraction: validation fraction of the training images.
        seed: validation hold-out seed.
        annotator: ``"ah"`` (Hoover, the reference) or ``"vk"`` (Kouznetsova).
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    if split_mode not in ("conventional", "leave_one_out"):
        raise ValueError(f"STARE split_mode must be 'conventional' or 'leave_one_out', got {split_mode!r}")
    if annotator not in ("ah", "vk"):
        raise ValueError(f"STARE annotator must be 'ah' or 'vk', got {annotator!r}")
    root = require_dir(dataset_dir, "STARE", STARE_LAYOUT)
    image_dir = find_child_dir(root, ["stare-images", "stare_images", "images"], "STARE", STARE_LAYOUT)
    label_dir = find_child_dir(root, [f"labels-{annotator}"], "STARE", STARE_LAYOUT)
    for folder in (image_dir, label_dir):
        if not list_image_files(folder, "STARE", STARE_LAYOUT, required=False) and any(folder.glob("*.gz")):
            raise layout_error(folder, "holds only gzipped files: decompress them first", "STARE", STARE_LAYOUT)
    images = _by_key(list_image_files(image_dir, "STARE", STARE_LAYOUT), r"(im\d+)\.p[pgn]m")
    labels = _by_key(list_image_files(label_dir, "STARE", STARE_LAYOUT), rf"(im\d+)\.{annotator}\.p[pgn]m")
    pairing = Pairing("STARE", STARE_LAYOUT, strict)
    entries = []
    for key in sorted(labels, key=natural_key):
        if key in images:
            entries.append({"image": str(images[key]), "label": str(labels[key]), "id": key})
        else:
            pairing.orphan(labels[key], key)
    if split_mode == "conventional":
        half = len(entries) // 2
        rest, test = entries[:half], entries[half:]
    else:
        if not 0 <= fold < len(entries):
            raise ValueError(f"STARE leave-one-out fold must be in [0, {len(entries)}), got {fold}")
        rest, test = entries[:fold] + entries[fold + 1 :], [entries[fold]]
    entries = test if split == "test" else pick_train_or_val(rest, split, val_fraction, seed)
    return pairing.finish(entries)


@register_layout("fives", "FIVES: official 600 train / 200 test; val = class-stratified seeded fraction of train")
def fives(
    dataset_dir: str | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    strict: bool = True,
) -> list[dict]:
    """FIVES (Jin et al., Sci. Data 2022), official layout::

        train/Original/1_A.png ...   train/Ground truth/1_A.png ...
        test/Original/1_A.png ...    test/Ground truth/1_A.png ...

    The letter after ``_`` is the class (A = AMD, D = diabetic retinopathy, G = glaucoma, N = normal). The same file
    names occur in ``train`` and ``test``, so ids are ``train_1_A`` / ``test_1_A`` to stay unique.

    Split: official ``train`` (600) and ``test`` (200); ``val`` is a seeded ``val_fraction`` of ``train`` stratified
    by class letter. (The authors: ``train_test_split(test_size=0.2, random_state=0, stratify=letter)`` of their
    image folder.)

    Args:
        dataset_dir: the FIVES folder (holding ``train/`` and ``test/``) or its parent.
        split: ``train``, ``val`` or ``test``.
        val_fraction: validation fraction of train, per class.
        seed: validation hold-out seed.
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    root = descend_into(require_dir(dataset_dir, "FIVES", FIVES_LAYOUT), ["FIVES"])
    part = "test" if split == "test" else "train"
    part_dir = find_child_dir(root, split_folder_names(part), "FIVES", FIVES_LAYOUT)
    images = list_image_files(find_child_dir(part_dir, ["Original"], "FIVES", FIVES_LAYOUT), "FIVES", FIVES_LAYOUT)
    label_dir = find_child_dir(part_dir, ["Ground truth", "Ground_truth", "GroundTruth"], "FIVES", FIVES_LAYOUT)
    labels = _match_stems(list_image_files(label_dir, "FIVES", FIVES_LAYOUT))
    pairing = Pairing("FIVES", FIVES_LAYOUT, strict)
    entries, classes = [], []
    for image in images:
        stem = stem_of(image)
        label = labels.get(stem.lower())
        entries.append(
            {
                "image": str(image),
                "label": str(label) if label else pairing.missing(image, label_dir / image.name),
                "id": f"{part}_{stem}",
            }
        )
        classes.append(stem.rsplit("_", 1)[-1].upper() if "_" in stem else "")
    for key in sorted(set(labels) - {stem_of(i).lower() for i in images}):
        pairing.orphan(labels[key], f"{part}_{stem_of(labels[key])}")
    if part == "train":
        kept, held = stratified_holdout(entries, classes, val_fraction, seed)
        entries = kept if split == "train" else held
    return pairing.finish(entries)


@register_layout("prime_fp20", "PRIME-FP20: seeded 80/20 over per-image folders (authors)", ["prime-fp20", "primefp20"])
def prime_fp20(
    dataset_dir: str | None,
    split: str,
    folders: list[str] | None = None,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    seed: int = 0,
    use_fov: bool = False,
    strict: bool = True,
) -> list[dict]:
    """PRIME-FP20 (Ding et al., IEEE TMI 2020; 15 ultra-widefield images, 4000x4000), per-image folders::

        images/00/<name>.png ... images/14/...   masks/00/<name>.png ...   fov/00/<name>.png ... (optional)

    Our reading of the authors' "crop" layout: one folder per original image (``00``..``14``) holding that image or
    patches cut from it, with the vessel masks (and FOV masks) under the same folder and file stem. Ids are
    ``<folder>_<stem>``.

    Split (authors): ``test`` = seeded ``test_fraction`` (0.2, seed 0) of the image folders, ``val`` = seeded
    ``val_fraction`` of the remaining folders, so patches of one image never straddle two splits. The authors used
    folders ``00..09`` only (``folders=["00", ..., "09"]``); by default all folders found are used.

    Args:
        dataset_dir: the PRIME-FP20 folder (holding ``images/`` and ``masks/``).
        split: ``train``, ``val`` or ``test``.
        folders: image folders to use (default all).
        test_fraction: test fraction of the folders.
        val_fraction: validation fraction of the remaining folders.
        seed: hold-out seed.
        use_fov: add the FOV masks (``fov/``) as ``fov``.
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    root = require_dir(dataset_dir, "PRIME-FP20", PRIME_LAYOUT)
    image_root = find_child_dir(root, ["images"], "PRIME-FP20", PRIME_LAYOUT)
    mask_root = find_child_dir(root, ["masks", "labels"], "PRIME-FP20", PRIME_LAYOUT)
    fov_root = find_child_dir(root, ["fov"], "PRIME-FP20", PRIME_LAYOUT) if use_fov else None
    available = sorted((d.name for d in image_root.iterdir() if d.is_dir()), key=natural_key)
    chosen = available if folders is None else [str(f) for f in folders]
    if not chosen:
        raise layout_error(image_root, "no per-image folders found", "PRIME-FP20", PRIME_LAYOUT)
    pairing = Pairing("PRIME-FP20", PRIME_LAYOUT, strict)
    entries, groups = [], []
    for folder in chosen:
        images = list_image_files(image_root / folder, "PRIME-FP20", PRIME_LAYOUT)
        masks = _match_stems(list_image_files(mask_root / folder, "PRIME-FP20", PRIME_LAYOUT, required=False))
        fovs = _match_stems(list_image_files(fov_root / folder, "PRIME-FP20", PRIME_LAYOUT)) if fov_root else {}
        for image in images:
            stem = stem_of(image)
            entry = {"image": str(image), "id": f"{folder}_{stem}"}
            mask = masks.get(stem.lower())
            entry["label"] = str(mask) if mask else pairing.missing(image, mask_root / folder / image.name)
            if fov_root is not None:
                fov = fovs.get(stem.lower())
                entry["fov"] = str(fov) if fov else pairing.missing(image, fov_root / folder / image.name, "fov")
            entries.append(entry)
            groups.append(folder)
        for key in sorted(set(masks) - {stem_of(i).lower() for i in images}):
            pairing.orphan(masks[key], f"{folder}_{stem_of(masks[key])}")
    return pairing.finish(pick_by_groups(entries, groups, split, test_fraction, val_fraction, seed))
