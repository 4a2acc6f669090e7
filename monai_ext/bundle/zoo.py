# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Model-zoo layout checks for the bundles in ``bundles/``.

These are the checks of the MONAI model zoo's ``ci/verify_bundle.py`` that do not need the zoo repository (required
and preferred files, version and changelog), plus the conventions MONAI Label relies on (2D ``spatial_shape``,
``channel_def`` on the prediction) and the config ids of the zoo's "Preferred Files and Keys". The schema validation
itself is :func:`monai_ext.bundle.schema.verify_bundle_metadata`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .schema import META_SCHEMA_NAME, load_metadata

__all__ = [
    "NECESSARY_FILES",
    "INFERENCE_KEYS",
    "TRAIN_KEYS",
    "discover_bundles",
    "zoo_compliance_problems",
]

#: files the zoo CI requires.
NECESSARY_FILES = ("configs/metadata.json", "LICENSE")
#: top-level ids an inference config must define (zoo "Preferred Files and Keys" and MONAI Label's BundleInferTask).
INFERENCE_KEYS = ("bundle_root", "device", "network_def", "inferer", "preprocessing", "postprocessing", "run")
#: ids a train config must define (zoo keys, MONAI Label's BundleTrainTask overrides, run ids).
TRAIN_KEYS = (
    "bundle_root",
    "device",
    "dataset_dir",
    "output_dir",
    "network_def",
    "network",
    "train#trainer",
    "train#trainer#max_epochs",
    "train#dataset",
    "train#dataset#data",
    "train#handlers",
    "run",
    "training",
)
#: ids required in a train config's ``validate`` section when it has one.
VALIDATE_KEYS = ("validate#evaluator", "validate#handlers", "validate#dataset", "validate#dataset#data")


