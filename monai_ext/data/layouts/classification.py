# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Layouts of the classification datasets of the ``sai_diagnosis`` bundle: the embedded histology patches
(``histology_96``), PatchCamelyon (``pcam``), CAD-CAP (``cadcap``) and Kvasir-Capsule (``kvasir_capsule``).

The folder readers are those of :mod:`monai_ext.data.histology`; this module adds the splits, so that a bundle
config asks :func:`~monai_ext.data.layouts.registry.build_datalist` for ``train`` / ``val`` / ``test`` with options
instead of combining builders and split functions itself:

* **fixed split** where the data has one: the ``splits.json`` of the histology layout, PCam's official
  ``train`` / ``valid`` / ``test`` files;
* **seeded stratified hold-out** for CAD-CAP and Kvasir-Capsule (no official split): ``val_fraction`` of each class,
  drawn with ``seed`` by :func:`~monai_ext.data.layouts.registry.stratified_holdout`; the hold-out is both the
  ``val`` and the ``test`` split;
* **stratified k-fold** with ``num_folds > 1`` (histology, CAD-CAP, Kvasir-Capsule): fold ``fold`` of
  :func:`~monai_ext.data.histology.k_fold_split` (seed ``fold_seed``) is both ``val`` and ``test``, the other folds
  are ``train``. The histology folds are drawn over its ``train`` and ``val`` patches (its ``test`` patches are not
  used).

