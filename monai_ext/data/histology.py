# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Classification and super-resolution dataset builders of the ``sai_diagnosis`` bundle.

Layouts (Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 2021, evaluate on CAD-CAP, Kvasir-Capsule and PCam; the SR stages train on folders of HR images):

* embedded histology default ``histology_96/``: ``normal/`` (label 0) and ``tumour/`` (label 1) PNG patches plus
  ``splits.json`` (patch id -> ``"train" | "val" | "test"``), see its README;
* CAD-CAP: class folders ``normal/``, ``inflammatory/``, ``vascular/`` -> labels 0, 1, 2;
* Kvasir-Capsule: ``labelled_images/<class name>/`` (or the class folders directly), label = index of the folder
  name in sorted order;
* PCam: ``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``, read lazily by :class:`PCamDataset`;
* EndoSR / HistoSR style SR data: every image file below a folder, recursively, sorted.

Layout problems raise :class:`~monai_ext.data.errors.DatasetLayoutError` (a ``ValueError``).
Builders return MONAI data dicts ``{"image": path, "label": int, "id": str}`` (``label`` omitted for SR folders).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.transforms import apply_transform

from ..utils.image_files import HISTOLOGY_SUFFIXES, find_image_files
from .errors import DataError, DatasetLayoutError

__all__ = [
    "HISTOLOGY_CLASSES",
    "CADCAP_CLASSES",
    "IMAGE_EXTENSIONS",
    "build_histology_datalist",
    "build_sr_folder_datalist",
    "build_class_folder_datalist",
    "build_cadcap_datalist",
    "build_kvasir_capsule_datalist",
    "kvasir_capsule_classes",
    "pcam_file_paths",
    "PCamDataset",
    "k_fold_split",
]

HISTOLOGY_CLASSES = ("normal", "tumour")
CADCAP_CLASSES = ("normal", "inflammatory", "vascular")
#: the image suffixes of the class-folder builders (``monai_ext.utils.image_files.HISTOLOGY_SUFFIXES``)
IMAGE_EXTENSIONS = HISTOLOGY_SUFFIXES
HISTOLOGY_SPLITS = ("train", "val", "test")
PCAM_SPLITS = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}


def _image_files(folder: Path) -> list[Path]:
    """Image files below ``folder`` (recursive, hidden entries skipped), sorted by relative path."""
    if not folder.is_dir():
        return []
    return find_image_files(folder, IMAGE_EXTENSIONS, recursive=True)


def _existing_dir(dataset_dir: str | os.PathLike, what: str) -> Path:
    path = Path(dataset_dir)
    if not path.is_dir():
        raise DatasetLayoutError(f"{what} folder {path} does not exist or is not a folder.")
    return path


def build_histology_datalist(dataset_dir: str | os.PathLike, split: str | Sequence[str] = "train") -> list[dict]:
    """Data dicts of the embedded histology patches (or any folder in the same layout).

    Args:
        dataset_dir: folder with ``normal/``, ``tumour/`` and ``splits.json``.
        split: ``"train"``, ``"val"``, ``"test"``, ``"all"`` or a sequence of split names.

    Returns:
        ``[{"image": path, "label": int, "id": stem}]`` sorted by id; label 0 = normal, 1 = tumour.

    Raises:
        DatasetLayoutError: when the folder, ``splits.json`` or a listed patch is missing, for an unknown split
            name, or for a patch not listed in ``splits.json``.
    """
    root = _existing_dir(dataset_dir, "histology dataset")
    names = HISTOLOGY_SPLITS if split == "all" else ((split,) if isinstance(split, str) else tuple(split))
    unknown = sorted(set(names) - set(HISTOLOGY_SPLITS))
    if unknown:
        raise DatasetLayoutError(f"unknown split(s) {unknown}; expected a subset of {HISTOLOGY_SPLITS} or 'all'.")
    split_file = root / "splits.json"
    if not split_file.is_file():
        raise DatasetLayoutError(f"{split_file} is missing: the histology layout needs a patch id -> split map.")
    splits = json.loads(split_file.read_text())
    found: dict[str, tuple[Path, int]] = {}
    for label, class_name in enumerate(HISTOLOGY_CLASSES):
        class_dir = root / class_name
        if not class_dir.is_dir():
            raise DatasetLayoutError(f"class folder {class_dir} is missing.")
        for path in _image_files(class_dir):
            if path.stem not in splits:
                raise DatasetLayoutError(f"patch {path} is not listed in {split_file}.")
            found[path.stem] = (path, label)
    missing = sorted(set(splits) - set(found))
    if missing:
        raise DatasetLayoutError(f"{len(missing)} patch(es) listed in {split_file} have no file, e.g. {missing[:3]}.")
    return [
        {"image": str(found[pid][0]), "label": found[pid][1], "id": pid}
        for pid in sorted(found)
        if splits[pid] in names
    ]


