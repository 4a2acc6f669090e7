# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""End-to-end tests of the DS2F bundle through ``monai.bundle`` with tiny overrides."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser, ConfigWorkflow
from PIL import Image

from monai_ext.data import build_datalist, embedded_dataset_dir, load_fundus_image, load_mask
from monai_ext.transforms import IntensityRanged, LowResolutionPaird
from tests.bundles.helpers import bundle_workflow, error_chain, run_collecting_stats

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "ds2f"
CONFIGS = BUNDLE / "configs"
ABLATIONS = sorted((CONFIGS / "ablation").glob("*.json"))
HR = [32, 32]


def _datalists() -> tuple[list[dict], list[dict]]:
    root = embedded_dataset_dir("chasedb1")
    train = build_datalist("chasedb1", root, "train")[:2]
    val = build_datalist("chasedb1", root, "val")[:1]
    return train, val


def _tiny_overrides(bundle_root: Path, max_epochs: int = 2) -> dict:
    train, val = _datalists()
    return {
        "bundle_root": str(bundle_root),
        "hr_spatial_size": HR,
        "base_channels": 8,
        "max_epochs": max_epochs,
        "val_interval": 1,
        "train#dataset#data": train,
        "validate#dataset#data": val,
    }


def _run(config_files: list[Path], workflow_type: str = "train", **overrides) -> ConfigWorkflow:
    workflow = bundle_workflow(CONFIGS, config_files, workflow_type, initialize=True, **overrides)
    workflow.run()
    workflow.finalize()
    return workflow


def test_train_config_properties_and_run_ids():
    workflow = bundle_workflow(CONFIGS, "train.json", initialize=True)
    assert workflow.check_properties() in (None, [])
    parser = workflow.parser
    assert parser["training"] == parser["run"]
    infer = bundle_workflow(CONFIGS, "inference.json", "infer", initialize=True)
    assert infer.check_properties() in (None, [])
    assert infer.parser["inference"] == infer.parser["run"]


def test_inference_network_matches_training_network():
    train = json.loads((CONFIGS / "train.json").read_text())
    inference = json.loads((CONFIGS / "inference.json").read_text())
    assert inference["network_def"] == train["network_def"]
    for key in ("num_classes", "in_channels", "scale_factor", "hr_spatial_size", "lr_method", "intensity_range",
                "backbone", "fusion", "super_resolution", "base_channels", "foreground_prior", "mscg_attention"):
        assert inference[key] == train[key], key


@pytest.mark.parametrize("ablation", ABLATIONS, ids=[p.stem for p in ABLATIONS])
def test_ablation_config_trains_two_iterations(tmp_path, ablation):
    overrides = _tiny_overrides(tmp_path, max_epochs=2)
    if json.loads(ablation.read_text()).get("scale_factor") == 1:
        overrides["hr_spatial_size"] = [16, 16]
    workflow = _run([CONFIGS / "train.json", ablation], **overrides)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.iteration == 2
    output = trainer.state.output[0] if isinstance(trainer.state.output, list) else trainer.state.output
    assert np.isfinite(float(output["loss"]))
    assert (tmp_path / "models" / "checkpoint_final.pt").is_file()
    assert (tmp_path / "models" / "model.pt").is_file()


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    first = _run([CONFIGS / "train.json"], **_tiny_overrides(tmp_path, max_epochs=1))
    assert first.parser.get_parsed_content("train#trainer").state.epoch == 1
    saved = torch.load(tmp_path / "models" / "checkpoint_final.pt", weights_only=True)
    resumed = _run([CONFIGS / "train.json"], resume=True, **_tiny_overrides(tmp_path, max_epochs=2))
    trainer = resumed.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 2 and trainer.state.iteration == 2  # one epoch of one iteration was left
    assert saved["trainer"]["iteration"] == 1


