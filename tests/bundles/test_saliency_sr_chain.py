# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The literal chain of separately trained x2 generators of the saliency_sr bundle, run through ``monai.bundle``.

``train.json`` + ``train_chain.json`` trains the x2 stages one after another (each with the bundle's MSE then
adversarial training); ``train.json`` + ``evaluate.json`` + ``evaluate_chain.json`` evaluates the saved chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigWorkflow

from monai_ext.engines import gaussian_downsample
from monai_ext.metrics import super_resolution_metrics
from monai_ext.networks import CascadedSRGenerator, SRGenerator
from tests.bundles.helpers import bundle_workflow

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "saliency_sr"
CONFIGS = BUNDLE / "configs"
TRAIN_CHAIN = [str(CONFIGS / "train.json"), str(CONFIGS / "train_chain.json")]
EVALUATE_CHAIN = [str(CONFIGS / f) for f in ("train.json", "evaluate.json", "evaluate_chain.json")]

GEN = {"num_res_blocks": 1, "features": 8}
TINY = {
    **GEN,
    "disc_channels": 4,
    "hr_spatial_size": [32, 32],
    "hr_patch_size": [16, 16],
    "patches_per_image": 1,
    "batch_size": 2,
    "pretrain_epochs": 1,
    "max_epochs": 1,
    "train#dataset#data": "$monai_ext.data.build_datalist('chasedb1', None, 'train')[:2]",
}


def _workflow(config_file, root: Path, run_id: str, workflow_type: str, **override) -> ConfigWorkflow:
    return bundle_workflow(
        CONFIGS, config_file, workflow_type, initialize=True, run_id=run_id, bundle_root=str(root), **override
    )


def _stacked(data, key: str) -> torch.Tensor:
    """``data[key]`` of a collated batch, or stacked from the per-sample dicts MONAI's engines decollate into."""
    if isinstance(data, dict):
        return torch.as_tensor(data[key]).float()
    return torch.stack([torch.as_tensor(item[key]).float() for item in data])


def _stage(path: Path) -> SRGenerator:
    net = SRGenerator(scale_factor=2, global_skip="bicubic", **GEN)  # the bundle default
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return net.eval()


@pytest.fixture(scope="module")
def chain_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("saliency_sr_chain")
    workflow = _workflow(TRAIN_CHAIN, root, "training", "train", **TINY)
    workflow.run()
    trainer = workflow.parser.get_parsed_content("chain#trainer")
    workflow.finalize()
    return root, trainer


def test_chain_config_trains_stages_in_order_and_saves_them(chain_root):
    root, trainer = chain_root
    models = root / "models"
    expected = {f"chain_x4_stage{k}{part}.pt" for k in (1, 2) for part in ("", "_mse")} | {"chain_x4_final.pt"}
    assert expected <= {p.name for p in models.iterdir()}
    assert not [p.name for p in models.iterdir() if p.name.startswith(".tmp-")]  # atomic writes left no temp files
    assert trainer.num_stages == 2 and sorted(trainer.stage_engines) == [1, 2]
    stage1 = torch.load(models / "chain_x4_stage1.pt", map_location="cpu", weights_only=True)
    assert {"model", "discriminator", "optimizer", "d_optimizer"} <= set(stage1)
    # the adversarial part changed the generator that the MSE part left
    mse1 = torch.load(models / "chain_x4_stage1_mse.pt", map_location="cpu", weights_only=True)["model"]
    assert any(not torch.equal(mse1[k], stage1["model"][k]) for k in mse1 if mse1[k].is_floating_point())
    # the final chain file is the two stage files put together
    chain = CascadedSRGenerator(scale_factor=4, global_skip="bicubic", **GEN)
    chain.load_state_dict(torch.load(models / "chain_x4_final.pt", map_location="cpu", weights_only=True)["model"])
    x = torch.rand(1, 3, 8, 8)
    stages = [_stage(models / f"chain_x4_stage{k}.pt") for k in (1, 2)]
    torch.testing.assert_close(chain.eval()(x), stages[1](stages[0](x)))


@pytest.mark.parametrize("part", ["mse", "gan"])
def test_stage_inputs_are_outputs_of_the_saved_previous_stage(chain_root, part):
    """Replays the last batch each stage engine saw: input = earlier stages on the LR image, target = HR / 2^(K-k)."""
    root, trainer = chain_root
    models = root / "models"
    stage1 = _stage(models / "chain_x4_stage1.pt")
    for stage in (1, 2):
        engine = trainer.stage_engines[stage][part]
        batch, output = engine.state.batch, engine.state.output
        lr, hr = _stacked(batch, "image"), _stacked(batch, "hr_image")
        assert lr.shape[-2:] == (4, 4) and hr.shape[-2:] == (16, 16)  # LR = HR / 4 for the whole chain
        with torch.no_grad():
            expected_input = lr if stage == 1 else stage1(lr)
        expected_target = gaussian_downsample(hr, 2) if stage == 1 else hr
        torch.testing.assert_close(_stacked(output, "image"), expected_input)
        torch.testing.assert_close(_stacked(output, "label"), expected_target)
        assert _stacked(output, "pred").shape == expected_target.shape  # each stage doubles the size


def test_evaluate_chain_config_scores_the_saved_chain(chain_root):
    root, _ = chain_root
    overrides = {**GEN, "hr_spatial_size": [32, 32], "eval_factors": [4], "require_generators": True}
    overrides["evaluation#data"] = "$monai_ext.data.build_datalist('chasedb1', None, 'test')[:2]"
    workflow = _workflow(EVALUATE_CHAIN, root, "evaluating", "train", **overrides)
    workflow.run()
    preprocessing = workflow.parser.get_parsed_content("evaluation#preprocessing")
    datalist = workflow.parser.get_parsed_content("evaluation#data")
    workflow.finalize()
    summary = json.loads((root / "eval" / "evaluation_chain" / "evaluation.json").read_text())
    assert summary["settings"]["generator_checkpoints"]["x4"].endswith("chain_x4_final.pt")
    chain = CascadedSRGenerator(scale_factor=4, global_skip="bicubic", **GEN)
    final = torch.load(root / "models" / "chain_x4_final.pt", map_location="cpu", weights_only=True)["model"]
    chain.load_state_dict(final)
    chain.eval()
    psnr = []
    with torch.no_grad():
        for item in datalist:
            hr = torch.as_tensor(preprocessing(dict(item))["image"]).float()[None]
            sr = chain(gaussian_downsample(hr, 4)).clamp(0, 1)
            psnr.append(float(super_resolution_metrics(sr, hr, (0, 1), y_channel=True, crop_border=4)["psnr"][0]))
    assert summary["super_resolution"]["x4"]["sr"]["psnr"] == pytest.approx(sum(psnr) / len(psnr), rel=1e-5)