``split="all"`` gives every entry of train, val and test once. Entries are ``{"image": path, "label": int,
"id": str}``; PCam entries point at the HDF5 image file and add the patch ``index`` (read the patches with
:class:`~monai_ext.data.histology.PCamDataset`).
"""

from __future__ import annotations

import os

import numpy as np

from ..embedded import embedded_dataset_dir
from ..errors import DatasetLayoutError
from ..histology import (
    PCAM_SPLITS,
    build_cadcap_datalist,
    build_histology_datalist,
    build_kvasir_capsule_datalist,
    k_fold_split,
    pcam_file_paths,
)
from .registry import register_layout, stratified_holdout

__all__ = ["histology_96", "pcam", "cadcap", "kvasir_capsule", "split_classification_pool"]


def _check_folds(num_folds: int) -> None:
    if int(num_folds) < 1:
        raise ValueError(f"num_folds must be at least 1 (1: no cross-validation), got {num_folds!r}")


def _required_dir(dataset_dir: str | os.PathLike | None, dataset: str) -> str | os.PathLike:
    if dataset_dir is None or str(dataset_dir) == "":
        raise DatasetLayoutError(f"{dataset}: dataset_dir not given")
    return dataset_dir


def split_classification_pool(
    pool: list[dict],
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    num_folds: int = 1,
    fold: int = 0,
    fold_seed: int = 0,
) -> list[dict]:
    """One split of a classification dataset without official split.

    With ``num_folds > 1``: ``train`` = the other folds, ``val`` and ``test`` = fold ``fold`` of the stratified
    :func:`~monai_ext.data.histology.k_fold_split` (seed ``fold_seed``). Else: ``val`` and ``test`` = the seeded
    stratified hold-out of ``val_fraction`` per class (:func:`~monai_ext.data.layouts.registry.stratified_holdout`
    with ``seed``), ``train`` the rest. ``all`` is ``pool``. Every part keeps the order of ``pool``.

    Args:
        pool: data dicts with an integer ``"label"``.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
        val_fraction: hold-out fraction of each class (``num_folds = 1``).
        seed: hold-out seed (``num_folds = 1``).
        num_folds: number of cross-validation folds; 1 for the hold-out.
        fold: the held-out fold, ``0 <= fold < num_folds``.
        fold_seed: fold assignment seed.

    Raises:
        ValueError: for an unknown split, ``num_folds < 1`` or ``fold`` out of range.
    """
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"split must be 'train', 'val', 'test' or 'all', got {split!r}")
    _check_folds(num_folds)
    if split == "all":
        return list(pool)
    if num_folds > 1:
        train, held = k_fold_split(pool, int(num_folds), int(fold), fold_seed)
    else:
        train, held = stratified_holdout(pool, [d["label"] for d in pool], val_fraction, seed)
    return train if split == "train" else held


@register_layout(
    "histology_96",
    "embedded histology patches (monai_ext/data/sample/histology_96): splits.json train / val / test, or k-fold",
    ["histology"],
    builds_all=True,
)
def histology_96(
    dataset_dir: str | os.PathLike | None,
    split: str,
    num_folds: int = 1,
    fold: int = 0,
    fold_seed: int = 0,
) -> list[dict]:
    """The embedded histology patches (``dataset_dir=None``) or a folder in the same layout::

        normal/<id>.png ...   tumour/<id>.png ...   splits.json   ({"<id>": "train" | "val" | "test", ...})

    Labels: 0 = ``normal``, 1 = ``tumour``; entries sorted by id (:func:`build_histology_datalist`).

    Split: the fixed split of ``splits.json``; with ``num_folds > 1`` a stratified k-fold over the ``train`` and
    ``val`` patches, whose fold ``fold`` is ``val`` and ``test`` (see :func:`split_classification_pool`).

    Args:
        dataset_dir: folder with ``normal/``, ``tumour/`` and ``splits.json`` (default: the embedded copy).
        split: ``train``, ``val``, ``test`` or ``all``.
        num_folds: cross-validation folds; 1 (default) for the fixed split.
        fold: the held-out fold.
        fold_seed: fold assignment seed.
    """
    _check_folds(num_folds)
    root = dataset_dir or embedded_dataset_dir("histology_96")
    if num_folds > 1:
        pool = build_histology_datalist(root, ("train", "val"))
        return split_classification_pool(pool, split, num_folds=num_folds, fold=fold, fold_seed=fold_seed)
    return build_histology_datalist(root, split)


@register_layout(
    "pcam",
    "PatchCamelyon HDF5 files: official train / valid / test (entries index patches; read with PCamDataset)",
    ["patch_camelyon", "patchcamelyon"],
    image_files=False,
)
def pcam(dataset_dir: str | os.PathLike | None, split: str) -> list[dict]:
    """PatchCamelyon (Veeling et al., MICCAI 2018) in its official files (decompressed)::

        camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5

    Split: official ``train`` / ``valid`` (our ``val``) / ``test``; k-fold is not offered. Entries are
    ``{"image": path of the x file, "index": i, "label": int, "id": "pcam_<split>_<i>"}`` with the ids and labels
    of the items of :class:`~monai_ext.data.histology.PCamDataset`, which reads the patches lazily; only the
    (small) label file is read here.

    Args:
        dataset_dir: folder with the ``.h5`` files.
        split: ``train``, ``val`` or ``test``.
    """
    import h5py

    x_path, y_path = pcam_file_paths(_required_dir(dataset_dir, "PCam"), split)
    with h5py.File(y_path, "r") as handle:
        if "y" not in handle:
            raise DatasetLayoutError(f"PCam label file {y_path} has no dataset 'y'.")
        labels = np.asarray(handle["y"])
    labels = labels.reshape(len(labels), -1)[:, 0]
    name = PCAM_SPLITS[split]
    return [
        {"image": str(x_path), "index": i, "label": int(label), "id": f"pcam_{name}_{i:06d}"}
        for i, label in enumerate(labels)
    ]


@register_layout(
    "cadcap",
    "CAD-CAP class folders normal / inflammatory / vascular: seeded stratified hold-out (val = test), or k-fold",
    ["cad_cap"],
    builds_all=True,
)
def cadcap(
    dataset_dir: str | os.PathLike | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    num_folds: int = 1,
    fold: int = 0,
    fold_seed: int = 0,
) -> list[dict]:
    """CAD-CAP (Leenhardt et al., Endoscopy International Open 2020) in class folders::

        normal/<image> ...   inflammatory/<image> ...   vascular/<image> ...   (any depth, names in any case)

    Labels 0, 1, 2 in that order (:func:`build_cadcap_datalist`). No official split: a seeded stratified hold-out of
    ``val_fraction`` per class serves as ``val`` and ``test``; with ``num_folds > 1`` fold ``fold`` of a stratified
    k-fold does (see :func:`split_classification_pool`).

    Args:
        dataset_dir: the folder holding the class folders.
        split: ``train``, ``val``, ``test`` or ``all``.
        val_fraction: hold-out fraction of each class (``num_folds = 1``).
        seed: hold-out seed.
        num_folds: cross-validation folds; 1 for the hold-out.
        fold: the held-out fold.
        fold_seed: fold assignment seed.
    """
    pool = build_cadcap_datalist(_required_dir(dataset_dir, "CAD-CAP"))
    return split_classification_pool(pool, split, val_fraction, seed, num_folds, fold, fold_seed)


@register_layout(
    "kvasir_capsule",
    "Kvasir-Capsule labelled_images/<class>/ (sorted names): seeded stratified hold-out (val = test), or k-fold",
    ["kvasir"],
    builds_all=True,
)
def kvasir_capsule(
    dataset_dir: str | os.PathLike | None,
    split: str,
    classes: list[str] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    num_folds: int = 1,
    fold: int = 0,
    fold_seed: int = 0,
) -> list[dict]:
    """Kvasir-Capsule (Smedsrud et al., Scientific Data 2021)::

        labelled_images/<class name>/<image> ...   (or the class folders directly below dataset_dir)

    Label = index of the class folder name in ``classes``, by default every non-hidden class folder in sorted order
    (:func:`~monai_ext.data.histology.kvasir_capsule_classes`). Split as :func:`cadcap`.

    Args:
        dataset_dir: the dataset root.
        split: ``train``, ``val``, ``test`` or ``all``.
        classes: class folder names in label order (a subset drops the other classes); default all, sorted.
        val_fraction: hold-out fraction of each class (``num_folds = 1``).
        seed: hold-out seed.
        num_folds: cross-validation folds; 1 for the hold-out.
        fold: the held-out fold.
        fold_seed: fold assignment seed.
    """
    pool = build_kvasir_capsule_datalist(_required_dir(dataset_dir, "Kvasir-Capsule"), classes)
    return split_classification_pool(pool, split, val_fraction, seed, num_folds, fold, fold_seed)
