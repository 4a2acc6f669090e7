# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""A new user's first hour, run as the user runs it: ``python -m monai.bundle ...`` in a subprocess.

* quick start (a) trains without replacing the git-tracked shipped weights, and says where its model went;
* our own config-time errors (dataset layout, missing weights, missing mlflow) are the last lines of the output;
* a run shorter than ``val_interval`` still validates at its last epoch, saves a model and reports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from monai.bundle import ConfigParser
from PIL import Image

from monai_ext.data import build_datalist
from monai_ext.data.errors import DatasetLayoutError
from monai_ext.handlers import TrainingSummaryHandler, ValidationHandler
from monai_ext.utils import MissingWeightsError, safe_load_checkpoint, shipped_weights, training_ckpt_dir
from monai_ext.utils.errors import user_error_in_chain
from tests.data import fakes

REPO = Path(__file__).resolve().parents[2]
HAS_GIT = shutil.which("git") is not None
needs_git = pytest.mark.skipif(not HAS_GIT, reason="git is not installed")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_bundle(name: str, root: Path, weights: bool = True) -> Path:
    """Copy ``bundles/<name>`` (configs, docs, scripts, LICENSE and, if asked, models) to ``root/bundles/<name>``."""
    target = root / "bundles" / name
    ignore = shutil.ignore_patterns("eval", "runs", "__pycache__", *(() if weights else ("*.pt",)))
    shutil.copytree(REPO / "bundles" / name, target, ignore=ignore)
    return target


def _git_track(root: Path, *paths: str) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-f", *paths], check=True)


