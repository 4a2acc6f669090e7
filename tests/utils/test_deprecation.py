# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The old import paths of the names that moved to ``monai_ext.handlers`` and ``monai_ext.utils`` (issue 19).

For one release every old path gives the very same object as the new one, with a ``FutureWarning`` naming the new
path: package attributes (``monai_ext.engines.SafeCheckpointLoader``), ``from ... import``, bundle config targets,
and the old modules (``monai_ext.engines.checkpoint``), which are now thin re-exports.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest
from monai.bundle import ConfigParser

import monai_ext.engines
import monai_ext.handlers
import monai_ext.metrics
import monai_ext.utils

# what `monai_ext.engines` exported before the move, and where each moved name lives now
ENGINES_MOVED = {
    "monai_ext.handlers": [
        "AtomicCheckpointSaver", "AtomicDiskSaver", "CheckpointInfo", "EpochSeedHandler", "InitialWeightsLoader",
        "LossTermsHandler", "NonFiniteLossError", "NonFiniteLossHandler", "ResumeFromCheckpoint",
        "SafeCheckpointLoader", "TrainingSummaryHandler", "ValidationHandler", "batch_names", "find_checkpoints",
        "find_latest_checkpoint", "log_epoch_metrics",
    ],
    "monai_ext.utils": [
        "CheckpointReadError", "MissingWeightsError", "TrainingOutputError", "UnsafeCheckpointError",
        "atomic_torch_save", "epoch_seed", "git_tracked_files", "make_generator", "missing_weights_message",
        "restore_objects", "run_or_shipped_file", "running_in_monailabel", "safe_load_checkpoint", "seed_everything",
        "seed_worker", "shipped_weights", "training_ckpt_dir",
    ],
}
ENGINES_KEPT = [
    "DualStreamPrepareBatch", "FolderInferenceError", "FolderInferenceReport", "InferenceFailure",
    "PNGPredictionWriter", "RANK0_ONLY_HANDLERS", "SRChainTrainer", "SRGanDiscriminatorLoss", "SRGanGeneratorLoss",
    "SRGanTrainer", "SRPrepareBatch", "SegmentationPNGWriter", "UnsafeOutputPathError", "chain_target_factor",
    "destroy_distributed", "distributed_sampler", "distributed_seed", "gan_loss_terms", "gaussian_downsample",
    "get_rank", "get_world_size", "init_distributed", "is_rank0", "list_image_files", "local_device",
    "output_name_from_path", "rank0_handlers", "rank_output_dir", "run_folder_inference", "safe_output_path",
    "sanitize_output_name",
]
METRICS_MOVED = ["EvaluationReportHandler", "PooledPRAUCHandler", "PooledSegmentationHandler"]

# the old modules (their former __all__) and the modules their names went to
OLD_MODULES = {
    "monai_ext.engines.checkpoint": (
        ["UnsafeCheckpointError", "CheckpointReadError", "MissingWeightsError", "missing_weights_message",
         "safe_load_checkpoint", "restore_objects", "SafeCheckpointLoader", "InitialWeightsLoader", "atomic_torch_save",
         "AtomicDiskSaver", "AtomicCheckpointSaver", "TEMP_PREFIX"],
        ["monai_ext.utils.checkpoint_io", "monai_ext.handlers.checkpoint"],
    ),
    "monai_ext.engines.seeding": (
        ["seed_everything", "make_generator", "seed_worker", "epoch_seed", "EpochSeedHandler"],
        ["monai_ext.utils.seeding", "monai_ext.handlers.seeding"],
    ),
    "monai_ext.engines.resume": (
        ["CheckpointInfo", "find_checkpoints", "find_latest_checkpoint", "ResumeFromCheckpoint"],
        ["monai_ext.handlers.resume"],
    ),
    "monai_ext.engines.nonfinite": (
        ["NonFiniteLossError", "NonFiniteLossHandler", "batch_names"], ["monai_ext.handlers.nonfinite"]
    ),
    "monai_ext.engines.loss_terms": (["LossTermsHandler"], ["monai_ext.handlers.loss_terms"]),
    "monai_ext.engines.run_outputs": (
        ["TrainingOutputError", "git_tracked_files", "shipped_weights", "training_ckpt_dir", "run_or_shipped_file",
         "running_in_monailabel", "ValidationHandler", "TrainingSummaryHandler", "log_epoch_metrics"],
        ["monai_ext.utils.run_paths", "monai_ext.handlers.validation", "monai_ext.handlers.run_report"],
    ),
    "monai_ext.metrics.handlers": (
        METRICS_MOVED, ["monai_ext.handlers.segmentation_metrics", "monai_ext.handlers.evaluation_report"]
    ),
}


def _moved_engine_names() -> list[tuple[str, str]]:
    return [(name, package) for package, names in ENGINES_MOVED.items() for name in names]


