# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Batch preparation for MONAI engines whose loss takes a dict of targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.engines.utils import PrepareBatch

__all__ = ["DualStreamPrepareBatch"]


class DualStreamPrepareBatch(PrepareBatch):
    """Turn a collated dual-stream batch into ``(inputs, targets)`` for ``SupervisedTrainer``.

    ``inputs`` is the low-resolution image; ``targets`` is a dict with the entries the composite loss needs
    (``label`` at HR, ``hr_image`` as the super-resolution target, ``intensity_range``), keeping only those
    present in the batch, so the same callable serves the plain baseline (no ``hr_image``) and the SR models.

    Args:
        image_key: key of the network input.
        target_keys: keys copied into the targets dict.
        label_dtype: dtype the label is cast to (class indices for cross-entropy).
    """

    def __init__(
        self,
        image_key: str = "image",
        target_keys: Sequence[str] = ("label", "hr_image", "intensity_range"),
        label_dtype: torch.dtype = torch.long,
    ) -> None:
        self.image_key = image_key
        self.target_keys = tuple(target_keys)
        self.label_dtype = label_dtype

    def __call__(
        self,
        batchdata: Mapping[str, Any],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.image_key not in batchdata:
            raise KeyError(f"The batch has no {self.image_key!r} entry; it has {sorted(batchdata)}.")
        inputs = torch.as_tensor(batchdata[self.image_key]).to(device=device, non_blocking=non_blocking, **kwargs)
        targets: dict[str, torch.Tensor] = {}
        for key in self.target_keys:
            value = batchdata.get(key)
            if isinstance(value, torch.Tensor):
                value = value.as_tensor() if hasattr(value, "as_tensor") else value
                if key == "label":
                    value = value.to(self.label_dtype)
                targets[key] = value.to(device=device, non_blocking=non_blocking, **kwargs)
        return inputs, targets
