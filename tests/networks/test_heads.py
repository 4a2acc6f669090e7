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
        with pytest.raises(ValueError, match="scale_factor"):
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


@pytest.mark.parametrize("num_classes,prior", [(2, 0.01), (2, 0.3), (5, 0.05)])
def test_segmentation_head_foreground_prior_sets_initial_softmax(num_classes, prior):
    torch.manual_seed(0)
    head = SegmentationHead(2, 8, num_classes, foreground_prior=prior)
    probs = torch.softmax(head(torch.zeros(1, 8, 3, 4)), dim=1)
    expected = torch.full((num_classes,), prior, dtype=torch.float32)
    expected[0] = 1.0 - (num_classes - 1) * prior
    torch.testing.assert_close(probs[0, :, 1, 2], expected)
    # only the bias is set: the weights keep PyTorch's random initialisation, so features still move the logits
    assert head.conv.weight.abs().sum() > 0
    assert not torch.allclose(head(torch.randn(1, 8, 3, 4)), head(torch.zeros(1, 8, 3, 4)))


def test_segmentation_head_without_prior_keeps_default_bias():
    torch.manual_seed(3)
    reference = nn.Conv2d(8, 2, kernel_size=1)
    torch.manual_seed(3)
    head = SegmentationHead(2, 8, 2)
    torch.testing.assert_close(head.conv.bias, reference.bias)


@pytest.mark.parametrize("num_classes,prior", [(2, 0.0), (2, 0.5), (2, -0.1), (4, 0.25), (1, 0.1)])
def test_segmentation_head_rejects_invalid_prior(num_classes, prior):
    with pytest.raises(ValueError, match="foreground_prior"):
        SegmentationHead(2, 8, num_classes, foreground_prior=prior)


def test_dual_stream_net_passes_foreground_prior_to_the_shared_head():
    from monai_ext.networks import BaselineUNet, DualStreamNet

    for net in (
        DualStreamNet(in_channels=1, scale_factor=2, fusion="maf", base_channels=4, foreground_prior=0.01),
        BaselineUNet(in_channels=1, base_channels=4, foreground_prior=0.01),
    ):
        bias = net.seg_head.conv.bias.detach()
        assert bias[0].item() == 0.0
        assert bias[1].item() == pytest.approx(torch.log(torch.tensor(0.01 / 0.99)).item(), rel=1e-6)
