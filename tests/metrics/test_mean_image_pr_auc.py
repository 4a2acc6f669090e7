# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""mean_image_pr_auc: the mean of each image's PR-AUC, as the SS-MAF evaluation reports it."""

from __future__ import annotations

import pytest
import torch

from monai_ext.metrics import mean_image_pr_auc, pr_auc


def test_mean_of_per_image_areas_and_a_perfect_image():
    torch.manual_seed(0)
    outputs = [{"pred": torch.randn(2, 6, 7), "label": (torch.rand(6, 7) > 0.7).float()} for _ in range(3)]
    expected = sum(float(pr_auc(torch.softmax(o["pred"], 0)[1], o["label"])) for o in outputs) / 3
    assert mean_image_pr_auc(outputs) == pytest.approx(expected, abs=1e-12)
    # an image whose foreground logits separate the classes perfectly has PR-AUC 1 (trapezoid from recall 0)
    label = torch.zeros(4, 4)
    label[:2] = 1
    pred = torch.stack([torch.zeros(4, 4), label * 10 - 5])
    assert mean_image_pr_auc([{"pred": pred, "label": label}]) == pytest.approx(1.0)
    binned = mean_image_pr_auc(outputs, num_bins=1000)
    assert binned == pytest.approx(expected, abs=0.02)


def test_empty_output_is_refused():
    with pytest.raises(ValueError, match="no image"):
        mean_image_pr_auc([])
