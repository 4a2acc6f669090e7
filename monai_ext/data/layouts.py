# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dataset layouts: official folder layouts turned into MONAI data lists.

:func:`build_datalist` dispatches on a registry of layout builders (vessel datasets in
:mod:`monai_ext.data.vessel_layouts`, lesion datasets in :mod:`monai_ext.data.lesion_layouts`). Each entry is a dict
``{"image": path, "label": path, "id": stem}`` plus ``"fov": path`` for datasets that ship field-of-view masks
when ``use_fov=True`` (see ``docs/contracts.md``). Lesion datasets may give ``label: None`` for an image without a
lesion mask (an all-zero mask, read by :class:`~monai_ext.data.readers.LoadMaskd`), or one label path per lesion
type.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..utils.image_files import IMAGE_SUFFIXES, find_image_files
from .errors import DatasetLayoutError

__all__ = [
    "SPLITS",
    "SPLIT_FOLDER_ALIASES",
    "split_folder_names",
    "DatasetLayout",
    "register_layout",
    "list_datasets",
    "get_layout",
    "build_datalist",
    "seeded_holdout",
    "stratified_holdout",
    "natural_key",
]

SPLITS = ("train", "val", "test", "all")
_T = TypeVar("_T")
_IGNORED_FILES = {"thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class DatasetLayout:
    """A registered dataset layout.

    Attributes:
        name: canonical name (lower case, ``_`` separated).
        builder: ``builder(dataset_dir, split, **options) -> list[dict]`` for ``split`` in train/val/test.
        summary: one line describing the layout and its split.
        aliases: other accepted names.
    """

    name: str
    builder: Callable[..., list[dict]]
    summary: str
    aliases: tuple[str, ...] = ()

    @property
    def options(self) -> list[str]:
        """Keyword options accepted by the builder."""
        parameters = list(inspect.signature(self.builder).parameters.values())[2:]
        return [p.name for p in parameters]


_REGISTRY: dict[str, DatasetLayout] = {}
_ALIASES: dict[str, str] = {}


def _canonical(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def register_layout(name: str, summary: str, aliases: Sequence[str] = ()) -> Callable:
    """Decorator registering ``builder(dataset_dir, split, **options)`` under ``name`` (and ``aliases``)."""

    def decorator(builder: Callable[..., list[dict]]) -> Callable[..., list[dict]]:
        key = _canonical(name)
        _REGISTRY[key] = DatasetLayout(key, builder, summary, tuple(_canonical(a) for a in aliases))
        for alias in (key, *aliases):
            _ALIASES[_canonical(alias)] = key
        return builder

    return decorator


def _ensure_registered() -> None:
    from . import lesion_layouts, vessel_layouts  # noqa: F401  (registration side effect)


def list_datasets() -> list[str]:
    """Names of the registered dataset layouts, sorted."""
    _ensure_registered()
    return sorted(_REGISTRY)


def get_layout(dataset: str) -> DatasetLayout:
    """The :class:`DatasetLayout` registered under ``dataset`` (or one of its aliases).

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    _ensure_registered()
    key = _ALIASES.get(_canonical(dataset))
    if key is None:
        raise ValueError(f"unknown dataset {dataset!r}; available datasets: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def build_datalist(dataset: str, dataset_dir: str | None = None, split: str = "train", **options: Any) -> list[dict]:
    """Build the data list of a public dataset in its official folder layout.

    Args:
        dataset: layout name, see :func:`list_datasets` (``drive``, ``chase_db1``, ``hrf``, ``stare``, ``fives``,
            ``prime_fp20``, ``idrid``, ``e_ophtha_ex``, ``ddr``, ``chasedb1``, ``idrid_ex_512``).
        dataset_dir: the dataset folder; optional for the embedded ``chasedb1`` and ``idrid_ex_512``.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (train, val and test concatenated).
        options: dataset options (``val_fraction``, ``seed``, ``use_fov``, ``annotator``, ``lesion``, ``split_mode``,
            ``strict``, ...); see each builder's docstring and ``docs/datasets.md``.

    Returns:
        List of dicts with ``image``, ``label`` and ``id`` (and ``fov`` when requested), sorted by natural order.

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
    parts = ("train", "val", "test") if split == "all" else (split,)
    datalist: list[dict] = []
    for part in parts:
        entries = layout.builder(dataset_dir, part, **options)
        if not entries and split != "all":
            hint = " (set val_fraction > 0)" if part == "val" and options.get("val_fraction", 1) == 0 else ""
            raise DatasetLayoutError(f"{layout.name}: split {part!r} is empty in {dataset_dir}{hint}")
        datalist.extend(entries)
    if not datalist:
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


def _normalised(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def layout_error(path: Path | str, problem: str, dataset: str, layout: str) -> DatasetLayoutError:
    """A :class:`DatasetLayoutError` naming ``path``, the problem and the expected layout."""
    return DatasetLayoutError(f"{path}: {problem}; expected the {dataset} layout:\n{layout.strip(chr(10))}")


def require_dir(path: str | Path | None, dataset: str, layout: str) -> Path:
    """``path`` as a ``Path``, checked to be an existing folder."""
    if path is None or str(path) == "":
        raise layout_error("dataset_dir", "not given", dataset, layout)
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise layout_error(folder, "folder not found", dataset, layout)
    return folder


#: common alternative names of split folders in re-packed dataset copies; accepted when exactly one is present.
SPLIT_FOLDER_ALIASES = {
    "training": ("training", "train"),
    "train": ("train", "training"),
    "test": ("test", "testing"),
    "testing": ("testing", "test"),
    "valid": ("valid", "val", "validation"),
    "val": ("val", "valid", "validation"),
}


def split_folder_names(name: str) -> list[str]:
    """``name`` and its common alternatives (``test``/``testing``, ``train``/``training``, ``val``/``valid``)."""
    return list(SPLIT_FOLDER_ALIASES.get(name.lower(), (name,)))


def find_child_dir(parent: Path, names: Iterable[str], dataset: str, layout: str, required: bool = True) -> Path | None:
    """The sub-folder of ``parent`` whose name matches one of ``names``.

    Names match ignoring case, spaces and punctuation (``"2. All Segmentation Groundtruths"`` matches
    ``"2_all_segmentation_groundtruths"``), a common quirk of re-packed archives. When several sub-folders match
    different names (e.g. both ``test`` and ``testing`` exist) the choice would be a guess, so a
    :class:`DatasetLayoutError` is raised instead.
    """
    names = list(names)
    if parent.is_dir():
        wanted = {_normalised(n) for n in names}
        found = [child for child in sorted(parent.iterdir()) if child.is_dir() and _normalised(child.name) in wanted]
        if len(found) > 1 and len({_normalised(c.name) for c in found}) > 1:
            raise layout_error(
                parent, f"ambiguous: both {' and '.join(repr(c.name) for c in found)} exist; keep one", dataset, layout
            )
        if found:
            return found[0]
    if not required:
        return None
    accepted = f" (also accepted: {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
    present = sorted(c.name for c in parent.iterdir() if c.is_dir()) if parent.is_dir() else []
    seen = f"; sub-folders found: {', '.join(present)}" if present else ""
    raise layout_error(parent / names[0], f"folder not found{accepted}{seen}", dataset, layout)


def descend_into(root: Path, names: Iterable[str]) -> Path:
    """``root/<name>`` when such a sub-folder exists (the user gave the parent folder), else ``root``."""
    found = find_child_dir(root, names, "", "", required=False)
    return found if found is not None else root


def list_image_files(
    folder: Path, dataset: str, layout: str, suffix_pattern: str | None = None, required: bool = True
) -> list[Path]:
    """Image files in ``folder`` (case-insensitive suffix), naturally sorted.

    The listing is :func:`monai_ext.utils.image_files.find_image_files`; this wrapper adds the layout errors.

    Args:
        folder: folder to list.
        dataset: dataset name for error messages.
        layout: expected layout text for error messages.
        suffix_pattern: optional regular expression the whole file name must match (case-insensitive).
        required: raise when the folder is missing or holds no matching file.
    """
    if not folder.is_dir():
        if required:
            raise layout_error(folder, "folder not found", dataset, layout)
        return []
    files = find_image_files(
        folder,
        IMAGE_SUFFIXES,
        name_pattern=suffix_pattern,
        ignored_names=_IGNORED_FILES,
        sort_key=lambda f: natural_key(f.name),
    )
    if not files and required:
        what = f"files matching {suffix_pattern!r}" if suffix_pattern else f"image files ({', '.join(IMAGE_SUFFIXES)})"
        raise layout_error(folder, f"no {what} found (empty folder?)", dataset, layout)
    return files


def stem_of(path: Path) -> str:
    """File name without its last suffix."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


class Pairing:
    """Collects unpaired files while a builder matches images with masks.

    With ``strict=True`` :meth:`finish` raises one :class:`DatasetLayoutError` listing every unpaired file; with
    ``strict=False`` the unpaired files stay in the data list for :func:`validate_dataset` to report.
    """

    def __init__(self, dataset: str, layout: str, strict: bool) -> None:
        self.dataset, self.layout, self.strict = dataset, layout, strict
        self.problems: list[str] = []
        self.orphans: list[dict] = []

    def missing(self, image: Path, expected: Path, key: str = "label") -> str:
        """Record an image without its ``key`` file; returns the expected path (kept when not strict)."""
        self.problems.append(f"{image}: no {key} file, expected {expected}")
        return str(expected)

    def orphan(self, mask: Path, entry_id: str, key: str = "label") -> None:
        """Record a ``key`` file without image."""
        self.problems.append(f"{mask}: {key} file without image")
        self.orphans.append({"image": None, key: str(mask), "id": entry_id})

    def finish(self, entries: list[dict]) -> list[dict]:
        """Raise the collected problems (strict) or append the orphans to ``entries``."""
        if self.problems and self.strict:
            lines = "\n  ".join(self.problems)
            raise DatasetLayoutError(
                f"{self.dataset}: {len(self.problems)} unpaired file(s):\n  {lines}\nexpected the {self.dataset} "
                f"layout:\n{self.layout.strip(chr(10))}\n(pass strict=False to list them in validate_dataset instead)"
            )
        return entries + self.orphans