def build_sr_folder_datalist(dataset_dir: str | os.PathLike) -> list[dict]:
    """Data dicts of every image file below a folder of HR images (EndoSR / HistoSR style), recursively, sorted.

    Args:
        dataset_dir: folder of HR images (any depth).

    Returns:
        ``[{"image": path, "id": relative path without suffix, "/" -> "_"}]`` (the file stem for a flat folder).

    Raises:
        DatasetLayoutError: when the folder is missing or holds no image file.
    """
    root = _existing_dir(dataset_dir, "SR image")
    files = _image_files(root)
    if not files:
        raise DatasetLayoutError(f"no image file ({', '.join(IMAGE_EXTENSIONS)}) found below {root}.")
    return [{"image": str(p), "id": "_".join(p.relative_to(root).with_suffix("").parts)} for p in files]


def build_class_folder_datalist(dataset_dir: str | os.PathLike, classes: Sequence[str] | None = None) -> list[dict]:
    """Data dicts of a class-folder layout: ``dataset_dir/<class>/**/<image>``.

    Args:
        dataset_dir: folder whose subfolders are the classes.
        classes: class folder names in label order; default all non-hidden subfolders, sorted by name.

    Returns:
        ``[{"image": path, "label": int, "id": stem}]``, class by class, files sorted within a class.

    Raises:
        DatasetLayoutError: when the folder or a class folder is missing, or a class folder holds no image.
    """
    root = _existing_dir(dataset_dir, "class-folder dataset")
    if classes is None:
        classes = _class_folder_names(root)
    datalist = []
    for label, class_name in enumerate(classes):
        class_dir = root / class_name
        if not class_dir.is_dir():
            raise DatasetLayoutError(f"class folder {class_dir} is missing.")
        files = _image_files(class_dir)
        if not files:
            raise DatasetLayoutError(f"class folder {class_dir} holds no image file.")
        datalist += [{"image": str(p), "label": label, "id": p.stem} for p in files]
    return datalist


def build_cadcap_datalist(dataset_dir: str | os.PathLike) -> list[dict]:
    """Data dicts of CAD-CAP in class folders ``normal/``, ``inflammatory/``, ``vascular/`` (labels 0, 1, 2).

    Folder names are matched case-insensitively (``Normal/`` is accepted).

    Raises:
        DatasetLayoutError: when a class folder is missing or empty.
    """
    root = _existing_dir(dataset_dir, "CAD-CAP")
    by_lower = {p.name.lower(): p.name for p in root.iterdir() if p.is_dir()}
    missing = [c for c in CADCAP_CLASSES if c not in by_lower]
    if missing:
        raise DatasetLayoutError(f"CAD-CAP folder {root} lacks class folder(s) {missing}; expected {CADCAP_CLASSES}.")
    return build_class_folder_datalist(root, [by_lower[c] for c in CADCAP_CLASSES])


def build_kvasir_capsule_datalist(dataset_dir: str | os.PathLike, classes: Sequence[str] | None = None) -> list[dict]:
    """Data dicts of Kvasir-Capsule: class = subfolder name, labels in sorted name order.

    Args:
        dataset_dir: the dataset root holding ``labelled_images/`` (official layout) or the class folders.
        classes: optional subset / order of class folder names (e.g. to drop rare classes).

    Raises:
        DatasetLayoutError: when the folder or a requested class folder is missing.
    """
    return build_class_folder_datalist(_kvasir_capsule_root(dataset_dir), classes)


def kvasir_capsule_classes(dataset_dir: str | os.PathLike) -> list[str]:
    """Class names of Kvasir-Capsule: the non-hidden subfolder names, sorted, in label order.

    These are the classes :func:`build_kvasir_capsule_datalist` uses by default, so ``len(...)`` is the number of
    classes a bundle needs.

    Args:
        dataset_dir: the dataset root holding ``labelled_images/`` (official layout) or the class folders.

    Raises:
        DatasetLayoutError: when the folder is missing or has no class subfolder.
    """
    return _class_folder_names(_kvasir_capsule_root(dataset_dir))


def _kvasir_capsule_root(dataset_dir: str | os.PathLike) -> Path:
    root = _existing_dir(dataset_dir, "Kvasir-Capsule")
    return root / "labelled_images" if (root / "labelled_images").is_dir() else root


