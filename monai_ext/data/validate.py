# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Dataset validation before training: every image/mask pair is decoded and checked, all problems reported at once.

Problems (``report.ok`` is False):

* unreadable or truncated files (each file is decoded fully, not only its header);
* images with an unexpected channel count (2 channels without alpha, more than 4);
* masks whose size differs from their image;
* masks with unexpected values: more than two distinct values, or two values other than 0/1, 0/255 (0/65535 for
  16-bit files), or a single value other than those;
* missing pairs: an image without mask where masks are required, a mask without image, a file that does not exist;
* duplicate ids;
* class labels (integer labels, e.g. of classification data lists) outside ``[0, num_classes)`` or not integral,
  when ``num_classes`` is given.

Accepted, and listed as notes: grayscale, RGBA (alpha dropped), 16-bit, palette (GIF) and very large images, masks
without foreground and images whose label is ``None`` (no lesion).

Command line (exit status 1 on problems, 0 otherwise)::

    python -m monai_ext.data.validate --dataset drive --dataset_dir /data/DRIVE [--split train] [--option annotator=2]
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DataError
from .layouts import build_datalist, get_layout
from .readers import DEFAULT_MAX_IMAGE_PIXELS, DecodedImage, decode_image

__all__ = ["Finding", "ValidationReport", "validate_dataset", "ensure_valid_dataset", "check_datalists", "main"]

#: images with more pixels than this get a "very large image" note (PRIME-FP20 is 4000x4000).
LARGE_IMAGE_PIXELS = 4096 * 4096
_BINARY_PAIRS = ({0, 1}, {0, 255}, {0, 65535})


@dataclass(frozen=True)
class Finding:
    """One problem or note about one file."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class ValidationReport:
    """Outcome of :func:`validate_dataset`.

    Attributes:
        num_entries: entries checked.
        problems: findings that make the dataset unusable as is.
        notes: accepted peculiarities (grayscale, RGBA, 16-bit, palette, very large images, empty masks, ...).
    """

    num_entries: int = 0
    problems: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found (notes do not count)."""
        return not self.problems

    def __str__(self) -> str:
        lines = [
            f"checked {self.num_entries} entries: {len(self.problems)} problem(s), {len(self.notes)} note(s)"
            + ("" if self.problems else " - OK")
        ]
        lines += [f"PROBLEM {p}" for p in self.problems]
        lines += [f"note    {n}" for n in self.notes]
        return "\n".join(lines)


def _message(exc: DataError, path: str) -> str:
    text = str(exc)
    return text[len(path) + 2 :] if text.startswith(f"{path}: ") else text


