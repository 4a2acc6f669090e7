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
import torch
from monai.bundle import ConfigWorkflow, verify_net_in_out

import monai_ext
from monai_ext.bundle import (
    META_SCHEMA_PATH, META_SCHEMA_URL, bundle_requirements, discover_bundles, fake_spatial_shape, large_file_problems,
    load_metadata, precommit_problems, read_large_files, requirement_problems, schema_copy_is_intact, sha256_of,
    verify_bundle_metadata, verify_min_problems, verify_network_shapes, write_requirements, zoo_compliance_problems,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLES = discover_bundles(REPO / "bundles")
BUNDLE_IDS = [b.name for b in BUNDLES]
#: narrower networks per bundle for the forward checks; only ids a bundle's config defines are applied.
SMALL_NETWORKS = {
    "ds2f": {"base_channels": 8},
    "ss_maf": {"base_channels": 8},
    "saliency_sr": {"features": 16, "num_res_blocks": 2},
    "sai_diagnosis": {"scale_factor": 2},
}
#: required keys of the official meta_schema_20240725.json.
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


# ---------------------------------------------------------------------------------------------------------------
# the zoo's premerge steps, as equivalents (its ci/ scripts are not vendored): requirements, verify_bundle min/full,
# pre-commit with its isort/black/flake8 settings, large_files.yml
# ---------------------------------------------------------------------------------------------------------------

#: the model zoo's lint settings (its setup.cfg [flake8]/[isort] and pyproject [tool.black]), for a zoo-like copy.
ZOO_SETUP_CFG = """\
[flake8]
select = B,C,E,F,N,P,T4,W,B9
max_line_length = 120
ignore = E203,E501,E741,W503,W504,C408,N812,B023
per_file_ignores = __init__.py: F401, __main__.py: F401

[isort]
known_first_party = models
profile = black
line_length = 120
"""
ZOO_PYPROJECT = "[tool.black]\nline-length = 120\n"


def _lint_tool(name: str) -> list[str] | None:
    """The command of a lint tool: ``$MONAI_EXT_LINT_BIN/<name>``, else on PATH, else None."""
    folder = os.environ.get("MONAI_EXT_LINT_BIN")
    if folder and (Path(folder) / name).is_file():
        return [str(Path(folder) / name)]
    found = shutil.which(name)
    return [found] if found else None


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_requirements_step(bundle, tmp_path):
    """ci/get_bundle_requirements.py: monai, torch, numpy pins, then each package once, monai_ext at our version."""
    path = write_requirements(bundle, tmp_path / f"requirements_{bundle.name}.txt")
    lines = path.read_text().splitlines()
    metadata = load_metadata(bundle)
    assert lines[:3] == [f"monai=={metadata['monai_version']}", f"torch=={metadata['pytorch_version']}",
                         f"numpy=={metadata['numpy_version']}"]
    assert f"monai_ext=={monai_ext.__version__}" in lines
    assert requirement_problems(bundle) == []
    assert "optional_packages_version" not in metadata  # deprecated name: MONAI warns, the zoo lists packages twice


def test_requirement_problems_catch_duplicates_and_wrong_pin(tmp_path):
    bundle = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "ds2f")
    meta_file = bundle / "configs" / "metadata.json"
    metadata = json.loads(meta_file.read_text())
    metadata["optional_packages_version"] = dict(metadata["required_packages_version"], monai_ext="0.0.9")
    meta_file.write_text(json.dumps(metadata))
    problems = "\n".join(requirement_problems(bundle))
    assert "requirement 'monai-ext' listed 2 times" in problems
    assert "requirement 'pytorch-ignite' listed 2 times" in problems
    assert any("optional_packages_version" in p for p in zoo_compliance_problems(bundle))


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_large_files_listed_with_matching_hash(bundle):
    """Every bundle lists its weights in large_files.yml; every listed file present has the listed sha256."""
    entries = read_large_files(bundle)
    assert [e["path"] for e in entries][:1] == ["models/model.pt"]
    assert large_file_problems(bundle) == []
    weights = bundle / "models" / "model.pt"
    if weights.is_file():
        assert entries[0]["hash_type"] == "sha256" and entries[0]["hash_val"] == sha256_of(weights)


