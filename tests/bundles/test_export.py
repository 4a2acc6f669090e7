# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""TorchScript and ONNX export of every bundle's inference network, with parity against the eager network.

The exports go through ``monai.bundle.ckpt_export`` / ``onnx_export`` (what ``python -m monai.bundle`` runs) with a
toy checkpoint: the bundle's ``network_def`` (narrowed for speed) with random weights, saved in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.data import load_net_with_metadata

from monai_ext.bundle import (
    build_network, discover_bundles, export_onnx, export_torchscript, fake_input_shape, load_metadata, run_onnx,
    run_torchscript,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLES = discover_bundles(REPO / "bundles")
BUNDLE_IDS = [b.name for b in BUNDLES]
#: narrower networks per bundle for quick forward passes (ids the bundle's inference.json defines)
SMALL_NETWORKS = {
    "ds2f": {"base_channels": 8},
    "ss_maf": {"base_channels": 8},
    "saliency_sr": {"features": 16, "num_res_blocks": 2},
    # no fixed-shape reference bank: a filled bank ties the network to its training size, the toy one takes any size
    "sai_diagnosis": {"scale_factor": 2, "lr_image_size": []},
}
RTOL, ATOL = 1e-4, 1e-5


def _inference_config(bundle: Path) -> Path:
    config = bundle / "configs" / "inference.json"
    if not config.is_file():
        pytest.fail(f"{bundle.name}: configs/inference.json is missing, nothing to export")
    return config


def _overrides(bundle: Path) -> dict:
    raw = json.loads(_inference_config(bundle).read_text())
    return {k: v for k, v in SMALL_NETWORKS.get(bundle.name, {}).items() if k in raw}


def _toy_checkpoint(bundle: Path, path: Path, overrides: dict) -> torch.nn.Module:
    """network_def with seeded random weights (buffers too, so BatchNorm statistics are not trivial)."""
    net = build_network(bundle, overrides=overrides)
    generator = torch.Generator().manual_seed(7)
    state = {}
    for key, value in net.state_dict().items():
        if value.is_floating_point():
            value = 0.1 * torch.randn(value.shape, generator=generator) + (1.0 if key.endswith("running_var") else 0.0)
            value = value.abs() if key.endswith("running_var") else value
        state[key] = value
    net.load_state_dict(state)
    torch.save(state, path)
    return net.eval()


def _small_input(bundle: Path, size: int = 64) -> torch.Tensor:
    """A random input with the metadata's channels and a small square size (the networks are fully convolutional)."""
    _, channels, *spatial = fake_input_shape(load_metadata(bundle))
    return torch.rand(1, channels, *([size] * len(spatial)), generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_torchscript_export_parity(bundle, tmp_path):
    overrides = _overrides(bundle)
    eager = _toy_checkpoint(bundle, tmp_path / "model.pt", overrides)
    x = _small_input(bundle)
    method = export_torchscript(
        bundle, tmp_path / "model.ts", tmp_path / "model.pt", input_shape=list(x.shape), overrides=overrides
    )
    with torch.no_grad():
        expected = eager(x)
    assert isinstance(expected, torch.Tensor), "eval-mode network_def must return a single tensor"
    torch.testing.assert_close(run_torchscript(tmp_path / "model.ts", x), expected, rtol=RTOL, atol=ATOL)
    assert method == "script", f"{bundle.name}: network_def no longer scripts (docs/ecosystem.md says all four do)"
    if method == "script":  # a scripted model is not tied to the example size
        x2 = _small_input(bundle, 96)
        with torch.no_grad():
            torch.testing.assert_close(run_torchscript(tmp_path / "model.ts", x2), eager(x2), rtol=RTOL, atol=ATOL)
    # metadata and the config travel inside the file (what monai.bundle.load(load_ts_module=True) returns)
    _, meta, extra = load_net_with_metadata(str(tmp_path / "model.ts"), more_extra_files=["inference.json"])
    assert meta["version"] == load_metadata(bundle)["version"]
    assert "network_def" in json.loads(extra["inference.json"])


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_onnx_export_parity(bundle, tmp_path):
    pytest.importorskip("onnx", reason="onnx is in the test extra: pip install onnx onnxscript")
    pytest.importorskip("onnxscript", reason="torch>=2.9 exports ONNX with the dynamo exporter, which needs onnxscript")
    overrides = _overrides(bundle)
    eager = _toy_checkpoint(bundle, tmp_path / "model.pt", overrides)
    x = _small_input(bundle)
    export_onnx(bundle, tmp_path / "model.onnx", tmp_path / "model.pt", input_shape=list(x.shape), overrides=overrides)
    with torch.no_grad():
        expected = eager(x)
    output, backend = run_onnx(tmp_path / "model.onnx", x)
    assert backend in ("onnxruntime", "reference")
    torch.testing.assert_close(torch.from_numpy(output), expected, rtol=RTOL, atol=ATOL)


def test_onnx_reference_backend_agrees(tmp_path):
    """onnx.reference (the fallback when onnxruntime is missing) on the DS2F graph."""
    pytest.importorskip("onnxscript")
    bundle = REPO / "bundles" / "ds2f"
    overrides = {"base_channels": 4}
    eager = _toy_checkpoint(bundle, tmp_path / "model.pt", overrides)
    x = _small_input(bundle, 32)
    export_onnx(bundle, tmp_path / "model.onnx", tmp_path / "model.pt", input_shape=list(x.shape), overrides=overrides)
    output, backend = run_onnx(tmp_path / "model.onnx", x, backend="reference")
    assert backend == "reference"
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(output), eager(x), rtol=RTOL, atol=ATOL)


def test_ckpt_export_cli(tmp_path):
    """The documented command line for DS2F, with a nested ``{"model": ...}`` checkpoint (CheckpointSaver format)."""
    bundle = REPO / "bundles" / "ds2f"
    eager = _toy_checkpoint(bundle, tmp_path / "weights.pt", SMALL_NETWORKS["ds2f"])
    torch.save({"model": torch.load(tmp_path / "weights.pt")}, tmp_path / "nested.pt")
    cmd = [
        sys.executable, "-m", "monai.bundle", "ckpt_export", "network_def",
        "--filepath", str(tmp_path / "model.ts"), "--ckpt_file", str(tmp_path / "nested.pt"), "--key_in_ckpt", "model",
        "--meta_file", str(bundle / "configs" / "metadata.json"),
        "--config_file", str(bundle / "configs" / "inference.json"),
        "--bundle_root", str(bundle), "--base_channels", "8",
    ]
    result = subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    x = _small_input(bundle)
    with torch.no_grad():
        torch.testing.assert_close(run_torchscript(tmp_path / "model.ts", x), eager(x), rtol=RTOL, atol=ATOL)
