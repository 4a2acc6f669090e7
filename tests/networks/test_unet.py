# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the U-Net encoder/decoder and the plain U-Net baseline, including the DS2F paper's counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_ext.networks import BaselineUNet, DualStreamNet, UNetDecoder, UNetEncoder
from monai_ext.networks.unet import DoubleConv, UNetUpBlock

ptflops = pytest.importorskip("ptflops")

HR = (3, 584, 876)
LR = (3, 292, 438)


def conv_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Sum of Cout * prod(out spatial) * prod(kernel) * Cin / groups (+ bias) over every Conv call (batch 1)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        per_position = math.prod(module.kernel_size) * module.in_channels // module.groups
        positions = output[0].numel()
        total += positions * per_position + (positions if module.bias is not None else 0)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.empty((1, *shape), device=next(model.parameters()).device))
    for h in handles:
        h.remove()
    return total


def ptflops_gmac(model: nn.Module, shape: tuple[int, ...]) -> float:
    macs, _ = ptflops.get_model_complexity_info(
        model,
        shape,
        backend="pytorch",
        backend_specific_config={"count_functional": False},
        as_strings=False,
        print_per_layer_stat=False,
    )
    return macs / 1e9


@pytest.fixture(scope="module")
def full_unet():
    """The paper's U-Net (3 in, 2 out, base 64) on the meta device: shapes only, so full-size counts are instant."""
    with torch.device("meta"):
        return BaselineUNet(in_channels=3, out_channels=2, base_channels=64).eval()


def test_unet_parameter_count(full_unet):
    n = sum(p.numel() for p in full_unet.parameters())
    assert round(n / 1e6, 3) == 28.950


def test_unet_ptflops_matches_paper(full_unet):
    assert round(ptflops_gmac(full_unet, HR), 2) == 384.49
    assert round(ptflops_gmac(full_unet, LR), 2) == 96.86


def test_unet_conv_macs(full_unet):
    hr = conv_macs(full_unet, HR)
    lr = conv_macs(full_unet, LR)
    assert round(hr / 1e9, 2) == 376.96
    assert round(lr / 1e9, 2) == 94.98


def test_one_shared_activation_instance():
    model = BaselineUNet(base_channels=4)
    relus = [m for _, m in model.named_modules(remove_duplicate=False) if isinstance(m, nn.ReLU)]
    assert len(relus) == 22  # 10 encoder units + 4 x 3 decoder units
    assert len({id(m) for m in relus}) == 1


def test_double_conv_structure():
    block = DoubleConv(2, 5, 7)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.bias) for c in convs] == [
        (5, 7, (3, 3), None),
        (7, 7, (3, 3), None),
    ]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in block.modules()) == 2


@pytest.mark.parametrize("size", [(32, 32), (37, 45), (17, 64), (5, 3)])
def test_encoder_decoder_shapes_any_size(size):
    encoder, decoder = UNetEncoder(2, 3, 4), UNetDecoder(2, 4)
    x = torch.randn(2, 3, *size)
    features = encoder(x)
    expected = [tuple(size)]
    for _ in range(4):
        expected.append(tuple(math.ceil(s / 2) for s in expected[-1]))  # 3x3 / stride 2 / pad 1 pooling
    assert [tuple(f.shape[2:]) for f in features] == expected
    assert [f.shape[1] for f in features] == [4, 8, 16, 32, 64] == encoder.out_channels
    out = decoder(features)
    assert out.shape == (2, 4, *size)


def test_up_block_matches_reference():
    torch.manual_seed(0)
    block = UNetUpBlock(2, 6, 3, 4).eval()
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    x, skip = torch.randn(2, 6, 4, 5), torch.randn(2, 3, 9, 11)

    def unit(seq, t, padding):
        conv, bn = seq[0], seq[1]
        t = F.conv2d(t, conv.weight, None, padding=padding)
        t = F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        return F.relu(t)

    up = F.interpolate(x, size=(9, 11), mode="bilinear", align_corners=True)
    ref = torch.cat([unit(block.up_conv, up, 0), skip], dim=1)
    ref = unit(block.conv[1], unit(block.conv[0], ref, 1), 1)
    torch.testing.assert_close(block(x, skip), ref)


def test_unet_returns_tensor_in_both_modes_and_equals_dual_stream_baseline():
    torch.manual_seed(0)
    unet = BaselineUNet(in_channels=3, out_channels=2, base_channels=4)
    x = torch.randn(2, 3, 23, 30)
    out = unet(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 2, 23, 30)
    out.sum().backward()
    assert all(p.grad is not None for p in unet.parameters())
    baseline = DualStreamNet(scale_factor=1, super_resolution=False, base_channels=4)
    baseline.load_state_dict(unet.state_dict())
    unet.eval(), baseline.eval()
    torch.testing.assert_close(unet(x), baseline(x))


def test_invalid_width():
    with pytest.raises(ValueError, match="base_channels"):
        UNetEncoder(2, 3, 0)
    with pytest.raises(ValueError, match="base_channels"):
        UNetDecoder(2, 0)
