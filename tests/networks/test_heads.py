# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the segmentation head and the ESPCN super-resolution head."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_ext.networks import ESPCNHead, SegmentationHead


def espcn_params(in_channels: int, out_channels: int, rate: int) -> int:
    return in_channels * 64 * 25 + 64 * 32 * 9 + 32 * out_channels * rate**2 * 9


@pytest.mark.parametrize("in_channels,rate,expected", [(64, 2, 124_288), (256, 2, 431_488)])
def test_espcn_parameter_counts_from_spec(in_channels, rate, expected):
    head = ESPCNHead(2, in_channels, 3, rate)
    assert sum(p.numel() for p in head.parameters()) == expected == espcn_params(in_channels, 3, rate)


@pytest.mark.parametrize("rate", [1, 2, 4, 8])
def test_espcn_matches_conv_chain_and_pixel_shuffle(rate):
    torch.manual_seed(rate)
    head = ESPCNHead(2, 8, 3, rate)
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3)]
    assert all(c.bias is None for c in convs)
    assert sum(p.numel() for p in head.parameters()) == espcn_params(8, 3, rate)
    x = torch.randn(2, 8, 7, 5)
    ref = torch.tanh(F.conv2d(x, convs[0].weight, padding=2))
    ref = torch.tanh(F.conv2d(ref, convs[1].weight, padding=1))
    ref = F.pixel_shuffle(F.conv2d(ref, convs[2].weight, padding=1), rate)
    out = head(x)
    assert out.shape == (2, 3, 7 * rate, 5 * rate)
    torch.testing.assert_close(out, ref)


def test_espcn_3d_shape():
    assert ESPCNHead(3, 4, 1, 2)(torch.randn(1, 4, 3, 4, 5)).shape == (1, 1, 6, 8, 10)


def test_espcn_invalid_rate():
    for rate in (0, -2, 1.5):
        with pytest.raises(ValueError, match="upscale_rate"):
            ESPCNHead(2, 8, 3, rate)


@pytest.mark.parametrize("align_corners", [True, False])
def test_segmentation_head_resizes_logits(align_corners):
    torch.manual_seed(0)
    head = SegmentationHead(2, 6, 2, align_corners=align_corners)
    assert head.conv.bias is not None and head.conv.kernel_size == (1, 1)
    x = torch.randn(2, 6, 9, 7)
    logits = F.conv2d(x, head.conv.weight, head.conv.bias)
    torch.testing.assert_close(head(x), logits)
    ref = F.interpolate(logits, size=(18, 14), mode="bilinear", align_corners=align_corners)
    torch.testing.assert_close(head(x, [18, 14]), ref)


def test_segmentation_head_dropout():
    head = SegmentationHead(2, 16, 2, dropout=0.5)
    x = torch.randn(2, 16, 8, 8)
    head.train()
    assert not torch.allclose(head(x), head(x))
    head.eval()
    torch.testing.assert_close(head(x), head(x))
    with pytest.raises(ValueError, match="dropout"):
        SegmentationHead(2, 16, 2, dropout=1.0)