def test_the_moved_names_are_the_ones_listed_in_engines():
    assert monai_ext.engines.MOVED_NAMES == dict(_moved_engine_names())
    assert monai_ext.metrics.MOVED_NAMES == dict.fromkeys(METRICS_MOVED, "monai_ext.handlers")


@pytest.mark.parametrize("name, package", _moved_engine_names())
def test_old_engines_name_is_the_same_object_with_a_warning(name, package):
    new = getattr(importlib.import_module(package), name)
    with pytest.warns(FutureWarning, match=rf"monai_ext\.engines\.{name} moved to {package}\.{name}"):
        old = getattr(monai_ext.engines, name)
    assert old is new
    assert name not in vars(monai_ext.engines)  # forwarded on every access, not copied into the old package


def test_moved_names_are_exported_by_their_new_package():
    for name in ENGINES_MOVED["monai_ext.handlers"] + METRICS_MOVED:
        assert name in monai_ext.handlers.__all__
        assert getattr(monai_ext.handlers, name).__module__.startswith("monai_ext.handlers.")
    for name in ENGINES_MOVED["monai_ext.utils"]:
        assert name in dir(monai_ext.utils)
        assert getattr(monai_ext.utils, name).__module__.startswith("monai_ext.utils.")


@pytest.mark.parametrize("name", METRICS_MOVED)
def test_old_metrics_name_is_the_same_object_with_a_warning(name):
    with pytest.warns(FutureWarning, match=rf"monai_ext\.metrics\.{name} moved to monai_ext\.handlers\.{name}"):
        old = getattr(monai_ext.metrics, name)
    assert old is getattr(monai_ext.handlers, name)


def test_names_that_stay_in_engines_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        for name in ENGINES_KEPT:
            assert getattr(monai_ext.engines, name) is not None


def test_from_import_warns_once_at_the_importing_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from monai_ext.engines import ResumeFromCheckpoint  # noqa: F401
    moved = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert len(moved) == 1, [str(w.message) for w in moved]
    assert moved[0].filename == __file__
    assert ResumeFromCheckpoint is monai_ext.handlers.ResumeFromCheckpoint


def test_unknown_names_still_raise_attribute_error():
    for package in (monai_ext.engines, monai_ext.metrics, monai_ext.utils, monai_ext):
        with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
            getattr(package, "NoSuchThing")


@pytest.mark.parametrize("old_module", sorted(OLD_MODULES))
def test_old_module_reexports_the_same_objects_with_a_warning(old_module, monkeypatch):
    names, new_modules = OLD_MODULES[old_module]
    monkeypatch.delitem(sys.modules, old_module, raising=False)  # import it afresh: the warning comes at import
    with pytest.warns(FutureWarning, match=rf"module {old_module} moved to {new_modules[0]}"):
        module = importlib.import_module(old_module)
    assert set(names) <= set(module.__all__)
    new = [importlib.import_module(m) for m in new_modules]
    for name in names:
        assert any(getattr(m, name, None) is getattr(module, name) for m in new), name
    package, _, leaf = old_module.rpartition(".")
    assert getattr(importlib.import_module(package), leaf) is module


def test_old_config_target_builds_the_same_handler():
    """A bundle config written for the old paths still runs (with the warning)."""
    config = {
        "seed_handler": {"_target_": "monai_ext.engines.EpochSeedHandler", "seed": 3},
        "report": {"_target_": "monai_ext.metrics.EvaluationReportHandler", "output_dir": "unused"},
    }
    parser = ConfigParser(config)
    with pytest.warns(FutureWarning, match="monai_ext.handlers.EpochSeedHandler"):
        handler = parser.get_parsed_content("seed_handler")
    assert type(handler) is monai_ext.handlers.EpochSeedHandler and handler.seed == 3
    with pytest.warns(FutureWarning, match="monai_ext.handlers.EvaluationReportHandler"):
        assert type(parser.get_parsed_content("report")) is monai_ext.handlers.EvaluationReportHandler
    parser = ConfigParser({"imports": ["$import monai_ext"], "ckpt_dir": "$monai_ext.engines.training_ckpt_dir"})
    with pytest.warns(FutureWarning, match="monai_ext.utils.training_ckpt_dir"):
        assert parser.get_parsed_content("ckpt_dir") is monai_ext.utils.training_ckpt_dir


def test_renamed_network_is_the_same_class_with_a_warning():
    import monai_ext.networks as networks

    with pytest.warns(FutureWarning, match=r"monai_ext\.networks\.UNet was renamed monai_ext\.networks\.BaselineUNet"):
        old = networks.UNet
    assert old is networks.BaselineUNet
    assert "UNet" not in vars(networks)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchNet'"):
        networks.NoSuchNet  # noqa: B018
