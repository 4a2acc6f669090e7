# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of MAF and SSC (SS-MAF) against a functional re-implementation of the spec."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_ext.networks import MAF, SSC


def maf_params(c_sr: int, c_seg: int, d: int = 32, groups: int = 4) -> int:
    """Parameter count of MAF from its layer list (spec section 1.4)."""
    g = d // groups
    ssc = (g * g + g) + (groups - 1) * g * g * 9 + 2 * d
    return (c_sr + c_seg) * d + d + ssc + (d * c_sr + c_sr) + (d * c_seg + c_seg)


def reference_maf(model: MAF, sr: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode MAF written from the spec with functional ops and the module's parameters."""
    f = F.conv2d(torch.cat([sr, seg], 1), model.fuse.weight, model.fuse.bias)
    chunks = f.chunk(4, dim=1)
    b = model.ssc.branches
    outs = [F.conv2d(chunks[0], b[0].weight, b[0].bias)]
    for i in (1, 2, 3):
        outs.append(F.conv2d(chunks[i], b[i].weight, None, padding=i, dilation=i))  # full conv, no bias
    norm = model.ssc.norm
    y = F.batch_norm(torch.cat(outs, 1), norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0)
    f = F.relu(y + f)
    sr_att = torch.sigmoid(F.conv2d(f, model.sr_attention[0].weight, model.sr_attention[0].bias))
    seg_att = torch.sigmoid(F.conv2d(f, model.seg_attention[0].weight, model.seg_attention[0].bias))
    return sr_att * sr + sr, seg_att * seg + seg


def test_maf_64_parameter_count():
    model = MAF(2, 64, 64)
    assert sum(p.numel() for p in model.parameters()) == 10_216 == maf_params(64, 64)


@pytest.mark.parametrize("channels", [(256, 256), (12, 4)])
def test_maf_parameter_formula(channels):
    assert sum(p.numel() for p in MAF(2, *channels).parameters()) == maf_params(*channels)


def test_ssc_branches():
    block = SSC(2, 32, groups=4)
    b = block.branches
    assert (b[0].kernel_size, b[0].bias is not None) == ((1, 1), True)
    assert [(c.dilation, c.padding, c.groups, c.bias) for c in b[1:]] == [
        ((1, 1), (1, 1), 1, None),
        ((2, 2), (2, 2), 1, None),
        ((3, 3), (3, 3), 1, None),
    ]


def test_maf_matches_reference():
    torch.manual_seed(0)
    model = MAF(2, 6, 10, hidden_channels=16).eval()
    norm = model.ssc.norm
    norm.running_mean.uniform_(-0.5, 0.5)
    norm.running_var.uniform_(0.5, 1.5)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.uniform_(-0.5, 0.5)
    sr, seg = torch.randn(2, 6, 12, 9), torch.randn(2, 10, 12, 9)
    for out, ref in zip(model(sr, seg), reference_maf(model, sr, seg)):
        torch.testing.assert_close(out, ref)


def test_maf_output_between_input_and_twice_input():
    # att in (0, 1) so att * x + x lies between x and 2x
    torch.manual_seed(0)
    model = MAF(2, 8, 8, hidden_channels=16)
    sr, seg = torch.rand(2, 8, 6, 6) + 0.1, torch.rand(2, 8, 6, 6) + 0.1
    for out, x in zip(model(sr, seg), (sr, seg)):
        assert bool((out > x).all()) and bool((out < 2 * x).all())


def test_maf_gradients_and_script():
    torch.manual_seed(0)
    model = MAF(2, 8, 8, hidden_channels=16)
    sr, seg = torch.randn(2, 8, 10, 10), torch.randn(2, 8, 10, 10)
    out_sr, out_seg = model(sr, seg)
    (out_sr.square().mean() + out_seg.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    for a, b in zip(torch.jit.script(model)(sr, seg), model(sr, seg)):
        torch.testing.assert_close(a, b)


def test_invalid_groups():
    with pytest.raises(ValueError, match="divisible"):
        SSC(2, 30, groups=4)
