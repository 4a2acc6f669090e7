# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of :class:`monai_ext.engines.SRChainTrainer` (separately trained x2 stages) on tiny synthetic batches."""

from __future__ import annotations

import functools
import os

import pytest
import torch

from monai_ext.engines import SRChainTrainer, chain_target_factor, gaussian_downsample
from monai_ext.networks import CascadedSRGenerator, SRGenerator

GEN = functools.partial(SRGenerator, scale_factor=2, features=4, num_res_blocks=1)


def _loader(factor: int, size: int = 32, batches: int = 2) -> list[dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    data = []
    for _ in range(batches):
        hr = torch.rand(2, 3, size, size)
        data.append({"image": gaussian_downsample(hr, factor), "hr_image": hr})
    return data


def test_chain_target_factor():
    assert [chain_target_factor(k, 3) for k in (1, 2, 3)] == [4, 2, 1]
    with pytest.raises(ValueError, match="stage"):
        chain_target_factor(0, 3)


def test_x8_chain_trains_three_stages_on_previous_outputs(tmp_path):
    loader = _loader(8)
    trainer = SRChainTrainer(3, GEN, loader, tmp_path, pretrain_epochs=1, file_prefix="chain_x8")
    chain = trainer.run()
    assert isinstance(chain, CascadedSRGenerator) and chain.scale_factor == 8
    assert chain(loader[0]["image"]).shape == (2, 3, 32, 32)
    for stage in (1, 2, 3):
        engine = trainer.stage_engines[stage]["mse"]
        assert "gan" not in trainer.stage_engines[stage]
        assert engine.state.iteration == len(loader)
        saved = torch.load(trainer.checkpoint_path(stage), map_location="cpu", weights_only=True)
        assert set(saved) == {"model", "optimizer"}
        for k, v in saved["model"].items():
            torch.testing.assert_close(chain.stages[stage - 1].state_dict()[k], v)
        # what stage k trains on, built by hand: stages 1..k-1 on the LR batch, HR downsampled by 2^(3-k)
        previous = trainer.load_previous_stages(stage)
        lr, target = trainer.stage_prepare_batch(stage, previous)(loader[1])
        with torch.no_grad():
            expected = loader[1]["image"] if stage == 1 else chain(loader[1]["image"], num_stages=stage - 1)
        torch.testing.assert_close(lr, expected)
        torch.testing.assert_close(target, gaussian_downsample(loader[1]["hr_image"], 2 ** (3 - stage)))
        assert lr.shape[-1] * 2 == target.shape[-1]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_skip_trained_stages_loads_instead_of_training(tmp_path):
    loader = _loader(4)
    first = SRChainTrainer(2, GEN, loader, tmp_path, pretrain_epochs=1)
    first.run()
    stamp = os.stat(first.checkpoint_path(1)).st_mtime_ns
    os.remove(first.checkpoint_path(2))
    second = SRChainTrainer(2, GEN, loader, tmp_path, pretrain_epochs=1, skip_trained_stages=True)
    chain = second.run()
    assert sorted(second.stage_engines) == [2]  # stage 1 was loaded, stage 2 trained again
    assert os.stat(first.checkpoint_path(1)).st_mtime_ns == stamp
    stage1 = torch.load(first.checkpoint_path(1), map_location="cpu", weights_only=True)["model"]
    for k, v in stage1.items():
        torch.testing.assert_close(chain.stages[0].state_dict()[k], v)


def test_invalid_settings(tmp_path):
    with pytest.raises(ValueError, match="num_stages"):
        SRChainTrainer(0, GEN, [], tmp_path)
    with pytest.raises(ValueError, match="not both 0"):
        SRChainTrainer(2, GEN, [], tmp_path, pretrain_epochs=0, max_epochs=0)
    with pytest.raises(ValueError, match="discriminator_def, g_loss_function"):
        SRChainTrainer(2, GEN, [], tmp_path, max_epochs=1)
