# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of ``DualStreamNet(checkpoint_training_branch=True)``: activation checkpointing of the training-only branch.

The option must change memory only: the same outputs, gradients and BatchNorm running statistics as without it, and
no activation of the SR stream or the fusion module kept for backward.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn as nn

from monai_ext.networks import DualStreamNet

TRAINING_ONLY = ("sr_decoder", "sr_head", "feature_fusion", "output_fusion")


def tiny(backbone: str = "unet", **kwargs) -> DualStreamNet:
    kwargs.setdefault("base_channels", 8 if backbone == "unet" else 4)
    return DualStreamNet(backbone=backbone, scale_factor=2, **kwargs).double()


def weighted_loss(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    # a different weight for every output element, so that every gradient path is checked
    return sum(
        (v * torch.linspace(-1.0, 1.0, v.numel(), dtype=v.dtype).view_as(v)).sum() for _, v in sorted(outputs.items())
    )


def run_step(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)  # same dropout masks in both runs
    outputs = model(x)
    weighted_loss(outputs).backward()
    return {k: v.detach() for k, v in outputs.items()}


@pytest.mark.parametrize(
    "backbone,fusion,dropout",
    [("unet", "mscg", 0.0), ("unet", "mscg", 0.3), ("unet", "maf", 0.0), ("unet", "fim", 0.0),
     ("unet", "none", 0.0), ("deeplabv3plus", "mscg", 0.0)],
)
def test_same_outputs_gradients_and_running_stats(backbone, fusion, dropout):
    torch.manual_seed(0)
    plain = tiny(backbone, fusion=fusion, dropout=dropout)
    recomputed = copy.deepcopy(plain)
    recomputed.checkpoint_training_branch = True
    x = torch.randn(2, 3, 20, 22, dtype=torch.float64)
    expected, actual = run_step(plain, x), run_step(recomputed, x)
    assert set(actual) == set(expected)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-10, atol=1e-12)
    grads = 0
    for (name, p), q in zip(plain.named_parameters(), recomputed.parameters()):
        if p.grad is None:
            assert q.grad is None, name
            continue
        grads += 1
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-10, atol=1e-12, msg=name)
    assert grads > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in recomputed.sr_decoder.parameters())
    # the recomputation must not update the BatchNorm running statistics a second time
    for (name, a), b in zip(plain.named_buffers(), recomputed.buffers()):
        assert torch.equal(a, b), name


def test_constructor_option_and_eval_mode():
    torch.manual_seed(0)
    model = tiny(fusion="mscg", checkpoint_training_branch=True)
    assert model.checkpoint_training_branch is True
    assert tiny(fusion="mscg").checkpoint_training_branch is False
    x = torch.randn(1, 3, 12, 14, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        reference = copy.deepcopy(model)
        reference.checkpoint_training_branch = False
        torch.testing.assert_close(model(x), reference(x))


def saved_for_backward(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(number of elements saved for backward, of them saved inside a training-only module) in one forward pass."""
    # modules of the training-only parts, less the ReLU instance the U-Net shares with the encoder and seg decoder
    shared = {id(m) for name, child in model.named_children() if name not in TRAINING_ONLY for m in child.modules()}
    branch = {
        id(m): m for name in TRAINING_ONLY if getattr(model, name) is not None for m in getattr(model, name).modules()
    }
    depth = [0]
    handles = []
    for key, m in branch.items():
        if key not in shared:
            handles.append(m.register_forward_pre_hook(lambda *_: depth.__setitem__(0, depth[0] + 1)))
            handles.append(m.register_forward_hook(lambda *_: depth.__setitem__(0, depth[0] - 1)))
    total, inside = [0], [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        total[0] += t.numel()
        inside[0] += t.numel() if depth[0] > 0 else 0
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    for h in handles:
        h.remove()
    return total[0], inside[0]


def test_saves_only_segment_inputs_for_the_training_branch():
    torch.manual_seed(0)
    b, n, h, w = 8, 2, 20, 22
    plain = tiny(fusion="mscg", base_channels=b)
    recomputed = copy.deepcopy(plain)
    recomputed.checkpoint_training_branch = True
    seg_only = tiny(fusion="none", super_resolution=False, base_channels=b)
    x = torch.randn(n, 3, h, w, dtype=torch.float64)

    plain_total, plain_inside = saved_for_backward(plain, x)
    total, inside = saved_for_backward(recomputed, x)
    seg_total, _ = saved_for_backward(seg_only, x)
    assert plain_inside > 0 and inside == 0
    # What remains of the training branch are the inputs of the recomputed segments (references, mostly to tensors
    # that exist anyway): per U-Net decoder stage its input and skip, the SR head's input, the fusion's two inputs.
    sizes = [(h, w)]
    for _ in range(4):  # encoder pools: 3x3 / stride 2 / padding 1, i.e. ceil(s / 2)
        sizes.append(tuple(math.ceil(s / 2) for s in sizes[-1]))
    maps = [n * b * 2**i * sizes[i][0] * sizes[i][1] for i in range(5)]  # skips 1..4 and bottleneck, finest first
    stage_inputs = sum(maps[i + 1] + maps[i] for i in range(4))  # coarser input (same size as the next skip) + skip
    segment_inputs = stage_inputs + maps[0] + 2 * maps[0]  # SR head: sr features; fusion: sr and seg features
    assert total == seg_total + segment_inputs
    assert total < 0.5 * plain_total


def test_torchscript_ignores_the_option():
    torch.manual_seed(0)
    model = tiny(fusion="mscg", checkpoint_training_branch=True)
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 16, 18, dtype=torch.float64)
    scripted.train()
    assert set(scripted(x)) == {"seg", "sr", "fused_seg", "fused_sr"}
    scripted.eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))
