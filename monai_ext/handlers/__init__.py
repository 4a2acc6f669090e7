# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.handlers: the ignite / MONAI event handlers used by the bundle configs (``train#handlers``, ...).

One concept a module: checkpoint loading and atomic saving (``checkpoint``), resuming a run (``resume``), stopping
on a non-finite loss (``nonfinite``), per-epoch reseeding (``seeding``), loss-term logging (``loss_terms``),
validation scheduling (``validation``), the run's log lines and end-of-run summary (``run_report``), the pooled
segmentation metrics (``segmentation_metrics``), the per-image evaluation report (``evaluation_report``) and event
filters for the logging handlers (``event_filters``).
Handlers depend on ``monai_ext.utils`` and ``monai_ext.metrics``, never on ``monai_ext.engines``.
"""

from __future__ import annotations

from .checkpoint import (
    AtomicCheckpointSaver, AtomicDiskSaver, InitialWeightsLoader, SafeCheckpointLoader, StageCheckpointSaver,
)
from .evaluation_report import EvaluationReportHandler
from .event_filters import EveryNEvents
from .loss_terms import LossTermsHandler
from .nonfinite import NonFiniteLossError, NonFiniteLossHandler, batch_names
from .resume import CheckpointInfo, ResumeFromCheckpoint, find_checkpoints, find_latest_checkpoint
from .run_report import TrainingSummaryHandler, log_epoch_metrics
from .seeding import EpochSeedHandler
from .segmentation_metrics import PooledPRAUCHandler, PooledSegmentationHandler
from .validation import ValidationHandler

__all__ = [
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "CheckpointInfo",
    "EpochSeedHandler",
    "EvaluationReportHandler",
    "EveryNEvents",
    "InitialWeightsLoader",
    "LossTermsHandler",
    "NonFiniteLossError",
    "NonFiniteLossHandler",
    "PooledPRAUCHandler",
    "PooledSegmentationHandler",
    "ResumeFromCheckpoint",
    "SafeCheckpointLoader",
    "StageCheckpointSaver",
    "TrainingSummaryHandler",
    "ValidationHandler",
    "batch_names",
    "find_checkpoints",
    "find_latest_checkpoint",
    "log_epoch_metrics",
]