def test_large_files_regenerated_after_new_weights(tmp_path):
    """The coordinator's workflow: new weights fail the check until the entry is regenerated (CLI)."""
    from monai_ext.bundle.zoo_ci import main

    bundle = _copy_bundle(REPO / "bundles" / "ss_maf", tmp_path / "ss_maf")
    url = read_large_files(bundle)[0]["url"]
    assert large_file_problems(bundle) == []  # the copy leaves the weights out: nothing to compare
    torch.save({"w": torch.arange(4.0)}, bundle / "models" / "model.pt")
    problems = "\n".join(large_file_problems(bundle))
    # new weights: the listed hash is either missing (never trained) or the old one
    assert "exists but has no hash_val" in problems or "sha256 of models/model.pt" in problems
    assert main(["--write-large-files", str(bundle)]) == 0
    entry = read_large_files(bundle)[0]
    assert entry == {"path": "models/model.pt", "url": url, "hash_val": sha256_of(bundle / "models" / "model.pt"),
                     "hash_type": "sha256"}
    assert large_file_problems(bundle) == []
    torch.save({"w": torch.zeros(4)}, bundle / "models" / "model.pt")  # retrained without regenerating
    assert "differs from hash_val" in "\n".join(large_file_problems(bundle))


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_verify_bundle_min(bundle):
    """ci/verify_bundle.py -m min with the large files in place: files, version/changelog, schema, hashes."""
    missing_weights = f"{bundle / 'models' / 'model.pt'}: preferred file missing"
    problems = verify_min_problems(bundle)
    assert [p for p in problems if p != missing_weights] == []
    if missing_weights in problems:
        pytest.skip(f"{bundle.name}: models/model.pt not trained yet (the zoo needs it as a preferred file)")


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_verify_bundle_full_torchscript_of_shipped_weights(bundle, tmp_path):
    """verify_bundle.py full mode exports network_def with models/model.pt to TorchScript and loads it."""
    weights = bundle / "models" / "model.pt"
    if not weights.is_file():
        pytest.skip(f"{bundle.name}: no models/model.pt yet")
    from monai.bundle import ckpt_export

    ckpt_export(net_id="network_def", filepath=str(tmp_path / "verify_model.ts"), ckpt_file=str(weights),
                meta_file=str(bundle / "configs" / "metadata.json"),
                config_file=str(bundle / "configs" / "inference.json"), bundle_root=str(bundle))
    module = torch.jit.load(str(tmp_path / "verify_model.ts"))
    assert sum(p.numel() for p in module.parameters()) > 0


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_precommit_hooks(bundle):
    """The zoo's pre-commit: no file over 1024 KB except those in large_files.yml, EOF newline, no trailing
    whitespace, valid YAML, no private key, shebang on executables, 4-space JSON in its own key order."""
    assert precommit_problems(bundle) == []


def test_precommit_problems_catch_what_the_hooks_reject(tmp_path):
    bundle = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "ds2f")
    (bundle / "models" / "extra.pt").write_bytes(b"\1" * (1025 * 1024))
    (bundle / "configs" / "sorted.json").write_text(json.dumps({"b": 1, "a": 2}, indent=2) + "\n")
    (bundle / "docs" / "notes.md").write_text("line with trailing space \nno newline")
    problems = "\n".join(precommit_problems(bundle))
    assert "extra.pt: 1025 KB exceeds 1024 KB" in problems
    assert "sorted.json: not formatted as pretty-format-json" in problems
    assert "notes.md: must end with exactly one newline" in problems
    assert "notes.md: trailing whitespace on line(s) [1]" in problems


def test_zoo_lint_settings_on_bundle_scripts(tmp_path):
    """isort, black and flake8 with the zoo's settings over a zoo-like copy (models/<name>/...) of every bundle."""
    tools = {name: _lint_tool(name) for name in ("isort", "black", "flake8")}
    if not all(tools.values()):
        pytest.skip("isort/black/flake8 not installed (set MONAI_EXT_LINT_BIN to a folder holding them)")
    zoo = tmp_path / "zoo"
    for bundle in BUNDLES:
        shutil.copytree(bundle, zoo / "models" / bundle.name,
                        ignore=shutil.ignore_patterns("eval", "runs", "__pycache__", "*.pt", "*.ts"))
    (zoo / "setup.cfg").write_text(ZOO_SETUP_CFG)
    (zoo / "pyproject.toml").write_text(ZOO_PYPROJECT)
    python_files = sorted(str(p.relative_to(zoo)) for p in (zoo / "models").rglob("*.py"))
    assert python_files, "no Python files in the bundles?"
    for name, args in (("isort", ["--check-only", "--diff"]), ("black", ["--check", "--diff"]), ("flake8", [])):
        result = subprocess.run([*tools[name], *args, *python_files], cwd=zoo, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"


@pytest.mark.slow
def test_wheel_satisfies_the_bundle_requirement(tmp_path):
    """`pip wheel` builds monai_ext at the pinned version; pip resolves the pin from that folder alone (offline)."""
    wheels = tmp_path / "wheels"
    source = tmp_path / "source"  # setuptools writes build/ and *.egg-info into the source folder: use a copy
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "monai_ext", source / "monai_ext", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(wheels), str(source)], capture_output=True, text=True, timeout=600)
    if build.returncode != 0 and "No module named" in build.stderr:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip().splitlines()[-1]}")
    assert build.returncode == 0, build.stderr[-3000:]
    assert [p.name for p in wheels.glob("*.whl")] == [f"monai_ext-{monai_ext.__version__}-py3-none-any.whl"]
    pin = next(line for line in bundle_requirements(REPO / "bundles" / "ds2f") if line.startswith("monai_ext"))
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index",
                             "--ignore-installed", "--find-links", str(wheels), pin],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Would install monai_ext-{monai_ext.__version__}" in result.stdout.replace("monai-ext", "monai_ext")
