# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the lesion-channel to class-index conversion."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from monai_ext.transforms import ChannelsToClassIndexd, channels_to_class_index


def test_channels_become_classes_and_later_channels_win():
    masks = torch.zeros(4, 2, 3, dtype=torch.uint8)
    masks[0, 0, 0] = 1  # MA only -> 1
    masks[1, 0, 1] = 255  # HE only -> 2
    masks[2, 1, 2] = 1  # EX -> 3
    masks[0, 1, 0] = masks[3, 1, 0] = 1  # MA and SE overlap -> 4, the later one
    out = channels_to_class_index(masks)
    assert out.dtype == torch.uint8 and out.shape == (1, 2, 3)
    assert out[0].tolist() == [[1, 2, 0], [4, 0, 3]]


def test_dictionary_version_keeps_metadata_and_rejects_bad_input():
    masks = MetaTensor(torch.zeros(2, 4, 5), meta={"filename_or_obj": "IDRiD_01_MA.tif"})
    masks[1, 2, 3] = 1
    out = ChannelsToClassIndexd("label")({"label": masks})["label"]
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "IDRiD_01_MA.tif"
    assert out.shape == (1, 4, 5) and int(out.sum()) == 2 and int(out[0, 2, 3]) == 2
    with pytest.raises(ValueError, match="spatial"):
        channels_to_class_index(torch.zeros(3))
