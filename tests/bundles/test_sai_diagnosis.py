# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Bundle ``sai_diagnosis``: the three training stages chained through ``monai.bundle`` on tiny overrides
(teacher -> distilled student -> diagnosis framework, each loading the previous checkpoint from one bundle_root),
evaluation metrics against the metric functions applied by hand, folder inference with a broken file, k-fold and
dataset override configs.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.bundle import ConfigWorkflow
from monai.handlers import from_engine
from PIL import Image

from monai_ext.data import (
    build_cadcap_datalist,
    build_histology_datalist,
    build_kvasir_capsule_datalist,
    embedded_dataset_dir,
    k_fold_split,
    stratified_holdout,
)
from monai_ext.handlers import NonFiniteLossError
from monai_ext.metrics import classification_metrics
from monai_ext.networks import MRCNet, SAIFramework
from monai_ext.utils import safe_load_checkpoint
from tests.bundles.helpers import bundle_workflow, error_chain, run_counting_iterations

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "bundles" / "sai_diagnosis" / "configs"
LR_SIZE = 32  # smallest LR size the ResNet-18 branches accept
WIDEN = 0.25  # train.json's widen_factor (ResNet-18 branches at a quarter of the paper's width)
NATIVE_SIZE = 2 * LR_SIZE  # the default lr_downscale (2) makes the LR input from the image at this size

SR_TINY = {
    "hr_patch_size": [32, 32],
    "val_hr_size": [32, 32],
    "batch_size": 2,
    "val_interval": 1,
    "num_workers": 0,
}


def _workflow(configs: list[str], bundle_root: Path, workflow_type: str = "train", **override) -> ConfigWorkflow:
    return bundle_workflow(
        CONFIGS, configs, workflow_type, initialize=True, meta=False, bundle_root=str(bundle_root), **override
    )


