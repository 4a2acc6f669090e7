# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the VGG16 relu4_1 feature loss."""

from __future__ import annotations

import pytest
import torch

from monai_ext.losses import VGGFeatureLoss
from monai_ext.losses.vgg_feature import IMAGENET_MEAN, IMAGENET_STD, VGG16_LAYER_NAMES, VGG16Features


def _conv_params(widths):
    return sum(cin * cout * 9 + cout for cin, cout in zip(widths[:-1], widths[1:]))


def test_layer_layout_and_parameter_counts():
    assert VGG16_LAYER_NAMES[18] == "relu4_1" and VGG16_LAYER_NAMES[30] == "pool5"
    full = VGG16Features("pool5")
    # torchvision vgg16().features has 14,714,688 parameters
    assert sum(p.numel() for p in full.parameters()) == 14_714_688
    relu41 = VGG16Features("relu4_1")
    assert len(relu41.features) == 19
    assert sum(p.numel() for p in relu41.parameters()) == _conv_params([3, 64, 64, 128, 128, 256, 256, 256, 512])


def test_refuses_random_weights_unless_allowed():
    with pytest.raises(ValueError, match="weights"):
        VGGFeatureLoss()
    VGGFeatureLoss(allow_random_weights=True)


def test_loads_torchvision_style_state_dict(tmp_path):
    torch.manual_seed(0)
    source = VGG16Features("pool5")
    state = dict(source.state_dict())
    state["classifier.0.weight"] = torch.randn(4, 4)
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    loss = VGGFeatureLoss(weights_path=path)
    for key, value in loss.vgg.state_dict().items():
        torch.testing.assert_close(value, state[key])
    short = {k: v for k, v in state.items() if k.startswith("features.0.")}
    torch.save(short, tmp_path / "short.pth")
    with pytest.raises(ValueError, match="lacks"):
        VGGFeatureLoss(weights_path=tmp_path / "short.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        VGGFeatureLoss(weights_path=tmp_path / "missing.pth")


def test_value_matches_manual_normalisation():
    torch.manual_seed(0)
    loss = VGGFeatureLoss(input_range=(-1, 1), allow_random_weights=True)
    x, y = torch.rand(2, 3, 16, 20) * 2 - 1, torch.rand(2, 3, 16, 20) * 2 - 1
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def feats(t):
        return loss.vgg(((t + 1) / 2 - mean) / std)

    torch.testing.assert_close(loss(x, y), ((feats(x) - feats(y)) ** 2).mean())
    assert loss(x, x).item() == 0.0
    gray = VGGFeatureLoss(allow_random_weights=True)(x[:, :1], y[:, :1])
    assert torch.isfinite(gray) and gray > 0
    assert VGGFeatureLoss(reduction="none", allow_random_weights=True)(x, y).shape == (2, 512, 2, 2)


def test_gradients_reach_input_not_vgg():
    torch.manual_seed(0)
    loss_fn = VGGFeatureLoss(allow_random_weights=True).double()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: loss_fn(t, y), (x,))
    assert all(not p.requires_grad for p in loss_fn.parameters())
    loss_fn.train()
    assert not loss_fn.vgg.training


def test_invalid_arguments():
    with pytest.raises(ValueError, match="layer"):
        VGGFeatureLoss(layer="relu6_1", allow_random_weights=True)
    with pytest.raises(ValueError, match="criterion"):
        VGGFeatureLoss(criterion="huber", allow_random_weights=True)
    with pytest.raises(ValueError, match="reduction"):
        VGGFeatureLoss(reduction="avg", allow_random_weights=True)
