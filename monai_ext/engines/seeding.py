# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""One seed for Python, NumPy, torch, MONAI transforms and data loader workers; per-epoch reseeding for resume.

Where randomness comes from in a MONAI training run, and what seeds it:

* Python ``random``, NumPy's global generator, torch's global generator (weights init, dropout): seeded by
  :func:`seed_everything`, which calls MONAI's ``set_determinism``.
* The shuffling of a ``DataLoader``: its ``generator`` (:func:`make_generator`), or the global torch generator.
* MONAI random transforms (``RandFlipd`` ...) keep their own ``RandomState``: ``monai.data.DataLoader`` seeds them
  from the loader's generator, in the main process (``num_workers=0``) or per worker through
  :func:`seed_worker` (the same as MONAI's default ``worker_init_fn``). PyTorch seeds ``random``, NumPy and torch
  inside each worker from the loader's base seed.

For an interrupted run to continue exactly like an uninterrupted one, each epoch's randomness must depend only on
``(seed, epoch)``, not on how many epochs this process has run: :class:`EpochSeedHandler` reseeds all of the
above at every ``EPOCH_STARTED`` (ignite's ``DeterministicEngine`` uses the same idea). A
``DistributedSampler`` is already reseeded by epoch (MONAI's ``Workflow`` calls ``set_epoch``).
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data.utils import set_rnd
from monai.utils import set_determinism

from .distributed import get_rank

__all__ = ["seed_everything", "make_generator", "seed_worker", "epoch_seed", "EpochSeedHandler"]

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


class EpochSeedHandler:
    """Reseed every random source at each epoch start from ``(seed, epoch)``, so that a resumed run is exact.

    At ``Events.EPOCH_STARTED`` it seeds Python, NumPy and torch's global generators, the data loader's
    ``generator`` and its sampler's own generator (this fixes the shuffling order and the workers' base seed), and,
    for ``num_workers=0``, the dataset's random transforms (workers reseed them in :func:`seed_worker` / MONAI's
    ``worker_init_fn``). The loader's iterator of an epoch is created after ``EPOCH_STARTED``, so the epoch's order
    follows the new seeds; the same reseeding is repeated when ignite replaces the exhausted iterator of the previous
    epoch (``DATALOADER_STOP_ITERATION`` before the epoch's first batch), because exhausting a ``RandomSampler``
    draws from the generator once more. Exact resumption needs one epoch to be one pass over the loader (the
    default ``epoch_length``). Cost: a few microseconds per epoch.

    In distributed runs the process rank enters the seed (:func:`epoch_seed` of ``(seed, epoch, rank)``), so ranks
    draw different augmentations and dropout masks, and each rank's draws are reproducible; rank 0 draws what a
    single-process run draws. A ``DistributedSampler`` shards the data by its own seed and epoch, equal on every
    rank. The rank is read from ``torch.distributed`` (``RANK`` before the process group exists), without ignite's
    lazy set-up, which would start collective calls inside the handler.

    Usage in a bundle config, in ``train#handlers``::

        {"_target_": "monai_ext.engines.EpochSeedHandler", "seed": "@seed"}

    Args:
        seed: the run's seed.
        data_loader: the loader to reseed; default the engine's ``data_loader`` (MONAI workflows) or
            ``engine.state.dataloader``.
    """

    def __init__(self, seed: int, data_loader: Any | None = None) -> None:
        self.seed = int(seed)
        self.data_loader = data_loader

    def attach(self, engine: Engine) -> None:
        """Register at ``Events.EPOCH_STARTED`` and ``Events.DATALOADER_STOP_ITERATION`` of ``engine``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self)
        engine.add_event_handler(Events.DATALOADER_STOP_ITERATION, self._on_new_iterator)

    def _on_new_iterator(self, engine: Engine) -> None:
        # An epoch's first batch request exhausts the previous epoch's iterator, and exhausting a RandomSampler
        # draws from the loader's generator once more. A resumed run has no previous iterator, so reseed again
        # right before ignite creates the new one.
        epoch_length = engine.state.epoch_length
        if epoch_length and engine.state.iteration == (engine.state.epoch - 1) * epoch_length:
            self(engine)

    def __call__(self, engine: Engine) -> None:
        seed = epoch_seed(self.seed, engine.state.epoch, get_rank())  # ranks augment differently
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        loader = self.data_loader
        if loader is None:
            loader = getattr(engine, "data_loader", None) or getattr(engine.state, "dataloader", None)
        if loader is None:
            return
        generator = getattr(loader, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(seed)
        sampler = getattr(loader, "sampler", None)
        sampler_generator = getattr(sampler, "generator", None)
        if isinstance(sampler_generator, torch.Generator) and sampler_generator is not generator:
            sampler_generator.manual_seed(seed)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(engine.state.epoch)
        dataset = getattr(loader, "dataset", None)
        if dataset is not None and getattr(loader, "num_workers", 0) == 0:
            set_rnd(dataset, seed=seed)
