# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.engines: trainers, batch preparation, folder inference, prediction writers and distributed helpers.

The ignite handlers that used to be exported here are in :mod:`monai_ext.handlers`; checkpoint reading and writing,
seeding and the run-folder helpers are in :mod:`monai_ext.utils`. Their old names
(``monai_ext.engines.SafeCheckpointLoader``, ...) and modules (``monai_ext.engines.checkpoint``, ...) still resolve
to the same objects for one release, with a ``FutureWarning`` naming the new path.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..utils.deprecation import moved_attribute
from .prepare_batch import DualStreamPrepareBatch
from .gan import (
    SRGanDiscriminatorLoss, SRGanGeneratorLoss, SRGanTrainer, SRPrepareBatch, gan_loss_terms, gaussian_downsample,
)
from ..utils.paths import UnsafeOutputPathError, output_name_from_path, safe_output_path, sanitize_output_name
from .folder_inference import (
    FolderInference, FolderInferenceError, FolderInferenceReport, InferenceFailure, PNGPredictionWriter,
    list_image_files, run_folder_inference,
)
from .classification_csv import probability_csv_header, write_probability_csv_header
from .writers import SegmentationPNGWriter
from .distributed import (
    RANK0_ONLY_HANDLERS, destroy_distributed, distributed_sampler, distributed_seed, get_rank, get_world_size,
    init_distributed, is_rank0, local_device, rank0_handlers, rank_output_dir,
)
from .sr_chain import SRChainTrainer, chain_target_factor
from .stages import run_training_stage

#: names that moved out of ``monai_ext.engines``, by their new package (the old names forward there for one release).
MOVED_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "AtomicCheckpointSaver", "AtomicDiskSaver", "CheckpointInfo", "EpochSeedHandler", "InitialWeightsLoader",
            "LossTermsHandler", "NonFiniteLossError", "NonFiniteLossHandler", "ResumeFromCheckpoint",
            "SafeCheckpointLoader", "TrainingSummaryHandler", "ValidationHandler", "batch_names", "find_checkpoints",
            "find_latest_checkpoint", "log_epoch_metrics",
        ),
        "monai_ext.handlers",
    ),
    **dict.fromkeys(
        (
            "CheckpointReadError", "MissingWeightsError", "UnsafeCheckpointError", "atomic_torch_save",
            "missing_weights_message", "restore_objects", "safe_load_checkpoint", "epoch_seed", "make_generator",
            "seed_everything", "seed_worker", "TrainingOutputError", "git_tracked_files", "run_or_shipped_file",
            "running_in_monailabel", "shipped_weights", "training_ckpt_dir",
        ),
        "monai_ext.utils",
    ),
}

# modules that moved; monai_ext/engines/<name>.py is now a thin re-export that warns when imported
_MOVED_MODULES = ("checkpoint", "loss_terms", "nonfinite", "resume", "run_outputs", "seeding")


def __getattr__(name: str) -> Any:
    if name in _MOVED_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    return moved_attribute(__name__, name, MOVED_NAMES)
