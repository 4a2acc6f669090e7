# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the saliency_sr bundle: the default configs run through ``monai.bundle`` with tiny overrides.

Covers: both training stages (MSE pre-training, then adversarial training resumed from the stage-1 checkpoint),
the generator loss of the bundle against the terms computed by hand on one batch, the downstream segmentation
config, the evaluation (SR and bicubic metrics recomputed independently, downstream scores), folder inference, and
the shared reliability / speed pattern (channels_last, exact resume, non-finite stop, data validation).
"""

from __future__ import annotations

import csv
import glob
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser, ConfigWorkflow
from monai.engines.utils import IterationEvents
from PIL import Image

from monai_ext.data import build_datalist
from monai_ext.engines import gaussian_downsample
from monai_ext.handlers import NonFiniteLossError, SafeCheckpointLoader
from monai_ext.losses import VGGFeatureLoss
from monai_ext.losses.vgg_feature import VGG16Features
from monai_ext.metrics import (
    fov_mask_from_image,
    gradient_sharpness,
    masked_super_resolution_metrics,
    pooled_scores,
    psnr,
    rmse,
    segmentation_counts,
    ssim,
)
from monai_ext.networks import BaselineUNet, SRGenerator
from monai_ext.transforms import local_saliency_map
from tests.bundles.helpers import bundle_workflow

Events = pytest.importorskip("ignite.engine").Events

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "saliency_sr"
CONFIGS = BUNDLE / "configs"
TRAIN = str(CONFIGS / "train.json")
SEG = str(CONFIGS / "train_downstream_seg.json")
EVALUATE = str(CONFIGS / "evaluate.json")
INFERENCE = str(CONFIGS / "inference.json")

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
    "val_interval": 1,
    "seg_base_channels": 4,
    "train#dataset#data": "$monai_ext.data.build_datalist('chasedb1', None, 'train')[:2]",
    "validate#dataset#data": "$monai_ext.data.build_datalist('chasedb1', None, 'val')[:1]",
}
SEG_TINY = {"seg_max_epochs": 1, "seg_patch_size": [16, 16], "seg_patches_per_image": 1, "seg_val_interval": 1}


def _workflow(config_file, root: Path, run_id: str = "run", workflow_type: str = "train", **override) -> ConfigWorkflow:
    return bundle_workflow(
        CONFIGS, config_file, workflow_type, initialize=True, run_id=run_id, bundle_root=str(root), **override
    )


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _params(state: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if "running_" not in k and "num_batches" not in k}


@pytest.mark.parametrize("factor", [2, 4, 8, 16])
def test_config_networks_cascade_x2_stages_and_take_any_size(factor):
    parser = ConfigParser()
    parser.read_config(TRAIN)
    parser.update({"scale_factor": factor, "device": "cpu", **GEN, "disc_channels": 4})
    generator = parser.get_parsed_content("network_def")
    assert len(generator.stages) == int(np.log2(factor))  # x2 up-stages cascaded to the factor
    with torch.no_grad():
        assert generator.eval()(torch.rand(1, 3, 5, 7)).shape == (1, 3, 5 * factor, 7 * factor)
        assert parser.get_parsed_content("discriminator_def").eval()(torch.rand(2, 3, 40, 72)).shape == (2, 1)


def test_global_skip_reaches_every_generator_of_the_bundle():
    """``--global_skip bicubic`` builds the same residual generator in training, evaluation, inference and the chain."""
    lr = torch.rand(1, 3, 6, 8)
    built = {}
    for name, files, key in (
        ("train", [TRAIN], "network_def"),
        ("inference", [INFERENCE], "network_def"),
        ("chain stage", [TRAIN, str(CONFIGS / "train_chain.json")], "chain_stage_def"),
        ("evaluation", [TRAIN, EVALUATE], "evaluation#generator_def"),
    ):
        parser = ConfigParser()
        parser.read_config(files)
        parser.update({"global_skip": "bicubic", "device": "cpu", **GEN})
        generator = parser.get_parsed_content(key)
        if not isinstance(generator, torch.nn.Module):  # "_mode_": "callable" definitions
            generator = generator(scale_factor=4)
        assert generator.global_skip == "bicubic", name
        built[name] = generator
    # the default generator (bicubic skip, zeroed output conv) is exactly bicubic upsampling before training, in
    # training, inference, the chain and evaluation alike
    expected = F.interpolate(lr, scale_factor=4.0, mode="bicubic", align_corners=False)
    with torch.no_grad():
        for name, generator in built.items():
            torch.testing.assert_close(generator.eval()(lr), expected, rtol=0, atol=0, msg=name)
    parser = ConfigParser()
    parser.read_config(TRAIN)
    default = parser.get_parsed_content("network_def")
    assert default.global_skip == "bicubic" and float(default.head.weight.detach().abs().sum()) == 0.0
    assert (default.head.in_channels, len(default.stages[0].body) - 2) == (32, 4)  # 32 maps x 4 blocks
    # paper.json: the paper's size, no skip, default initialisation, the paper's rates and loss weights
    parser = ConfigParser()
    parser.read_config([TRAIN, str(CONFIGS / "paper.json")])
    paper = parser.get_parsed_content("network_def")
    assert paper.global_skip is None and float(paper.head.weight.detach().abs().sum()) > 0.0
    assert (paper.head.in_channels, len(paper.stages[0].body) - 2) == (64, 16)
    assert parser.get_parsed_content("pretrain_learning_rate") == parser.get_parsed_content("learning_rate") == 1e-3
    loss = parser.get_parsed_content("train#loss")
    assert (loss.mse_weight, loss.saliency_weight, loss.adversarial_weight) == (1.0, 1.0, 0.01)
    assert loss.saliency_mse.weight_offset == 0.0


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory) -> Path:
    """Both training stages and the downstream segmentation network, trained with tiny settings."""
    root = tmp_path_factory.mktemp("saliency_sr")
    workflow = _workflow(TRAIN, root, **TINY)
    assert not workflow.check_properties()
    workflow.run()
    workflow.finalize()
    seg = _workflow([TRAIN, SEG], root, **TINY, **SEG_TINY)
    assert not seg.check_properties()
    seg.run()
    seg.finalize()
    return root


def test_training_leaves_generator_and_discriminator_checkpoints(trained_root):
    models = trained_root / "models"
    mse = _load(models / "checkpoint_mse_x4_final.pt")
    gan = _load(models / "checkpoint_gan_x4_final.pt")
    # each stage saves its trainer under its own key, so that resuming one stage never picks another's file
    assert set(mse) == {"model", "optimizer", "pretrain_trainer"}
    assert set(gan) == {"model", "discriminator", "optimizer", "d_optimizer", "trainer"}
    assert set(_load(models / "seg_checkpoint_final.pt")) == {"model", "optimizer", "seg_trainer"}
    assert gan["trainer"]["iteration"] == 1 and mse["pretrain_trainer"]["iteration"] == 1  # 2 images, batch 2
    # the discriminator checkpoint is an SRDiscriminator with the configured width (first conv: 3 -> 4 maps)
    assert gan["discriminator"]["features.0.weight"].shape == (4, 3, 3, 3)
    # model.pt is the final generator of stage 2, a bare state dict loadable into the x4 network_def
    model = _load(models / "model.pt")
    generator = SRGenerator(scale_factor=4, residual_per_stage=False, global_skip="bicubic", **GEN)
    generator.load_state_dict(model)
    for key, value in model.items():
        torch.testing.assert_close(value, gan["model"][key])
    assert glob.glob(str(trained_root / "eval" / "events.out.tfevents.*"))
    # stage-1 validation has its own evaluator and TensorBoard folder: its curves do not overlap stage 2's
    assert glob.glob(str(trained_root / "eval" / "pretrain" / "events.out.tfevents.*"))
    # downstream segmentation network trained on HR images, best validation Dice
    segmenter = BaselineUNet(spatial_dims=2, in_channels=3, out_channels=2, base_channels=4)
    segmenter.load_state_dict(_load(models / "seg_model.pt"))


def test_stage2_resumes_from_stage1_checkpoint_and_updates_both_networks(tmp_path):
    stage1 = _workflow(TRAIN, tmp_path, run_id="stage1", **TINY)
    stage1.run()
    stage1.finalize()
    checkpoint = _load(tmp_path / "models" / "checkpoint_mse_x4_final.pt")["model"]
    assert not (tmp_path / "models" / "checkpoint_gan_x4_final.pt").exists()

    stage2 = _workflow(TRAIN, tmp_path, run_id="stage2", **TINY)
    generator = stage2.parser.get_parsed_content("network")
    discriminator = stage2.parser.get_parsed_content("discriminator")
    trainer = stage2.parser.get_parsed_content("train#trainer")
    init_generator = {k: v.clone() for k, v in generator.state_dict().items()}
    seen: dict[str, dict[str, torch.Tensor]] = {}

    @trainer.on(Events.ITERATION_STARTED(once=1))
    def _capture(engine):  # after the CheckpointLoader (Events.STARTED), before the first update
        seen["generator"] = {k: v.clone() for k, v in generator.state_dict().items()}
        seen["discriminator"] = {k: v.clone() for k, v in discriminator.state_dict().items()}

    stage2.run()
    stage2.finalize()
    start = _params(seen["generator"])
    for key, value in start.items():
        torch.testing.assert_close(value, checkpoint[key])
    assert any(not torch.equal(value, init_generator[key]) for key, value in start.items())
    # one adversarial step changes both networks
    final = _load(tmp_path / "models" / "checkpoint_gan_x4_final.pt")
    assert any(not torch.equal(v, final["model"][k]) for k, v in start.items())
    assert any(not torch.equal(v, final["discriminator"][k]) for k, v in _params(seen["discriminator"]).items())


def test_generator_loss_terms_and_weights_match_hand_computation(tmp_path):
    workflow = _workflow(TRAIN, tmp_path, run_id="stage2", pretrained_generator=None, **TINY)
    loss = workflow.parser.get_parsed_content("train#loss")
    # the balanced defaults (the paper's 1, 1, 0.01 and offset 0 live in paper.json)
    assert (loss.mse_weight, loss.saliency_weight, loss.adversarial_weight) == (1000.0, 1.0, 0.1)
    assert loss.vgg_loss is None  # no vgg_weights_path by default: the VGG term is off
    assert loss.saliency_mse.weight_offset == 1.0
    optimizer = workflow.parser.get_parsed_content("train#g_optimizer")
    assert optimizer.defaults["betas"][0] == pytest.approx(0.93)
    assert isinstance(workflow.parser.get_parsed_content("pretrain#loss"), torch.nn.MSELoss)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    discriminator = workflow.parser.get_parsed_content("discriminator")
    captured = {}

    @trainer.on(IterationEvents.LOSS_COMPLETED)
    def _capture(engine):  # the discriminator has been updated; these are the logits the generator loss saw
        if captured:
            return
        output = engine.state.output
        captured.update({k: v.detach().clone() for k, v in output.items()})
        captured["terms"] = dict(loss.last_terms)
        with torch.no_grad():
            captured["fake_logits"] = discriminator.train()(output["pred"])

    workflow.run()
    workflow.finalize()
    sr, hr = captured["pred"], captured["label"]
    assert sr.shape == hr.shape == (2, 3, 16, 16)
    weights = local_saliency_map(hr, intensity_range=(0.0, 1.0))  # hard histogram: fixed weights of eq. 7
    weighted_mse = ((weights + 1.0) * (sr - hr) ** 2).mean()  # weights 1 + S
    soft_sr = local_saliency_map(sr, intensity_range=(0.0, 1.0), histogram="soft")
    soft_hr = local_saliency_map(hr, intensity_range=(0.0, 1.0), histogram="soft")
    saliency = ((soft_sr - soft_hr) ** 2).mean()
    adversarial = F.softplus(-captured["fake_logits"]).mean()  # -log sigmoid(D(G(LR)))
    terms = captured["terms"]
    assert set(terms) == {"mse", "saliency", "adversarial", "total"}
    torch.testing.assert_close(terms["mse"], weighted_mse, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(terms["saliency"], saliency, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(terms["adversarial"], adversarial, rtol=1e-4, atol=1e-6)
    expected = 1000.0 * weighted_mse + saliency + 0.1 * adversarial
    torch.testing.assert_close(captured["g_loss"], expected, rtol=1e-4, atol=1e-6)
    assert captured["loss"].ndim == 0 and torch.equal(captured["loss"], captured["g_loss"])
    torch.testing.assert_close(terms["total"], captured["g_loss"])


def test_loss_options_from_the_config(tmp_path):
    vgg_file = tmp_path / "vgg16_relu4_1.pt"
    torch.save(VGG16Features("relu4_1").state_dict(), vgg_file)
    override = {
        "vgg_weights_path": str(vgg_file),
        "loss_weights": {"mse": 2.0, "vgg": 0.5, "saliency": 3.0, "adversarial": 0.1},
        "saliency_weight_offset": 1.0,
    }
    workflow = _workflow(TRAIN, tmp_path, **{**TINY, **override})
    loss = workflow.parser.get_parsed_content("train#loss")
    assert isinstance(loss.vgg_loss, VGGFeatureLoss)
    assert (loss.mse_weight, loss.vgg_weight, loss.saliency_weight, loss.adversarial_weight) == (2.0, 0.5, 3.0, 0.1)
    assert loss.saliency_mse.weight_offset == 1.0


def _bicubic(lr: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(lr, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


def _rows(path: Path) -> list[dict]:
    with path.open() as stream:
        return list(csv.DictReader(stream))


def test_evaluate_writes_sr_bicubic_and_downstream_scores(trained_root):
    data = build_datalist("chasedb1", None, "test")[:2]
    override = {**TINY, "evaluation#data": data, "eval_factors": [4, 8]}
    workflow = _workflow([TRAIN, EVALUATE], trained_root, run_id="evaluating", **override)
    workflow.run()
    out = trained_root / "eval" / "evaluation"
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["missing"] == ["generator_x8"]  # only x4 was trained
    assert set(summary["super_resolution"]["x4"]) == {"sr", "bicubic"}
    assert set(summary["super_resolution"]["x8"]) == {"bicubic"}
    for method in ("sr", "bicubic"):
        assert set(summary["super_resolution"]["x4"][method]) >= {"psnr", "ssim", "rmse", "sharpness"}
    downstream = summary["downstream_segmentation"]
    assert set(downstream) == {"hr", "x4", "x8"} and set(downstream["x4"]) == {"sr", "bicubic"}
    assert set(downstream["hr"]) == {"accuracy", "sensitivity", "specificity", "dice"}

    # independent recomputation for the first image
    preprocessing = workflow.parser.get_parsed_content("evaluation#preprocessing")
    sample = preprocessing(dict(data[0]))
    hr = torch.as_tensor(sample["image"]).as_subclass(torch.Tensor)[None].float()
    label = torch.as_tensor(sample["label"]).as_subclass(torch.Tensor)[None]
    assert hr.shape == (1, 3, 32, 32)
    generator = SRGenerator(scale_factor=4, residual_per_stage=False, global_skip="bicubic", **GEN)
    generator.load_state_dict(_load(trained_root / "models" / "checkpoint_gan_x4_final.pt")["model"])
    segmenter = BaselineUNet(spatial_dims=2, in_channels=3, out_channels=2, base_channels=4)
    segmenter.load_state_dict(_load(trained_root / "models" / "seg_model.pt"))
    generator.eval(), segmenter.eval()
    rows = {(r["id"], r["factor"], r["method"]): r for r in _rows(out / "sr_metrics.csv")}
    seg_rows = {(r["id"], r["factor"], r["input"]): r for r in _rows(out / "downstream_segmentation.csv")}
    with torch.no_grad():
        for factor in (4, 8):
            lr = gaussian_downsample(hr, factor)
            outputs = {"bicubic": _bicubic(lr, factor)}
            if factor == 4:
                outputs["sr"] = generator(lr).clamp(0, 1)
            for method, image in outputs.items():
                row = rows[(data[0]["id"], str(factor), method)]
                assert float(row["psnr"]) == pytest.approx(float(psnr(image, hr, crop_border=factor)), rel=1e-6)
                assert float(row["ssim"]) == pytest.approx(float(ssim(image, hr, crop_border=factor)), rel=1e-5)
                assert float(row["rmse"]) == pytest.approx(float(rmse(image, hr, crop_border=factor)), rel=1e-6)
                sharpness = float(gradient_sharpness(image, crop_border=factor))
                assert float(row["sharpness"]) == pytest.approx(sharpness, rel=1e-6)
                fov = hr.mean(dim=1, keepdim=True) > 20 / 255  # the documented threshold, written out
                assert torch.equal(fov, fov_mask_from_image(hr)) and 0 < int(fov.sum()) < fov.numel()
                inside = masked_super_resolution_metrics(image, hr, fov, crop_border=factor)
                for name in ("psnr", "ssim", "sharpness"):
                    assert float(row[f"{name}_fov"]) == pytest.approx(float(inside[name]), rel=1e-6)
                counts = segmentation_counts(segmenter(image), label, num_classes=2)
                dice = float(pooled_scores(counts, "dice")["dice"])
                assert float(seg_rows[(data[0]["id"], str(factor), method)]["dice"]) == pytest.approx(dice, rel=1e-6)
        counts = segmentation_counts(segmenter(hr), label, num_classes=2)
        scores = pooled_scores(counts, ("accuracy", "recall"))
        row = seg_rows[(data[0]["id"], "-", "hr")]
        assert float(row["accuracy"]) == pytest.approx(float(scores["accuracy"]), rel=1e-6)
        assert float(row["sensitivity"]) == pytest.approx(float(scores["recall"]), rel=1e-6)
    # bicubic PSNR at x4 beats x8 on real images (less information lost)
    x4, x8 = summary["super_resolution"]["x4"]["bicubic"], summary["super_resolution"]["x8"]["bicubic"]
    assert x4["psnr"] > x8["psnr"]

    # summary.json: the same content plus the headline per factor
    full = json.loads((out / "summary.json").read_text())
    assert {k: v for k, v in full.items() if k != "headline"} == summary
    head4, head8 = full["headline"]["x4"], full["headline"]["x8"]
    sr4, bic4 = summary["super_resolution"]["x4"]["sr"], summary["super_resolution"]["x4"]["bicubic"]
    assert (head4["psnr"], head4["ssim"], head4["psnr_fov"]) == (sr4["psnr"], sr4["ssim"], sr4["psnr_fov"])
    assert (head4["psnr_bicubic"], head4["ssim_fov_bicubic"]) == (bic4["psnr"], bic4["ssim_fov"])
    assert head4["dice_sr"] == downstream["x4"]["sr"]["dice"]
    assert head4["dice_bicubic"] == downstream["x4"]["bicubic"]["dice"]
    assert head4["dice_hr"] == head8["dice_hr"] == downstream["hr"]["dice"]
    assert head8["psnr"] is None and head8["dice_sr"] is None  # no x8 generator
    assert head8["psnr_bicubic"] == summary["super_resolution"]["x8"]["bicubic"]["psnr"]
    assert 0.3 < bic4["fov_fraction"] < 1.0  # the thresholded FOV excludes the black border of the fundus image

    strict = _workflow([TRAIN, EVALUATE], trained_root, run_id="evaluating", require_generators=True, **override)
    with pytest.raises(RuntimeError) as error:
        strict.run()
    assert "no x8 generator checkpoint" in str(error.value.__cause__ or error.value)


def test_inference_writes_sr_images_and_failure_report(trained_root, tmp_path):
    folder = tmp_path / "lr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / "small.png")
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / "tiny.png")
    (folder / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "sr"
    workflow = _workflow(
        INFERENCE,
        trained_root,
        run_id="inference",
        workflow_type="inference",
        dataset_dir=str(folder),
        output_dir=str(out),
        **GEN,
    )
    assert not workflow.check_properties()
    workflow.run()
    assert Image.open(out / "small_sr_x4.png").size == (96, 80)  # (W, H) = 4 x (24, 20)
    assert Image.open(out / "tiny_sr_x4.png").size == (40, 48)
    report = json.loads((out / "failures.json").read_text())
    assert report["num_written"] == 2 and [f["file"] for f in report["failures"]] == [str(folder / "broken.png")]
    assert os.path.exists(out / "failures.csv")
    # the model-zoo `evaluator` path (MONAI Label) loads model.pt through the safe loader in `handlers`
    loader = workflow.parser.get_parsed_content("handlers")[0]
    assert isinstance(loader, SafeCheckpointLoader)
    network = workflow.parser.get_parsed_content("network")
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
    loader(workflow.parser.get_parsed_content("evaluator"))
    for key, value in _load(trained_root / "models" / "model.pt").items():
        torch.testing.assert_close(network.state_dict()[key], value)


# ---------------------------------------------------------------------------------------------------------------
# speed switches and reliability (session-2 pattern shared by every bundle)
# ---------------------------------------------------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    chain = []
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def test_channels_last_trains_one_iteration_with_channels_last_weights(tmp_path):
    # a random output conv: with the default zeroed one the first step cannot reach the layers before it
    override = {"channels_last": True, "zero_init_last": False}
    workflow = _workflow(TRAIN, tmp_path, run_id="stage2", pretrained_generator=None, **override, **TINY)
    networks = {name: workflow.parser.get_parsed_content(name) for name in ("network", "discriminator")}
    start = {name: [p.detach().clone() for p in net.parameters()] for name, net in networks.items()}
    workflow.run()
    workflow.finalize()
    assert workflow.parser.get_parsed_content("train#trainer").state.iteration == 1
    for name, net in networks.items():
        weights = [p for p in net.parameters() if p.ndim == 4]
        assert weights, name
        assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights), name
        assert any(not p.is_contiguous() for p in weights), name  # really a different layout, not a 1x1 edge case
        assert all(not torch.equal(a, p) for a, p in zip(start[name], net.parameters()) if p.ndim == 4), name


def test_resume_after_interruption_equals_uninterrupted_training(tmp_path):
    """Both stages: 1 MSE epoch then 2 GAN epochs in one go, vs. stopped after GAN epoch 1 and resumed."""
    full_root, split_root = tmp_path / "full", tmp_path / "split"
    full = _workflow(TRAIN, full_root, run_id="training", **{**TINY, "max_epochs": 2})
    full.run()
    full.finalize()
    first = _workflow(TRAIN, split_root, run_id="training", **TINY)  # the "interrupted" run: 1 GAN epoch of 2
    first.run()
    first.finalize()
    resumed = _workflow(TRAIN, split_root, run_id="training", resume=True, **{**TINY, "max_epochs": 2})
    pretrain = resumed.parser.get_parsed_content("pretrain#trainer")
    trainer = resumed.parser.get_parsed_content("train#trainer")
    pretrain_steps = []
    pretrain.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: pretrain_steps.append(1))
    resumed.run()
    resumed.finalize()
    assert pretrain_steps == [] and pretrain.state.iteration == 1  # stage 1 was complete: restored, not re-run
    assert trainer.state.epoch == 2 and trainer.state.iteration == 2
    gan_resume = next(h for h in resumed.parser.get_parsed_content("train#handlers") if hasattr(h, "loaded_path"))
    assert "gan_x4" in os.path.basename(gan_resume.loaded_path)
    expected = _load(full_root / "models" / "checkpoint_gan_x4_final.pt")
    got = _load(split_root / "models" / "checkpoint_gan_x4_final.pt")
    assert got["trainer"]["iteration"] == expected["trainer"]["iteration"] == 2
    for key in ("model", "discriminator"):
        assert expected[key].keys() == got[key].keys()
        for name, value in expected[key].items():
            torch.testing.assert_close(got[key][name], value, rtol=0, atol=0, msg=f"{key}.{name}")
    for key in ("optimizer", "d_optimizer"):
        for index, state in expected[key]["state"].items():
            torch.testing.assert_close(got[key]["state"][index]["exp_avg"], state["exp_avg"], rtol=0, atol=0)


def test_non_finite_loss_stops_training_and_leaves_a_checkpoint(tmp_path):
    # 2 iterations of 1 image (2 patches); the first generator step at learning rate 1e30 blows its weights up
    override = {**TINY, "batch_size": 1, "patches_per_image": 2, "train#g_optimizer#lr": 1e30}
    workflow = _workflow(TRAIN, tmp_path, run_id="stage2", pretrained_generator=None, **override)
    ids = {entry["id"] for entry in workflow.parser.get_parsed_content("train#dataset#data")}
    with pytest.raises(Exception) as info:
        workflow.run()
    error = next((e for e in _causes(info.value) if isinstance(e, NonFiniteLossError)), None)
    assert error is not None, repr(info.value)
    assert error.iteration == 2 and set(error.values) & {"g_loss", "d_loss"}
    assert len(error.names) == 2 and set(error.names) < ids  # names the image of the offending batch
    assert error.checkpoint_path == str(tmp_path / "models" / "nonfinite_epoch=1_iteration=2.pt")
    saved = _load(Path(error.checkpoint_path))
    assert set(saved) == {"model", "discriminator", "optimizer", "d_optimizer", "trainer"}
    assert saved["trainer"]["iteration"] == 1  # caught before the generator step: resuming repeats iteration 2
    # the generator weights are those after iteration 1: huge but finite (not yet stepped with the bad loss); its
    # BatchNorm running statistics already saw the bad forward pass
    assert all(torch.isfinite(v).all() for v in _params(saved["model"]).values())


def test_validate_data_reports_a_broken_file_before_training(tmp_path):
    train = build_datalist("chasedb1", None, "train")[:2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(train[0]["image"]).read_bytes()[:2000])
    # SR data lists hold images only (any folder of fundus images): no mask is required
    images = [{"image": item["image"], "id": item["id"]} for item in train]
    override = {**TINY, "train#dataset#data": images + [{"image": str(broken), "id": "broken"}],
                "validate#dataset#data": []}
    with pytest.raises(Exception) as info:
        _workflow(TRAIN, tmp_path, **override)
    messages = [str(e) for e in _causes(info.value)]
    assert any("broken.jpg" in m and "validation" in m for m in messages), messages
    assert not any("without mask" in m for m in messages)
    assert not (tmp_path / "models").exists()
    # mask-free lists pass; the switch turns the check off
    _workflow(TRAIN, tmp_path, **{**override, "train#dataset#data": images})
    _workflow(TRAIN, tmp_path, validate_data=False, **override)


def test_stage2_without_stage1_checkpoint_names_the_missing_file(tmp_path):
    workflow = _workflow(TRAIN, tmp_path, run_id="stage2", **TINY)
    with pytest.raises(Exception) as info:
        workflow.run()
    messages = [str(e) for e in _causes(info.value)]
    expected = str(tmp_path / "models" / "checkpoint_mse_x4_final.pt")
    assert any(expected in m and "does not exist" in m for m in messages), messages


def test_folder_dataset_goes_through_the_registry(tmp_path):
    images = tmp_path / "hr"
    (images / "eye").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("eye/a.png", "b.png", "c.jpg"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(images / name)
    parser = ConfigParser()
    parser.read_config(TRAIN)
    parser.update({"bundle_root": str(tmp_path), "dataset": "folder", "dataset_dir": str(images)})
    assert [d["id"] for d in parser.get_parsed_content("train#dataset#data")] == ["b", "c", "eye_a"]
    assert parser.get_parsed_content("validate#dataset#data") == []
    parser.update({"datalist_options": {"val_fraction": 0.3, "seed": 0}})  # ceil(0.3 * 3) = 1 held out
    parser.parse(reset=True)
    train = parser.get_parsed_content("train#dataset#data")
    val = parser.get_parsed_content("validate#dataset#data")
    assert len(train) == 2 and len(val) == 1
    assert {d["id"] for d in train + val} == {"b", "c", "eye_a"}
