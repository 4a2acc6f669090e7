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

import logging
import os
from collections.abc import Sized
from datetime import timedelta

import torch
import torch.distributed as dist
from monai.data import DistributedSampler
from monai.utils import IgniteInfo, min_version, optional_import

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
]

logger = logging.getLogger(__name__)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as e:
        raise ValueError(f"environment variable {name}={value!r} is not an integer.") from e


def get_rank() -> int:
    """The process's global rank: from the process group when it exists, else ``RANK`` (set by ``torchrun``),
    else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0)


def get_world_size() -> int:
    """The number of processes: from the process group when it exists, else ``WORLD_SIZE``, else 1."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return _env_int("WORLD_SIZE", 1)


def is_rank0() -> bool:
    """True in the process that writes logs, TensorBoard files and checkpoints (global rank 0)."""
    return get_rank() == 0


def local_device() -> torch.device:
    """``cuda:<LOCAL_RANK>`` when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device(f"cuda:{_env_int('LOCAL_RANK', 0)}")
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
    """Destroy the default process group if it exists. Returns True when one was destroyed."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        return True
    return False


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
