# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""One seed for Python, NumPy, torch, MONAI transforms and data loader workers; per-epoch seeds for resume.

Where randomness comes from in a MONAI training run, and what seeds it:

* Python ``random``, NumPy's global generator, torch's global generator (weights init, dropout): seeded by
  :func:`seed_everything`, which calls MONAI's ``set_determinism``.
* The shuffling of a ``DataLoader``: its ``generator`` (:func:`make_generator`), or the global torch generator.
* MONAI random transforms (``RandFlipd`` ...) keep their own ``RandomState``: ``monai.data.DataLoader`` seeds them
  from the loader's generator, in the main process (``num_workers=0``) or per worker through
  :func:`seed_worker` (the same as MONAI's default ``worker_init_fn``). PyTorch seeds ``random``, NumPy and torch
  inside each worker from the loader's base seed.

For an interrupted run to continue exactly like an uninterrupted one, each epoch's randomness must depend only on
``(seed, epoch)``, not on how many epochs this process has run: :func:`epoch_seed` gives that seed, and the handler
:class:`~monai_ext.handlers.EpochSeedHandler` reseeds all of the above with it at every ``EPOCH_STARTED`` (ignite's
``DeterministicEngine`` uses the same idea). A ``DistributedSampler`` is already reseeded by epoch (MONAI's
``Workflow`` calls ``set_epoch``).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from monai.data.utils import set_rnd
from monai.utils import set_determinism

__all__ = ["seed_everything", "make_generator", "seed_worker", "epoch_seed"]

_MAX_SEED = 2**32


def seed_everything(seed: int, deterministic: bool = False) -> int:
    """Seed Python ``random``, NumPy, torch (CPU and all GPUs) through MONAI's ``set_determinism``.

    Args:
        seed: the seed (reduced modulo 2**32, as NumPy requires).
        deterministic: also ask for deterministic kernels: ``torch.use_deterministic_algorithms(True)``, cuDNN
            deterministic and not benchmarking, ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset. Slower on GPUs, and
            ops without a deterministic implementation then raise. With ``False`` the seeds are set but cuDNN's
            algorithm flags are left as they were (MONAI's ``set_determinism`` alone would switch benchmarking off).

    Returns:
        The seed used.
    """
    seed = int(seed) % _MAX_SEED
    cudnn_flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        set_determinism(seed=seed, use_deterministic_algorithms=True)
    else:
        set_determinism(seed=seed)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags
    return seed


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``, for ``DataLoader(generator=...)`` and samplers."""
    generator = torch.Generator()
    generator.manual_seed(int(seed) % 2**63)
    return generator


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for ``DataLoader``: seeds the worker's Python, NumPy and MONAI transform generators.

    Each worker's seed is PyTorch's ``base_seed + worker_id``, where ``base_seed`` is drawn from the loader's
    ``generator`` every time an iterator is created, so workers differ from each other and from epoch to epoch,
    and the whole sequence follows from the generator's seed.
    """
    info = torch.utils.data.get_worker_info()
    seed = info.seed if info is not None else torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % _MAX_SEED)
    if info is not None:
        set_rnd(info.dataset, seed=seed % _MAX_SEED)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 32-bit seed that depends only on ``(seed, epoch)`` and, in distributed runs, the process ``rank``
    (NumPy ``SeedSequence``: no collisions between nearby ``seed + epoch`` pairs)."""
    entropy = [int(seed) % _MAX_SEED, int(epoch)] + ([int(rank)] if rank else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])
