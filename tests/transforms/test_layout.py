# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Our (C, H, W) loaders against MONAI's LoadImage (C, W, H) on non-square JPG, PNG, TIF and GIF files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor, PILReader
from monai.transforms import LoadImage, SaveImage
from PIL import Image

from monai_ext.data import LoadFundusImaged, LoadMaskd
from monai_ext.transforms import ToMonaiSpatialOrderd, to_monai_spatial_order

HEIGHT, WIDTH = 5, 7


def _monai_load(path) -> MetaTensor:
    """MONAI's LoadImage with its PIL reader, palettes resolved to RGB (as our reader does)."""
    reader = PILReader(converter=lambda image: image.convert("RGB") if image.mode == "P" else image)
    return LoadImage(image_only=True, ensure_channel_first=True, reader=reader)(str(path))


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[0, :] = 255  # an asymmetric bright top row: a transposition cannot go unnoticed
    return image


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "gif"])
def test_load_fundus_image_in_monai_order_equals_load_image(ext, rgb, tmp_path):
    path = tmp_path / f"image.{ext}"
    Image.fromarray(rgb).save(path)
    ours = LoadFundusImaged("image")({"image": str(path)})["image"]
    assert tuple(ours.shape) == (3, HEIGHT, WIDTH)
    assert tuple(ours.meta["spatial_shape"]) == (HEIGHT, WIDTH)

    reference = _monai_load(path)
    assert tuple(reference.shape) == (3, WIDTH, HEIGHT)  # MONAI's order for 2D files
    converted = ToMonaiSpatialOrderd("image")({"image": ours})["image"]
    assert isinstance(converted, MetaTensor)
    assert tuple(converted.shape) == tuple(reference.shape)
    assert tuple(converted.meta["spatial_shape"]) == tuple(np.asarray(reference.meta["spatial_shape"]))
    assert converted.meta["spatial_order"] == "WH"
    np.testing.assert_array_equal(converted.numpy(), reference.numpy().astype(np.float32))
    # and back: the swap is its own inverse
    back = to_monai_spatial_order(converted)
    np.testing.assert_array_equal(back.numpy(), ours.numpy())
    assert tuple(back.meta["spatial_shape"]) == (HEIGHT, WIDTH) and back.meta["spatial_order"] == "HW"


@pytest.mark.parametrize("ext", ["png", "tif", "gif"])
def test_label_written_by_monai_lies_on_its_image(ext, tmp_path):
    """A label map converted with ToMonaiSpatialOrderd and saved by MONAI's SaveImage reads back onto its image."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[1, 4:] = 255
    mask[3, 0] = 255
    path = tmp_path / f"mask.{ext}"
    Image.fromarray(mask).save(path)
    label = LoadMaskd("label", ref_key=None)({"label": str(path)})["label"]  # (1, H, W) {0, 1}
    reference = _monai_load(path)
    np.testing.assert_array_equal(to_monai_spatial_order(label).numpy() > 0, reference.numpy()[:1] > 0)

    label_map = ToMonaiSpatialOrderd("label")({"label": label})["label"][0].to(torch.uint8)  # (W, H)
    SaveImage(output_dir=str(tmp_path / "out"), output_ext=".png", output_dtype=np.uint8, scale=None,
              separate_folder=False, output_postfix="saved", writer="PILWriter")(label_map[None])
    (saved,) = (tmp_path / "out").glob("*.png")
    written = np.asarray(Image.open(saved))
    assert written.shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(written > 0, mask > 0)


def test_without_conversion_monai_writes_transposed(tmp_path):
    """Why the conversion exists: our (1, H, W) order handed to SaveImage comes out transposed."""
    label = torch.zeros(1, HEIGHT, WIDTH, dtype=torch.uint8)
    SaveImage(output_dir=str(tmp_path / "out"), output_ext=".png", output_dtype=np.uint8, scale=None,
              separate_folder=False, writer="PILWriter")(label)
    (saved,) = (tmp_path / "out").glob("*.png")
    assert np.asarray(Image.open(saved)).shape == (WIDTH, HEIGHT)


def test_to_monai_spatial_order_arrays_and_errors():
    array = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(to_monai_spatial_order(array), array.T)
    tensor = torch.arange(24).reshape(2, 3, 4)
    assert torch.equal(to_monai_spatial_order(tensor), tensor.transpose(1, 2))
    with pytest.raises(ValueError, match="2D image"):
        to_monai_spatial_order(torch.zeros(1, 2, 3, 4))
    with pytest.raises(KeyError):
        ToMonaiSpatialOrderd("pred")({"image": tensor})
    assert "pred" not in ToMonaiSpatialOrderd("pred", allow_missing_keys=True)({"image": tensor})