def _class_folder_names(root: Path) -> list[str]:
    """Non-hidden subfolder names of ``root``, sorted."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetLayoutError(f"{root} has no class subfolder.")
    return classes


def pcam_file_paths(dataset_dir: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """Paths of the PCam image and label files of a split (``train``, ``val``/``valid`` or ``test``).

    Raises:
        DatasetLayoutError: for an unknown split, or when a file is missing (with a hint when only the ``.gz``
            download is present).
    """
    if split not in PCAM_SPLITS:
        raise DatasetLayoutError(f"unknown PCam split {split!r}; expected one of {sorted(PCAM_SPLITS)}.")
    root = _existing_dir(dataset_dir, "PCam")
    paths = tuple(root / f"camelyonpatch_level_2_split_{PCAM_SPLITS[split]}_{k}.h5" for k in ("x", "y"))
    for path in paths:
        if not path.is_file():
            gz = path.with_name(path.name + ".gz")
            hint = f" (found {gz.name}: decompress it first)" if gz.is_file() else ""
            raise DatasetLayoutError(f"PCam file {path} is missing{hint}.")
    return paths  # type: ignore[return-value]


class PCamDataset(torch.utils.data.Dataset):
    """PatchCamelyon from its official HDF5 files, read lazily (one open file handle per worker process).

    Items are ``{"image": uint8 tensor (3, 96, 96), "label": int, "id": "pcam_<split>_<index>"}``, passed through
    ``transform`` (MONAI dictionary transforms) when given.

    Args:
        dataset_dir: folder with ``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``.
        split: ``"train"``, ``"val"`` (= ``"valid"``) or ``"test"``.
        transform: optional callable applied to each item dict with MONAI's ``apply_transform``.

    Raises:
        DatasetLayoutError: when a file is missing.
        DataError: when the arrays are not ``x: (N, H, W, 3)`` and ``y`` with ``N`` entries.
    """

    def __init__(self, dataset_dir: str | os.PathLike, split: str = "train", transform: Callable | None = None):
        import h5py

        self.split = PCAM_SPLITS.get(split, split)
        self.x_path, self.y_path = pcam_file_paths(dataset_dir, split)
        self.transform = transform
        with h5py.File(self.x_path, "r") as fx, h5py.File(self.y_path, "r") as fy:
            if "x" not in fx or "y" not in fy:
                raise DataError(f"{self.x_path} must hold dataset 'x' and {self.y_path} dataset 'y'.")
            x_shape, y_shape = fx["x"].shape, fy["y"].shape
        if len(x_shape) != 4 or x_shape[-1] != 3:
            raise DataError(f"{self.x_path}: 'x' must have shape (N, H, W, 3), got {x_shape}.")
        if y_shape[0] != x_shape[0] or int(np.prod(y_shape[1:])) != 1:
            raise DataError(f"{self.y_path}: 'y' must have shape ({x_shape[0]}, 1, 1, 1), got {y_shape}.")
        self._length = int(x_shape[0])
        self._handles: tuple[Any, Any] | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self._length

    def _open(self) -> tuple[Any, Any]:
        # h5py handles must not be shared across forked DataLoader workers: reopen once per process
        if self._handles is None or self._pid != os.getpid():
            import h5py

            self._handles = (h5py.File(self.x_path, "r")["x"], h5py.File(self.y_path, "r")["y"])
            self._pid = os.getpid()
        return self._handles

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"], state["_pid"] = None, None
        return state

    def __getitem__(self, index: int) -> Any:
        if not -self._length <= index < self._length:
            raise IndexError(f"index {index} out of range for PCam {self.split} with {self._length} patches.")
        index = index % self._length
        x, y = self._open()
        image = torch.from_numpy(np.ascontiguousarray(x[index].transpose(2, 0, 1)))
        label = int(np.asarray(y[index]).reshape(-1)[0])
        item = {"image": image, "label": label, "id": f"pcam_{self.split}_{index:06d}"}
        return apply_transform(self.transform, item) if self.transform is not None else item


def k_fold_split(datalist: Sequence[dict], k: int, fold: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Stratified k-fold split of a classification datalist.

    Each label's items are shuffled with ``seed`` and dealt round-robin to the ``k`` folds, so every fold holds
    each label in proportion (sizes differ by at most one); fold ``fold`` is the validation part. Both parts keep
    the input order.

    Args:
        datalist: data dicts with an ``int`` ``"label"``.
        k: number of folds (>= 2).
        fold: the held-out fold, ``0 <= fold < k``.
        seed: shuffling seed; the same seed gives the same folds.

    Returns:
        ``(train, val)`` lists; over ``fold = 0..k-1`` the val parts partition ``datalist``.

    Raises:
        ValueError: for ``k < 2``, ``fold`` out of range, or an item without ``"label"``.
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}.")
    if not 0 <= fold < k:
        raise ValueError(f"fold must be in [0, {k}), got {fold}.")
    try:
        labels = np.asarray([int(item["label"]) for item in datalist], dtype=np.int64)
    except KeyError as err:
        raise ValueError("every data dict needs an integer 'label' for a stratified split.") from err
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    start = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        # deal round-robin, continuing where the previous label stopped, so fold sizes differ by at most one
        fold_of[members] = (np.arange(len(members)) + start) % k
        start += len(members)
    in_val = fold_of == fold
    train = [item for item, v in zip(datalist, in_val) if not v]
    val = [item for item, v in zip(datalist, in_val) if v]
    return train, val
