# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Reuse of every bundle from other pipelines with ``monai.bundle.load``: from a folder and from a zipped bundle.

``load`` builds ``network_def`` from ``configs/train.json`` (``workflow_type="train"``) or ``inference.json`` and copies
the weights of ``models/model.pt`` with ``copy_model_state``, which skips keys it cannot match without complaint; the
tests therefore compare every tensor of the returned network with the checkpoint. Everything runs offline: the zip is
fetched with a ``file://`` URL.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from monai.bundle import download, load

from monai_ext.bundle import (
    build_network, discover_bundles, export_torchscript, load_metadata, load_zipped_bundle, package_bundle,
    zipped_bundle_name,
)
from monai_ext.losses import RMILoss

REPO = Path(__file__).resolve().parents[2]
BUNDLES = discover_bundles(REPO / "bundles")
BUNDLE_IDS = [b.name for b in BUNDLES]


def _copy_bundle(bundle: Path, parent: Path) -> Path:
    return Path(shutil.copytree(bundle, parent / bundle.name, ignore=shutil.ignore_patterns("eval", "__pycache__",
                                                                                            "*.pt", "*.ts")))


def _toy_weights(bundle: Path, config: str = "train.json") -> dict[str, torch.Tensor]:
    """Weights for network_def that no fresh initialisation reproduces (seeded normal noise)."""
    net = build_network(bundle, config)
    generator = torch.Generator().manual_seed(11)
    return {
        k: (torch.randn(v.shape, generator=generator).abs() if v.is_floating_point() else v.clone())
        for k, v in net.state_dict().items()
    }


