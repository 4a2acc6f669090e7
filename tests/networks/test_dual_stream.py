# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the dual-stream framework (DS2F, SS-MAF, SuperVessel, baselines) and the spec's counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_ext.networks import MSCG, BaselineUNet, DualStreamNet

ptflops = pytest.importorskip("ptflops")

LR = (3, 292, 438)
HR = (3, 584, 876)
FUSED_KEYS = {"none": set(), "mscg": {"fused_seg", "fused_sr"}, "maf": {"fused_seg", "fused_sr"}, "fim": {"fused_seg"}}


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


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small(backbone: str = "unet", **kwargs) -> DualStreamNet:
    kwargs.setdefault("base_channels", 8 if backbone == "unet" else 4)
    return DualStreamNet(backbone=backbone, **kwargs)


def freeze_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


@pytest.fixture(scope="module")
def full_models():
    """Full-size (base 64) networks on the meta device: parameter and MAC counts without computing anything."""
    with torch.device("meta"):
        return {
            "unet": BaselineUNet().eval(),
            "ds2f": DualStreamNet(fusion="mscg", scale_factor=2).eval(),
            "ss_maf": DualStreamNet(fusion="maf", scale_factor=2).eval(),
            "supervessel": DualStreamNet(fusion="fim", scale_factor=2).eval(),
            "no_fusion": DualStreamNet(fusion="none", scale_factor=2).eval(),
        }


def test_parameter_counts_from_spec(full_models):
    m = full_models
    assert round(n_params(m["ds2f"]) / 1e6, 3) == 39.195
    assert round(n_params(m["ss_maf"]) / 1e6, 3) == 39.187
    assert round(n_params(m["supervessel"]) / 1e6, 3) == 39.177
    assert round(n_params(m["no_fusion"]) / 1e6, 3) == 39.176
    assert round(n_params(m["ds2f"].sr_decoder) / 1e6, 2) == 10.10
    assert n_params(m["ds2f"].sr_head) == 124_288
    assert n_params(m["ds2f"].feature_fusion) == 18_296
    assert n_params(m["ss_maf"].feature_fusion) == 10_216
    assert n_params(m["supervessel"].output_fusion) == 593
    # the dual-stream network = plain U-Net + SR decoder + ESPCN head + fusion module
    parts = n_params(m["unet"]) + n_params(m["ds2f"].sr_decoder) + n_params(m["ds2f"].sr_head) + 18_296
    assert n_params(m["ds2f"]) == parts


def test_inference_cost_equals_plain_unet(full_models):
    ds2f_lr = conv_macs(full_models["ds2f"], LR)
    unet_lr = conv_macs(full_models["unet"], LR)
    unet_hr = conv_macs(full_models["unet"], HR)
    assert ds2f_lr == unet_lr
    assert round(ds2f_lr / 1e9, 2) == 94.98 and round(unet_hr / 1e9, 2) == 376.96
    assert abs(ds2f_lr / unet_hr - 0.25) < 0.005


@pytest.mark.parametrize("name", ["ds2f", "ss_maf"])
def test_inference_ptflops_from_spec(full_models, name):
    macs, _ = ptflops.get_model_complexity_info(
        full_models[name],
        LR,
        backend="pytorch",
        backend_specific_config={"count_functional": False},
        as_strings=False,
        print_per_layer_stat=False,
    )
    assert round(macs / 1e9, 2) == 97.80


@pytest.mark.parametrize("backbone", ["unet", "deeplabv3plus"])
@pytest.mark.parametrize("rate,size", [(1, (32, 48)), (2, (27, 35)), (4, (21, 16)), (8, (11, 13))])
def test_output_shapes(backbone, rate, size):
    torch.manual_seed(0)
    model = small(backbone, fusion="mscg", scale_factor=rate)
    x = torch.randn(2, 3, *size)
    hr = (size[0] * rate, size[1] * rate)
    outputs = model(x)
    assert set(outputs) == {"seg", "sr", "fused_seg", "fused_sr"}
    for key in ("seg", "fused_seg"):
        assert outputs[key].shape == (2, 2, *hr)
    for key in ("sr", "fused_sr"):
        assert outputs[key].shape == (2, 3, *hr)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 2, *hr)


@pytest.mark.parametrize("backbone", ["unet", "deeplabv3plus"])
@pytest.mark.parametrize("fusion", ["none", "mscg", "maf", "fim"])
def test_train_keys_and_eval_skips_sr_stream(backbone, fusion):
    torch.manual_seed(0)
    model = small(backbone, fusion=fusion, scale_factor=2)
    x = torch.randn(2, 3, 24, 20)
    outputs = model(x)
    assert set(outputs) == {"seg", "sr"} | FUSED_KEYS[fusion]
    assert all(torch.isfinite(v).all() for v in outputs.values())

    calls = []
    training_only = [model.sr_decoder, model.sr_head, model.feature_fusion, model.output_fusion]
    for module in filter(None, training_only):
        module.register_forward_hook(lambda *args: calls.append(1))
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert calls == []
    # eval output = the plain segmentation branch of the training forward (BN statistics frozen to compare)
    model.train()
    freeze_bn(model)
    with torch.no_grad():
        torch.testing.assert_close(model(x)["seg"], out)
    assert len(calls) > 0


def test_unet_interp_baseline_upsamples_logits():
    torch.manual_seed(0)
    plain = small(scale_factor=1, super_resolution=False).eval()
    interp = small(scale_factor=2, super_resolution=False).eval()
    interp.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 19, 26)
    with torch.no_grad():
        ref = F.interpolate(plain(x), size=(38, 52), mode="bilinear", align_corners=True)
        torch.testing.assert_close(interp(x), ref)
    interp.train()
    assert set(interp(x)) == {"seg"}


