# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.networks."""

from __future__ import annotations
from .mrcnet import MRCNet
from .sai import SAIDiagnosisNet, SAIFramework, SampleAffinityInteraction
from .srgan import CascadedSRGenerator, SRDiscriminator, SRGenerator
from .deeplab import ASPP, DeepLabV3PlusDecoder, DeepLabV3PlusEncoder, load_resnet50_weights
from .dual_stream import DualStreamNet, UNet
from .fim import FIM
from .heads import ESPCNHead, SegmentationHead
from .maf import MAF, SSC
from .mscg import MRCAB, MSCG, MSConv
from .unet import DoubleConv, UNetDecoder, UNetEncoder
