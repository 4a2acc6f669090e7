# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Output paths confined to an output folder.

Names of output files are often derived from input file names or image metadata, which a user does not control
(a shared folder, a PACS export, a file named ``../../.bashrc``). :func:`safe_output_path` turns such a name into a
file name that is guaranteed to lie directly inside the output folder: traversal (``..``, absolute paths, path
separators, NUL bytes) is refused, other unusual characters are replaced by ``_``. It returns a ``str``;
:func:`sample_output_path` is the same for a sample id (stricter: no ``..`` anywhere) and returns a resolved ``Path``
(``monai_ext.metrics.safe_output_path`` re-exports it under that name).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

__all__ = [
    "UnsafeOutputPathError", "sanitize_output_name", "safe_output_path", "sanitize_sample_id", "sample_output_path",
    "output_name_from_path",
]

#: longest file name (in UTF-8 bytes) most file systems accept.
MAX_NAME_BYTES = 255
_ALLOWED = re.compile(r"[^\w.\-+]", flags=re.UNICODE)
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}


class UnsafeOutputPathError(ValueError):
    """An output name would escape the output folder (path traversal, absolute path, separator) or is empty."""


def sanitize_output_name(name: str) -> str:
    """Turn a name taken from a file name or metadata into a safe file-name stem.

    Refused (:class:`UnsafeOutputPathError`): empty names, names with a path separator (``/`` or ``\\``), absolute
    paths, drive letters (``C:``), ``.`` / ``..`` components and NUL bytes. Accepted names are normalised (Unicode
    NFC), characters other than letters, digits, ``_``, ``-``, ``+`` and ``.`` become ``_``, leading dots are removed
    (no hidden files) and Windows device names (``CON``, ``NUL``, ...) get a ``_`` prefix.

    Args:
        name: the untrusted name, e.g. a file stem or a metadata value.

    Returns:
        The sanitised name (never empty, no separator, not starting with ``.``).

    Raises:
        UnsafeOutputPathError: when the name tries to leave the folder or is empty.
    """
    if not isinstance(name, str):
        raise UnsafeOutputPathError(f"output name must be a string, got {type(name).__name__} {name!r}")
    if "\x00" in name:
        raise UnsafeOutputPathError(f"output name {name!r} contains a NUL byte")
    if not name.strip():
        raise UnsafeOutputPathError(f"output name {name!r} is empty")
    if "/" in name or "\\" in name or os.path.isabs(name):
        raise UnsafeOutputPathError(
            f"output name {name!r} contains a path separator or is absolute; output files must stay inside the "
            "output folder"
        )
    if re.match(r"^[A-Za-z]:", name):
        raise UnsafeOutputPathError(f"output name {name!r} starts with a drive letter")
    if name.strip() in (".", ".."):
        raise UnsafeOutputPathError(f"output name {name!r} refers to a folder, not a file")
    clean = _ALLOWED.sub("_", unicodedata.normalize("NFC", name)).lstrip(".")
    if not clean.strip("_"):
        clean = "unnamed" + clean
    if clean.split(".")[0].upper() in _WINDOWS_RESERVED:
        clean = "_" + clean
    return clean


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def safe_output_path(output_dir: str | os.PathLike, name: str, suffix: str = "") -> str:
    """Path of an output file named after an untrusted ``name``, guaranteed to lie directly in ``output_dir``.

    Args:
        output_dir: the output folder (need not exist yet).
        name: untrusted file-name stem, sanitised with :func:`sanitize_output_name`.
        suffix: trusted ending appended to the name, e.g. ``"_seg.png"`` (must not contain a separator).

    Returns:
        ``os.path.join(output_dir, sanitised_name + suffix)``, with the name cut so that the file name fits in
        255 bytes.

    Raises:
        UnsafeOutputPathError: when ``name`` or ``suffix`` would leave the folder, or the target exists as a symbolic
            link (writing through it could overwrite a file elsewhere).
    """
    if "/" in suffix or "\\" in suffix or "\x00" in suffix:
        raise UnsafeOutputPathError(f"output suffix {suffix!r} must not contain a path separator or NUL byte")
    stem = sanitize_output_name(name)
    stem = _truncate_utf8(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8")))
    folder = os.path.abspath(os.fspath(output_dir))
    path = os.path.join(folder, stem + suffix)
    if os.path.dirname(path) != folder:  # defence in depth: cannot happen after sanitising
        raise UnsafeOutputPathError(f"output path {path!r} is not inside {folder!r}")
    if os.path.islink(path):
        raise UnsafeOutputPathError(f"output path {path!r} exists as a symbolic link; refusing to write through it")
    return path


def sanitize_sample_id(identifier: Any) -> str:
    """Turn a sample id into a safe file-name stem (``monai_ext.metrics.sanitize_id``).

    Stricter than :func:`sanitize_output_name`, which it uses: an id containing ``..`` anywhere is refused, since
    sample ids come from data files and never need it.

    Args:
        identifier: the id (converted with ``str``).

    Returns:
        the sanitised id (characters other than letters, digits, ``.``, ``_``, ``-``, ``+`` replaced by ``_``).

    Raises:
        UnsafeOutputPathError: (a ``ValueError``) when the id is empty, or holds ``/``, ``\\``, ``..`` or NUL
            (path traversal or an absolute path).
    """
    text = str(identifier)
    message = f"sample id {identifier!r} cannot be used as a file name (empty, path separator or '..')."
    if ".." in text:
        raise UnsafeOutputPathError(message)
    try:
        return sanitize_output_name(text)
    except UnsafeOutputPathError as err:
        raise UnsafeOutputPathError(message) from err


def sample_output_path(output_dir: str | os.PathLike, identifier: Any, suffix: str) -> Path:
    """:func:`safe_output_path` for a sample id, as a resolved ``Path`` (``monai_ext.metrics.safe_output_path``).

    Args:
        output_dir: the output folder.
        identifier: the sample id, checked with :func:`sanitize_sample_id`.
        suffix: file suffix including the dot, e.g. ``".png"`` (may also be ``"_overlay.png"``).

    Returns:
        ``Path(safe_output_path(output_dir, sanitize_sample_id(identifier), suffix)).resolve()``.

    Raises:
        UnsafeOutputPathError: (a ``ValueError``) when the id is unsafe or the resulting path would leave
            ``output_dir``.
    """
    return Path(safe_output_path(output_dir, sanitize_sample_id(identifier), suffix)).resolve()


def output_name_from_path(path: str | os.PathLike) -> str:
    """File stem of ``path`` (name without folder and without the last extension, ``.nii.gz`` counted as one)."""
    base = os.path.basename(os.fspath(path).rstrip("/\\"))
    for ext in (".nii.gz", ".tar.gz"):
        if base.lower().endswith(ext):
            return base[: -len(ext)]
    stem, _ = os.path.splitext(base)
    return stem or base
