# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Layouts of the retinal lesion datasets: IDRiD (segmentation), E-Ophtha-EX, DDR (lesion segmentation) and the
embedded ``idrid_ex_512``.

Lesion types: ``MA`` microaneurysms, ``HE`` haemorrhages, ``EX`` hard exudates, ``SE`` soft exudates. ``lesion`` is
one type (``label`` is one path) or a list of types / ``"all"`` (``label`` is a list with one path per type, in the
order asked). A ``None`` label (or list item) is an image without that lesion, loaded as an all-zero mask: a normal
case, not an error. The IDRiD validation split follows the authors (``train_test_split(test_size=0.2,
random_state=66)`` of the official training set), DDR uses its official ``valid`` folder.
"""

from __future__ import annotations

from collections.abc import Sequence
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
)

__all__ = ["LESION_TYPES", "IDRID_LESION_FOLDERS", "idrid", "idrid_ex_512", "e_ophtha_ex", "ddr"]

#: lesion types in the order of ``lesion="all"``.
LESION_TYPES = ("MA", "HE", "EX", "SE")
#: IDRiD ground-truth folder of each lesion type (official names; ``OD`` is the optic disc).
IDRID_LESION_FOLDERS = {
    "MA": "1. Microaneurysms",
    "HE": "2. Haemorrhages",
    "EX": "3. Hard Exudates",
    "SE": "4. Soft Exudates",
    "OD": "5. Optic Disc",
}

IDRID_LAYOUT = """
  A. Segmentation/1. Original Images/a. Training Set/IDRiD_01.jpg ...   (b. Testing Set/IDRiD_55.jpg ...)
  A. Segmentation/2. All Segmentation Groundtruths/a. Training Set/3. Hard Exudates/IDRiD_01_EX.tif ...
      (1. Microaneurysms/*_MA.tif, 2. Haemorrhages/*_HE.tif, 4. Soft Exudates/*_SE.tif; b. Testing Set/...)
"""
IDRID_512_LAYOUT = """
  idrid_ex_512/train/images/IDRiD_01.png ...   idrid_ex_512/train/masks/IDRiD_01_EX.png ...
  idrid_ex_512/test/images/IDRiD_55.png ...    idrid_ex_512/test/masks/IDRiD_55_EX.png ...
"""
E_OPHTHA_LAYOUT = """
  e_optha_EX/EX/<patient>/<name>.jpg ...   e_optha_EX/Annotation_EX/<patient>/<name>_EX.png ...
  e_optha_EX/healthy/<patient>/<name>.jpg ...   (healthy images: no annotation, label None)
"""
DDR_LAYOUT = """
  lesion_segmentation/train/image/<name>.jpg ...   lesion_segmentation/train/label/EX/<name>.tif ...
      (label/HE, label/MA, label/SE; the same under valid/ and test/)
"""


def _check_split(split: str) -> None:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")


def _lesion_list(lesion: str | Sequence[str], allowed: Sequence[str]) -> tuple[list[str], bool]:
    """(lesion types, whether one was asked for as a single string)."""
    if isinstance(lesion, str) and lesion.lower() == "all":
        return list(LESION_TYPES), False
    single = isinstance(lesion, str)
    types = [str(t).upper() for t in ([lesion] if single else lesion)]
    bad = [t for t in types if t not in allowed]
    if bad or not types:
        raise ValueError(f"lesion must be one of {list(allowed)}, a list of them or 'all', got {lesion!r}")
    return types, single


def _label_value(paths: list[str | None], single: bool) -> str | None | list[str | None]:
    return paths[0] if single else paths


@register_layout("idrid", "IDRiD segmentation: official 54 train / 27 test; val = authors' seeded 20% (seed 66)")
def idrid(
    dataset_dir: str | None,
    split: str,
    lesion: str | Sequence[str] = "EX",
    val_fraction: float = 0.2,
    seed: int = 66,
    strict: bool = True,
) -> list[dict]:
    """IDRiD segmentation part (Porwal et al., Data 2018), official layout::

        A. Segmentation/1. Original Images/a. Training Set/IDRiD_01.jpg ...    (b. Testing Set/...)
        A. Segmentation/2. All Segmentation Groundtruths/a. Training Set/3. Hard Exudates/IDRiD_01_EX.tif ...

    Lesion folders: ``1. Microaneurysms`` (MA), ``2. Haemorrhages`` (HE), ``3. Hard Exudates`` (EX),
    ``4. Soft Exudates`` (SE), ``5. Optic Disc`` (OD). Folder names match ignoring case and punctuation. Not every
    image has every lesion (SE exists for about half of them): a missing ``IDRiD_XX_<type>.tif`` gives ``None``,
    an all-zero mask. The official masks are not 0/255 grayscale everywhere; :class:`LoadMaskd` binarises with
    ``> 0``.

    Split: official ``a. Training Set`` (54) and ``b. Testing Set`` (27); ``val`` = seeded ``val_fraction`` (0.2)
    of training with ``seed=66``, the authors' ``random_state`` (43 train / 11 val).

    Args:
        dataset_dir: the folder holding ``A. Segmentation`` (or that folder itself).
        split: ``train``, ``val`` or ``test``.
        lesion: ``"EX"`` (default), ``"MA"``, ``"HE"``, ``"SE"``, ``"OD"``, a list of them or ``"all"`` (MA, HE, EX,
            SE); a list gives one label path per type.
        val_fraction: validation fraction of training.
        seed: validation hold-out seed.
        strict: raise on lesion masks without image (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    types, single = _lesion_list(lesion, tuple(IDRID_LESION_FOLDERS))
    root = descend_into(require_dir(dataset_dir, "IDRiD", IDRID_LAYOUT), ["A. Segmentation"])
    part = ["b. Testing Set", "Testing Set"] if split == "test" else ["a. Training Set", "Training Set"]
    original = find_child_dir(root, ["1. Original Images", "Original Images"], "IDRiD", IDRID_LAYOUT)
    images = list_image_files(find_child_dir(original, part, "IDRiD", IDRID_LAYOUT), "IDRiD", IDRID_LAYOUT)
    truth = find_child_dir(
        root, ["2. All Segmentation Groundtruths", "All Segmentation Groundtruths"], "IDRiD", IDRID_LAYOUT
    )
    truth_part = find_child_dir(truth, part, "IDRiD", IDRID_LAYOUT)
    pairing = Pairing("IDRiD", IDRID_LAYOUT, strict)
    image_stems = {stem_of(i).lower() for i in images}
    masks_by_type: dict[str, dict[str, Path]] = {}
    for kind in types:
        folder = IDRID_LESION_FOLDERS[kind]
        lesion_dir = find_child_dir(truth_part, [folder, folder.split(". ", 1)[1]], "IDRiD", IDRID_LAYOUT)
        files = list_image_files(lesion_dir, "IDRiD", IDRID_LAYOUT, rf".+_{kind}\.(tiff?|png|jpg)")
        masks_by_type[kind] = {stem_of(f)[: -len(kind) - 1].lower(): f for f in files}
        for key, mask in sorted(masks_by_type[kind].items()):
            if key not in image_stems:
                pairing.orphan(mask, stem_of(mask))
    entries = []
    for image in images:
        stem = stem_of(image)
        paths = [masks_by_type[k].get(stem.lower()) for k in types]
        entries.append(
            {"image": str(image), "label": _label_value([str(p) if p else None for p in paths], single), "id": stem}
        )
    if split != "test":
        entries = pick_train_or_val(entries, split, val_fraction, seed)
    return pairing.finish(entries)


@register_layout("idrid_ex_512", "embedded IDRiD EX 512x512 single-channel: 54 train / 27 test; val = seeded 20%")
def idrid_ex_512(
    dataset_dir: str | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 66,
    strict: bool = True,
) -> list[dict]:
    """The embedded IDRiD hard-exudate copy (``dataset_dir=None``) or a folder in the same layout::

        train/images/IDRiD_01.png   train/masks/IDRiD_01_EX.png   (IDRiD_01..54)
        test/images/IDRiD_55.png    test/masks/IDRiD_55_EX.png    (IDRiD_55..81)

    Single-channel 512x512 images cropped to the field of view (aspect ratio not preserved), binary 0/255 masks.
    Split: official ``train`` (54) / ``test`` (27); ``val`` = seeded ``val_fraction`` (0.2) of train with
    ``seed=66`` as the authors did for IDRiD: 43 train / 11 val.

    Args:
        dataset_dir: the folder holding ``train/`` and ``test/`` (default: the embedded copy).
        split: ``train``, ``val`` or ``test``.
        val_fraction: validation fraction of train.
        seed: validation hold-out seed.
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    root = require_dir(dataset_dir or embedded_dataset_dir("idrid_ex_512"), "idrid_ex_512", IDRID_512_LAYOUT)
    part_names = split_folder_names("test" if split == "test" else "train")
    part_dir = find_child_dir(root, part_names, "idrid_ex_512", IDRID_512_LAYOUT)
    images = list_image_files(find_child_dir(part_dir, ["images"], "idrid_ex_512", IDRID_512_LAYOUT), "idrid_ex_512",
                              IDRID_512_LAYOUT)
    mask_dir = find_child_dir(part_dir, ["masks"], "idrid_ex_512", IDRID_512_LAYOUT)
    masks = {
        stem_of(f)[:-3].lower(): f
        for f in list_image_files(mask_dir, "idrid_ex_512", IDRID_512_LAYOUT, r".+_EX\.(png|tiff?)")
    }
    pairing = Pairing("idrid_ex_512", IDRID_512_LAYOUT, strict)
    entries = []
    for image in images:
        stem = stem_of(image)
        mask = masks.get(stem.lower())
        label = str(mask) if mask else pairing.missing(image, mask_dir / f"{stem}_EX.png")
        entries.append({"image": str(image), "label": label, "id": stem})
    for key in sorted(set(masks) - {stem_of(i).lower() for i in images}):
        pairing.orphan(masks[key], stem_of(masks[key]))
    if split != "test":
        entries = pick_train_or_val(entries, split, val_fraction, seed)
    return pairing.finish(entries)


@register_layout(
    "e_ophtha_ex", "E-Ophtha-EX: seeded 80/20 over patients (no official split)", ["e_optha_ex", "eophtha"]
)
def e_ophtha_ex(
    dataset_dir: str | None,
    split: str,
    include_healthy: bool = True,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    seed: int = 0,
    strict: bool = True,
) -> list[dict]:
    """E-Ophtha-EX (Decencière et al., IRBM 2013), official layout::

        e_optha_EX/EX/<patient>/<name>.jpg            e_optha_EX/Annotation_EX/<patient>/<name>_EX.png
        e_optha_EX/healthy/<patient>/<name>.jpg       (no annotation)

    An image without annotation file (all of ``healthy/``, 35 images) has no exudate: ``label`` is ``None``, read
    as an all-zero mask. Annotations without image raise (``strict``).

    Split (no official one): ``test`` = seeded ``test_fraction`` of the patients, ``val`` = seeded ``val_fraction``
    of the remaining patients, ``train`` the rest; the images of one patient stay in one split.

    Args:
        dataset_dir: the ``e_optha_EX`` folder or its parent.
        split: ``train``, ``val`` or ``test``.
        include_healthy: add the images of ``healthy/``.
        test_fraction: test fraction of the patients.
        val_fraction: validation fraction of the remaining patients.
        seed: hold-out seed.
        strict: raise on annotations without image (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    root = descend_into(require_dir(dataset_dir, "E-Ophtha-EX", E_OPHTHA_LAYOUT), ["e_optha_EX", "e_ophtha_EX"])
    ex_dir = find_child_dir(root, ["EX"], "E-Ophtha-EX", E_OPHTHA_LAYOUT)
    annotation_dir = find_child_dir(root, ["Annotation_EX"], "E-Ophtha-EX", E_OPHTHA_LAYOUT)
    sources = [ex_dir]
    if include_healthy:
        sources.append(find_child_dir(root, ["healthy"], "E-Ophtha-EX", E_OPHTHA_LAYOUT))
    pairing = Pairing("E-Ophtha-EX", E_OPHTHA_LAYOUT, strict)
    entries, groups = [], []
    for source in sources:
        patients = sorted((d for d in source.iterdir() if d.is_dir()), key=lambda d: natural_key(d.name))
        if not patients:
            raise layout_error(source, "no patient folders found (empty folder?)", "E-Ophtha-EX", E_OPHTHA_LAYOUT)
        for patient in patients:
            annotations = {}
            if source == ex_dir:
                files = list_image_files(annotation_dir / patient.name, "E-Ophtha-EX", E_OPHTHA_LAYOUT,
                                         r".+_EX\.(png|tiff?|jpe?g|bmp)", required=False)
                annotations = {stem_of(f)[:-3].lower(): f for f in files}
            images = list_image_files(patient, "E-Ophtha-EX", E_OPHTHA_LAYOUT, r".+\.(jpe?g|png|tiff?)", False)
            for image in images:
                annotation = annotations.get(stem_of(image).lower())
                entries.append(
                    {"image": str(image), "label": str(annotation) if annotation else None, "id": stem_of(image)}
                )
                groups.append(patient.name)
            for key in sorted(set(annotations) - {stem_of(i).lower() for i in images}):
                pairing.orphan(annotations[key], stem_of(annotations[key]))
    if not entries:
        raise layout_error(ex_dir, "no images found in the patient folders", "E-Ophtha-EX", E_OPHTHA_LAYOUT)
    return pairing.finish(pick_by_groups(entries, groups, split, test_fraction, val_fraction, seed))


@register_layout("ddr", "DDR lesion segmentation: official train / valid / test folders")
def ddr(
    dataset_dir: str | None,
    split: str,
    lesion: str | Sequence[str] = "EX",
    allow_missing_labels: bool = False,
    strict: bool = True,
) -> list[dict]:
    """DDR lesion segmentation (Li et al., Information Sciences 2019), official layout::

        lesion_segmentation/{train,valid,test}/image/<name>.jpg
        lesion_segmentation/{train,valid,test}/label/{EX,HE,MA,SE}/<name>.tif

    Split: official ``train`` (383), ``valid`` (149, our ``val``, as the authors) and ``test`` (225). Every image has
    one mask per lesion type (all-zero when the lesion is absent); a missing mask is a layout problem unless
    ``allow_missing_labels`` (then ``None``, an all-zero mask).

    Args:
        dataset_dir: the ``lesion_segmentation`` folder or a parent (``DDR-dataset``).
        split: ``train``, ``val`` or ``test``.
        lesion: ``"EX"`` (default), ``"HE"``, ``"MA"``, ``"SE"``, a list of them or ``"all"``; a list gives one
            label path per type.
        allow_missing_labels: read a missing lesion mask as all-zero instead of raising.
        strict: raise on unpaired files (else keep them for :func:`validate_dataset`).
    """
    _check_split(split)
    types, single = _lesion_list(lesion, LESION_TYPES)
    root = require_dir(dataset_dir, "DDR", DDR_LAYOUT)
    root = descend_into(descend_into(root, ["DDR-dataset", "DDR dataset"]), ["lesion_segmentation"])
    part_names = split_folder_names({"train": "train", "val": "valid", "test": "test"}[split])
    part_dir = find_child_dir(root, part_names, "DDR", DDR_LAYOUT)
    images = list_image_files(find_child_dir(part_dir, ["image"], "DDR", DDR_LAYOUT), "DDR", DDR_LAYOUT)
    label_root = find_child_dir(part_dir, ["label"], "DDR", DDR_LAYOUT)
    pairing = Pairing("DDR", DDR_LAYOUT, strict)
    masks_by_type = {}
    for kind in types:
        files = list_image_files(find_child_dir(label_root, [kind], "DDR", DDR_LAYOUT), "DDR", DDR_LAYOUT,
                                 required=not allow_missing_labels)
        masks_by_type[kind] = {stem_of(f).lower(): f for f in files}
        for key in sorted(set(masks_by_type[kind]) - {stem_of(i).lower() for i in images}):
            pairing.orphan(masks_by_type[kind][key], stem_of(masks_by_type[kind][key]))
    entries = []
    for image in images:
        stem = stem_of(image)
        paths: list[str | None] = []
        for kind in types:
            mask = masks_by_type[kind].get(stem.lower())
            if mask is not None:
                paths.append(str(mask))
            elif allow_missing_labels:
                paths.append(None)
            else:
                paths.append(pairing.missing(image, label_root / kind / f"{stem}.tif"))
        entries.append({"image": str(image), "label": _label_value(paths, single), "id": stem})
    return pairing.finish(entries)