def _assert_same_weights(net: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    state = net.state_dict()
    assert set(state) == set(weights), f"keys differ: {sorted(set(state) ^ set(weights))[:5]}"
    for key, value in weights.items():
        torch.testing.assert_close(state[key].cpu(), value, rtol=0, atol=0, msg=f"weights differ at {key}")


def _config_for(bundle: Path, workflow_type: str) -> str:
    config = "train.json" if workflow_type == "train" else "inference.json"
    if not (bundle / "configs" / config).is_file():
        pytest.fail(f"{bundle.name}: configs/{config} is missing, monai.bundle.load(workflow_type={workflow_type!r}) "
                    "cannot build network_def")
    return config


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
@pytest.mark.parametrize("workflow_type", ["train", "inference"])
def test_load_from_folder(bundle, workflow_type, tmp_path):
    config = _config_for(bundle, workflow_type)
    local = _copy_bundle(bundle, tmp_path / "bundles")
    weights = _toy_weights(local, config)
    (local / "models").mkdir(exist_ok=True)
    torch.save(weights, local / "models" / "model.pt")
    net = load(bundle.name, bundle_dir=str(tmp_path / "bundles"), workflow_type=workflow_type, device="cpu")
    assert isinstance(net, torch.nn.Module)
    assert type(net) is type(build_network(local, config))
    _assert_same_weights(net, weights)


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_load_from_zip(bundle, tmp_path):
    _config_for(bundle, "train")
    local = _copy_bundle(bundle, tmp_path / "src")
    weights = _toy_weights(local)
    (local / "models").mkdir(exist_ok=True)
    torch.save(weights, local / "models" / "model.pt")
    (local / "eval").mkdir()
    (local / "eval" / "run.log").write_text("not for distribution")
    archive = package_bundle(local, tmp_path / "zips")
    version = load_metadata(local)["version"]
    assert archive.name == f"{bundle.name}_v{version}.zip"
    names = zipfile.ZipFile(archive).namelist()
    assert f"{bundle.name}/configs/metadata.json" in names and f"{bundle.name}/models/model.pt" in names
    assert not [n for n in names if n.startswith(f"{bundle.name}/eval")]

    target = tmp_path / "downloaded"
    download(name=bundle.name, bundle_dir=str(target), url=archive.resolve().as_uri(), progress=False)
    assert (target / bundle.name / "configs" / "train.json").is_file()
    net = load(bundle.name, bundle_dir=str(target), device="cpu")
    _assert_same_weights(net, weights)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test (the helper must stay offline)."""
    import socket

    def refuse(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access to {address}")
        return original(self, address, *args, **kwargs)

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError(f"network access to {a[0] if a else k}")))


def test_load_zipped_bundle_offline(tmp_path, no_network):
    """``load_zipped_bundle``: download(url=file://...) then load, in one call, offline; a second call reuses the
    unpacked folder; a zip without weights fails before ``load`` would go online."""
    bundle = REPO / "bundles" / "ds2f"
    local = _copy_bundle(bundle, tmp_path / "src")
    weights = _toy_weights(local)
    (local / "models").mkdir(exist_ok=True)
    torch.save(weights, local / "models" / "model.pt")
    archive = package_bundle(local, tmp_path / "zips")
    assert zipped_bundle_name(archive) == "ds2f"

    net = load_zipped_bundle(archive, tmp_path / "unpacked", device="cpu")
    _assert_same_weights(net, weights)
    assert (tmp_path / "unpacked" / "ds2f" / "configs" / "inference.json").is_file()
    again = load_zipped_bundle(archive, tmp_path / "unpacked", device="cpu", workflow_type="inference")
    _assert_same_weights(again, weights)

    (local / "models" / "model.pt").unlink()
    bare = package_bundle(local, tmp_path / "bare")
    with pytest.raises(FileNotFoundError, match="ds2f/models/model.pt"):
        load_zipped_bundle(bare, tmp_path / "other")
    with pytest.raises(ValueError, match="sets"):
        load_zipped_bundle(archive, tmp_path / "unpacked", source="github")
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as handle:
        handle.writestr("configs/metadata.json", "{}")
    with pytest.raises(ValueError, match="zoo's layout"):
        zipped_bundle_name(flat)
    with pytest.raises(FileNotFoundError):
        zipped_bundle_name(tmp_path / "missing.zip")


def test_load_torchscript_module(tmp_path):
    """``load(load_ts_module=True)`` returns the exported module with the bundle metadata."""
    bundle = REPO / "bundles" / "ds2f"
    local = _copy_bundle(bundle, tmp_path / "bundles")
    overrides = {"base_channels": 8}
    net = build_network(local, overrides=overrides)
    (local / "models").mkdir(exist_ok=True)
    torch.save(net.state_dict(), local / "models" / "model.pt")
    export_torchscript(local, local / "models" / "model.ts", local / "models" / "model.pt", overrides=overrides)
    module, meta, _ = load("ds2f", bundle_dir=str(tmp_path / "bundles"), load_ts_module=True, device="cpu")
    assert meta["version"] == load_metadata(bundle)["version"]
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        torch.testing.assert_close(module(x), net(x))


@pytest.mark.parametrize("bundle", BUNDLES, ids=BUNDLE_IDS)
def test_load_released_weights(bundle):
    """The weights shipped in ``bundles/<name>/models/model.pt`` (when the bundle ships them) load unchanged."""
    ckpt = bundle / "models" / "model.pt"
    if not ckpt.is_file():
        pytest.skip(f"{bundle.name} ships no models/model.pt (its model card documents how to train one)")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    net = load(bundle.name, bundle_dir=str(bundle.parent), device="cpu")
    _assert_same_weights(net, dict(state))


def test_reuse_network_and_loss_in_own_loop(tmp_path):
    """The docs/ecosystem.md example: a bundle's network and RMILoss in a plain PyTorch training loop."""
    local = _copy_bundle(REPO / "bundles" / "ds2f", tmp_path / "bundles")
    net = build_network(local, "train.json", overrides={"base_channels": 8})
    (local / "models").mkdir(exist_ok=True)
    torch.save(net.state_dict(), local / "models" / "model.pt")

    net = load("ds2f", bundle_dir=str(tmp_path / "bundles"), net_override={"base_channels": 8}, device="cpu")
    loss_fn = RMILoss(num_classes=2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 32, 32, generator=generator)
    label = (torch.rand(2, 1, 64, 64, generator=generator) > 0.8).long()
    net.train()
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        logits = net(image)["seg"]  # train mode: dict of outputs; "seg" is at the x2 (HR) size
        assert logits.shape == (2, 2, 64, 64)
        loss = loss_fn(logits, label)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    assert all(torch.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    net.eval()
    with torch.no_grad():
        assert net(image).shape == (2, 2, 64, 64)  # eval mode: the segmentation logits only
