# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Every loss checks and applies ``reduction`` through MONAI's ``LossReduction`` (``monai_ext.losses.reduction``)."""

from __future__ import annotations

import pytest
import torch
from monai.utils import LossReduction

import monai_ext.engines
import monai_ext.engines.gan
import monai_ext.losses
import monai_ext.losses.gan
from monai_ext.losses import (
    REDUCTIONS, ClassBalancedCELoss, DualStreamLoss, LocalSaliencyLoss, RankLoss, RecursionDistillationLoss, RMILoss,
    SAIDiagnosisLoss, SaliencyWeightedMSELoss, SampleAffinityConsistencyLoss, SampleAffinityRegularizationLoss,
    SRGanDiscriminatorLoss, SRGanGeneratorLoss, SSIMLoss, VGGFeatureLoss, reduce_loss, validate_reduction,
)

ALL_REDUCTIONS = {
    RMILoss: {}, ClassBalancedCELoss: {}, SSIMLoss: {}, DualStreamLoss: {}, RecursionDistillationLoss: {},
    SampleAffinityConsistencyLoss: {}, SampleAffinityRegularizationLoss: {}, RankLoss: {}, SAIDiagnosisLoss: {},
    SaliencyWeightedMSELoss: {}, LocalSaliencyLoss: {}, VGGFeatureLoss: {"allow_random_weights": True},
    SRGanDiscriminatorLoss: {},
}


def test_validate_reduction():
    assert REDUCTIONS == ("mean", "sum", "none")
    assert validate_reduction("sum", "X") == "sum"
    value = validate_reduction(LossReduction.NONE, "X")
    assert value == "none" and type(value) is str
    with pytest.raises(ValueError, match=r"^X: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'\.$"):
        validate_reduction("avg", "X")
    with pytest.raises(ValueError, match=r"^Y: reduction must be one of \('mean', 'sum'\) \(why\), got 'none'\.$"):
        validate_reduction("none", "Y", allowed=("mean", LossReduction.SUM), why="(why)")


def test_reduce_loss():
    values = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert reduce_loss(values, "mean").item() == 3.0
    assert reduce_loss(values, LossReduction.SUM).item() == 12.0
    assert reduce_loss(values, "none") is values
    with pytest.raises(ValueError):
        reduce_loss(values, "avg")


@pytest.mark.parametrize("loss_class", list(ALL_REDUCTIONS), ids=lambda c: c.__name__)
def test_every_loss_uses_loss_reduction(loss_class):
    kwargs = ALL_REDUCTIONS[loss_class]
    for reduction in REDUCTIONS:
        assert loss_class(reduction=reduction, **kwargs).reduction == reduction
        # a LossReduction member is stored as its plain value, as MONAI's losses do
        stored = loss_class(reduction=LossReduction(reduction), **kwargs).reduction
        assert stored == reduction and type(stored) is str
    with pytest.raises(ValueError, match=rf"^{loss_class.__name__}: reduction must be one of .*got 'avg'\.$"):
        loss_class(reduction="avg", **kwargs)


def test_generator_loss_has_no_none_reduction():
    assert SRGanGeneratorLoss(reduction=LossReduction.SUM).reduction == "sum"
    with pytest.raises(ValueError, match=r"^SRGanGeneratorLoss: reduction must be one of \('mean', 'sum'\) .*'none'"):
        SRGanGeneratorLoss(reduction="none")
    with pytest.raises(ValueError, match="SRGanGeneratorLoss: reduction"):
        SRGanGeneratorLoss(reduction="avg")


def test_gan_losses_moved_to_losses_with_the_old_paths_kept():
    for name in ("SRGanGeneratorLoss", "SRGanDiscriminatorLoss"):
        new = getattr(monai_ext.losses.gan, name)
        assert new.__module__ == "monai_ext.losses.gan"
        assert getattr(monai_ext.losses, name) is new
        assert getattr(monai_ext.engines, name) is new
        assert getattr(monai_ext.engines.gan, name) is new