def _run_bundle(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("MONAI_EXT_TRACEBACK", None)
    return subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def _last_lines(output: str, n: int) -> str:
    return "\n".join(output.rstrip().splitlines()[-n:])


# ---------------------------------------------------------------------------------------------------------------
# 1. shipped weights are never replaced silently
# ---------------------------------------------------------------------------------------------------------------


@needs_git
def test_training_ckpt_dir_rules(tmp_path):
    bundle = tmp_path / "b"
    (bundle / "models").mkdir(parents=True)
    # no git work tree (a downloaded bundle, a MONAI Label app's copy): models/, as the zoo and MONAI Label expect
    assert training_ckpt_dir(bundle) == str(bundle / "models")
    (bundle / "models" / "model.pt").write_bytes(b"shipped")
    assert training_ckpt_dir(bundle) == str(bundle / "models")
    # in a git work tree but untracked (weights a user trained): still models/
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert shipped_weights(bundle / "models") == []
    assert training_ckpt_dir(bundle) == str(bundle / "models")
    # tracked (shipped by the repository): the run folder, unless overwrite_weights
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", "b/models/model.pt"], check=True)
    assert shipped_weights(bundle / "models") == [str(bundle / "models" / "model.pt")]
    assert training_ckpt_dir(bundle) == str(bundle / "runs" / "train")
    assert training_ckpt_dir(bundle, tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
    assert training_ckpt_dir(bundle, overwrite_weights=True) == str(bundle / "models")
    # MONAI Label's /train fine-tunes the served models/model.pt, also through a link into the repository
    link = tmp_path / "app" / "model" / "retina_vessel_segmentation_ds2f"
    link.parent.mkdir(parents=True)
    link.symlink_to(bundle)
    assert training_ckpt_dir(link, monailabel=False) == str(link / "runs" / "train")
    assert training_ckpt_dir(link, monailabel=True) == str(link / "models")


@pytest.mark.parametrize("name", ["ds2f", "ss_maf", "saliency_sr", "sai_diagnosis"])
def test_train_configs_route_checkpoints_through_the_guard(name):
    config = json.loads((REPO / "bundles" / name / "configs" / "train.json").read_text())
    assert "training_ckpt_dir(@bundle_root, @run_dir, @overwrite_weights)" in config["ckpt_dir"]
    assert config["overwrite_weights"] is False
    targets = [h["_target_"] for h in config["train"]["handlers"]]
    assert "monai_ext.handlers.TrainingSummaryHandler" in targets
    assert "ValidationHandler" not in targets  # MONAI's skips the last epoch; ours validates there too


@pytest.mark.parametrize("name", ["ds2f", "ss_maf"])
def test_evaluate_loads_shipped_weights_by_default_and_a_run_with_one_override(name, tmp_path):
    configs = REPO / "bundles" / name / "configs"
    parser = ConfigParser()
    parser.read_config([str(configs / "train.json"), str(configs / "evaluate.json")])
    parser["bundle_root"] = str(tmp_path)
    assert parser.get_parsed_content("checkpoint") == f"{tmp_path}/models/model.pt"
    loaders = [h for h in parser["validate#handlers"] if h["_target_"].endswith("CheckpointLoader")]
    assert [h["load_path"] for h in loaders] == ["@checkpoint"]
    parser["checkpoint"] = "runs/train/model.pt"
    assert parser.get_parsed_content("checkpoint") == "runs/train/model.pt"


@pytest.mark.slow
@needs_git
def test_quick_start_a_keeps_the_shipped_weights(tmp_path):
    """The README's quick start (a), with tiny sizes, on a copy of the repository whose weights git tracks."""
    root = tmp_path / "repo"
    bundle = _copy_bundle("ds2f", root)
    shipped = bundle / "models" / "model.pt"
    _git_track(root, "bundles/ds2f/models/model.pt")
    before = _sha256(shipped)
    result = _run_bundle(
        root,
        "training",
        "--config_file",
        "bundles/ds2f/configs/train.json",
        "--max_epochs",
        "1",
        "--hr_spatial_size",
        "[64, 64]",
        "--base_channels",
        "4",
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert _sha256(shipped) == before, "training replaced the shipped weights"
    run_model = bundle / "runs" / "train" / "model.pt"
    assert run_model.is_file(), result.stdout[-4000:]
    assert "model" in safe_load_checkpoint(run_model) or len(safe_load_checkpoint(run_model)) > 0
    tail = _last_lines(result.stdout, 8)
    assert "best model saved to bundles/ds2f/runs/train/model.pt" in tail
    assert "--checkpoint bundles/ds2f/runs/train/model.pt" in tail
    assert "the shipped weights bundles/ds2f/models/model.pt are unchanged" in tail
    assert "run folder bundles/ds2f/runs/train" in result.stdout  # said at the start as well


# ---------------------------------------------------------------------------------------------------------------
# 2. our errors end the output, short
# ---------------------------------------------------------------------------------------------------------------


def test_drive_accepts_testing_and_train_folder_names(tmp_path):
    root = fakes.make_drive(tmp_path / "DRIVE", n_train=3, n_test=2)
    (root / "test").rename(root / "testing")
    (root / "training").rename(root / "train")
    assert len(build_datalist("drive", str(root), "test")) == 2
    assert len(build_datalist("drive", str(root), "train", val_fraction=0.0)) == 3
    (root / "test").mkdir()  # both names present: a guess would be wrong half the time
    with pytest.raises(DatasetLayoutError, match="ambiguous: both 'test' and 'testing' exist"):
        build_datalist("drive", str(root), "test")


def test_user_error_found_in_the_config_wrapper_chain():
    try:
        try:
            raise DatasetLayoutError("/data/DRIVE/test: folder not found")
        except DatasetLayoutError as exc:
            raise RuntimeError("Failed to evaluate ConfigExpression") from exc
    except RuntimeError as wrapped:
        assert user_error_in_chain(wrapped) == ("DatasetLayoutError", "/data/DRIVE/test: folder not found")
    assert user_error_in_chain(RuntimeError("a bug")) is None


@pytest.mark.slow
def test_layout_error_is_the_last_lines_of_a_bundle_run(tmp_path):
    drive = tmp_path / "DRIVE"
    (drive / "testing" / "images").mkdir(parents=True)  # no training folder at all
    result = _run_bundle(
        REPO,
        "training",
        "--config_file",
        str(REPO / "bundles/ds2f/configs/train.json"),
        "--bundle_root",
        str(tmp_path / "out"),
        "--dataset",
        "drive",
        "--dataset_dir",
        str(drive),
    )
    assert result.returncode != 0
    lines = result.stdout.rstrip().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("DatasetLayoutError: "))
    assert lines[first] == (
        f"DatasetLayoutError: {drive}/training: folder not found (also accepted: 'train'); sub-folders found: testing;"
        " expected the DRIVE layout:"
    )
    assert len(lines) - first <= 5  # the message (with its layout sketch) ends the output
    assert lines[first - 1].startswith("monai_ext: stopped by a problem")
    assert "Traceback" not in result.stdout and "RuntimeError" not in result.stdout


@pytest.mark.slow
def test_inference_without_weights_says_train_first(tmp_path):
    root = tmp_path / "repo"
    _copy_bundle("ds2f", root, weights=False)
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(images / "a.png")
    result = _run_bundle(
        root, "inference", "--config_file", "bundles/ds2f/configs/inference.json", "--input_dir", str(images)
    )
    assert result.returncode != 0
    tail = _last_lines(result.stdout, 4).splitlines()
    assert tail[0].startswith("monai_ext: stopped by a problem")
    assert tail[1] == (
        "MissingWeightsError: no weights at 'bundles/ds2f/models/model.pt' (the file does not exist): train first with"
    )
    assert tail[2] == "  python -m monai.bundle run training --config_file bundles/ds2f/configs/train.json"
    assert tail[3].startswith("or give trained weights with --checkpoint")
    assert "Traceback" not in result.stdout


def test_missing_weights_message_names_the_bundle_command(tmp_path):
    bundle = _copy_bundle("ss_maf", tmp_path, weights=False)
    with pytest.raises(MissingWeightsError, match="train first with") as info:
        safe_load_checkpoint(bundle / "models" / "model.pt")
    shown = os.path.relpath(bundle) if not os.path.relpath(bundle).startswith("..") else str(bundle)
    assert f"--config_file {shown}/configs/train.json" in str(info.value)
    assert "--checkpoint /path/to/model.pt" in str(info.value)


def test_missing_weights_message_uses_the_bundle_checkpoint_id(tmp_path):
    # every bundle names its weights file `checkpoint` (the segmentation bundles said `ckpt_path` before 0.2.2/0.1.2)
    bundle = _copy_bundle("sai_diagnosis", tmp_path, weights=False)
    with pytest.raises(MissingWeightsError, match="train first with") as info:
        safe_load_checkpoint(bundle / "models" / "model.pt")
    assert "--checkpoint /path/to/model.pt" in str(info.value)
    assert "--ckpt_path" not in str(info.value)


@pytest.mark.slow
def test_tracking_mlflow_without_mlflow_says_how_to_install(tmp_path):
    # a package named mlflow that fails to import the way a missing one does (mlflow itself is a test dependency)
    blocker = tmp_path / "no_mlflow" / "mlflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'mlflow'\", name='mlflow')\n")
    env_path = f"{blocker.parent}{os.pathsep}{REPO}"
    env = dict(os.environ, PYTHONPATH=env_path, OMP_NUM_THREADS="1")
    env.pop("MONAI_EXT_TRACEBACK", None)
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file",
         str(REPO / "bundles/ds2f/configs/train.json"), "--bundle_root", str(tmp_path / "out"),
         "--tracking", "mlflow", "--max_epochs", "1", "--hr_spatial_size", "[32, 32]", "--base_channels", "4"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    assert result.returncode != 0
    assert _last_lines(result.stdout, 1) == (
        "MissingOptionalPackage: MLflow tracking (--tracking mlflow) needs the optional 'mlflow' package: "
        "pip install -e \".[mlflow]\" (or pip install mlflow)"
    )


# ---------------------------------------------------------------------------------------------------------------
# 3. short runs validate at the end and say what they saved
# ---------------------------------------------------------------------------------------------------------------


def test_validation_handler_also_validates_at_the_last_epoch():
    from ignite.engine import Engine

    calls: list[int] = []

    class Validator:
        def run(self, epoch):
            calls.append(epoch)

    trainer = Engine(lambda e, b: None)
    handler = ValidationHandler(interval=2, validator=None)
    handler.validator = Validator()
    handler.attach(trainer)
    trainer.run([0], max_epochs=5)
    assert calls == [2, 4, 5]
    calls.clear()
    trainer = Engine(lambda e, b: None)
    handler.attach(trainer)
    trainer.run([0], max_epochs=1)
    assert calls == [1]


def test_summary_warns_when_nothing_was_saved(tmp_path, caplog):
    from ignite.engine import Engine

    trainer = Engine(lambda e, b: None)
    summary = TrainingSummaryHandler(ckpt_dir=tmp_path, validator=None)
    summary.attach(trainer)
    with caplog.at_level("INFO", logger="monai_ext"):
        trainer.run([0], max_epochs=1)
    assert summary.lines == [
        f"WARNING: training finished after 1 epochs but saved no model to {tmp_path}/model.pt: validation never ran "
        "(validation set empty or validation disabled)"
    ]
    assert "saved no model" in caplog.text


@pytest.mark.slow
def test_ss_maf_one_epoch_saves_a_model_and_reports_it(tmp_path):
    root = tmp_path / "repo"
    bundle = _copy_bundle("ss_maf", root, weights=False)
    result = _run_bundle(
        root,
        "training",
        "--config_file",
        "bundles/ss_maf/configs/train.json",
        "--max_epochs",
        "1",
        "--hr_spatial_size",
        "[64, 64]",
        "--train_hr_spatial_size",
        "[64, 64]",
        "--base_channels",
        "4",
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert (bundle / "models" / "model.pt").is_file(), "a 1-epoch run (val_interval 2) saved no model"
    tail = _last_lines(result.stdout, 6)
    assert "training finished after 1 epochs: best model saved to bundles/ss_maf/models/model.pt (val_" in tail
    assert "evaluate it with: python -m monai.bundle run --config_file" in tail
    if "val_iou = 0.0000" in tail:  # an untrained exudate model usually predicts nothing: it must say so
        assert "WARNING - the saved model scores val_iou = 0.0000: the model predicts no hard exudates" in tail


# ---------------------------------------------------------------------------------------------------------------
# 8. evaluation folder per run, overlay legend
# ---------------------------------------------------------------------------------------------------------------


def test_evaluation_report_replaces_the_previous_run_and_has_a_legend(tmp_path, caplog):
    from types import SimpleNamespace

    import torch

    from monai_ext.handlers import EvaluationReportHandler
    from monai_ext.metrics.reports import GT_COLOR, OVERLAP_COLOR, PRED_COLOR

    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "old_image_overlay.png").write_bytes(b"stale")
    (tmp_path / "metrics.csv").write_text("stale\n")
    (tmp_path / "notes.txt").write_text("a user's file\n")
    report = EvaluationReportHandler(tmp_path, num_overlays=1)
    report.start()
    assert not (tmp_path / "metrics.csv").exists() and not any((tmp_path / "overlays").iterdir())
    assert (tmp_path / "notes.txt").is_file()  # only our own outputs are removed
    label = torch.zeros(1, 4, 4)
    label[0, :2] = 1
    pred = torch.zeros(2, 4, 4)
    pred[1, :, :2] = 5.0
    engine = SimpleNamespace(state=SimpleNamespace(output=[{"pred": pred, "label": label}], batch=[{"id": "new"}]))
    report(engine)
    with caplog.at_level("INFO", logger="monai_ext"):
        report.write()
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir()) == ["new_overlay.png"]
    assert f"evaluation report written to {tmp_path}" in caplog.text
    legend = np.asarray(Image.open(tmp_path / "overlay_legend.png").convert("RGB"))
    for colour in (GT_COLOR, PRED_COLOR, OVERLAP_COLOR):
        assert (legend == colour).all(-1).sum() >= 15 * 15, colour  # a swatch of each overlay colour
    assert "green: ground truth only" in Image.open(tmp_path / "overlays" / "new_overlay.png").text["Description"]


