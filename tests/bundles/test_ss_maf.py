# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""End-to-end tests of the SS-MAF bundle (``bundles/ss_maf``) through ``monai.bundle`` with tiny overrides.

The parameter counts of ``MAF(2, 64, 64)`` (10,216) and of the SS-MAF U-Net (39.187 M) are tested on the classes in
``tests/networks``; here the paper config must build that network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser, ConfigWorkflow
from PIL import Image

from monai_ext.data import build_datalist, embedded_dataset_dir
from monai_ext.handlers import NonFiniteLossError
from monai_ext.metrics import pr_auc
from monai_ext.networks import FIM, MAF
from monai_ext.transforms import resize_image
from monai_ext.utils import safe_load_checkpoint
from tests.bundles.helpers import bundle_workflow, error_chain, run_collecting_stats, run_counting_iterations
from tests.data.fakes import make_ddr, make_e_ophtha, make_idrid

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "ss_maf"
CONFIGS = BUNDLE / "configs"
ABLATIONS = sorted((CONFIGS / "ablation").glob("*.json"))
HR = [64, 64]
LR = [32, 32]
ORIGINAL = (512, 512)


def _datalists() -> tuple[list[dict], list[dict]]:
    root = embedded_dataset_dir("idrid_ex_512")
    return build_datalist("idrid_ex_512", root, "train")[:2], build_datalist("idrid_ex_512", root, "val")[:1]


def _tiny_overrides(bundle_root: Path, **extra) -> dict:
    train, val = _datalists()
    overrides = {
        "bundle_root": str(bundle_root),
        "hr_spatial_size": HR,
        "train_hr_spatial_size": HR,
        "base_channels": 8,
        "max_epochs": 1,
        "batch_size": 1,
        "val_interval": 1,
        "train#dataset#data": train,
        "validate#dataset#data": val,
    }
    overrides.update(extra)
    return overrides


def _run(config_files: list[Path], workflow_type: str = "train", **overrides) -> ConfigWorkflow:
    workflow = bundle_workflow(CONFIGS, config_files, workflow_type, initialize=True, **overrides)
    workflow.run()
    workflow.finalize()
    return workflow


def _parser(*files: str, **updates) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / f) for f in files])
    parser.update(updates)
    return parser


def test_config_properties_and_run_ids():
    train = bundle_workflow(CONFIGS, "train.json", initialize=True)
    assert train.check_properties() in (None, [])
    assert train.parser["training"] == train.parser["run"]
    infer = bundle_workflow(CONFIGS, "inference.json", "infer", initialize=True)
    assert infer.check_properties() in (None, [])
    assert infer.parser["inference"] == infer.parser["run"]


def test_inference_network_matches_training_network():
    train = json.loads((CONFIGS / "train.json").read_text())
    inference = json.loads((CONFIGS / "inference.json").read_text())
    assert inference["network_def"] == train["network_def"]
    for key in ("num_classes", "in_channels", "scale_factor", "hr_spatial_size", "lr_method", "intensity_range",
                "backbone", "fusion", "super_resolution", "base_channels", "foreground_prior"):
        assert inference[key] == train[key], key


