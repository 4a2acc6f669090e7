# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.transforms."""

from __future__ import annotations

from .color import RandColorJitterd, adjust_hue, hsv_to_rgb, rgb_to_hsv
from .geometric import RandShiftRotated
from .labels import ChannelsToClassIndexd, channels_to_class_index
from .layout import SPATIAL_ORDER_KEY, ToMonaiSpatialOrderd, to_monai_spatial_order
from .resolution import LR_METHODS, IntensityRanged, LowResolutionPaird, ResizeToReferenced, resize_image
from .saliency import LocalSaliencyMapd, local_saliency_map
from .resolution import gaussian_downsample
