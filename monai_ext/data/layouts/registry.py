# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The dataset registry: layout builders registered by name, :func:`build_datalist`, and the seeded split helpers.

Layout modules register their builders with :func:`register_layout`: fundus vessel datasets in
:mod:`monai_ext.data.layouts.vessel`, fundus lesion datasets in :mod:`monai_ext.data.layouts.lesion`, classification
datasets (embedded histology patches, PCam, CAD-CAP, Kvasir-Capsule) in :mod:`monai_ext.data.layouts.classification`.
The package ``__init__`` imports them once, so every registered name is known as soon as
:mod:`monai_ext.data.layouts` is imported.

Segmentation entries are dicts ``{"image": path, "label": path, "id": stem}`` plus ``"fov": path`` for datasets that
ship field-of-view masks when ``use_fov=True`` (see ``docs/contracts.md``). Lesion datasets may give
``label: None`` for an image without a lesion mask (an all-zero mask, read by
:class:`~monai_ext.data.readers.LoadMaskd`), or one label path per lesion type. Classification entries are
``{"image": path, "label": int, "id": str}``.

Splits: ``"train"``, ``"val"``, ``"test"`` or ``"all"``. Where a dataset has no validation set, ``val`` is a
deterministic seeded fraction (``val_fraction``, ``seed``) of the training set and ``train`` is the rest. Seeded
hold-outs pick the same members as ``sklearn.model_selection.train_test_split(items, test_size=fraction,
random_state=seed)`` applied to the naturally sorted list: ``ceil(fraction * n)`` items at the first positions of
``numpy.random.RandomState(seed).permutation(n)``. The authors applied ``train_test_split`` to unsorted ``glob``
order, which depends on the file system, so their exact members cannot be recovered; the seeds and fractions are
theirs.

Every layout problem (missing or empty folder, unpaired files) raises one
:class:`~monai_ext.data.errors.DatasetLayoutError` naming the folder or files and the expected layout. With
``strict=False`` unpaired files are kept in the list instead (an image with the expected but absent mask path, a
mask with ``image: None``) so that :func:`monai_ext.data.validate.validate_dataset` reports them with all other
problems at once.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..errors import DatasetLayoutError

__all__ = [
    "SPLITS",
    "DatasetLayout",
    "register_layout",
    "list_datasets",
    "get_layout",
    "build_datalist",
    "natural_key",
    "seeded_holdout",
    "stratified_holdout",
    "pick_train_or_val",
    "pick_by_groups",
]

SPLITS = ("train", "val", "test", "all")
_T = TypeVar("_T")


@dataclass(frozen=True)
class DatasetLayout:
    """A registered dataset layout.

    Attributes:
        name: canonical name (lower case, ``_`` separated).
        builder: ``builder(dataset_dir, split, **options) -> list[dict]`` for ``split`` in train/val/test (and
            ``all`` when ``builds_all``).
        summary: one line describing the layout and its split.
        aliases: other accepted names.
        builds_all: the builder takes ``split="all"`` itself and returns every entry once. Set where two splits
            may share entries (a hold-out or a cross-validation fold serving as validation and test set), so that
            ``all`` is not the concatenation of train, val and test.
        image_files: entries point at one image file each (``False`` for PCam, whose patches live in HDF5 files).
        optional_splits: splits that may be empty (an unlabelled image folder has no test split, and no validation
            split unless one is held out); :func:`build_datalist` returns ``[]`` for them instead of raising.
    """

    name: str
    builder: Callable[..., list[dict]]
    summary: str
    aliases: tuple[str, ...] = ()
    builds_all: bool = False
    image_files: bool = True
    optional_splits: tuple[str, ...] = ()

    @property
    def options(self) -> list[str]:
        """Keyword options accepted by the builder."""
        parameters = list(inspect.signature(self.builder).parameters.values())[2:]
        return [p.name for p in parameters]


_REGISTRY: dict[str, DatasetLayout] = {}
_ALIASES: dict[str, str] = {}


