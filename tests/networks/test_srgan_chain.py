# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the chain of separately trained x2 generators and of the generator's bicubic global skip option."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.networks import CascadedSRGenerator, SRGenerator
from monai_ext.utils import UnsafeCheckpointError, atomic_torch_save

TINY = {"features": 8, "num_res_blocks": 1}


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("factor, stages", [(4, 2), (8, 3)])
def test_chain_output_size_and_composition(factor, stages):
    torch.manual_seed(0)
    chain = CascadedSRGenerator(scale_factor=factor, **TINY).eval()
    assert chain.num_stages == stages and chain.scale_factor == factor
    assert all(stage.scale_factor == 2 for stage in chain.stages)
    x = torch.rand(2, 3, 5, 7)
    out = chain(x)
    assert out.shape == (2, 3, 5 * factor, 7 * factor)
    expected = x
    for stage in chain.stages:
        expected = stage(expected)
    torch.testing.assert_close(out, expected)
    assert chain(x, num_stages=1).shape == (2, 3, 10, 14)
    torch.testing.assert_close(chain(x, num_stages=0), x)
    # K separately built x2 generators: K times the parameters of one x2 generator
    assert _count(chain) == stages * _count(SRGenerator(scale_factor=2, **TINY))
    with pytest.raises(ValueError, match="num_stages"):
        chain(x, num_stages=stages + 1)


def test_chain_is_torchscript_compatible():
    torch.manual_seed(0)
    chain = CascadedSRGenerator(scale_factor=8, **TINY).eval()
    scripted = torch.jit.script(chain)
    x = torch.rand(1, 3, 4, 6)
    torch.testing.assert_close(scripted(x), chain(x))
    torch.testing.assert_close(scripted(x, 2), chain(x, num_stages=2))


def test_chain_constructor_arguments():
    with pytest.raises(ValueError, match="one of"):
        CascadedSRGenerator()
    with pytest.raises(ValueError, match="needs 2"):
        CascadedSRGenerator(num_stages=3, scale_factor=4)
    with pytest.raises(ValueError, match="power of two"):
        CascadedSRGenerator(scale_factor=6)
    stages = [SRGenerator(scale_factor=2, **TINY) for _ in range(2)]
    with pytest.raises(ValueError, match="needs 3"):
        CascadedSRGenerator(stages=stages, scale_factor=8)
    assert CascadedSRGenerator(stages=stages, scale_factor=4).stages[1] is stages[1]


def test_chain_loads_separately_trained_stage_checkpoints(tmp_path):
    torch.manual_seed(0)
    trained = [SRGenerator(scale_factor=2, **TINY) for _ in range(3)]
    paths = []
    for k, net in enumerate(trained):
        for p in net.parameters():
            p.data.add_(0.1 * (k + 1))  # stages differ from a fresh initialisation and from each other
        paths.append(tmp_path / f"stage{k + 1}.pt")
        atomic_torch_save({"model": net.state_dict(), "optimizer": {"lr": 1e-3}}, paths[-1])
    chain = CascadedSRGenerator(scale_factor=8, stage_checkpoints=paths, **TINY).eval()
    for stage, net in zip(chain.stages, trained):
        for (name, a), b in zip(stage.state_dict().items(), net.state_dict().values()):
            assert torch.equal(a, b), name
    x = torch.rand(1, 3, 4, 4)
    expected = trained[2].eval()(trained[1].eval()(trained[0].eval()(x)))
    torch.testing.assert_close(chain(x), expected)

    with pytest.raises(ValueError, match="2 stage checkpoints for a chain of 3"):
        CascadedSRGenerator(scale_factor=8, stage_checkpoints=paths[:2], **TINY)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        CascadedSRGenerator(scale_factor=4, stage_checkpoints=[paths[0], tmp_path / "missing.pt"], **TINY)
    torch.save({"model": trained[0].state_dict(), "extra": torch.nn.ReLU()}, tmp_path / "unsafe.pt")
    with pytest.raises(UnsafeCheckpointError, match="unsafe.pt"):
        chain.load_stage(0, tmp_path / "unsafe.pt", key="model")


def test_global_skip_adds_bicubic_upsampling_of_the_input():
    torch.manual_seed(0)
    plain = SRGenerator(scale_factor=4, **TINY).eval()
    skip = SRGenerator(scale_factor=4, global_skip="bicubic", **TINY).eval()
    assert _count(skip) == _count(plain)  # the option adds no parameters
    skip.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 6, 5)
    bicubic = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(skip(x), plain(x) + bicubic)
    # a zero output conv makes the network bicubic interpolation, whose value at the LR pixel centres of a constant
    # image is the constant
    torch.nn.init.zeros_(skip.head.weight)
    torch.nn.init.zeros_(skip.head.bias)
    torch.testing.assert_close(skip(torch.full((1, 3, 4, 4), 0.7)), torch.full((1, 3, 16, 16), 0.7))
    scripted = torch.jit.script(skip)
    torch.testing.assert_close(scripted(x), skip(x))


def test_global_skip_gradients_and_errors():
    torch.manual_seed(0)
    net = SRGenerator(scale_factor=2, global_skip="bicubic", **TINY)
    x = torch.rand(2, 3, 6, 6, requires_grad=True)
    net(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(ValueError, match="global_skip"):
        SRGenerator(global_skip="nearest")
    with pytest.raises(ValueError, match="in_channels"):
        SRGenerator(in_channels=1, out_channels=3, global_skip="bicubic")
    volume = SRGenerator(spatial_dims=3, in_channels=1, out_channels=1, scale_factor=2, global_skip="bicubic", **TINY)
    assert volume.eval()(torch.rand(1, 1, 4, 4, 4)).shape == (1, 1, 8, 8, 8)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_zero_init_last_starts_at_bicubic_and_trains(factor):
    torch.manual_seed(0)
    net = SRGenerator(scale_factor=factor, global_skip="bicubic", zero_init_last=True, **TINY)
    assert net.head.weight.abs().sum() == 0 and net.head.bias.abs().sum() == 0
    x = torch.rand(2, 3, 7, 6)
    bicubic = F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False)
    torch.testing.assert_close(net.eval()(x), bicubic, rtol=0, atol=0)  # exactly the bicubic baseline at init
    # the zeroed head still receives a gradient, so one step moves the output away from bicubic
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    target = bicubic + 0.1 * torch.rand_like(bicubic)
    (net(x) - target).square().mean().backward()
    assert net.head.weight.grad.abs().sum() > 0
    optimizer.step()
    assert (net.eval()(x) - bicubic).abs().max() > 1e-4
    # without the option the random head adds a residual at init
    random_head = SRGenerator(scale_factor=factor, global_skip="bicubic", **TINY).eval()
    assert (random_head(x) - bicubic).abs().max() > 1e-3
