# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of MSCG (DS2F's CrossGL), MRCAB and MS-Conv against a functional re-implementation of the spec."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_ext.networks import MRCAB, MSCG, MSConv


def mscg_params(c_sr: int, c_seg: int, d: int = 32, reduction: int = 4, groups: int = 4) -> int:
    """Parameter count of MSCG from its layer list (spec section 1.3)."""
    g = d // groups
    fuse = (c_sr + c_seg) * d + d + 2 * d
    mrcab = 2 * (d * 9 + d) + (d * (d // reduction) + d // reduction) + (d // reduction * d + d)
    msconv = (g * g + g) + (groups - 2) * (g * 9 + g) + (g * g + g) + 2 * d
    cross = (d * c_sr + c_sr) + (d * c_seg + c_seg) + (c_sr * c_sr + c_sr) + (c_seg * c_seg + c_seg)
    return fuse + mrcab + msconv + cross


def randomize_bn(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def bn(x, m):
    return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)


def conv(x, m, **kw):
    return F.conv2d(x, m.weight, m.bias, **kw)


def reference_mscg(model: MSCG, sr: torch.Tensor, seg: torch.Tensor, attention: str) -> tuple[torch.Tensor, ...]:
    """Eval-mode MSCG written from the spec with functional ops and the module's parameters."""
    f = F.gelu(bn(conv(torch.cat([sr, seg], 1), model.fuse[0]), model.fuse[1]))
    # MRCAB: two depthwise 3x3 convs without activation, attention, residual
    d = f.shape[1]
    n = conv(conv(f, model.mrcab.conv1, padding=1, groups=d), model.mrcab.conv2, padding=1, groups=d)
    if attention == "channel":
        fc1, fc2 = model.mrcab.attention.fc[0], model.mrcab.attention.fc[2]
        s = n.mean(dim=(2, 3))
        s = torch.sigmoid(F.linear(F.leaky_relu(F.linear(s, fc1.weight, fc1.bias), 0.01), fc2.weight, fc2.bias))
        s = s[:, :, None, None]
    else:
        c1, c2 = model.mrcab.attention.gate[0], model.mrcab.attention.gate[2]
        s = torch.sigmoid(conv(F.leaky_relu(conv(n, c1), 0.01), c2))
    m = s * n + f
    # MS-Conv: 1x1 | depthwise dilated 3x3 (d = 1, 2) | image pool; BN; GELU
    chunks = m.chunk(4, dim=1)
    b = model.msconv.branches
    g = chunks[0].shape[1]
    outs = [conv(chunks[0], b[0])]
    for i in (1, 2):
        outs.append(conv(chunks[i], b[i], padding=i, dilation=i, groups=g))
    pooled = conv(chunks[3].mean(dim=(2, 3), keepdim=True), b[3].conv)
    outs.append(F.interpolate(pooled, size=chunks[3].shape[2:], mode="bilinear", align_corners=False))
    gate = F.gelu(bn(torch.cat(outs, 1), model.msconv.norm)) + f
    fused_sr = conv(F.gelu(conv(gate, model.cross_sr[0])) * sr, model.gate_sr) + sr
    fused_seg = conv(F.gelu(conv(gate, model.cross_seg[0])) * seg, model.gate_seg) + seg
    return fused_sr, fused_seg


@pytest.mark.parametrize("attention", ["channel", "pixel"])
def test_mscg_64_parameter_count(attention):
    model = MSCG(2, 64, 64, attention=attention)
    assert sum(p.numel() for p in model.parameters()) == 18_296 == mscg_params(64, 64)


@pytest.mark.parametrize("channels", [(256, 256), (16, 8), (3, 2)])
def test_mscg_parameter_formula(channels):
    model = MSCG(2, *channels)
    assert sum(p.numel() for p in model.parameters()) == mscg_params(*channels)


@pytest.mark.parametrize("attention", ["channel", "pixel"])
def test_mscg_matches_reference(attention):
    torch.manual_seed(0)
    model = MSCG(2, 6, 10, hidden_channels=16, attention=attention).eval()
    randomize_bn(model)
    sr, seg = torch.randn(2, 6, 13, 11), torch.randn(2, 10, 13, 11)
    out_sr, out_seg = model(sr, seg)
    ref_sr, ref_seg = reference_mscg(model, sr, seg, attention)
    torch.testing.assert_close(out_sr, ref_sr)
    torch.testing.assert_close(out_seg, ref_seg)


def test_channel_attention_is_spatially_constant_pixel_is_not():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 9, 9)
    for attention, constant in (("channel", True), ("pixel", False)):
        block = MRCAB(2, 8, reduction=4, attention=attention)
        n = block.conv2(block.conv1(x))
        weights = (block(x) - x) / n
        spread = weights.amax(dim=(2, 3)) - weights.amin(dim=(2, 3))
        assert bool((spread < 1e-4).all()) == constant


def test_msconv_branches():
    block = MSConv(2, 32, groups=4)
    b = block.branches
    assert (b[0].kernel_size, b[0].groups) == ((1, 1), 1)
    assert [(c.dilation, c.groups, c.padding) for c in b[1:3]] == [((1, 1), 8, (1, 1)), ((2, 2), 8, (2, 2))]
    # the image-pool branch is constant over space
    y = b[3](torch.randn(2, 8, 5, 7))
    torch.testing.assert_close(y, y[..., :1, :1].expand_as(y))


def test_mscg_gradients_reach_every_parameter_and_script():
    torch.manual_seed(0)
    model = MSCG(2, 8, 8, hidden_channels=16)
    sr, seg = torch.randn(2, 8, 10, 10), torch.randn(2, 8, 10, 10)
    out_sr, out_seg = model(sr, seg)
    (out_sr.square().mean() + out_seg.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    scripted = torch.jit.script(model)
    for a, b in zip(scripted(sr, seg), model(sr, seg)):
        torch.testing.assert_close(a, b)


def test_mscg_3d_shapes():
    model = MSCG(3, 4, 4, hidden_channels=16)
    out_sr, out_seg = model(torch.randn(2, 4, 3, 4, 5), torch.randn(2, 4, 3, 4, 5))
    assert out_sr.shape == out_seg.shape == (2, 4, 3, 4, 5)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="attention"):
        MSCG(2, 8, 8, attention="spatial")
    with pytest.raises(ValueError, match="divisible"):
        MSConv(2, 30, groups=4)
    with pytest.raises(ValueError, match="reduction"):
        MRCAB(2, 4, reduction=8)
