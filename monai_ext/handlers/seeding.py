# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Per-epoch reseeding, so that an interrupted and resumed training run draws what an uninterrupted one draws.

Where the randomness of a run comes from and the seeding functions are described in :mod:`monai_ext.utils.seeding`;
:class:`EpochSeedHandler` applies :func:`~monai_ext.utils.seeding.epoch_seed` at every epoch start.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data.utils import set_rnd

from ..utils.ranks import get_rank
from ..utils.seeding import epoch_seed

__all__ = ["EpochSeedHandler"]


class EpochSeedHandler:
    """Reseed every random source at each epoch start from ``(seed, epoch)``, so that a resumed run is exact.

    At ``Events.EPOCH_STARTED`` it seeds Python, NumPy and torch's global generators, the data loader's
    ``generator`` and its sampler's own generator (this fixes the shuffling order and the workers' base seed), and,
    for ``num_workers=0``, the dataset's random transforms (workers reseed them in
    :func:`~monai_ext.utils.seeding.seed_worker` / MONAI's ``worker_init_fn``). The loader's iterator of an epoch is
    created after ``EPOCH_STARTED``, so the epoch's order follows the new seeds; the same reseeding is repeated when
    ignite replaces the exhausted iterator of the previous epoch (``DATALOADER_STOP_ITERATION`` before the epoch's
    first batch), because exhausting a ``RandomSampler`` draws from the generator once more. Exact resumption needs
    one epoch to be one pass over the loader (the default ``epoch_length``). Cost: a few microseconds per epoch.

    In distributed runs the process rank enters the seed (:func:`~monai_ext.utils.seeding.epoch_seed` of
    ``(seed, epoch, rank)``), so ranks draw different augmentations and dropout masks, and each rank's draws are
    reproducible; rank 0 draws what a single-process run draws. A ``DistributedSampler`` shards the data by its own
    seed and epoch, equal on every rank. The rank is read from ``torch.distributed`` (``RANK`` before the process
    group exists, :func:`~monai_ext.utils.ranks.get_rank`), without ignite's lazy set-up, which would start collective
    calls inside the handler.

    Usage in a bundle config, in ``train#handlers``::

        {"_target_": "monai_ext.handlers.EpochSeedHandler", "seed": "@seed"}

    Args:
        seed: the run's seed.
        data_loader: the loader to reseed; default the engine's ``data_loader`` (MONAI workflows) or
            ``engine.state.dataloader``.
        offset: added to ``seed``. A second training stage that reuses the first stage's loader (saliency_sr's GAN
            stage after its MSE pretraining) passes 1, so that its epochs do not repeat the first stage's draws.
    """

    def __init__(self, seed: int, data_loader: Any | None = None, offset: int = 0) -> None:
        self.seed = int(seed) + int(offset)
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
