# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the DeepLabV3+ encoder (MONAI ResNet-50 + ASPP) and decoder."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_ext.networks import ASPP, DeepLabV3PlusDecoder, DeepLabV3PlusEncoder, DualStreamNet

RESNET50_WITHOUT_FC = 25_557_032 - (2048 * 1000 + 1000)  # torchvision resnet50 minus its classifier


def conv_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        positions = output[0].numel()
        total += positions * math.prod(module.kernel_size) * module.in_channels // module.groups
        total += positions if module.bias is not None else 0

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.empty((1, *shape), device=next(model.parameters()).device))
    for h in handles:
        h.remove()
    return total


@pytest.fixture(scope="module")
def full_baseline():
    """DeepLabV3+ ResNet-50 OS8 baseline (3 in, 2 classes) on the meta device."""
    with torch.device("meta"):
        return DualStreamNet(backbone="deeplabv3plus", super_resolution=False, output_stride=8).eval()


def test_baseline_parameter_counts(full_baseline):
    n = sum(p.numel() for p in full_baseline.parameters())
    assert round(n / 1e6, 3) == 40.348
    assert sum(p.numel() for p in full_baseline.encoder.backbone.parameters()) == RESNET50_WITHOUT_FC
    # ASPP: 1x1 + three dilated 3x3 + image-pool 1x1 branches (conv + BN), projection conv + BN + the second BN
    aspp = 2048 * 256 + 3 * 2048 * 256 * 9 + 2048 * 256 + 1280 * 256 + 7 * 2 * 256
    assert sum(p.numel() for p in full_baseline.encoder.aspp.parameters()) == aspp
    decoder = 256 * 48 + 48 + 304 * 256 * 9 + 2 * 256 + 256 * 256 * 9 + 2 * 256
    assert sum(p.numel() for p in full_baseline.seg_decoder.parameters()) == decoder == 1_303_600


def test_baseline_conv_macs(full_baseline):
    assert round(conv_macs(full_baseline, (3, 584, 876)) / 1e9, 2) == 357.53
    assert round(conv_macs(full_baseline, (3, 292, 438)) / 1e9, 2) == 90.49


def test_sr_head_parameter_count():
    with torch.device("meta"):
        model = DualStreamNet(backbone="deeplabv3plus", scale_factor=2, fusion="mscg")
    assert sum(p.numel() for p in model.sr_head.parameters()) == 431_488
    assert sum(p.numel() for p in model.sr_decoder.parameters()) == 1_303_600


def dilations(layer):
    return [block.conv2.dilation[0] for block in layer]


@pytest.mark.parametrize(
    "output_stride,atrous_layer3,layer3,layer4,stride3,rates",
    [
        (8, True, [2] * 6, [4, 8, 16], 1, (12, 24, 36)),
        (8, False, [1] * 6, [2, 4, 8], 1, (12, 24, 36)),
        (16, True, [1] * 6, [2, 4, 8], 2, (6, 12, 18)),
    ],
)
def test_atrous_configuration(output_stride, atrous_layer3, layer3, layer4, stride3, rates):
    encoder = DeepLabV3PlusEncoder(2, 3, 8, output_stride, atrous_layer3).eval()
    net = encoder.backbone
    assert dilations(net.layer3) == layer3 and dilations(net.layer4) == layer4
    assert [b.conv2.padding[0] for b in net.layer4] == layer4
    assert net.layer3[0].conv2.stride == (stride3, stride3) == net.layer3[0].downsample[0].stride
    assert net.layer4[0].conv2.stride == (1, 1) == net.layer4[0].downsample[0].stride
    assert [encoder.aspp.branches[i].conv.dilation[0] for i in (1, 2, 3)] == list(rates)
    low, high = encoder(torch.randn(1, 3, 61, 45))
    assert low.shape == (1, 32, 16, 12)  # 1/4, rounded up
    expected = (8, 6) if output_stride == 8 else (4, 3)  # ceil(61 / os), ceil(45 / os)
    assert high.shape == (1, 32, *expected)


def test_aspp_image_pool_broadcast_matches_bilinear_resize():
    torch.manual_seed(0)
    aspp = ASPP(2, 16, 8, (1, 2, 3)).eval()
    x = torch.randn(2, 16, 7, 9)
    pool = aspp.branches[4]
    pooled = pool.conv(F.adaptive_avg_pool2d(x, 1))
    ref = F.interpolate(pooled, size=(7, 9), mode="bilinear", align_corners=False)
    torch.testing.assert_close(pool(x), ref)
    assert aspp(x).shape == (2, 8, 7, 9)


def test_aspp_train_mode_batch_two():
    aspp = ASPP(2, 16, 8).train()
    assert aspp(torch.randn(2, 16, 5, 5)).shape == (2, 8, 5, 5)


def test_decoder_shapes():
    decoder = DeepLabV3PlusDecoder(2, 32, 32, 12, 32)
    out = decoder([torch.randn(2, 32, 15, 11), torch.randn(2, 32, 8, 6)])
    assert out.shape == (2, 32, 15, 11)
    assert decoder.project_low.bias is not None


def torchvision_layout(state):
    return {k: v for k, v in state.items()}


def imed_layout(state):
    """Rename torchvision/MONAI ResNet keys to the imed_vision layout (conv+BN wrapped in one ``Conv2d``)."""
    out = {}
    for key, value in state.items():
        key = re.sub(r"^conv1\.", "conv1.conv.", key)
        key = re.sub(r"^bn1\.", "conv1.norm_layer.", key)
        key = re.sub(r"^(layer\d\.\d+)\.conv(\d)\.", r"\1.conv\2.conv.", key)
        key = re.sub(r"^(layer\d\.\d+)\.bn(\d)\.", r"\1.conv\2.norm_layer.", key)
        key = re.sub(r"^(layer\d\.0\.downsample)\.0\.", r"\1.0.conv.", key)
        key = re.sub(r"^(layer\d\.0\.downsample)\.1\.", r"\1.0.norm_layer.", key)
        out[key] = value
    return out


@pytest.mark.parametrize("layout", [torchvision_layout, imed_layout])
def test_pretrained_weights_from_local_file(tmp_path, layout):
    torch.manual_seed(0)
    source = DeepLabV3PlusEncoder(2, 3, 8).backbone.state_dict()
    state = {f"module.{k}": v for k, v in layout(source).items()}
    state["module.fc.weight"] = torch.zeros(10, 256)
    path = tmp_path / "resnet50.pth"
    torch.save({"state_dict": state}, path)
    torch.manual_seed(1)
    loaded = DeepLabV3PlusEncoder(2, 3, 8, pretrained_path=path).backbone.state_dict()
    assert loaded.keys() == source.keys()
    for key in source:
        torch.testing.assert_close(loaded[key], source[key])


def test_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        DeepLabV3PlusEncoder(2, 3, 8, pretrained_path=tmp_path / "missing.pth")
    path = tmp_path / "wrong.pth"
    torch.save({"layer1.0.conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="wrong.pth"):
        DeepLabV3PlusEncoder(2, 3, 8, pretrained_path=path)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="output_stride"):
        DeepLabV3PlusEncoder(2, 3, 8, output_stride=32)
    with pytest.raises(ValueError, match="pretrained_backbone"):
        DualStreamNet(backbone="unet", pretrained_backbone="weights.pth")