def discover_bundles(root: str | os.PathLike) -> list[Path]:
    """Bundle folders directly below ``root``: the folders holding ``configs/metadata.json``, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent.parent for p in root.glob("*/configs/metadata.json"))


def _has_id(config: Any, id_: str) -> bool:
    node = config
    for part in id_.split("#"):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _read_config(path: Path, problems: list[str]) -> dict | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        problems.append(f"{path}: cannot be read as JSON ({exc})")
        return None
    if not isinstance(config, dict):
        problems.append(f"{path}: expected a JSON object")
        return None
    return config


def _tensor_problems(where: str, spec: Any, spatial_dims: int, allow_no_spatial: bool) -> list[str]:
    if not isinstance(spec, dict):
        return [f"{where}: expected a tensor description (dict), got {type(spec).__name__}"]
    problems = []
    shape = spec.get("spatial_shape")
    lengths = (spatial_dims, 0) if allow_no_spatial else (spatial_dims,)
    if not isinstance(shape, list) or len(shape) not in lengths:
        problems.append(
            f"{where}.spatial_shape is {shape!r}; a {spatial_dims}D bundle needs {spatial_dims} entries (MONAI Label "
            "derives the dimension from the input's)" + (" or none (class scores)" if allow_no_spatial else "")
        )
    channels = spec.get("num_channels")
    channel_def = spec.get("channel_def")
    if channel_def is not None and isinstance(channels, int) and len(channel_def) != channels:
        problems.append(f"{where}.channel_def has {len(channel_def)} entries but num_channels is {channels}")
    return problems


def zoo_compliance_problems(
    bundle_dir: str | os.PathLike,
    require_weights: bool = False,
    spatial_dims: int = 2,
    inference_configs: Sequence[str] = ("inference.json",),
) -> list[str]:
    """List what keeps a bundle from passing the model zoo's checks (empty when it is compliant).

    Checked: ``LICENSE``, ``configs/metadata.json``, an inference config, ``docs/README.md`` (model card) and, with
    ``require_weights``, ``models/model.pt``; ``version`` present in ``changelog``; the ``schema`` URL names
    ``meta_schema_20240725.json``; ``required_packages_version`` is a mapping and the deprecated
    ``optional_packages_version`` is absent; each input tensor has ``spatial_dims`` spatial entries, each output tensor
    ``spatial_dims`` or none (class scores), and any ``channel_def`` agrees with ``num_channels``; the first output has a ``channel_def`` (MONAI Label's labels);
    the ids of the zoo's preferred keys and MONAI Label's overrides exist in ``inference.json`` and ``train.json``.

    Args:
        bundle_dir: the bundle folder.
        require_weights: also require ``models/model.pt`` (a "preferred" file of the zoo CI).
        spatial_dims: number of spatial dimensions of the bundle's network input and output.
        inference_configs: accepted inference config names.

    Returns:
        One message per problem, each naming the file and the key.
    """
    bundle_dir = Path(bundle_dir)
    problems: list[str] = []
    for name in NECESSARY_FILES:
        if not (bundle_dir / name).is_file():
            problems.append(f"{bundle_dir / name}: missing (required by the model zoo CI)")
    if not (bundle_dir / "docs" / "README.md").is_file():
        problems.append(f"{bundle_dir / 'docs' / 'README.md'}: missing model card")
    if require_weights and not (bundle_dir / "models" / "model.pt").is_file():
        problems.append(f"{bundle_dir / 'models' / 'model.pt'}: missing weights")

    meta_file = bundle_dir / "configs" / "metadata.json"
    if meta_file.is_file():
        try:
            metadata = load_metadata(bundle_dir)
        except ValueError as exc:
            problems.append(str(exc))
            metadata = {}
        version = metadata.get("version")
        changelog = metadata.get("changelog")
        if not isinstance(changelog, dict) or version not in changelog:
            problems.append(f"{meta_file}: 'changelog' must have an entry for version {version!r}")
        schema = str(metadata.get("schema", ""))
        if not schema.endswith("/" + META_SCHEMA_NAME):
            problems.append(f"{meta_file}: 'schema' is {schema!r}, expected a URL ending in {META_SCHEMA_NAME}")
        if "optional_packages_version" in metadata:
            problems.append(
                f"{meta_file}: 'optional_packages_version' is MONAI's deprecated name of 'required_packages_version' "
                "(MONAI warns on every load; the zoo's requirement step lists both keys, so packages come twice)"
            )
        if not isinstance(metadata.get("required_packages_version"), dict):
            problems.append(f"{meta_file}: 'required_packages_version' must map package names to versions")
        formats = {k: v for k, v in metadata.items() if k.endswith("_data_format")}
        if "network_data_format" not in formats:
            problems.append(f"{meta_file}: missing 'network_data_format'")
        for fmt_name, fmt in formats.items():
            for part in ("inputs", "outputs", "post_processed_outputs"):
                for key, spec in (fmt.get(part) or {}).items() if isinstance(fmt, dict) else ():
                    where = f"{meta_file}: {fmt_name}.{part}.{key}"
                    problems += _tensor_problems(where, spec, spatial_dims, allow_no_spatial=part != "inputs")
        outputs = (metadata.get("network_data_format") or {}).get("outputs") or {}
        if outputs:
            first_key, first = next(iter(outputs.items()))
            if not isinstance(first, dict) or not first.get("channel_def"):
                problems.append(
                    f"{meta_file}: network_data_format.outputs.{first_key} needs a 'channel_def' (MONAI Label takes "
                    "its label names from it)"
                )

    inference = next((bundle_dir / "configs" / c for c in inference_configs if (bundle_dir / "configs" / c).is_file()),
                     None)
    if inference is None:
        problems.append(f"{bundle_dir / 'configs'}: no inference config ({', '.join(inference_configs)})")
    else:
        config = _read_config(inference, problems)
        if config is not None:
            problems += [f"{inference}: missing id '{k}'" for k in INFERENCE_KEYS if not _has_id(config, k)]
            if not (_has_id(config, "inference") or _has_id(config, "evaluating")):
                problems.append(f"{inference}: missing the run alias 'inference' (\"inference\": \"%run\")")
    train = bundle_dir / "configs" / "train.json"
    if train.is_file():
        config = _read_config(train, problems)
        if config is not None:
            problems += [f"{train}: missing id '{k}'" for k in TRAIN_KEYS if not _has_id(config, k)]
            if "validate" in config:
                problems += [f"{train}: missing id '{k}'" for k in VALIDATE_KEYS if not _has_id(config, k)]
    return problems
