# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""RecursiveL1Loss against the formula, on a real MRC-Net output."""

from __future__ import annotations

import pytest
import torch

from monai_ext.losses import RecursiveL1Loss
from monai_ext.networks import MRCNet


def _output():
    torch.manual_seed(0)
    steps = tuple(torch.rand(2, 3, 8, 8) for _ in range(3))
    return {"sr": steps[-1], "sr_steps": steps}, torch.rand(2, 3, 8, 8)


def test_final_output_and_every_step_match_the_formula():
    output, hr = _output()
    assert torch.allclose(RecursiveL1Loss()(output, hr), (output["sr"] - hr).abs().mean())
    per_step = torch.stack([(s - hr).abs().mean() for s in output["sr_steps"]]).mean()
    assert torch.allclose(RecursiveL1Loss(all_steps=True)(output, hr), per_step)
    assert torch.allclose(RecursiveL1Loss()(output["sr"], hr), (output["sr"] - hr).abs().mean())


def test_reductions():
    output, hr = _output()
    none = RecursiveL1Loss(all_steps=True, reduction="none")(output, hr)
    assert none.shape == hr.shape
    expected = torch.stack([(s - hr).abs() for s in output["sr_steps"]]).mean(0)
    assert torch.allclose(none, expected)
    assert torch.allclose(RecursiveL1Loss(all_steps=True, reduction="sum")(output, hr), expected.sum())
    with pytest.raises(ValueError, match="RecursiveL1Loss: reduction must be one of"):
        RecursiveL1Loss(reduction="max")


def test_on_a_real_mrcnet_output():
    torch.manual_seed(0)
    network = MRCNet(scale_factor=2, num_recursions=2, features=8, head_features=8, num_stages=1, num_blocks=1)
    lr, hr = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16)
    output = network(lr)
    assert len(output["sr_steps"]) >= 2
    loss = RecursiveL1Loss(all_steps=True)(output, hr)
    expected = torch.stack([(s - hr).abs().mean() for s in output["sr_steps"]]).mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert sum(float(p.grad.abs().sum()) for p in network.parameters() if p.grad is not None) > 0
    with pytest.raises(ValueError, match=r"SR shape \(1, 3, 16, 16\) differs from target \(1, 3, 8, 8\)"):
        RecursiveL1Loss()(output, lr)