def test_speed_switches_channels_last_checkpointing_and_log_interval(tmp_path):
    overrides = _tiny_overrides(tmp_path, max_epochs=1)
    # batch 1 (two iterations) needs LR 32 x 32 for a 2 x 2 bottleneck (BatchNorm needs more than one value)
    overrides.update(batch_size=1, hr_spatial_size=[64, 64], channels_last=True, activation_checkpointing=True,
                     log_interval=2)
    workflow = bundle_workflow(CONFIGS, "train.json", initialize=True, **overrides)
    records = run_collecting_stats(workflow)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.iteration == 2 and trainer.optim_set_to_none
    network = workflow.parser.get_parsed_content("network")
    assert network.checkpoint_training_branch
    weights = [p for p in network.parameters() if p.ndim == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert all(np.isfinite(float(o["loss"])) for o in trainer.state.output)
    # two iterations, log_interval 2: the per-iteration line of iteration 2 only
    iteration_lines = [m for m in records if "train_loss" in m and "Iter:" in m]
    assert len(iteration_lines) == 1 and "Iter: 2/2" in iteration_lines[0], records


def test_speed_switches_defaults():
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    expected = {"amp": False, "amp_dtype": "$torch.bfloat16", "channels_last": False, "compile": False,
                "cudnn_benchmark": False, "log_interval": 1, "num_workers": 0, "activation_checkpointing": False}
    assert {k: parser[k] for k in expected} == expected
    trainer = parser["train"]["trainer"]
    assert (trainer["amp_kwargs"], trainer["compile"], trainer["optim_set_to_none"]) == (
        {"dtype": "@amp_dtype"}, "@compile", True)
    evaluator = parser["validate"]["evaluator"]
    assert (evaluator["amp_kwargs"], evaluator["compile"]) == ({"dtype": "@amp_dtype"}, "@compile")
    assert "$setattr(torch.backends.cudnn, 'benchmark', @cudnn_benchmark)" in parser["initialize"]


def test_broken_training_file_stops_before_training(tmp_path):
    overrides = _tiny_overrides(tmp_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(overrides["train#dataset#data"][0]["image"]).read_bytes()[:3000])
    overrides["train#dataset#data"] = [dict(overrides["train#dataset#data"][0], image=str(broken), id="broken")]
    workflow = bundle_workflow(CONFIGS, "train.json", **overrides)
    with pytest.raises(Exception) as info:
        workflow.initialize()
    messages = [str(e) for e in error_chain(info.value)]
    assert any("broken.jpg" in m and "validation" in m for m in messages)
    assert not (tmp_path / "models").exists()


def test_paper_config_is_the_papers_network():
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), str(CONFIGS / "paper.json")])
    assert parser["max_epochs"] == 300 and parser["learning_rate"] == 0.01
    with torch.device("meta"):
        net = parser.get_parsed_content("network_def")
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 3) == 39.195  # spec: DS2F U-Net (MSCG, r=2)