def _run(configs: list[str], bundle_root: Path, workflow_type: str = "train", **override) -> ConfigWorkflow:
    workflow = _workflow(configs, bundle_root, workflow_type, **override)
    workflow.run()
    workflow.finalize()
    return workflow


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_input(path: str, size: int = NATIVE_SIZE, lr_downscale: int = 2) -> torch.Tensor:
    """The validation preprocessing written independently: RGB in [0, 1], area-resized to ``size``, then the
    simulated LR input: antialiased bicubic downsampling by ``lr_downscale``, clamped to [0, 1]."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    image = F.interpolate(torch.from_numpy(pixels).permute(2, 0, 1)[None], size=(size, size), mode="area")
    lr_size = (size // lr_downscale, size // lr_downscale)
    return F.interpolate(image, size=lr_size, mode="bicubic", align_corners=False, antialias=True)[0].clamp(0, 1)


def _diagnosis_items() -> dict[str, list[dict]]:
    """A few patches per class from every split of the embedded histology data."""

    def pick(split: str, per_class: int) -> list[dict]:
        items = build_histology_datalist(embedded_dataset_dir("histology_96"), split)
        return [d for d in items if d["label"] == 0][:per_class] + [d for d in items if d["label"] == 1][:per_class]

    return {"train": pick("train", 2), "val": pick("val", 1), "test": pick("test", 2)}


def _diagnosis_override(items: dict[str, list[dict]]) -> dict:
    return {
        "train_datalist": items["train"],
        "val_datalist": items["val"],
        "image_size": [NATIVE_SIZE, NATIVE_SIZE],
        "batch_size": 2,
        "val_batch_size": 2,
        "max_epochs": 1,
        "val_interval": 1,
    }


@pytest.fixture(scope="module")
def hr_dirs(tmp_path_factory) -> dict[str, str]:
    """Two HR training tiles and one validation tile copied from the embedded ``histology_hr``."""
    root = tmp_path_factory.mktemp("hr")
    source = Path(embedded_dataset_dir("histology_hr"))
    for split, count in (("train", 2), ("val", 1)):
        (root / split).mkdir()
        for path in sorted((source / split).glob("*.png"))[:count]:
            shutil.copy(path, root / split / path.name)
    return {"sr_train_dir": str(root / "train"), "sr_val_dir": str(root / "val")}


@pytest.fixture(scope="module")
def chain(tmp_path_factory, hr_dirs) -> dict:
    """Run the three stages in one bundle_root: train_sr -> distill -> train; keep the workflows for inspection."""
    root = tmp_path_factory.mktemp("sai_bundle")
    workflows = {"root": root}
    workflows["train_sr"] = _run(["train_sr.json"], root, max_epochs=1, **SR_TINY, **hr_dirs)
    # no epoch: the student must come out exactly equal to the teacher it was initialised from
    _run(["distill.json"], root, distill_epochs=0, finetune_epochs=0, **SR_TINY, **hr_dirs)
    shutil.copy(root / "models" / "student.pt", root / "models" / "student_init.pt")
    workflows["distill"] = _run(["distill.json"], root, distill_epochs=1, finetune_epochs=1, **SR_TINY, **hr_dirs)
    # the SR network is frozen by default: the SR part of the framework must stay equal to the distilled student
    workflows["train"] = _run(["train.json"], root, **_diagnosis_override(_diagnosis_items()))
    return workflows


@pytest.fixture(scope="module")
def chained_root(chain) -> Path:
    return chain["root"]


def test_teacher_stage_writes_recursive_mrcnet(chain):
    parser = chain["train_sr"].parser
    network = parser.get_parsed_content("network")
    assert network.num_recursions == 3 and network.scale_factor == 2
    assert parser.get_parsed_content("train#trainer").state.iteration == 1  # 2 tiles, batch 2, 1 epoch
    psnr = parser.get_parsed_content("validate#evaluator").state.metrics["val_psnr"]
    assert np.isfinite(psnr) and psnr > 10.0
    saved = _state(chain["root"] / "models" / "teacher.pt")
    assert saved.keys() == network.state_dict().keys()
    assert all(torch.equal(saved[k], v.cpu()) for k, v in network.state_dict().items())


def test_distill_stage_initialises_student_from_teacher(chained_root):
    teacher = _state(chained_root / "models" / "teacher.pt")
    student_init = _state(chained_root / "models" / "student_init.pt")
    student = _state(chained_root / "models" / "student.pt")
    assert student.keys() == teacher.keys() == student_init.keys()
    assert all(torch.equal(student_init[k], teacher[k]) for k in teacher)
    assert any(not torch.equal(student[k], teacher[k]) for k in teacher)
    MRCNet(3, 3, scale_factor=2, num_recursions=1).load_state_dict(student, strict=True)


def test_distill_stage_runs_both_phases(chain):
    parser = chain["distill"].parser
    assert parser.get_parsed_content("network").num_recursions == 1
    teacher = parser.get_parsed_content("teacher")
    assert teacher.num_recursions == 3 and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert parser.get_parsed_content("train#trainer").state.iteration == 1
    assert parser.get_parsed_content("finetune#trainer").state.iteration == 1
    assert from_engine(["loss"], first=True)(parser.get_parsed_content("train#trainer").state.output) > 0


def test_diagnosis_stage_starts_from_student(chain):
    chained_root = chain["root"]
    parser = chain["train"].parser
    assert parser.get_parsed_content("train#trainer").state.iteration == 2  # 4 patches, batch 2, 1 epoch
    assert 0.0 <= parser.get_parsed_content("validate#evaluator").state.metrics["val_accuracy"] <= 1.0
    groups = parser.get_parsed_content("optimizer").param_groups
    assert [g["lr"] for g in groups] == [5e-4] and groups[0]["weight_decay"] == 1e-5  # the SR network is frozen
    student = _state(chained_root / "models" / "student.pt")
    model = _state(chained_root / "models" / "model.pt")
    sr_part = {k[len("sr_network.") :]: v for k, v in model.items() if k.startswith("sr_network.")}
    assert sr_part.keys() == student.keys()
    assert all(torch.equal(sr_part[k], student[k]) for k in student)
    # model.pt is the network after its only (hence best) validation; the diagnosis group took the two Adam steps
    network = parser.get_parsed_content("network")
    assert all(torch.equal(model[k], v.cpu()) for k, v in network.state_dict().items())
    optimizer = parser.get_parsed_content("optimizer")
    assert {int(optimizer.state[p]["step"]) for p in groups[0]["params"]} == {2}
    assert (chained_root / "models" / "checkpoint_final.pt").is_file()


def test_diagnosis_without_student_logs_it(tmp_path):
    workflow = _workflow(["train.json"], tmp_path, **_diagnosis_override(_diagnosis_items()))
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("monai_ext")
    logger.addHandler(handler)
    try:
        assert workflow.parser.get_parsed_content("sr_weights_path", lazy=False) is None
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    message = records[0].getMessage()
    assert "distilled student" in message and str(tmp_path / "models" / "student.pt") in message
    assert "random weights" in message


def test_evaluate_matches_metric_functions(chained_root, tmp_path):
    items = _diagnosis_items()
    override = {**_diagnosis_override(items), "val_batch_size": len(items["test"]), "val_datalist": items["test"]}
    root = tmp_path / "eval_root"
    (root / "models").mkdir(parents=True)
    shutil.copy(chained_root / "models" / "model.pt", root / "models" / "model.pt")
    _run(["train.json", "evaluate.json"], root, **override)
    report = json.loads((root / "eval" / "metrics.json").read_text())

    net = SAIFramework(3, 2, scale_factor=2, widen_factor=WIDEN)
    net.load_state_dict(_state(root / "models" / "model.pt"))
    net.eval()
    images = torch.stack([_load_input(d["image"]) for d in items["test"]])
    labels = torch.tensor([d["label"] for d in items["test"]])
    with torch.no_grad():
        logits = net(images)  # the whole eval set is one batch, as in the evaluator (SAI mixes within a batch)
    expected = classification_metrics(labels, logits, num_classes=2)
    assert report["num_samples"] == len(items["test"])
    assert report["confusion_matrix"] == expected["confusion_matrix"]
    for key in ("accuracy", "macro_f1", "macro_sensitivity", "macro_specificity", "kappa", "mcc"):
        assert report[key] == pytest.approx(expected[key], abs=1e-12), key
    assert report["class_names"] == ["normal", "tumour"]
    assert sum(map(sum, report["confusion_matrix"])) == len(items["test"])
    summary = json.loads((root / "eval" / "evaluation" / "summary.json").read_text())
    assert summary["headline"] == {k: expected[k] for k in ("accuracy", "macro_f1", "kappa", "mcc")}
    assert summary == report  # metrics.json and summary.json hold the same report


def test_inference_writes_probabilities_and_failure_report(chained_root, tmp_path):
    items = _diagnosis_items()["test"][:3]
    folder = tmp_path / "images"
    folder.mkdir()
    for d in items:
        shutil.copy(d["image"], folder / Path(d["image"]).name)
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    _run(
        ["inference.json"], tmp_path, workflow_type="infer", dataset_dir=str(folder), output_dir=str(out),
        checkpoint=str(chained_root / "models" / "model.pt"), image_size=[NATIVE_SIZE, NATIVE_SIZE],
    )
    with open(out / "predictions.csv", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["file", "prob_normal", "prob_tumour"]
    assert len(rows) == 1 + len(items)
    net = SAIFramework(3, 2, scale_factor=2, widen_factor=WIDEN)
    net.load_state_dict(_state(chained_root / "models" / "model.pt"))
    net.eval()
    by_name = {Path(r[0]).name: np.asarray(r[1:], dtype=float) for r in rows[1:]}
    for d in items:
        with torch.no_grad():
            expected = torch.softmax(net(_load_input(d["image"])[None]), dim=1)[0].numpy()
        got = by_name[Path(d["image"]).name]
        assert got.sum() == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(got, expected, atol=1e-4)
    failures = json.loads((out / "failures.json").read_text())
    assert [Path(f["file"]).name for f in failures["failures"]] == ["broken.png"]
    assert failures["num_written"] == len(items)


def _parsed_lists(configs: list[str], root: Path, **override) -> tuple[list[dict], list[dict]]:
    parser = bundle_workflow(CONFIGS, configs, "train", initialize=False, meta=False, bundle_root=str(root),
                             **override).parser
    return parser.get_parsed_content("train#dataset#data"), parser.get_parsed_content("validate#dataset#data")


def test_default_lists_are_the_embedded_splits(tmp_path):
    """train.json lists the splits.json parts (build_datalist('histology_96', ...)); evaluate.json the test part."""
    dataset_dir = embedded_dataset_dir("histology_96")
    train, val = _parsed_lists(["train.json"], tmp_path)
    assert train == build_histology_datalist(dataset_dir, "train")
    assert val == build_histology_datalist(dataset_dir, "val")
    _, test = _parsed_lists(["train.json", "evaluate.json"], tmp_path)
    assert test == build_histology_datalist(dataset_dir, "test")


def _histology_copy(root: Path, items: list[dict], split: str) -> str:
    """The patches of ``items`` in the histology layout below ``root``, all in ``split``."""
    for d in items:
        target = root / ("normal", "tumour")[d["label"]] / Path(d["image"]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(d["image"], target)
    (root / "splits.json").write_text(json.dumps({d["id"]: split for d in items}))
    return str(root)


def test_k_fold_options(chained_root, tmp_path):
    pool = build_histology_datalist(embedded_dataset_dir("histology_96"), ["train", "val"])
    workflow = _workflow(["train.json"], tmp_path, num_folds=3, fold=1)
    train, val = k_fold_split(pool, 3, 1, 0)
    assert workflow.parser.get_parsed_content("train#dataset#data") == train
    assert workflow.parser.get_parsed_content("val_datalist") == val
    assert workflow.parser.get_parsed_content("model_filename") == "model_fold1.pt"
    assert _parsed_lists(["train.json", "evaluate.json"], tmp_path, num_folds=3, fold=1, fold_seed=2) == (
        k_fold_split(pool, 3, 1, 2)
    )  # with k-fold on, evaluation reports on the held-out fold, not the test split

    # evaluation of fold 1 reads model_fold1.pt and reports on the held-out fold only
    small_dir = _histology_copy(tmp_path / "small", _diagnosis_items()["train"] + _diagnosis_items()["test"], "train")
    small_pool = build_histology_datalist(small_dir, ["train", "val"])
    root = tmp_path / "kfold"
    (root / "models").mkdir(parents=True)
    shutil.copy(chained_root / "models" / "model.pt", root / "models" / "model_fold1.pt")
    _run(["train.json", "evaluate.json"], root, num_folds=2, fold=1, dataset_dir=small_dir,
         image_size=[NATIVE_SIZE, NATIVE_SIZE], val_batch_size=4)
    report = json.loads((root / "eval" / "metrics_fold1.json").read_text())
    assert report["fold"] == 1 and report["num_folds"] == 2
    assert report["num_samples"] == len(k_fold_split(small_pool, 2, 1, 0)[1]) == 4
    assert report["checkpoint"].endswith("model_fold1.pt")


def test_paper_config_restores_the_full_width_network_and_released_optimiser(tmp_path):
    workflow = _workflow(["train.json", "paper.json"], tmp_path)
    net = workflow.parser.get_parsed_content("network_def")
    assert sum(p.numel() for p in net.parameters()) == 25_972_408  # the x2 framework of the model card
    assert workflow.parser["learning_rate"] == 5e-4 and workflow.parser["max_epochs"] == 350
    assert len(workflow.parser.get_parsed_content("optimizer").param_groups) == 2  # SR fine-tuned at 0.01x
    default = _workflow(["train.json"], tmp_path).parser.get_parsed_content("network_def")
    assert default.diagnosis.lr_encoder.layer4[0].conv1.out_channels == 128  # 512 x 0.25


def test_default_input_is_the_native_patch_downsampled_x2(tmp_path):
    """The embedded default simulates low-resolution inputs: 96 px native patches become 48 px LR images (the
    degradation the SR stages learn to invert); the SR x2 output is back at the native size."""
    workflow = _workflow(["train.json"], tmp_path)
    item = workflow.parser.get_parsed_content("validate#dataset")[0]
    source = workflow.parser.get_parsed_content("val_datalist")[0]["image"]
    assert item["image"].shape == (3, 48, 48)
    np.testing.assert_allclose(item["image"].numpy(), _load_input(source, size=96).numpy(), atol=1e-5)
    net = workflow.parser.get_parsed_content("network_def").eval()
    with torch.no_grad():
        assert net.sr_network(item["image"][None]).shape == (1, 3, 96, 96)
    native = _workflow(["train.json"], tmp_path, lr_downscale=1).parser.get_parsed_content("validate#dataset")[0]
    np.testing.assert_allclose(native["image"].numpy(), _load_input(source, 96, lr_downscale=1).numpy(), atol=1e-5)


def _class_folders(root: Path, classes: list[str], per_class: int = 2) -> None:
    source = build_histology_datalist(embedded_dataset_dir("histology_96"), "train")
    for i, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for d in source[i * per_class : (i + 1) * per_class]:
            shutil.copy(d["image"], root / name / Path(d["image"]).name)


def test_cadcap_override(tmp_path):
    data = tmp_path / "cadcap"
    _class_folders(data, ["Normal", "inflammatory", "vascular"], per_class=3)
    workflow = _workflow(["train.json", "datasets/cadcap.json"], tmp_path, dataset_dir=str(data), fold=4)
    train = workflow.parser.get_parsed_content("train#dataset#data")
    val = workflow.parser.get_parsed_content("validate#dataset#data")
    assert len(train) + len(val) == 9 and {d["label"] for d in train} == {0, 1, 2}
    assert not {d["image"] for d in train} & {d["image"] for d in val}
    pool = build_cadcap_datalist(data)
    assert (train, val) == k_fold_split(pool, 5, 4, 0)
    # --num_folds 1: the seeded stratified 20% hold-out (seed --fold_seed) is the validation and the test set
    holdout = stratified_holdout(pool, [d["label"] for d in pool], 0.2, 3)
    options = {"dataset_dir": str(data), "num_folds": 1, "fold_seed": 3}
    assert _parsed_lists(["train.json", "datasets/cadcap.json"], tmp_path, **options) == holdout
    assert _parsed_lists(["train.json", "evaluate.json", "datasets/cadcap.json"], tmp_path, **options) == holdout
    net = workflow.parser.get_parsed_content("network_def")
    assert net.sr_network.scale_factor == 4
    assert net.diagnosis.lr_head.out_features == 3


def test_kvasir_capsule_override(tmp_path):
    data = tmp_path / "kvasir"
    _class_folders(data / "labelled_images", ["Angiectasia", "Normal clean mucosa"], per_class=5)
    workflow = _workflow(["train.json", "datasets/kvasir_capsule.json"], tmp_path, dataset_dir=str(data), fold=0)
    assert workflow.parser.get_parsed_content("class_names") == ["Angiectasia", "Normal clean mucosa"]
    assert workflow.parser.get_parsed_content("num_classes") == 2
    val = workflow.parser.get_parsed_content("validate#dataset#data")
    assert len(val) == 2 and sorted(d["label"] for d in val) == [0, 1]
    pool = build_kvasir_capsule_datalist(data)
    assert (workflow.parser.get_parsed_content("train#dataset#data"), val) == k_fold_split(pool, 5, 0, 0)
    subset = _parsed_lists(["train.json", "datasets/kvasir_capsule.json"], tmp_path, dataset_dir=str(data),
                           class_names=["Normal clean mucosa"], num_folds=1)
    assert {d["label"] for d in subset[0] + subset[1]} == {0} and len(subset[0]) + len(subset[1]) == 5


def test_pcam_override(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("valid", 2), ("test", 2)):
        with h5py.File(tmp_path / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
            f["x"] = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        with h5py.File(tmp_path / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
            f["y"] = (np.arange(n) % 2).astype(np.uint8).reshape(n, 1, 1, 1)
    workflow = _workflow(["train.json", "datasets/pcam.json"], tmp_path, dataset_dir=str(tmp_path))
    train = workflow.parser.get_parsed_content("train#dataset")
    item = train[1]
    assert len(train) == 4 and item["label"] == 1
    assert item["image"].shape == (3, 96, 96) and 0.0 <= float(item["image"].min()) <= float(item["image"].max()) <= 1.0
    assert len(workflow.parser.get_parsed_content("validate#dataset")) == 2
    workflow = _workflow(["train.json", "evaluate.json", "datasets/pcam.json"], tmp_path, dataset_dir=str(tmp_path))
    assert workflow.parser.get_parsed_content("validate#dataset").split == "test"


# ---------------------------------------------------------------------------------------------------------------------
# reliability of the diagnosis stage: resume, non-finite stop, data validation


def _train_diagnosis(root: Path, stop_after_epoch: int | None = None, **extra) -> tuple[ConfigWorkflow, int]:
    """Two epochs of the diagnosis stage (2 iterations each, no student); optionally interrupted after an epoch."""
    workflow = _workflow(["train.json"], root, **{**_diagnosis_override(_diagnosis_items()), "max_epochs": 2, **extra})
    return workflow, run_counting_iterations(workflow, stop_after_epoch)


def test_diagnosis_resume_after_interruption_reaches_the_uninterrupted_weights(tmp_path):
    full, ran = _train_diagnosis(tmp_path / "full")
    assert ran == 4
    _, ran = _train_diagnosis(tmp_path / "run", stop_after_epoch=1)
    assert ran == 2
    interrupted = _state(tmp_path / "run" / "models" / "checkpoint_final.pt")
    assert interrupted["trainer"]["iteration"] == 2
    resumed, ran = _train_diagnosis(tmp_path / "run", resume=True)
    assert ran == 2  # only the second epoch ran
    expected = full.parser.get_parsed_content("network").state_dict()
    got = resumed.parser.get_parsed_content("network").state_dict()
    assert got.keys() == expected.keys()
    for key, value in got.items():  # weights, BatchNorm statistics and the SAI reference banks
        assert torch.equal(value, expected[key]), key
    assert any(k.endswith("bank_lr") and v.numel() > 0 for k, v in got.items())
    assert any(not torch.equal(v, expected[k]) for k, v in interrupted["model"].items() if v.is_floating_point())


def test_diagnosis_non_finite_loss_stops_with_a_clean_checkpoint(tmp_path):
    workflow = _workflow(["train.json"], tmp_path, **{**_diagnosis_override(_diagnosis_items()), "learning_rate": 1e30})
    with pytest.raises(Exception) as info:
        workflow.run()
    workflow.finalize()
    error = next((e for e in error_chain(info.value) if isinstance(e, NonFiniteLossError)), None)
    assert error is not None, error_chain(info.value)
    assert error.iteration == 2 and len(error.names) == 2
    saved = safe_load_checkpoint(error.checkpoint_path)
    assert saved["trainer"]["iteration"] == 1
    # the bad forward pass had turned BatchNorm statistics and banks NaN; they are back to their state before it
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    network = workflow.parser.get_parsed_content("network")
    for key, value in network.state_dict().items():
        assert torch.equal(value, saved["model"][key]), key


def test_diagnosis_validate_data_reports_a_bad_label_and_a_broken_file(tmp_path):
    items = _diagnosis_items()
    broken = tmp_path / "broken.png"
    broken.write_bytes(Path(items["train"][0]["image"]).read_bytes()[:200])  # truncated
    train = [dict(items["train"][0], label=5), dict(items["train"][1], image=str(broken)), *items["train"][2:]]
    override = {**_diagnosis_override(items), "train_datalist": train}
    with pytest.raises(Exception) as info:
        _workflow(["train.json"], tmp_path, **override)
    message = " ".join(str(e) for e in error_chain(info.value))
    assert "label 5 is out of range for 2 classes" in message and Path(items["train"][0]["image"]).name in message
    assert "broken.png" in message
    assert not (tmp_path / "models").exists()
