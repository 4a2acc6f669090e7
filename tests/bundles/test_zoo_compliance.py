# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Model-zoo compliance of every bundle in ``bundles/``: metadata schema (offline), layout, config ids, shapes.

Each check runs for every folder holding ``configs/metadata.json``. The MONAI functions called here
(``verify_metadata``, ``verify_net_in_out``) are the ones ``python -m monai.bundle`` dispatches to; one test also runs
the command line itself, with proxies pointing at a closed port so that any download attempt fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from monai.bundle import ConfigWorkflow, verify_net_in_out

from monai_ext.bundle import (
    META_SCHEMA_PATH, META_SCHEMA_URL, discover_bundles, fake_spatial_shape, load_metadata, schema_copy_is_intact,
    verify_bundle_metadata, verify_network_shapes, zoo_compliance_problems,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLES = discover_bundles(REPO / "bundles")
BUNDLE_IDS = [b.name for b in BUNDLES]
#: narrower networks per bundle for the forward checks; only ids a bundle's config defines are applied.
SMALL_NETWORKS = {
    "ds2f": {"base_channels": 8},
    "ss_maf": {"base_channels": 8},
    "saliency_sr": {"num_channels": 16, "num_res_blocks": 2},
    "sai_diagnosis": {"upscale_factor": 2},
}
#: required keys of meta_schema_20240725.json as listed in ../shared/specs/bundle_conventions.md (section 1(b)).
REQUIRED_KEYS_20240725 = [
    "schema", "version", "monai_version", "pytorch_version", "numpy_version", "required_packages_version", "task",
    "description", "authors", "copyright", "network_data_format",
]
CLOSED_PORT = "http://127.0.0.1:9"
OFFLINE_ENV = {"http_proxy": CLOSED_PORT, "https_proxy": CLOSED_PORT, "HTTP_PROXY": CLOSED_PORT,
               "HTTPS_PROXY": CLOSED_PORT, "no_proxy": "", "NO_PROXY": ""}


def _overrides(bundle: Path, config: str) -> dict:
    raw = json.loads((bundle / "configs" / config).read_text())
    return {k: v for k, v in SMALL_NETWORKS.get(bundle.name, {}).items() if k in raw}


def _copy_bundle(bundle: Path, dst: Path) -> Path:
    return Path(shutil.copytree(bundle, dst, ignore=shutil.ignore_patterns("eval", "__pycache__", "*.pt", "*.ts")))


def test_bundles_found():
    assert "ds2f" in BUNDLE_IDS, f"bundles/ds2f not discovered under {REPO / 'bundles'}"


def test_schema_copy():
    assert schema_copy_is_intact(), f"{META_SCHEMA_PATH} was modified"
    schema = json.loads(META_SCHEMA_PATH.read_text())
    assert schema["required"] == REQUIRED_KEYS_20240725
    tensor = schema["$defs"]["tensor"]
    assert tensor["required"] == ["type", "format", "num_channels", "spatial_shape", "dtype", "value_range"]
    assert (META_SCHEMA_PATH.parent / "README.md").is_file(), "the schema copy needs its source/licence README"


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_verify_metadata(bundle):
    metadata = verify_bundle_metadata(bundle)
    assert metadata["schema"] == META_SCHEMA_URL
    assert metadata["version"] in metadata["changelog"]


@pytest.mark.parametrize("missing", ["network_data_format", "required_packages_version", "copyright"])
def test_verify_metadata_rejects_incomplete(tmp_path, missing):
    bundle = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "ds2f")
    meta_file = bundle / "configs" / "metadata.json"
    metadata = json.loads(meta_file.read_text())
    metadata.pop(missing)
    meta_file.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=missing):
        verify_bundle_metadata(bundle)


