# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Zip a bundle folder the way the model zoo distributes bundles: ``<name>_v<version>.zip`` holding ``<name>/...``.

Such a zip is what ``monai.bundle.download(name=..., url=...)`` unpacks (``file://`` URLs work offline) and what
``monai.bundle.load`` then reads.
"""

from __future__ import annotations

import fnmatch
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .schema import load_metadata

__all__ = ["DEFAULT_EXCLUDE", "package_bundle"]

#: paths (relative to the bundle folder, ``fnmatch`` patterns) left out of the zip: run outputs, caches, training
#: checkpoints other than the released ``models/model.pt`` / ``models/model.ts``.
DEFAULT_EXCLUDE = ("eval", "eval/*", "*/__pycache__/*", "__pycache__/*", "*.pyc", "models/checkpoint*", ".*", "*/.*")


def package_bundle(
    bundle_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    name: str | None = None,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
) -> Path:
    """Write ``<output_dir>/<name>_v<version>.zip`` with the bundle's files under ``<name>/``.

    Args:
        bundle_dir: the bundle folder.
        output_dir: where the zip goes (created if needed).
        name: bundle name in the zip; default the folder name.
        exclude: ``fnmatch`` patterns of relative paths to leave out.

    Returns:
        The path of the zip.

    Raises:
        ValueError: the metadata has no ``version``.
    """
    bundle_dir = Path(bundle_dir)
    name = name or bundle_dir.resolve().name
    version = load_metadata(bundle_dir).get("version")
    if not version:
        raise ValueError(f"{bundle_dir}/configs/metadata.json: no 'version'; the zip is named <name>_v<version>.zip")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{name}_v{version}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle_dir.rglob("*")):
            rel = path.relative_to(bundle_dir).as_posix()
            if path.is_dir() or any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
                continue
            archive.write(path, f"{name}/{rel}")
    return target