def test_default_network_is_ss_maf_and_eval_returns_only_the_hr_segmentation():
    net = _parser("train.json").get_parsed_content("network_def")
    assert isinstance(net.feature_fusion, MAF)
    x = torch.randn(2, 1, 24, 40)  # single-channel input, as the embedded IDRiD data
    net.train()
    out = net(x)
    assert set(out) == {"seg", "sr", "fused_seg", "fused_sr"}
    assert out["sr"].shape == out["fused_sr"].shape == (2, 1, 48, 80)  # SR target = the input's channels
    net.eval()
    with torch.no_grad():
        pred = net(x)
    assert isinstance(pred, torch.Tensor) and pred.shape == (2, 2, 48, 80)
    # eval mode runs neither the SR decoder nor the fusion module
    calls = []
    hooks = [m.register_forward_hook(lambda *_: calls.append(1)) for m in (net.sr_decoder, net.feature_fusion)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    assert calls == []


def test_paper_config_is_the_papers_network_and_schedule():
    parser = _parser("train.json", "paper.json", "datasets/idrid.json")
    assert parser["hr_spatial_size"] == [960, 1440] and parser["scale_factor"] == 2  # LR 720x480 -> HR 1440x960
    assert parser.get_parsed_content("train_hr_spatial_size") == [960, 1440]  # whole images, no crop
    assert parser["max_epochs"] == 300 and parser["learning_rate"] == 0.01 and parser["lr_scheduler"]["power"] == 0.9
    assert parser["optimizer"]["nesterov"] is True and parser["optimizer"]["momentum"] == 0.9
    lr_handler = [h for h in parser["train"]["handlers"] if h["_target_"] == "LrScheduleHandler"]
    assert len(lr_handler) == 1 and lr_handler[0]["epoch_level"] is False  # poly decay per iteration
    loss = parser.get_parsed_content("loss")
    assert loss.kinds == {"seg": "cbce", "sr": "mse", "fused_seg": "rmi", "fused_sr": "mse"}  # paper eq. 14
    assert loss.cbce.beta == 0.9999
    with torch.device("meta"):
        net = parser.get_parsed_content("network_def")
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 3) == 39.187  # spec 3: SS-MAF U-Net, r=2


def test_released_code_loss_variants_are_options():
    parser = _parser("train.json", seg_loss="ce", fused_sr_loss="ssim")
    loss = parser.get_parsed_content("loss")
    assert loss.kinds == {"seg": "ce", "sr": "mse", "fused_seg": "rmi", "fused_sr": "ssim"}
    torch.manual_seed(0)
    hr = torch.rand(2, 1, 32, 32) * 2 - 1
    outputs = {"seg": torch.randn(2, 2, 32, 32), "sr": hr.clone(), "fused_sr": hr.clone(),
               "fused_seg": torch.randn(2, 2, 32, 32)}
    targets = {"label": torch.randint(0, 2, (2, 1, 32, 32)), "hr_image": hr,
               "intensity_range": torch.tensor([[-1.0, 1.0]] * 2)}
    loss(outputs, targets)
    assert float(loss.last_terms["fused_sr"]) == pytest.approx(0.0, abs=1e-6)  # SSIM of identical 1-channel images
    np.testing.assert_allclose(
        float(loss.last_terms["seg"]), float(F.cross_entropy(outputs["seg"], targets["label"][:, 0])), rtol=1e-6
    )


_EXPECTED = {
    "unet": (1, False, None, {"seg"}),
    "unet_interp": (2, False, None, {"seg"}),
    "unet_interp_sr": (2, True, None, {"seg", "sr"}),
    "unet_interp_sr_maf": (2, True, MAF, {"seg", "sr", "fused_seg", "fused_sr"}),
    "unet_supervessel_fim": (2, True, FIM, {"seg", "sr", "fused_seg"}),  # FIM has no fused_sr output
}


def test_every_table_one_row_has_an_ablation_config():
    assert [p.stem for p in ABLATIONS] == sorted(_EXPECTED)


@pytest.mark.parametrize("ablation", ABLATIONS, ids=[p.stem for p in ABLATIONS])
def test_ablation_config_trains_two_iterations(tmp_path, ablation):
    rate, has_sr, fusion, terms = _EXPECTED[ablation.stem]
    overrides = _tiny_overrides(tmp_path)
    if rate == 1:
        overrides["hr_spatial_size"] = overrides["train_hr_spatial_size"] = LR
    workflow = _run([CONFIGS / "train.json", ablation], **overrides)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.iteration == 2  # 2 images, batch 1, 1 epoch
    net = workflow.parser.get_parsed_content("network")
    assert net.scale_factor == rate and (net.sr_decoder is not None) == has_sr
    fusion_module = net.output_fusion if fusion is FIM else net.feature_fusion  # FIM fuses outputs, not features
    assert (fusion_module is None) if fusion is None else isinstance(fusion_module, fusion)
    last = workflow.parser.get_parsed_content("loss").last_terms
    assert set(last) == terms | {"total"}
    assert all(torch.isfinite(v).all() for v in last.values())
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)  # best checkpoint by validation IoU
    assert state.keys() == net.state_dict().keys()
    assert (tmp_path / "models" / "checkpoint_final.pt").is_file()


