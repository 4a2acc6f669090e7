# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Folder helpers shared by the layout modules: finding split and class folders, listing image files, pairing images
with masks, and :class:`~monai_ext.data.errors.DatasetLayoutError` messages that show the expected layout."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ...utils.image_files import IMAGE_SUFFIXES, find_image_files
from ..errors import DatasetLayoutError
from .registry import natural_key

__all__ = [
    "IMAGE_SUFFIXES",
    "SPLIT_FOLDER_ALIASES",
    "split_folder_names",
    "layout_error",
    "require_dir",
    "find_child_dir",
    "descend_into",
    "list_image_files",
    "stem_of",
    "Pairing",
]

_IGNORED_FILES = {"thumbs.db", "desktop.ini"}


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
