# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.engines."""

from __future__ import annotations

from .loss_terms import LossTermsHandler
from .prepare_batch import DualStreamPrepareBatch
from .gan import SRGanDiscriminatorLoss, SRGanGeneratorLoss, SRGanTrainer, SRPrepareBatch, gan_loss_terms, gaussian_downsample
from ..utils.paths import UnsafeOutputPathError, output_name_from_path, safe_output_path, sanitize_output_name
from .checkpoint import (
    AtomicCheckpointSaver, AtomicDiskSaver, CheckpointReadError, InitialWeightsLoader, MissingWeightsError,
    SafeCheckpointLoader, UnsafeCheckpointError, atomic_torch_save, missing_weights_message, restore_objects,
    safe_load_checkpoint,
)
from .run_outputs import (
    TrainingOutputError, TrainingSummaryHandler, ValidationHandler, git_tracked_files,
    log_epoch_metrics, run_or_shipped_file, running_in_monailabel, shipped_weights, training_ckpt_dir,
)
from .seeding import EpochSeedHandler, epoch_seed, make_generator, seed_everything, seed_worker
from .resume import CheckpointInfo, ResumeFromCheckpoint, find_checkpoints, find_latest_checkpoint
from .nonfinite import NonFiniteLossError, NonFiniteLossHandler, batch_names
from .folder_inference import (
    FolderInferenceError, FolderInferenceReport, InferenceFailure, PNGPredictionWriter, list_image_files,
    run_folder_inference,
)
from .writers import SegmentationPNGWriter
from .distributed import (
    RANK0_ONLY_HANDLERS, destroy_distributed, distributed_sampler, distributed_seed, get_rank, get_world_size,
    init_distributed, is_rank0, local_device, rank0_handlers, rank_output_dir,
)
from .sr_chain import SRChainTrainer, chain_target_factor
