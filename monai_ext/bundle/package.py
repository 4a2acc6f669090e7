# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Zip a bundle folder the way the model zoo distributes bundles: ``<name>_v<version>.zip`` holding ``<name>/...``.

Such a zip is what ``monai.bundle.download(name=..., url=...)`` unpacks (``file://`` URLs work offline) and what
``monai.bundle.load`` then reads. ``monai.bundle.load`` itself does not open zips: pointed at a folder holding one, it
finds no ``<bundle_dir>/<name>/models/model.pt`` and tries to download the bundle from the online model zoo.
:func:`load_zipped_bundle` does both offline steps.
"""

from __future__ import annotations

import fnmatch
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .schema import load_metadata

__all__ = ["DEFAULT_EXCLUDE", "package_bundle", "zipped_bundle_name", "load_zipped_bundle"]

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


def zipped_bundle_name(archive: str | os.PathLike) -> str:
    """The bundle name inside a zoo-layout zip: its single top folder holding ``configs/metadata.json``.

    Raises:
        FileNotFoundError: ``archive`` does not exist.
        ValueError: the zip does not have the zoo's layout.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no such zip")
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    found = sorted(t for t in tops if f"{t}/configs/metadata.json" in names)
    if len(tops) != 1 or len(found) != 1:
        raise ValueError(
            f"{archive}: expected the model zoo's layout, one folder <name>/ with configs/metadata.json; "
            f"found top-level entries {sorted(tops)}"
        )
    return found[0]


def load_zipped_bundle(
    archive: str | os.PathLike,
    bundle_dir: str | os.PathLike,
    model_file: str = "models/model.pt",
    **load_kwargs: Any,
) -> Any:
    """Unpack a zipped bundle offline and load it with ``monai.bundle.load``; nothing is fetched from the network.

    ``monai.bundle.download(name=<name>, url="file://<archive>", bundle_dir=bundle_dir)`` unpacks the zip (the folder
    ``<bundle_dir>/<name>`` is replaced only when it does not exist yet), then ``monai.bundle.load(<name>,
    bundle_dir=bundle_dir, model_file=model_file, **load_kwargs)`` reads it. The weights are checked before ``load``
    runs, because ``load`` downloads a bundle whose model file it cannot find.

    Args:
        archive: the zip (``<name>_v<version>.zip`` holding ``<name>/...``, as :func:`package_bundle` writes it).
        bundle_dir: folder to unpack into.
        model_file: weights inside the bundle, relative to its folder (``models/model.ts`` with
            ``load_ts_module=True``).
        load_kwargs: passed to ``monai.bundle.load`` (``device``, ``workflow_type``, ``net_override``,
            ``load_ts_module``, ...); ``name``, ``bundle_dir``, ``model_file``, ``url`` and ``source`` are set here.

    Returns:
        What ``monai.bundle.load`` returns: the network with its weights (or the TorchScript module, metadata and
        extra files with ``load_ts_module=True``).

    Raises:
        FileNotFoundError: the zip is missing, or holds no ``model_file``.
        ValueError: the zip does not have the zoo's layout, or ``load_kwargs`` sets an argument set here.
    """
    from monai.bundle import download, load

    fixed = {"name", "bundle_dir", "model_file", "url", "source", "version"} & set(load_kwargs)
    if fixed:
        raise ValueError(f"load_zipped_bundle sets {sorted(fixed)} itself")
    archive = Path(archive).resolve()
    name = zipped_bundle_name(archive)
    with zipfile.ZipFile(archive) as handle:
        if f"{name}/{model_file}" not in handle.namelist():
            raise FileNotFoundError(f"{archive}: no {name}/{model_file} in the zip (monai.bundle.load would go online)")
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    if not (bundle_dir / name / "configs" / "metadata.json").is_file():
        download(name=name, url=archive.as_uri(), bundle_dir=str(bundle_dir), progress=False)
    if not (bundle_dir / name / model_file).is_file():
        raise FileNotFoundError(f"{bundle_dir / name / model_file}: missing after unpacking {archive}")
    return load(name, bundle_dir=str(bundle_dir), model_file=model_file, **load_kwargs)
