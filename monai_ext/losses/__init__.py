# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.losses."""

from __future__ import annotations
from .class_balanced_ce import ClassBalancedCELoss
from .dual_stream import DualStreamLoss
from .rmi import RMILoss
from .ssim import SSIMLoss
from .saliency import LocalSaliencyLoss, SaliencyWeightedMSELoss
from .vgg_feature import VGGFeatureLoss
from .sample_affinity import RankLoss, SampleAffinityConsistencyLoss, SampleAffinityRegularizationLoss
from .distillation import RecursionDistillationLoss
from .teacher_distillation import TeacherDistillationLoss
from .recursive_l1 import RecursiveL1Loss
from .sai_diagnosis import SAIDiagnosisLoss
from .gan import SRGanDiscriminatorLoss, SRGanGeneratorLoss
from .reduction import REDUCTIONS, reduce_loss, validate_reduction
