# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Writers for segmentation predictions: a label mask and a foreground probability map per image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .folder_inference import PNGPredictionWriter

__all__ = ["SegmentationPNGWriter"]


class SegmentationPNGWriter:
    """Write ``<name>_seg.png`` and, when available, ``<name>_prob.png`` for one image.

    Used as the ``writer`` of :func:`~monai_ext.engines.run_folder_inference`. The mask comes from ``mask_key``: a
    label map, ``(1, H, W)`` or ``(H, W)``, or ``(C, H, W)`` scores reduced by argmax; a binary mask is written as
    0/255. The probability map is channel ``foreground_channel`` of ``prob_key`` (class probabilities, ``(C, H, W)``)
    scaled to 0-255. Both files are written atomically inside the output folder.

    With ``transpose=True`` the tensors are in MONAI's spatial order, ``(C, W, H)`` and ``(W, H)``, as the
    segmentation bundles' ``inference.json`` postprocessing leaves them (its last step,
    :class:`~monai_ext.transforms.ToMonaiSpatialOrderd`, prepares them for MONAI Label): the files are the same.

    Args:
        mask_key: data key of the label map (or class scores).
        prob_key: data key of the class probabilities; skipped when absent or ``None``.
        foreground_channel: channel of ``prob_key`` written as the probability map.
        mask_suffix: file name suffix of the mask.
        prob_suffix: file name suffix of the probability map.
        transpose: the tensors are in MONAI's ``(C, W, H)`` order; swap the spatial axes back before writing.
    """

    def __init__(
        self,
        mask_key: str = "pred",
        prob_key: str | None = "prob",
        foreground_channel: int = 1,
        mask_suffix: str = "_seg.png",
        prob_suffix: str = "_prob.png",
        transpose: bool = False,
    ) -> None:
        self.mask_key = mask_key
        self.prob_key = prob_key
        self.foreground_channel = foreground_channel
        self.transpose = transpose
        self._mask = PNGPredictionWriter(key="mask", suffix=mask_suffix, scale=1.0, transpose=transpose)
        self._prob = PNGPredictionWriter(key="prob", suffix=prob_suffix, scale=255.0, transpose=transpose)

    def __call__(self, data: Mapping[str, Any], output_dir: str, name: str) -> str:
        mask = torch.as_tensor(data[self.mask_key]).detach()
        if mask.ndim == 2:  # a label map without its channel (MONAI Label's layout)
            mask = mask[None]
        if mask.ndim != 3:
            raise ValueError(f"{self.mask_key!r} must be (C, H, W) or (H, W), got shape {tuple(mask.shape)}.")
        if mask.shape[0] > 1:
            mask = mask.argmax(0, keepdim=True)
        mask = mask.round().to(torch.int64)
        if int(mask.max()) <= 1:
            mask = mask * 255
        path = self._mask({"mask": mask}, output_dir, name)
        if self.prob_key is not None and self.prob_key in data:
            probs = torch.as_tensor(data[self.prob_key]).detach()
            channel = probs[self.foreground_channel : self.foreground_channel + 1] if probs.shape[0] > 1 else probs
            self._prob({"prob": channel}, output_dir, name)
        return path
