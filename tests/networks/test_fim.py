# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of SuperVessel's FIM against a functional re-implementation of the spec."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.networks import FIM


def fim_params(c_sr: int, c_seg: int, hidden: int = 8) -> int:
    width = 3 * hidden
    return (c_sr + c_seg) * width + width + 3 * (hidden * 9 + hidden) + width * hidden + hidden + hidden + 1


def reference_attention(model: FIM, sr: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    h = F.relu(F.conv2d(torch.cat([sr, seg], 1), model.fuse[0].weight, model.fuse[0].bias))
    chunks = h.chunk(3, dim=1)
    width = chunks[0].shape[1]
    outs = [
        F.conv2d(c, b.weight, b.bias, padding=d, dilation=d, groups=width)
        for c, b, d in zip(chunks, model.spatial.branches, (1, 2, 4))
    ]
    h = torch.cat(outs, 1)
    n, c, hh, ww = h.shape
    h = h.reshape(n, 3, c // 3, hh, ww).transpose(1, 2).reshape(n, c, hh, ww)  # ShuffleNet channel shuffle
    h = F.relu(F.conv2d(h, model.attention_head[0].weight, model.attention_head[0].bias))
    return torch.sigmoid(F.conv2d(h, model.attention_head[2].weight, model.attention_head[2].bias))


def test_fim_parameter_count():
    assert sum(p.numel() for p in FIM(2, 3, 2).parameters()) == 593 == fim_params(3, 2)
    assert sum(p.numel() for p in FIM(2, 3, 5).parameters()) == fim_params(3, 5)


@pytest.mark.parametrize("residual", [True, False])
def test_fim_matches_reference(residual):
    torch.manual_seed(0)
    model = FIM(2, 3, 2, residual=residual)
    sr, seg = torch.randn(2, 3, 17, 14), torch.randn(2, 2, 17, 14)
    att = reference_attention(model, sr, seg)
    assert att.shape == (2, 1, 17, 14) and bool(((att > 0) & (att < 1)).all())
    torch.testing.assert_close(model.attention(sr, seg), att)
    expected = att * seg + seg if residual else att * seg
    torch.testing.assert_close(model(sr, seg), expected)


def test_fim_gradients_and_script():
    torch.manual_seed(0)
    model = FIM(2, 3, 2)
    sr, seg = torch.randn(2, 3, 12, 12), torch.randn(2, 2, 12, 12)
    model(sr, seg).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    torch.testing.assert_close(torch.jit.script(model)(sr, seg), model(sr, seg))


def test_fim_3d():
    assert FIM(3, 3, 2)(torch.randn(1, 3, 4, 5, 6), torch.randn(1, 2, 4, 5, 6)).shape == (1, 2, 4, 5, 6)
