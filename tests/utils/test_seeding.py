# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for the seeding functions of ``monai_ext.utils``: one seed fixes Python, NumPy, torch and loader workers."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from monai_ext.utils import epoch_seed, make_generator, seed_everything, seed_worker

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


def test_epoch_seed_depends_on_rank():
    """Distributed ranks get distinct seeds; rank 0 keeps the single-process seed."""
    seeds = {(s, e, r): epoch_seed(s, e, r) for s in range(3) for e in range(1, 4) for r in range(4)}
    assert len(set(seeds.values())) == len(seeds)
    assert all(epoch_seed(s, e) == seeds[(s, e, 0)] for s in range(3) for e in range(1, 4))
    assert epoch_seed(0, 1, 1) == int(np.random.SeedSequence([0, 1, 1]).generate_state(1)[0])
