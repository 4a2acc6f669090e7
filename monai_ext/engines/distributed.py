# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Helpers for running a bundle's training under ``torchrun`` with PyTorch DDP (``configs/multi_gpu_train.json``).

``torchrun`` starts one process per device and sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``. A bundle's ``multi_gpu_train.json`` uses these helpers to pick the process's device, join the
process group (NCCL on CUDA, gloo on CPU), split the data with a ``DistributedSampler`` and leave console output,
TensorBoard files and checkpoints to rank 0. Every helper also works in a single, non-distributed process (rank 0
of a world of 1), so the same config parses in tests and tools.

Reference: Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence, Sized
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from monai.data import DistributedSampler
from monai.handlers import (
    CheckpointSaver, ClearMLHandler, LogfileHandler, MLFlowHandler, StatsHandler, TensorBoardHandler,
)
from monai.utils import IgniteInfo, min_version, optional_import

from ..handlers.run_report import TrainingSummaryHandler
from ..utils.ranks import get_rank, get_world_size, int_from_env

idist, has_ignite = optional_import("ignite.distributed", IgniteInfo.OPT_IMPORT_VERSION, min_version)

__all__ = [
    "init_distributed",
    "destroy_distributed",
    "get_rank",
    "get_world_size",
    "is_rank0",
    "local_device",
    "distributed_seed",
    "distributed_sampler",
    "rank0_handlers",
    "RANK0_ONLY_HANDLERS",
    "rank_output_dir",
]

RANK0_ONLY_HANDLERS: tuple[type, ...] = (
    StatsHandler,
    TensorBoardHandler,
    CheckpointSaver,
    MLFlowHandler,
    ClearMLHandler,
    LogfileHandler,
    TrainingSummaryHandler,
)
"""Handler types that only log or write files: under DDP they run on rank 0 only (:func:`rank0_handlers`).
Handlers that gather across ranks themselves (``MetricsSaver``, ``ClassificationSaver``, metric handlers) and
handlers that change the training (``ValidationHandler``, ``LrScheduleHandler``, loaders) must run on every rank."""

logger = logging.getLogger(__name__)


def is_rank0() -> bool:
    """True in the process that writes logs, TensorBoard files and checkpoints (global rank 0)."""
    return get_rank() == 0