def test_batch_with_only_empty_masks_trains_finitely(tmp_path):
    images = build_datalist("idrid_ex_512", embedded_dataset_dir("idrid_ex_512"), "train")[:2]
    empty = [{"image": d["image"], "label": None, "id": d["id"]} for d in images]  # no exudate: all-zero masks
    overrides = _tiny_overrides(tmp_path, batch_size=2, **{"train#dataset#data": empty, "validate#dataset#data": []})
    parser = _parser("train.json")
    parser.update(overrides)
    before = {k: v.clone() for k, v in parser.get_parsed_content("network_def").state_dict().items()}
    workflow = _run([CONFIGS / "train.json"], **overrides)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.iteration == 1
    batch = trainer.state.batch
    labels = batch[0]["label"] if isinstance(batch, list) else batch["label"]
    assert int(torch.as_tensor(labels).sum()) == 0
    last = workflow.parser.get_parsed_content("loss").last_terms
    assert set(last) == {"seg", "sr", "fused_seg", "fused_sr", "total"}
    assert all(torch.isfinite(v).all() for v in last.values())
    net = workflow.parser.get_parsed_content("network")
    assert all(torch.isfinite(p).all() for p in net.parameters())
    changed = [k for k, v in net.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed  # the optimizer step happened


@pytest.mark.parametrize(
    "dataset, make",
    [("idrid", make_idrid), ("e_ophtha_ex", make_e_ophtha), ("ddr", make_ddr)],
    ids=["idrid", "e_ophtha_ex", "ddr"],
)
def test_dataset_config_trains_on_its_official_layout(tmp_path, dataset, make):
    data_dir = make(tmp_path / "data")
    overrides = {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": str(data_dir),
        "hr_spatial_size": HR,
        "train_hr_spatial_size": HR,
        "base_channels": 8,
        "max_epochs": 1,
        "val_interval": 1,
        "train#trainer#epoch_length": 1,
    }
    files = [CONFIGS / "train.json", CONFIGS / "datasets" / f"{dataset}.json"]
    workflow = _run(files, **overrides)
    parser = workflow.parser
    assert parser["dataset"] == dataset and parser["in_channels"] == 3  # RGB originals
    assert parser.get_parsed_content("network").encoder is not None
    train_data = parser.get_parsed_content("train#dataset#data")
    val_data = parser.get_parsed_content("validate#dataset#data")
    assert train_data and val_data
    if dataset == "e_ophtha_ex":
        assert any(d["label"] is None for d in train_data + val_data)  # images without exudate are normal
    assert torch.isfinite(parser.get_parsed_content("loss").last_terms["total"])
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()
    if dataset == "idrid":
        _run(files + [CONFIGS / "evaluate.json"], **overrides)
        summary = json.loads((tmp_path / "bundle" / "eval" / "evaluation" / "summary.json").read_text())
        test = build_datalist("idrid", str(data_dir), "test")
        pooled = summary["pooled"]
        # metrics at the original (12 x 16) resolution of the fake masks
        assert summary["num_images"] == len(test)
        assert pooled["tp"] + pooled["fp"] + pooled["tn"] + pooled["fn"] == len(test) * 12 * 16


# ---------------------------------------------------------------------------------------------------------------------
# evaluation and inference on a toy checkpoint


def _hand_network(bundle_root: Path) -> torch.nn.Module:
    net = _parser("train.json", base_channels=8).get_parsed_content("network_def")
    net.load_state_dict(torch.load(bundle_root / "models" / "model.pt", weights_only=True))
    return net.eval()


def _hand_logits(net: torch.nn.Module, image_path: str) -> torch.Tensor:
    """HR logits of one image computed without the bundle's transforms: PIL, [-1, 1], bicubic HR then LR."""
    pixels = torch.from_numpy(np.asarray(Image.open(image_path), dtype=np.float32))[None]
    image = (pixels / 255.0 * 2.0 - 1.0).clamp(-1, 1)
    hr = resize_image(image, HR, antialias=True).clamp(-1, 1)
    lr = resize_image(hr, LR, antialias=True).clamp(-1, 1)
    with torch.no_grad():
        return net(lr[None])


@pytest.fixture(scope="module")
def toy_bundle(tmp_path_factory) -> Path:
    """A bundle root with a ``models/model.pt`` trained for one epoch, whose foreground bias is then shifted so
    that the toy model predicts some exudate pixels (non-trivial TP / FP / FN in the checks below)."""
    root = tmp_path_factory.mktemp("ss_maf")
    _run([CONFIGS / "train.json"], **_tiny_overrides(root))
    net = _hand_network(root)
    test = build_datalist("idrid_ex_512", embedded_dataset_dir("idrid_ex_512"), "test")[:2]
    logits = _hand_logits(net, test[0]["image"])
    margin = (logits[:, 1] - logits[:, 0]).flatten()
    state = net.state_dict()
    bias = [k for k in state if k.startswith("seg_head") and k.endswith("bias")]
    assert len(bias) == 1
    state[bias[0]][1] -= torch.quantile(margin, 0.9)  # about 10 % of the pixels become foreground
    torch.save(state, root / "models" / "model.pt")
    return root


def test_evaluation_equals_metric_functions_applied_by_hand(toy_bundle):
    test = build_datalist("idrid_ex_512", embedded_dataset_dir("idrid_ex_512"), "test")[:2]
    workflow = _run(
        [CONFIGS / "train.json", CONFIGS / "evaluate.json"],
        bundle_root=str(toy_bundle),
        hr_spatial_size=HR,
        base_channels=8,
        num_overlays=1,
        **{"validate#dataset#data": test},
    )
    preprocessing = workflow.parser.get_parsed_content("validate#preprocessing")
    out_dir = toy_bundle / "eval" / "evaluation"
    summary = json.loads((out_dir / "summary.json").read_text())
    engine_metrics = json.loads((out_dir / "test_metrics.json").read_text())

    net = _hand_network(toy_bundle)
    counts, scores, labels, per_image = [], [], [], {"dice": [], "iou": [], "recall": [], "pr_auc": []}
    for item in test:
        label = torch.from_numpy(np.asarray(Image.open(item["label"])) > 0)
        assert tuple(label.shape) == ORIGINAL
        logits = F.interpolate(_hand_logits(net, item["image"]), size=ORIGINAL, mode="nearest")[0]
        pred = logits.argmax(0).bool()
        tp, fp, fn = int((pred & label).sum()), int((pred & ~label).sum()), int((~pred & label).sum())
        counts.append((tp, fp, fn, int((~pred & ~label).sum())))
        # PR-AUC ranks the pixels, so float32 ties break with the last bit of the scores: rank the scores of the
        # bundle's own network input (the hand preprocessing above differs from it by up to 4e-4, a rounding order)
        with torch.no_grad():
            bundle_lr = torch.as_tensor(preprocessing(dict(item))["image"]).float()[None]
            bundle_logits = F.interpolate(net(bundle_lr), size=ORIGINAL, mode="nearest")[0]
        np.testing.assert_allclose(bundle_logits.numpy(), logits.numpy(), atol=1e-4)
        prob = torch.softmax(bundle_logits, 0)[1]
        scores.append(prob.flatten())
        labels.append(label.flatten())
        per_image["dice"].append(2 * tp / (2 * tp + fp + fn))
        per_image["iou"].append(tp / (tp + fp + fn))
        per_image["recall"].append(tp / (tp + fn))
        per_image["pr_auc"].append(float(pr_auc(prob, label)))
    tp, fp, fn, tn = (sum(c[i] for c in counts) for i in range(4))
    assert tp > 0 and fp > 0 and fn > 0  # a non-trivial prediction
    pooled = summary["pooled"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"], pooled["tn"]) == (tp, fp, fn, tn)
    expected = {"dice": 2 * tp / (2 * tp + fp + fn), "iou": tp / (tp + fp + fn), "recall": tp / (tp + fn)}
    for name, value in expected.items():
        np.testing.assert_allclose(pooled[name], value, rtol=1e-9)
        np.testing.assert_allclose(summary["mean"][name], np.mean(per_image[name]), rtol=1e-9)
        np.testing.assert_allclose(engine_metrics["test_per_image_iou" + ("" if name == "iou" else f"_{name}")],
                                   np.mean(per_image[name]), rtol=1e-9)
    np.testing.assert_allclose(engine_metrics["test_iou"], expected["iou"], rtol=1e-9)
    np.testing.assert_allclose(engine_metrics["test_iou_dice"], expected["dice"], rtol=1e-9)
    np.testing.assert_allclose(engine_metrics["test_iou_recall"], expected["recall"], rtol=1e-9)
    pooled_auc = float(pr_auc(torch.cat(scores), torch.cat(labels)))
    np.testing.assert_allclose(summary["pr_auc"], pooled_auc, rtol=1e-6)
    np.testing.assert_allclose(engine_metrics["test_pr_auc"], pooled_auc, rtol=1e-6)
    np.testing.assert_allclose(engine_metrics["test_per_image_pr_auc"], np.mean(per_image["pr_auc"]), rtol=1e-5)

    rows = (out_dir / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [d["id"] for d in test] + ["pooled", "mean"]
    overlay = np.asarray(Image.open(out_dir / "overlays" / f"{test[0]['id']}_overlay.png"))
    assert overlay.shape == ORIGINAL + (3,)
    # the background is grey, so pure colours mark exactly GT only (green), prediction only (red), both (yellow)
    for colour, count in (((0, 255, 0), counts[0][2]), ((255, 0, 0), counts[0][1]), ((255, 255, 0), counts[0][0])):
        assert int((overlay == colour).all(-1).sum()) == count


def test_inference_writes_masks_and_probabilities_and_reports_broken_files(toy_bundle, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    test = build_datalist("idrid_ex_512", embedded_dataset_dir("idrid_ex_512"), "test")[:2]
    for item in test:
        shutil.copy(item["image"], images)
    (images / "broken.png").write_bytes(Path(test[0]["image"]).read_bytes()[:500])
    out = tmp_path / "out"
    _run(
        [CONFIGS / "inference.json"],
        workflow_type="infer",
        bundle_root=str(toy_bundle),
        hr_spatial_size=HR,
        base_channels=8,
        input_dir=str(images),
        output_dir=str(out),
    )
    failures = json.loads((out / "failures.json").read_text())
    assert [Path(f["file"]).name for f in failures["failures"]] == ["broken.png"]
    net = _hand_network(toy_bundle)
    for item in test:
        mask = np.asarray(Image.open(out / f"{item['id']}_seg.png"))
        prob = np.asarray(Image.open(out / f"{item['id']}_prob.png"))
        assert mask.shape == prob.shape == ORIGINAL  # the input image's size
        probs = torch.softmax(F.interpolate(_hand_logits(net, item["image"]), size=ORIGINAL, mode="nearest"), 1)[0]
        np.testing.assert_array_equal(mask, probs.argmax(0).numpy().astype(np.uint8) * 255)
        np.testing.assert_allclose(prob / 255.0, probs[1].numpy(), atol=0.5 / 255 + 1e-6)


# ---------------------------------------------------------------------------------------------------------------------
# reliability (seed, resume, validate_data, non-finite stop, atomic checkpoints) and speed switches


def _workflow(config_files: list[Path], **overrides) -> ConfigWorkflow:
    return bundle_workflow(CONFIGS, config_files, **overrides)


def test_reliability_and_speed_switch_ids_follow_the_common_pattern():
    parser = _parser("train.json")
    defaults = {"seed": 0, "resume": False, "validate_data": True, "amp": False, "amp_dtype": "$torch.bfloat16",
                "channels_last": False, "compile": False, "cudnn_benchmark": False, "log_interval": 1, "num_workers": 0}
    assert {k: parser[k] for k in defaults} == defaults
    train_handlers = {h["_target_"]: h for h in parser["train"]["handlers"]}
    assert train_handlers["monai_ext.handlers.ResumeFromCheckpoint"]["enabled"] == "@resume"
    assert train_handlers["monai_ext.handlers.EpochSeedHandler"]["seed"] == "@seed"
    assert train_handlers["monai_ext.handlers.NonFiniteLossHandler"]["save_dir"] == "@ckpt_dir"
    assert train_handlers["StatsHandler"]["iteration_log"] == "@train#log_every"
    assert parser["train"]["log_every"] == {"_target_": "monai_ext.handlers.EveryNEvents", "interval": "@log_interval"}
    saver = parser["train"]["checkpoint_saver"]
    assert saver["_target_"] == "monai_ext.handlers.AtomicCheckpointSaver" and saver["engine_key"] == "trainer"
    assert (saver["save_final"], saver["n_saved"]) == (True, 1)
    best = [h for h in parser["validate"]["handlers"] if h.get("save_key_metric")]
    assert [(h["_target_"], h["key_metric_filename"]) for h in best] == [
        ("monai_ext.handlers.AtomicCheckpointSaver", "model.pt")]
    trainer, evaluator = parser["train"]["trainer"], parser["validate"]["evaluator"]
    assert (trainer["amp"], trainer["amp_kwargs"], trainer["compile"], trainer["optim_set_to_none"]) == (
        "@amp", {"dtype": "@amp_dtype"}, "@compile", True)
    assert (evaluator["amp"], evaluator["amp_kwargs"], evaluator["compile"]) == ("@amp", {"dtype": "@amp_dtype"},
                                                                                 "@compile")
    assert "$setattr(torch.backends.cudnn, 'benchmark', @cudnn_benchmark)" in parser["initialize"]
    checks = [x for x in parser["initialize"] if isinstance(x, dict) and x["_target_"].endswith("check_datalists")]
    assert len(checks) == 1 and checks[0]["enabled"] == "@validate_data"
    assert checks[0]["datalists"] == ["@train#dataset#data", "@validate#dataset#data"]
    # never a plain (non-atomic) saver or an unsafe loader in any of the bundle's configs
    for path in CONFIGS.rglob("*.json"):
        text = path.read_text()
        assert '"CheckpointSaver"' not in text and '"CheckpointLoader"' not in text and "torch.load(" not in text, path
    for name in ("evaluate.json", "inference.json"):
        loaders = [h for h in json.loads((CONFIGS / name).read_text()).get("validate#handlers", []) +
                   json.loads((CONFIGS / name).read_text()).get("handlers", [])
                   if "CheckpointLoader" in h["_target_"]]
        assert [h["_target_"] for h in loaders] == ["monai_ext.handlers.SafeCheckpointLoader"], name


def test_channels_last_trains_and_log_interval_thins_the_console(tmp_path):
    workflow = _workflow([CONFIGS / "train.json"], **_tiny_overrides(tmp_path, channels_last=True, log_interval=2))
    workflow.initialize()
    records = run_collecting_stats(workflow)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.iteration == 2 and trainer.optim_set_to_none
    assert all(np.isfinite(float(o["loss"])) for o in trainer.state.output)
    weights = [p for p in workflow.parser.get_parsed_content("network").parameters() if p.ndim == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert not all(p.is_contiguous() for p in weights)  # really converted (not 1x1 kernels only)
    iteration_lines = [m for m in records if "train_loss" in m and "Iter:" in m]
    assert len(iteration_lines) == 1 and "Iter: 2/2" in iteration_lines[0], records


def _train_two_epochs(bundle_root: Path, stop_after_epoch: int | None = None, **extra) -> tuple[ConfigWorkflow, int]:
    """Train 2 epochs (2 iterations each); optionally interrupt after an epoch. Returns the workflow and the number
    of iterations this call ran."""
    workflow = _workflow([CONFIGS / "train.json"], **_tiny_overrides(bundle_root, max_epochs=2, **extra))
    workflow.initialize()
    return workflow, run_counting_iterations(workflow, stop_after_epoch)


def test_resume_after_interruption_reaches_the_uninterrupted_weights(tmp_path):
    full, ran = _train_two_epochs(tmp_path / "full")
    assert ran == 4
    _, ran = _train_two_epochs(tmp_path / "run", stop_after_epoch=1)
    assert ran == 2
    interrupted = torch.load(tmp_path / "run" / "models" / "checkpoint_final.pt", weights_only=True)
    assert interrupted["trainer"]["iteration"] == 2 and interrupted["trainer"]["epoch_length"] == 2  # after epoch 1
    resumed, ran = _train_two_epochs(tmp_path / "run", resume=True)
    assert ran == 2  # only the second epoch ran: the first came from the checkpoint
    trainer = resumed.parser.get_parsed_content("train#trainer")
    assert (trainer.state.epoch, trainer.state.iteration) == (2, 4)
    expected = full.parser.get_parsed_content("network").state_dict()
    for key, value in resumed.parser.get_parsed_content("network").state_dict().items():
        assert torch.equal(value, expected[key]), key
    # the second epoch changed the weights, so equality above is not the checkpoint's weights left untouched
    assert any(not torch.equal(v, expected[k]) for k, v in interrupted["model"].items() if v.is_floating_point())
    opt_full = full.parser.get_parsed_content("optimizer").state_dict()
    opt_resumed = resumed.parser.get_parsed_content("optimizer").state_dict()
    for index, state in opt_full["state"].items():
        assert torch.equal(state["momentum_buffer"], opt_resumed["state"][index]["momentum_buffer"])
    assert opt_full["param_groups"][0]["lr"] == opt_resumed["param_groups"][0]["lr"]


def test_non_finite_loss_stops_with_a_checkpoint_naming_the_batch(tmp_path):
    overrides = _tiny_overrides(tmp_path, learning_rate=1e30)  # the first step blows the weights up
    workflow = _workflow([CONFIGS / "train.json"], **overrides)
    workflow.initialize()
    with pytest.raises(Exception) as info:  # monai.bundle wraps it in the error of the `run` expression
        workflow.run()
    workflow.finalize()
    chain = error_chain(info.value)
    error = next((e for e in chain if isinstance(e, NonFiniteLossError)), None)
    assert error is not None, chain
    ids = {d["id"] for d in overrides["train#dataset#data"]}
    assert error.epoch == 1 and error.iteration == 2 and len(error.names) == 1 and error.names[0] in ids
    assert "iteration 2" in str(error) and error.names[0] in str(error)
    assert error.checkpoint_path == str(tmp_path / "models" / "nonfinite_epoch=1_iteration=2.pt")
    saved = safe_load_checkpoint(error.checkpoint_path)
    assert set(saved) == {"model", "optimizer", "lr_scheduler", "trainer"}
    assert saved["trainer"]["iteration"] == 1  # before the bad step
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    net = workflow.parser.get_parsed_content("network")
    for key, value in net.state_dict().items():  # the bad step never ran
        assert torch.equal(value, saved["model"][key]), key
    assert not (tmp_path / "models" / "model.pt").exists()  # validation never ran
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".tmp-")]


def test_validate_data_reports_a_broken_file_before_training(tmp_path):
    overrides = _tiny_overrides(tmp_path)
    good = overrides["train#dataset#data"][0]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(good["image"]).read_bytes()[:2000])  # truncated
    overrides["train#dataset#data"] = [dict(good, image=str(broken), id="broken")] + overrides["train#dataset#data"]
    with pytest.raises(Exception) as info:
        _workflow([CONFIGS / "train.json"], **overrides).initialize()
    messages = [str(e) for e in error_chain(info.value)]
    assert any("broken.jpg" in m and "validation" in m for m in messages), messages
    assert not (tmp_path / "models").exists()
    # switched off, the same data list parses (the broken file would only fail once loaded)
    _workflow([CONFIGS / "train.json"], validate_data=False, **overrides).initialize()