@needs_git
def test_sai_stages_keep_the_shipped_student_and_model(tmp_path):
    """With a shipped (git-tracked) models/student.pt and model.pt, the SR stages write to runs/train like train.json,
    and train.json takes the student of the run when there is one, else the shipped one."""
    import torch

    root = tmp_path / "repo"
    bundle = _copy_bundle("sai_diagnosis", root, weights=False)
    (bundle / "models").mkdir(exist_ok=True)
    for name in ("model.pt", "student.pt"):
        torch.save({"w": torch.zeros(1)}, bundle / "models" / name)
    _git_track(root, "bundles/sai_diagnosis/models/model.pt", "bundles/sai_diagnosis/models/student.pt")
    configs = bundle / "configs"

    def parsed(config: str, key: str) -> str:
        parser = ConfigParser()
        parser.read_config(str(configs / config))
        parser["bundle_root"] = str(bundle)
        return parser.get_parsed_content(key)

    run_dir = str(bundle / "runs" / "train")
    assert parsed("train_sr.json", "teacher_path") == f"{run_dir}/teacher.pt"
    assert parsed("distill.json", "teacher_path") == f"{run_dir}/teacher.pt"
    assert parsed("distill.json", "student_path") == f"{run_dir}/student.pt"
    assert parsed("train.json", "sr_weights_path") == str(bundle / "models" / "student.pt")  # quick start: shipped
    Path(run_dir).mkdir(parents=True)
    torch.save({"w": torch.ones(1)}, Path(run_dir) / "student.pt")  # the user ran train_sr.json and distill.json
    assert parsed("train.json", "sr_weights_path") == f"{run_dir}/student.pt"
