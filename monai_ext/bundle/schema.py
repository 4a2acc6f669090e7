# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Offline validation of a bundle's ``configs/metadata.json`` against the MONAI bundle metadata schema.

``python -m monai.bundle verify_metadata`` downloads the schema named by the metadata's ``schema`` URL unless the file
given as ``--filepath`` already exists. The project ships a copy of ``meta_schema_20240725.json`` (see
``schemas/README.md`` for its source and licence), so the check runs without network access: the copy is placed at
the ``filepath`` first and MONAI's own ``verify_metadata`` does the validation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from monai.bundle import verify_metadata

__all__ = [
    "META_SCHEMA_NAME",
    "META_SCHEMA_URL",
    "META_SCHEMA_PATH",
    "META_SCHEMA_MD5",
    "OFFICIAL_META_SCHEMA_MD5",
    "load_metadata",
    "schema_copy_is_intact",
    "verify_bundle_metadata",
]

META_SCHEMA_NAME = "meta_schema_20240725.json"
#: the URL MONAI's own test metadata and the model zoo use for this schema version.
META_SCHEMA_URL = f"https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/{META_SCHEMA_NAME}"
#: the schema copy shipped with the package.
META_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / META_SCHEMA_NAME
#: md5 of the shipped copy (guards against accidental edits of the file).
META_SCHEMA_MD5 = "76e1add273836515d0bbb3bc71962474"
#: md5 that MONAI's tests pin for the release asset. The shipped copy comes from the project-monai.github.io mirror
#: and differs from it byte-wise; see ``schemas/README.md``.
OFFICIAL_META_SCHEMA_MD5 = "06954cad2cc5d3784e72077ac76f0fc8"


def _md5(path: str | os.PathLike) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def schema_copy_is_intact(path: str | os.PathLike = META_SCHEMA_PATH) -> bool:
    """Whether the schema file at ``path`` has the md5 of the shipped copy."""
    return _md5(path) == META_SCHEMA_MD5


def load_metadata(bundle_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``<bundle_dir>/configs/metadata.json``.

    Raises:
        FileNotFoundError: the bundle has no ``configs/metadata.json``.
        ValueError: the file is not valid JSON or not a JSON object.
    """
    meta_file = Path(bundle_dir) / "configs" / "metadata.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{meta_file}: the bundle has no configs/metadata.json")
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_file}: not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise ValueError(f"{meta_file}: expected a JSON object, got {type(metadata).__name__}")
    return metadata


def verify_bundle_metadata(
    bundle_dir: str | os.PathLike, schema_file: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Validate a bundle's metadata against the metadata schema, offline, with ``monai.bundle.verify_metadata``.

    The schema file (the shipped ``meta_schema_20240725.json`` by default) is copied to a temporary folder and passed
    as ``filepath``, so MONAI skips the download and validates against the copy. The metadata's ``schema`` URL must
    name the same schema file.

    Args:
        bundle_dir: bundle folder (holding ``configs/metadata.json``).
        schema_file: another local schema file to validate against; its name must match the metadata's ``schema``.

    Returns:
        The metadata dict.

    Raises:
        FileNotFoundError: no metadata or no schema file.
        ValueError: the metadata names another schema, the shipped schema copy was modified, or the metadata does
            not validate (MONAI's message says which key failed).
    """
    bundle_dir = Path(bundle_dir)
    metadata = load_metadata(bundle_dir)
    meta_file = bundle_dir / "configs" / "metadata.json"
    schema_file = Path(schema_file) if schema_file is not None else META_SCHEMA_PATH
    if not schema_file.is_file():
        raise FileNotFoundError(f"schema file {schema_file} does not exist")
    if schema_file == META_SCHEMA_PATH and not schema_copy_is_intact(schema_file):
        raise ValueError(f"{schema_file}: md5 {_md5(schema_file)} differs from the shipped copy ({META_SCHEMA_MD5})")
    url = metadata.get("schema")
    if not isinstance(url, str) or not url:
        raise ValueError(f"{meta_file}: missing the 'schema' URL")
    if url.rsplit("/", 1)[-1] != schema_file.name:
        raise ValueError(
            f"{meta_file}: 'schema' is {url!r}, but the local schema is {schema_file.name}; point 'schema' at "
            f"{META_SCHEMA_URL}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / schema_file.name
        shutil.copyfile(schema_file, local)
        try:
            # with the md5 of the shipped copy MONAI checks the file in place (it would only download on a mismatch)
            md5 = META_SCHEMA_MD5 if schema_file == META_SCHEMA_PATH else None
            verify_metadata(meta_file=str(meta_file), filepath=str(local), hash_val=md5, hash_type="md5")
        except ValueError as exc:
            raise ValueError(f"{meta_file}: {exc}") from exc
    return metadata