def _distinct_values(plane: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a mask plane (bincount for 8/16-bit, faster than ``np.unique`` on big masks)."""
    if plane.dtype in (np.uint8, np.uint16):
        return np.flatnonzero(np.bincount(plane.ravel(), minlength=1))
    return np.unique(plane)


def _image_notes(
    path: str, decoded: DecodedImage, large_image_pixels: int, num_channels: int | None = 3
) -> list[Finding]:
    notes = []
    if decoded.alpha_dropped:
        notes.append(Finding(path, f"{decoded.mode} image: alpha channel dropped"))
    if decoded.bit_depth == 16:
        notes.append(Finding(path, "16-bit image: values divided by 257 to [0, 255]"))
    if decoded.is_palette:
        notes.append(Finding(path, "palette image: colours resolved through the palette"))
    if decoded.array.shape[-1] == 1 and num_channels is not None and num_channels > 1:
        notes.append(
            Finding(
                path,
                f"grayscale image: replicated to {num_channels} channels by "
                f"LoadFundusImaged(num_channels={num_channels})",
            )
        )
    height, width = decoded.spatial_shape
    if height * width > large_image_pixels:
        notes.append(Finding(path, f"very large image ({width}x{height} pixels)"))
    return notes


def _mask_findings(path: str, decoded: DecodedImage, binary: bool) -> tuple[list[Finding], list[Finding]]:
    """(problems, notes) about the values of a mask."""
    if not binary:
        return [], []
    plane = decoded.array.max(axis=-1) if decoded.array.shape[-1] > 1 else decoded.array[..., 0]
    values = [v.item() for v in _distinct_values(plane)]
    shown = ", ".join(str(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")
    if len(values) > 2:
        return [Finding(path, f"not a binary mask: {len(values)} distinct values ({shown})")], []
    if len(values) == 2 and set(values) not in _BINARY_PAIRS:
        return [Finding(path, f"unexpected mask values ({shown}); expected 0/255 or 0/1")], []
    if len(values) == 1:
        if values[0] == 0:
            return [], [Finding(path, "mask without foreground (accepted)")]
        if values[0] not in (1, 255, 65535):
            return [Finding(path, f"unexpected mask value ({shown}); expected 0/255 or 0/1")], []
        return [], [Finding(path, "mask is foreground everywhere")]
    return [], []


def _decode(path: str, max_image_pixels: int | None, report: ValidationReport, cache: dict) -> DecodedImage | None:
    if path in cache:
        return cache[path]
    decoded = None
    if not os.path.isfile(path):
        report.problems.append(Finding(path, "file not found"))
    else:
        try:
            decoded = decode_image(path, max_image_pixels)
        except DataError as exc:
            report.problems.append(Finding(path, _message(exc, path)))
    cache[path] = decoded
    return decoded


def _as_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, (str, os.PathLike)):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return []  # e.g. an int class index: not a mask


def _class_label_problem(value: Any, num_classes: int) -> str | None:
    """Why ``value`` is not a class index in ``[0, num_classes)``, or None when it is one (or a mask path)."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return None
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return None  # several mask paths
    try:
        number = np.asarray(value)
    except Exception:  # noqa: BLE001 - any object that is not array-like
        return f"label {value!r} is not a class index"
    real = np.issubdtype(number.dtype, np.integer) or np.issubdtype(number.dtype, np.floating) or number.dtype == bool
    if number.size != 1 or not real:
        return f"label {value!r} is not a class index"
    scalar = number.reshape(()).item()
    if float(scalar) != int(scalar):
        return f"label {scalar!r} is not an integer class index"
    if not 0 <= int(scalar) < num_classes:
        return f"label {int(scalar)} is out of range for {num_classes} classes (expected 0..{num_classes - 1})"
    return None


def validate_dataset(
    datalist: Iterable[dict],
    image_key: str = "image",
    label_keys: Sequence[str] = ("label", "fov"),
    require_labels: bool = True,
    binary_masks: bool = True,
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
    large_image_pixels: int = LARGE_IMAGE_PIXELS,
    num_classes: int | None = None,
    num_channels: int | None = 3,
) -> ValidationReport:
    """Check every image/mask pair of a data list and report all problems at once.

    Args:
        datalist: entries as built by :func:`monai_ext.data.build_datalist` (``image``, ``label``, ``fov``, ``id``);
            build it with ``strict=False`` so that unpaired files reach this report instead of raising.
        image_key: key of the image path.
        label_keys: keys of mask paths (a missing ``fov`` key is fine; a ``None`` value is an all-zero mask).
        require_labels: report entries without the first of ``label_keys``.
        binary_masks: check that masks hold two values (0/1 or 0/255); switch off for multi-class masks.
        max_image_pixels: PIL decompression-bomb limit while decoding; ``None`` disables it.
        large_image_pixels: images above this many pixels get a "very large image" note.
        num_channels: channels the bundle loads images with (its ``in_channels``); grayscale images get a
            "replicated" note only when this is more than 1. Defaults to 3.
        num_classes: for classification data lists (an integer class index under the first of ``label_keys``):
            report labels that are not integers in ``[0, num_classes)``. None (default) does not check them.

    Returns:
        The :class:`ValidationReport`; ``str(report)`` gives one line per problem naming the file.
    """
    report = ValidationReport()
    cache: dict[str, DecodedImage | None] = {}
    seen_ids: dict[str, str] = {}
    for index, entry in enumerate(datalist):
        report.num_entries += 1
        image_path = entry.get(image_key)
        masks = {key: entry[key] for key in label_keys if key in entry}
        mask_paths = [os.fspath(p) for value in masks.values() for p in _as_list(value) if p is not None]
        where = os.fspath(image_path) if image_path is not None else (mask_paths[0] if mask_paths else f"entry {index}")
        entry_id = entry.get("id")
        if entry_id is not None:
            if str(entry_id) in seen_ids:
                first = seen_ids[str(entry_id)]
                report.problems.append(Finding(where, f"duplicate id {entry_id!r} (also used by {first})"))
            else:
                seen_ids[str(entry_id)] = where
        if image_path is None:
            for path in mask_paths:
                report.problems.append(Finding(path, "mask without image"))
            if not mask_paths:
                report.problems.append(Finding(where, f"entry has no {image_key!r}"))
            continue
        image_path = os.fspath(image_path)
        known = image_path in cache
        image = _decode(image_path, max_image_pixels, report, cache)
        if image is not None and not known:
            report.notes.extend(_image_notes(image_path, image, large_image_pixels, num_channels))
        if require_labels and label_keys and label_keys[0] not in entry:
            report.problems.append(Finding(image_path, f"image without mask (no {label_keys[0]!r} in the data list)"))
        if num_classes is not None and label_keys and label_keys[0] in entry:
            problem = _class_label_problem(entry[label_keys[0]], num_classes)
            if problem is not None:
                report.problems.append(Finding(image_path, problem))
        for key, value in masks.items():
            for path in _as_list(value):
                if path is None:
                    report.notes.append(Finding(image_path, f"no {key} file: read as an all-zero mask (accepted)"))
                    continue
                path = os.fspath(path)
                known = path in cache
                mask = _decode(path, max_image_pixels, report, cache)
                if mask is None:
                    continue
                if image is not None and mask.spatial_shape != image.spatial_shape:
                    (mh, mw), (ih, iw) = mask.spatial_shape, image.spatial_shape
                    report.problems.append(
                        Finding(path, f"mask size {mh}x{mw} (HxW) differs from image {image_path} of size {ih}x{iw}")
                    )
                if not known:
                    problems, notes = _mask_findings(path, mask, binary_masks)
                    report.problems.extend(problems)
                    report.notes.extend(notes)
    return report



def ensure_valid_dataset(*datalists: Iterable[dict], name: str = "dataset", **kwargs: Any) -> ValidationReport:
    """Validate the data lists of a run before it starts and stop with every problem listed at once.

    Bundles call this in their ``initialize`` step (``validate_data`` option), so that a broken file is reported
    before any training time is spent rather than in the middle of an epoch.

    Args:
        datalists: one or more data lists (e.g. the training and validation lists); checked as one.
        name: what the data lists are, for the messages.
        kwargs: passed to :func:`validate_dataset`.

    Returns:
        The report, when it has no problem (notes are logged).

    Raises:
        DataError: when any problem was found; the message holds the whole report.
    """
    combined = [entry for datalist in datalists for entry in datalist]
    report = validate_dataset(combined, **kwargs)
    logger = logging.getLogger(__name__)
    grouped: dict[str, list[str]] = {}
    for note in report.notes:
        grouped.setdefault(note.message, []).append(str(note.path))
    for message, paths in grouped.items():
        where = paths[0] if len(paths) == 1 else f"{len(paths)} files, e.g. {paths[0]}"
        logger.info(f"{name}: {message} ({where})")
    if not report.ok:
        raise DataError(f"{name} failed validation before training:\n{report}")
    logger.info(f"{name}: {report.num_entries} entries checked, no problem found")
    return report


def check_datalists(
    datalists: Sequence[Iterable[dict]], name: str = "dataset", enabled: bool = True, **kwargs: Any
) -> ValidationReport | None:
    """:func:`ensure_valid_dataset` in the form a bundle config calls by ``_target_`` (keyword arguments only).

    Example (a ``train.json`` ``initialize`` step; ``validate_data: false`` on the command line skips the check)::

        {"_target_": "monai_ext.data.check_datalists", "datalists": ["@train#dataset#data", "@validate#dataset#data"],
         "name": "training and validation data", "enabled": "@validate_data"}

    Args:
        datalists: the data lists to check, as one.
        name: what the data lists are, for the messages.
        enabled: False skips the check and returns None.
        kwargs: passed to :func:`validate_dataset` (``num_channels``, ``num_classes``, ``require_labels``, ...).

    Returns:
        The report, or None when the check is disabled.

    Raises:
        DataError: when any problem was found.
    """
    if not enabled:
        return None
    return ensure_valid_dataset(*datalists, name=name, **kwargs)


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"options are KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status (1 on problems, 0 otherwise)."""
    parser = argparse.ArgumentParser(
        prog="python -m monai_ext.data.validate",
        description="Decode and check every image/mask pair of a dataset in its official layout; report all problems.",
    )
    parser.add_argument("--dataset", required=True, help="layout name, e.g. drive, chase_db1, hrf, idrid, ddr")
    parser.add_argument("--dataset_dir", default=None, help="dataset folder (optional for embedded datasets)")
    parser.add_argument("--split", default="all", choices=["train", "val", "test", "all"])
    parser.add_argument("--option", action="append", default=[], type=_parse_option, metavar="KEY=VALUE",
                        help="dataset option, e.g. --option lesion=HE --option use_fov=True (repeatable)")
    parser.add_argument("--no_binary_check", action="store_true", help="skip the 0/1 or 0/255 mask value check")
    args = parser.parse_args(argv)
    options = dict(args.option)
    try:
        layout = get_layout(args.dataset)
        if "strict" in layout.options:
            options.setdefault("strict", False)
        datalist = build_datalist(args.dataset, args.dataset_dir, args.split, **options)
    except (DataError, ValueError) as exc:
        print(f"PROBLEM {exc}")
        return 1
    if not layout.image_files:
        print(f"{layout.name}: {len(datalist)} entries listed; the images are not separate files, nothing to decode")
        return 0
    report = validate_dataset(datalist, binary_masks=not args.no_binary_check)
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
