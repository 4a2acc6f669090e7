# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for seeding a training run: one seed gives identical training losses on CPU, with and without data loader
workers and with and without per-epoch reseeding (``EpochSeedHandler``)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedTrainer
from monai.transforms import Compose, RandFlipd, RandGaussianNoised

from monai_ext.handlers import EpochSeedHandler
from monai_ext.utils import epoch_seed, make_generator, seed_everything, seed_worker
from tests.utils.test_seeding import _draws

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _losses(seed: int, num_workers: int, epoch_seeding: bool) -> list[float]:
    seed_everything(seed)
    gen = torch.Generator().manual_seed(99)
    data = [
        {"image": torch.randn(1, 8, 8, generator=gen), "label": torch.randn(1, 8, 8, generator=gen)} for _ in range(8)
    ]
    transform = Compose(
        [RandFlipd(keys=["image", "label"], prob=0.5, spatial_axis=0), RandGaussianNoised(keys="image", prob=1.0)]
    )
    loader = DataLoader(
        Dataset(data, transform), batch_size=4, shuffle=True, num_workers=num_workers, generator=make_generator(seed),
        worker_init_fn=seed_worker,
    )
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Dropout(0.5), torch.nn.Conv2d(4, 1, 1))
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=2,
        train_data_loader=loader,
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
        loss_function=torch.nn.MSELoss(),
        train_handlers=[EpochSeedHandler(seed)] if epoch_seeding else [],
    )
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(float(e.state.output[0]["loss"])))
    trainer.run()
    return losses


@pytest.mark.parametrize("epoch_seeding", [False, True])
@pytest.mark.parametrize("num_workers", [0, 2])
def test_same_seed_same_losses(num_workers, epoch_seeding):
    """Shuffling, random transforms (in workers too) and dropout all follow the one seed."""
    first = _losses(11, num_workers, epoch_seeding)
    assert len(first) == 4
    assert _losses(11, num_workers, epoch_seeding) == first
    assert _losses(12, num_workers, epoch_seeding) != first


def test_epoch_seed_handler_uses_the_process_rank(monkeypatch):
    """Without a process group the rank comes from ``RANK`` (torchrun); the handler seeds with (seed, epoch, rank)."""

    class _State:
        epoch = 3

    class _Engine:
        state = _State()

    handler = EpochSeedHandler(7)
    draws = {}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        handler(_Engine())  # no data loader: the global generators only
        draws[rank] = _draws()
        random.seed(epoch_seed(7, 3, rank))
        np.random.seed(epoch_seed(7, 3, rank))
        torch.manual_seed(epoch_seed(7, 3, rank))
        assert _draws() == draws[rank]
    assert draws[0] != draws[1]


def test_offset_shifts_the_seed_of_a_second_stage():
    """``offset=1`` seeds each epoch like ``seed + 1`` would: a second stage does not repeat the first one's draws."""

    class _State:
        epoch = 3

    class _Engine:
        state = _State()
        data_loader = None

    draws = {}
    for name, handler in {
        "offset": EpochSeedHandler(5, offset=1), "plus_one": EpochSeedHandler(6), "plain": EpochSeedHandler(5),
    }.items():
        handler(_Engine())
        draws[name] = torch.rand(3)
    assert torch.equal(draws["offset"], draws["plus_one"])
    assert not torch.equal(draws["offset"], draws["plain"])