@pytest.fixture(scope="module")
def trained_bundle(tmp_path_factory) -> Path:
    """A copy of the bundle folder trained for one epoch from the repository-like root (no --bundle_root)."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(BUNDLE / "configs", root / "bundles" / "ds2f" / "configs")
    train, val = _datalists()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        _run(
            [Path("bundles/ds2f/configs/train.json")],
            hr_spatial_size=HR,
            base_channels=8,
            max_epochs=1,
            val_interval=1,
            **{"train#dataset#data": train, "validate#dataset#data": val},
        )
    finally:
        os.chdir(cwd)
    return root


def test_outputs_stay_inside_the_bundle_folder(trained_bundle):
    assert sorted(p.name for p in trained_bundle.iterdir()) == ["bundles"]
    bundle = trained_bundle / "bundles" / "ds2f"
    assert (bundle / "models" / "model.pt").is_file()
    assert any((bundle / "eval").glob("events.out.tfevents.*"))


def _expected_probabilities(net: torch.nn.Module, image_path: str) -> torch.Tensor:
    image = {"image": load_fundus_image(image_path)}
    image = IntensityRanged(keys="image", out_range=(-1, 1))(image)
    image = LowResolutionPaird(scale_factor=2, hr_spatial_size=HR, clip_range=(-1, 1))(image)
    with torch.no_grad():
        return torch.softmax(net(image["image"].as_tensor()[None].float()), 1)


def test_evaluation_equals_metrics_by_hand(trained_bundle):
    bundle = trained_bundle / "bundles" / "ds2f"
    test = build_datalist("chasedb1", embedded_dataset_dir("chasedb1"), "test")[:2]
    _run(
        [bundle / "configs" / "train.json", bundle / "configs" / "evaluate.json"],
        bundle_root=str(bundle),
        hr_spatial_size=HR,
        base_channels=8,
        num_overlays=1,
        **{"validate#dataset#data": test},
    )
    summary = json.loads((bundle / "eval" / "evaluation" / "summary.json").read_text())

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "train.json"))
    parser.update({"base_channels": 8})
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(bundle / "models" / "model.pt", weights_only=True))
    net.eval()
    tp = fp = fn = tn = 0
    for item in test:
        probs = _expected_probabilities(net, item["image"])
        label = load_mask(item["label"])[0].numpy().astype(bool)
        probs = F.interpolate(probs, size=label.shape, mode="nearest")[0]
        pred = probs.argmax(0).numpy().astype(bool)
        tp += int((pred & label).sum())
        fp += int((pred & ~label).sum())
        fn += int((~pred & label).sum())
        tn += int((~pred & ~label).sum())
    pooled = summary["pooled"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"], pooled["tn"]) == (tp, fp, fn, tn)
    dice = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0
    np.testing.assert_allclose(pooled["dice"], dice, rtol=1e-9)
    headline = summary["headline"]
    assert list(headline) == ["dice", "iou", "mcc", "bm", "recall", "pr_auc"]
    assert headline["dice"] == pooled["dice"] and headline["pr_auc"] == summary["pr_auc"]
    assert len(list((bundle / "eval" / "evaluation" / "overlays").glob("*.png"))) == 1


def test_inference_writes_masks_and_probabilities_at_input_size(trained_bundle, tmp_path):
    bundle = trained_bundle / "bundles" / "ds2f"
    images = tmp_path / "images"
    images.mkdir()
    test = build_datalist("chasedb1", embedded_dataset_dir("chasedb1"), "test")[:2]
    for item in test:
        shutil.copy(item["image"], images)
    (images / "broken.jpg").write_bytes(Path(test[0]["image"]).read_bytes()[:2000])
    out = tmp_path / "out"
    _run(
        [bundle / "configs" / "inference.json"],
        workflow_type="infer",
        bundle_root=str(bundle),
        hr_spatial_size=HR,
        base_channels=8,
        input_dir=str(images),
        output_dir=str(out),
    )
    failures = json.loads((out / "failures.json").read_text())
    assert [Path(f["file"]).name for f in failures["failures"]] == ["broken.jpg"]

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"base_channels": 8})
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(bundle / "models" / "model.pt", weights_only=True))
    net.eval()
    for item in test:
        stem = Path(item["image"]).stem
        original = Image.open(item["image"]).size
        mask = np.asarray(Image.open(out / f"{stem}_seg.png"))
        prob = np.asarray(Image.open(out / f"{stem}_prob.png"))
        assert mask.shape == prob.shape == (original[1], original[0])
        probs = _expected_probabilities(net, item["image"])
        probs = F.interpolate(probs, size=mask.shape, mode="bilinear", align_corners=False)[0]
        expected = (probs.argmax(0).numpy() * 255).astype(np.uint8)
        assert (mask == expected).mean() > 0.999
        np.testing.assert_allclose(prob / 255.0, probs[1].numpy(), atol=1 / 255 + 1e-6)