@pytest.mark.parametrize("backbone", ["unet", "deeplabv3plus"])
def test_fused_features_use_the_same_heads(backbone):
    """With MSCG's output gates zeroed the fused features equal the plain ones, so shared heads give equal outputs."""
    torch.manual_seed(0)
    model = small(backbone, fusion="mscg", scale_factor=2)
    fusion = model.feature_fusion
    for gate in (fusion.gate_sr, fusion.gate_seg):
        nn.init.zeros_(gate.weight)
        nn.init.zeros_(gate.bias)
    freeze_bn(model)
    outputs = model(torch.randn(2, 3, 20, 22))
    torch.testing.assert_close(outputs["fused_seg"], outputs["seg"])
    torch.testing.assert_close(outputs["fused_sr"], outputs["sr"])


def test_maf_saturated_attention_doubles_features():
    """MAF attention forced to 1 gives fused = 2 x features; the shared 1x1 seg head is then 2 W f + b."""
    torch.manual_seed(0)
    model = small(fusion="maf", scale_factor=1)
    for att in (model.feature_fusion.sr_attention[0], model.feature_fusion.seg_attention[0]):
        nn.init.zeros_(att.weight)
        nn.init.constant_(att.bias, 100.0)
    freeze_bn(model)
    outputs = model(torch.randn(2, 3, 16, 18))
    bias = model.seg_head.conv.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(outputs["fused_seg"], 2 * (outputs["seg"] - bias) + bias)


@pytest.mark.parametrize("residual", [True, False])
def test_fim_works_on_outputs(residual):
    torch.manual_seed(0)
    model = small(fusion="fim", scale_factor=2, fim_residual=residual)
    outputs = model(torch.randn(2, 3, 14, 15))
    att = model.output_fusion.attention(outputs["sr"], outputs["seg"])
    expected = att * outputs["seg"] + outputs["seg"] if residual else att * outputs["seg"]
    torch.testing.assert_close(outputs["fused_seg"], expected)


def seg_side_grads(fusion: MSCG) -> list:
    return [p.grad for m in (fusion.cross_seg, fusion.gate_seg) for p in m.parameters()]


@pytest.mark.parametrize("backbone,use_fused_seg", [("unet", True), ("deeplabv3plus", True), ("deeplabv3plus", False)])
def test_gradients_reach_fusion_seg_side(backbone, use_fused_seg):
    torch.manual_seed(0)
    model = small(backbone, fusion="mscg", scale_factor=2, use_fused_seg=use_fused_seg)
    outputs = model(torch.randn(2, 3, 20, 20))
    sum(v.square().mean() for v in outputs.values()).backward()
    fusion = model.feature_fusion
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in fusion.gate_sr.parameters())
    grads = seg_side_grads(fusion)
    if use_fused_seg:
        assert all(g is not None and g.abs().sum() > 0 for g in grads)
    else:  # released DeepLabV3+ behaviour: fused seg features discarded
        assert all(g is None for g in grads)
        torch.testing.assert_close(outputs["fused_seg"], outputs["seg"])


@pytest.mark.parametrize("backbone", ["unet", "deeplabv3plus"])
def test_torchscript_trace_and_script(backbone):
    torch.manual_seed(0)
    model = small(backbone, fusion="mscg", scale_factor=2).eval()
    x = torch.randn(2, 3, 25, 30)
    with torch.no_grad():
        eager = model(x)
        traced = torch.jit.trace(model, x)
        torch.testing.assert_close(traced(x), eager)
        other = torch.randn(1, 3, 17, 21)
        torch.testing.assert_close(traced(other), model(other))
        scripted = torch.jit.script(model)
        torch.testing.assert_close(scripted(x), eager)
    scripted.train()
    outputs = scripted(x)
    assert set(outputs) == {"seg", "sr", "fused_seg", "fused_sr"}


@pytest.mark.parametrize("backbone", ["unet", "deeplabv3plus"])
def test_channels_last_input(backbone):
    torch.manual_seed(0)
    model = small(backbone, fusion="maf", scale_factor=2).eval()
    x = torch.randn(2, 3, 22, 26)
    with torch.no_grad():
        torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), model(x))
        model_cl = model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(model_cl(x.contiguous(memory_format=torch.channels_last)), model(x))


def test_dropout_before_seg_head():
    torch.manual_seed(0)
    model = small(scale_factor=2, dropout=0.3)
    assert isinstance(model.seg_head.dropout, nn.Dropout) and model.seg_head.dropout.p == 0.3
    model.eval()
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(model(x), model(x))


def test_three_dimensional_network():
    model = DualStreamNet(spatial_dims=3, base_channels=2, fusion="mscg", scale_factor=2, fusion_hidden_channels=8)
    outputs = model(torch.randn(2, 3, 9, 10, 11))
    assert outputs["seg"].shape == (2, 2, 18, 20, 22) and outputs["fused_sr"].shape == (2, 3, 18, 20, 22)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"backbone": "resnet"}, "backbone"),
        ({"fusion": "cagl"}, "fusion"),
        ({"scale_factor": 0}, "scale_factor"),
        ({"scale_factor": 1.5}, "scale_factor"),
        ({"scale_factor": True}, "scale_factor"),
        ({"fusion": "mscg", "super_resolution": False}, "super_resolution"),
        ({"mscg_attention": "spatial", "fusion": "mscg"}, "attention"),
    ],
)
def test_invalid_configurations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small(**kwargs)