def _canonical(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def register_layout(
    name: str,
    summary: str,
    aliases: Sequence[str] = (),
    builds_all: bool = False,
    image_files: bool = True,
    optional_splits: Sequence[str] = (),
) -> Callable:
    """Decorator registering ``builder(dataset_dir, split, **options)`` under ``name`` (and ``aliases``).

    Args:
        name: dataset name; matched ignoring case, with spaces and ``-`` read as ``_``.
        summary: one line describing the layout and its split.
        aliases: other accepted names.
        builds_all: the builder handles ``split="all"`` itself, see :class:`DatasetLayout`.
        image_files: entries point at one image file each, see :class:`DatasetLayout`.
        optional_splits: splits that may be empty, see :class:`DatasetLayout`.
    """

    def decorator(builder: Callable[..., list[dict]]) -> Callable[..., list[dict]]:
        key = _canonical(name)
        _REGISTRY[key] = DatasetLayout(
            key,
            builder,
            summary,
            tuple(_canonical(a) for a in aliases),
            builds_all,
            image_files,
            tuple(optional_splits),
        )
        for alias in (key, *aliases):
            _ALIASES[_canonical(alias)] = key
        return builder

    return decorator


def list_datasets() -> list[str]:
    """Names of the registered dataset layouts, sorted."""
    return sorted(_REGISTRY)


def get_layout(dataset: str) -> DatasetLayout:
    """The :class:`DatasetLayout` registered under ``dataset`` (or one of its aliases).

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    key = _ALIASES.get(_canonical(dataset))
    if key is None:
        raise ValueError(f"unknown dataset {dataset!r}; available datasets: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def build_datalist(dataset: str, dataset_dir: str | None = None, split: str = "train", **options: Any) -> list[dict]:
    """Build the data list of a dataset in its official folder layout.

    Args:
        dataset: layout name, see :func:`list_datasets`: fundus segmentation (``drive``, ``chase_db1``, ``hrf``,
            ``stare``, ``fives``, ``prime_fp20``, ``idrid``, ``e_ophtha_ex``, ``ddr``, embedded ``chasedb1`` and
            ``idrid_ex_512``) and classification (embedded ``histology_96``, ``pcam``, ``cadcap``,
            ``kvasir_capsule``).
        dataset_dir: the dataset folder; optional for the embedded ``chasedb1``, ``idrid_ex_512`` and
            ``histology_96``.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (every entry of train, val and test).
        options: dataset options (``val_fraction``, ``seed``, ``use_fov``, ``annotator``, ``lesion``, ``split_mode``,
            ``strict``, ``num_folds``, ``fold``, ``fold_seed``, ...); see each builder's docstring and
            ``docs/datasets.md``.

    Returns:
        List of dicts with ``image``, ``label`` and ``id`` (and ``fov`` when requested), in each builder's order.

    Raises:
        ValueError: for an unknown dataset, split or option.
        DatasetLayoutError: for a missing or empty folder, unpaired files (``strict=True``) or an empty split.
    """
    layout = get_layout(dataset)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    unknown = sorted(set(options) - set(layout.options))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for dataset {layout.name!r}; accepted options: {', '.join(layout.options)}"
        )
    parts = ("train", "val", "test") if split == "all" and not layout.builds_all else (split,)
    datalist: list[dict] = []
    for part in parts:
        entries = layout.builder(dataset_dir, part, **options)
        if not entries and split != "all" and part not in layout.optional_splits:
            hint = " (set val_fraction > 0)" if part == "val" and options.get("val_fraction", 1) == 0 else ""
            raise DatasetLayoutError(f"{layout.name}: split {part!r} is empty in {dataset_dir}{hint}")
        datalist.extend(entries)
    if not datalist and split not in layout.optional_splits:
        raise DatasetLayoutError(f"{layout.name}: no data found in {dataset_dir}")
    return datalist


# ---------------------------------------------------------------------------------------------------------------------
# helpers shared by the layout modules


def natural_key(text: str) -> list:
    """Sort key putting ``2_A`` before ``10_A`` (digit runs compared as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(text))]


def _holdout_count(n: int, fraction: float) -> int:
    if not 0.0 <= float(fraction) < 1.0:
        raise ValueError(f"hold-out fraction must be in [0, 1), got {fraction!r}")
    # rounding first keeps e.g. 0.1 * 30 = 3.0000000000000004 at 3
    return 0 if fraction == 0 else math.ceil(round(float(fraction) * n, 9))


def seeded_holdout(items: Sequence[_T], fraction: float, seed: int) -> tuple[list[_T], list[_T]]:
    """Split ``items`` into (kept, held out) with ``ceil(fraction * n)`` held-out items chosen by ``seed``.

    Picks the same members as ``sklearn.model_selection.train_test_split(items, test_size=fraction,
    random_state=seed)``; both parts keep the order of ``items``.

    Raises:
        ValueError: for a fraction outside ``[0, 1)``.
        DatasetLayoutError: when the hold-out would leave nothing to keep.
    """
    n = len(items)
    n_out = _holdout_count(n, fraction)
    if n_out == 0:
        return list(items), []
    if n_out >= n:
        raise DatasetLayoutError(f"cannot hold out a fraction {fraction} of {n} item(s): nothing would be left")
    held = set(np.random.RandomState(seed).permutation(n)[:n_out].tolist())
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def stratified_holdout(
    items: Sequence[_T], classes: Sequence[Any], fraction: float, seed: int
) -> tuple[list[_T], list[_T]]:
    """Seeded hold-out of ``ceil(fraction * n_c)`` items of each class ``c`` (at most ``n_c - 1``).

    One ``numpy.random.RandomState(seed)`` draws a permutation per class, classes in sorted order. The class
    proportions are kept; the members differ from sklearn's ``StratifiedShuffleSplit``.
    """
    if len(items) != len(classes):
        raise ValueError(f"items ({len(items)}) and classes ({len(classes)}) differ in length")
    rng = np.random.RandomState(seed)
    held: set[int] = set()
    for label in sorted(set(classes), key=str):
        members = [i for i, c in enumerate(classes) if c == label]
        n_out = min(_holdout_count(len(members), fraction), len(members) - 1)
        held.update(members[j] for j in rng.permutation(len(members))[:n_out].tolist())
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def pick_train_or_val(entries: list[dict], split: str, val_fraction: float, seed: int) -> list[dict]:
    """``train`` (entries minus the seeded validation hold-out) or ``val`` (the hold-out) of an official train set."""
    kept, held = seeded_holdout(entries, val_fraction, seed)
    return kept if split == "train" else held


def pick_by_groups(
    entries: list[dict], groups: Sequence[str], split: str, test_fraction: float, val_fraction: float, seed: int
) -> list[dict]:
    """Train/val/test of a dataset without official split, holding out whole groups (patients, source images).

    ``test`` = seeded ``test_fraction`` of the sorted groups; ``val`` = seeded ``val_fraction`` of the remaining
    groups; ``train`` = the rest. Group members never straddle two splits.
    """
    names = sorted(set(groups), key=natural_key)
    rest, test_groups = seeded_holdout(names, test_fraction, seed)
    train_groups, val_groups = seeded_holdout(rest, val_fraction, seed)
    chosen = set({"train": train_groups, "val": val_groups, "test": test_groups}[split])
    return [e for e, g in zip(entries, groups) if g in chosen]