def local_device() -> torch.device:
    """``cuda:<LOCAL_RANK>`` when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device(f"cuda:{int_from_env('LOCAL_RANK', 0)}")
    return torch.device("cpu")


def init_distributed(backend: str | None = None, timeout_s: float | None = None) -> bool:
    """Join the default process group that ``torchrun`` describes in the environment.

    Does nothing when the group already exists. On CUDA the process's device is set to ``cuda:<LOCAL_RANK>``
    first, as NCCL requires. Then ignite's ``idist`` is synchronised with the new group on every rank at once:
    ignite sets itself up lazily with collective calls the first time a handler asks for the rank, and a handler
    that exists on rank 0 only (a ``CheckpointSaver``) would otherwise wait forever for the other ranks.

    Args:
        backend: ``"nccl"``, ``"gloo"`` or any backend torch knows; default NCCL when CUDA is available, else gloo.
        timeout_s: timeout of collective operations in seconds; default torch's (10 minutes for NCCL, 30 for gloo).

    Returns:
        True when this call created the process group, False when it existed already.

    Raises:
        RuntimeError: when ``torch.distributed`` is unavailable, or the environment lacks the rendezvous variables
            (start the command with ``torchrun``).
    """
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this PyTorch build; multi-GPU training needs it.")
    if dist.is_initialized():
        return False
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(
            f"environment variables {missing} are not set: start multi_gpu_train.json with `torchrun` "
            "(e.g. torchrun --standalone --nnodes=1 --nproc_per_node=2 -m monai.bundle run training ...)."
        )
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available() and "nccl" in backend:
        torch.cuda.set_device(local_device())
    kwargs = {} if timeout_s is None else {"timeout": timedelta(seconds=float(timeout_s))}
    dist.init_process_group(backend=backend, init_method="env://", **kwargs)
    if has_ignite:
        idist.sync()
    logger.info(f"joined process group: rank {dist.get_rank()} of {dist.get_world_size()}, backend {backend}.")
    return True


def destroy_distributed() -> bool:
    """Destroy the default process group if it exists, and remove this rank's :func:`rank_output_dir` scratch
    folder. Returns True when a process group was destroyed."""
    scratch = _scratch_dir()
    if get_rank() > 0 and os.path.isdir(scratch):
        shutil.rmtree(scratch, ignore_errors=True)
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        return True
    return False


_SCRATCH_CLEANUP: set[str] = set()


def _scratch_dir() -> str:
    run_id = "".join(c for c in os.environ.get("TORCHELASTIC_RUN_ID", "local") if c.isalnum() or c in "-_")
    return os.path.join(tempfile.gettempdir(), f"monai_ext_rank{get_rank()}_{run_id}_{os.getpid()}")


def rank_output_dir(output_dir: str) -> str:
    """``output_dir`` on rank 0; on other ranks a private scratch folder, removed by :func:`destroy_distributed` or,
    if the run fails before that, when the process exits.

    Under DDP only rank 0 writes logs, TensorBoard files and the executed config (``--tracking`` exports it to
    ``output_dir`` in every process); the other ranks still build the same handler objects, and whatever they
    create on construction lands in the scratch folder instead of racing with rank 0 on the same file names.
    """
    if get_rank() == 0:
        return output_dir
    scratch = _scratch_dir()
    if scratch not in _SCRATCH_CLEANUP:  # also when the run fails before `finalize`
        _SCRATCH_CLEANUP.add(scratch)
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


def rank0_handlers(handlers: Sequence[Any] | None, rank0_only: Sequence[type] | None = None) -> list[Any] | None:
    """The handler list for this rank: all of ``handlers`` on rank 0; on the other ranks without logging and
    file-writing handlers, so that console lines, TensorBoard events, MLflow records and checkpoints come once.

    Selecting by type (not by list position) keeps the override right when a bundle's ``train#handlers`` change.
    TensorBoard writers that a dropped handler opened itself are closed.

    Args:
        handlers: the instantiated handlers (``@train#handlers``, ``@validate#handlers``), or None.
        rank0_only: handler types kept on rank 0 only; default :data:`RANK0_ONLY_HANDLERS`.

    Returns:
        The handlers to attach in this process (None for None).
    """
    if handlers is None:
        return None
    handlers = list(handlers)
    if get_rank() == 0:
        return handlers
    types = tuple(RANK0_ONLY_HANDLERS if rank0_only is None else rank0_only)
    kept = []
    for handler in handlers:
        if not isinstance(handler, types):
            kept.append(handler)
        elif isinstance(handler, TensorBoardHandler) and getattr(handler, "internal_writer", False):
            handler.close()
    return kept


def distributed_seed(seed: int) -> int:
    """``seed + rank``: each process draws different random augmentations while the run stays reproducible.

    Network weights do not need equal seeds: ``DistributedDataParallel`` copies rank 0's weights to all ranks when
    it wraps the network, and ``DistributedSampler`` shuffles with its own seed, equal on every rank.
    """
    return int(seed) + get_rank()


def distributed_sampler(
    dataset: Sized, shuffle: bool = True, even_divisible: bool = True, seed: int = 0, **kwargs
) -> DistributedSampler:
    """MONAI ``DistributedSampler`` over the current process group, safe for datasets smaller than the world.

    With ``even_divisible=False`` (validation: every sample counted exactly once) a dataset with fewer samples than
    processes would leave some ranks without any sample, and an ignite engine cannot run on an empty loader; then
    samples are repeated instead (``even_divisible=True``) and a warning is logged.

    MONAI's ``SupervisedTrainer``/``SupervisedEvaluator`` call ``set_epoch`` on a ``DistributedSampler`` at every
    epoch start, so the shuffling changes from epoch to epoch and is the same on every rank.

    Args:
        dataset: the dataset to split.
        shuffle: shuffle the indices (training) or keep their order (validation).
        even_divisible: pad with repeated samples so every rank gets the same number.
        seed: the sampler's shuffling seed; must be equal on all ranks.
        kwargs: more arguments of ``torch.utils.data.DistributedSampler`` (``num_replicas``, ``rank``, ``drop_last``).

    Returns:
        The sampler.
    """
    world_size = kwargs.get("num_replicas") or get_world_size()
    if not even_divisible and len(dataset) < world_size:
        logger.warning(
            f"dataset of {len(dataset)} samples is smaller than the {world_size} processes: "
            "repeating samples so every rank gets one (metrics then count some samples twice)."
        )
        even_divisible = True
    return DistributedSampler(dataset=dataset, even_divisible=even_divisible, shuffle=shuffle, seed=seed, **kwargs)