def test_verify_metadata_rejects_bad_tensor_spec(tmp_path):
    bundle = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "ds2f")
    meta_file = bundle / "configs" / "metadata.json"
    metadata = json.loads(meta_file.read_text())
    next(iter(metadata["network_data_format"]["inputs"].values()))["num_channels"] = "three"
    meta_file.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="Failed validating"):
        verify_bundle_metadata(bundle)


def test_verify_metadata_cli_offline(tmp_path):
    """The documented command, with the schema copy pre-placed and every download routed to a closed port."""
    schema = tmp_path / "schema.json"
    shutil.copyfile(META_SCHEMA_PATH, schema)
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "monai.bundle", "verify_metadata", "--meta_file",
           str(REPO / "bundles" / "ds2f" / "configs" / "metadata.json"), "--filepath", str(schema)]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "metadata is verified with no error" in result.stdout + result.stderr


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_zoo_layout(bundle):
    problems = zoo_compliance_problems(bundle)
    assert not problems, "\n".join(problems)


def test_zoo_layout_reports_problems(tmp_path):
    bundle = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "ds2f")
    (bundle / "LICENSE").unlink()
    meta_file = bundle / "configs" / "metadata.json"
    metadata = json.loads(meta_file.read_text())
    metadata["version"] = "9.9.9"
    next(iter(metadata["network_data_format"]["inputs"].values()))["spatial_shape"] = [64, 64, 64]
    meta_file.write_text(json.dumps(metadata))
    config = json.loads((bundle / "configs" / "inference.json").read_text())
    config.pop("inferer")
    (bundle / "configs" / "inference.json").write_text(json.dumps(config))
    problems = "\n".join(zoo_compliance_problems(bundle))
    assert "LICENSE: missing" in problems
    assert "version '9.9.9'" in problems
    assert "spatial_shape is [64, 64, 64]" in problems
    assert "missing id 'inferer'" in problems


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
@pytest.mark.parametrize("workflow_type, config", [("train", "train.json"), ("infer", "inference.json")])
def test_check_properties(bundle, workflow_type, config, tmp_path):
    if not (bundle / "configs" / config).is_file():
        pytest.fail(f"{bundle.name}: configs/{config} is missing")
    workflow = ConfigWorkflow(
        config_file=str(bundle / "configs" / config),
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=str(bundle / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(tmp_path),
    )
    workflow.initialize()
    assert workflow.check_properties() == []


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_verify_net_in_out(bundle):
    config = bundle / "configs" / "inference.json"
    overrides = _overrides(bundle, "inference.json")
    verify_net_in_out(
        "network_def", meta_file=str(bundle / "configs" / "metadata.json"), config_file=str(config),
        device="cpu", bundle_root=str(bundle), **overrides,
    )
    # stricter: the output spatial size must match network_data_format too (SR-assisted nets predict at x r)
    shape = verify_network_shapes(bundle, overrides=overrides)
    out_spec = next(iter(load_metadata(bundle)["network_data_format"]["outputs"].values()))
    assert shape[1] == out_spec["num_channels"]


def test_verify_network_shapes_catches_wrong_output_size(tmp_path):
    bundle = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "ds2f")
    meta_file = bundle / "configs" / "metadata.json"
    metadata = json.loads(meta_file.read_text())
    fmt = metadata["network_data_format"]
    # claim the output has the input's size: false for a x2 super-resolution-assisted network
    next(iter(fmt["outputs"].values()))["spatial_shape"] = next(iter(fmt["inputs"].values()))["spatial_shape"]
    meta_file.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="spatial_shape"):
        verify_network_shapes(bundle, overrides=SMALL_NETWORKS["ds2f"])


def test_fake_spatial_shape_matches_verify_net_in_out_rules():
    assert fake_spatial_shape(["32*n", "2**p", "*", 5, "16 * n + 8"], n=2, p=3, any=7) == (64, 8, 7, 5, 40)
    for bad in ["__import__('os')", "9**9**9", "n / 2", "q*2"]:
        with pytest.raises(ValueError, match="spatial_shape entry"):
            fake_spatial_shape([bad])
