# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.networks."""

from __future__ import annotations

from typing import Any

from ..utils.deprecation import renamed_attribute
from .mrcnet import MRCNet
from .sai import SAIDiagnosisNet, SAIFramework, SampleAffinityInteraction
from .srgan import CascadedSRGenerator, SRDiscriminator, SRGenerator
from .deeplab import ASPP, DeepLabV3PlusDecoder, DeepLabV3PlusEncoder, load_resnet50_weights
from .dual_stream import BaselineUNet, DualStreamNet
from .fim import FIM
from .heads import ESPCNHead, SegmentationHead
from .maf import MAF, SSC
from .mscg import MRCAB, MSCG, MSConv
from .unet import DoubleConv, UNetDecoder, UNetEncoder

#: old name -> new name of the networks renamed in place (kept for one release).
RENAMED_NAMES = {"UNet": "BaselineUNet"}


def __getattr__(name: str) -> Any:
    return renamed_attribute(__name__, name, RENAMED_NAMES)
