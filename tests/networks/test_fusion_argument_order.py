# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""MSCG, MAF and FIM take ``spatial_dims`` first (MONAI's order); calls in the former order fail loudly."""

from __future__ import annotations

import pytest
import torch

from monai_ext.networks import FIM, MAF, MSCG


@pytest.mark.parametrize("module", [MSCG, MAF, FIM])
def test_spatial_dims_first_and_old_positional_calls_fail_with_the_new_order(module):
    net = module(2, 8, 4, 8) if module is not FIM else module(2, 3, 2, 4)
    sr_channels, seg_channels = (8, 4) if module is not FIM else (3, 2)
    sr, seg = torch.randn(1, sr_channels, 8, 8), torch.randn(1, seg_channels, 8, 8)
    out = net(sr, seg)
    shapes = [o.shape for o in out] if isinstance(out, tuple) else [out.shape]
    assert shapes[-1] == seg.shape
    # the former order put channel counts first: (64, 64, 32) now reads spatial_dims=64
    message = rf"{module.__name__}: spatial_dims must be 1, 2 or 3, got 64; it is the first"
    with pytest.raises(ValueError, match=message):
        module(64, 64, 32)
    with pytest.raises(TypeError, match="seg_channels"):
        module(3, 2)
