# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for seeding: one seed gives identical training losses on CPU, with and without data loader workers."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedTrainer
from monai.transforms import Compose, RandFlipd, RandGaussianNoised

from monai_ext.engines import EpochSeedHandler, epoch_seed, make_generator, seed_everything, seed_worker


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_seeds_python_numpy_torch():
    assert seed_everything(5) == 5
    first = _draws()
    seed_everything(5)
    assert _draws() == first
    seed_everything(6)
    assert _draws() != first
    assert seed_everything(2**32 + 5) == 5


def test_deterministic_flag():
    before = torch.are_deterministic_algorithms_enabled()
    flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True
        seed_everything(1, deterministic=False)
        assert torch.backends.cudnn.benchmark  # seeding alone leaves cuDNN's algorithm choice alone
        seed_everything(1, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(before)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags


def test_epoch_seed_depends_on_seed_and_epoch_only():
    assert epoch_seed(1, 2) == epoch_seed(1, 2)
    seeds = {epoch_seed(s, e) for s in range(5) for e in range(5)}
    assert len(seeds) == 25  # seed + epoch collisions (1, 2) vs (2, 1) avoided
    assert all(0 <= s < 2**32 for s in seeds)


class _RandomDraws(torch.utils.data.Dataset):
    """Each item reports what Python, NumPy and torch generate inside the process that loads it."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([index, random.random(), np.random.rand(), torch.rand(1).item()], dtype=torch.float64)


def test_seed_worker_makes_worker_randomness_reproducible_and_distinct():
    def epoch(seed: int) -> torch.Tensor:
        loader = torch.utils.data.DataLoader(
            _RandomDraws(), batch_size=1, num_workers=2, worker_init_fn=seed_worker, generator=make_generator(seed)
        )
        return torch.cat(list(loader))

    a, b, c = epoch(3), epoch(3), epoch(4)
    assert torch.equal(a, b)
    assert not torch.equal(a[:, 1:], c[:, 1:])
    assert len(set(a[:, 1].tolist())) == 8  # the two workers do not repeat each other's numbers


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


def test_epoch_seed_depends_on_rank():
    """Distributed ranks get distinct seeds; rank 0 keeps the single-process seed."""
    seeds = {(s, e, r): epoch_seed(s, e, r) for s in range(3) for e in range(1, 4) for r in range(4)}
    assert len(set(seeds.values())) == len(seeds)
    assert all(epoch_seed(s, e) == seeds[(s, e, 0)] for s in range(3) for e in range(1, 4))
    assert epoch_seed(0, 1, 1) == int(np.random.SeedSequence([0, 1, 1]).generate_state(1)[0])


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
