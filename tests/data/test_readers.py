# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Fundus image and mask readers on generated files of every flavour, and their failure modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose
from PIL import Image

from monai_ext.data import (
    CheckPairSized,
    DataError,
    LoadFundusImaged,
    LoadMaskd,
    build_datalist,
    decode_image,
    load_fundus_image,
    load_mask,
)
from monai_ext.data.readers import _channels_last
from tests.data import fakes


@pytest.mark.parametrize("suffix", [".png", ".tif", ".ppm", ".jpg", ".bmp"])
def test_rgb_formats_channel_first_float(tmp_path, suffix):
    array = fakes.rgb(3)
    path = fakes.write(tmp_path / f"image{suffix}", array)
    image = load_fundus_image(path)
    assert isinstance(image, MetaTensor) and image.dtype == torch.float32 and image.shape == (3, 12, 16)
    stored = np.asarray(Image.open(path).convert("RGB")).astype(np.float32)  # lossy JPEG: compare with its decode
    np.testing.assert_array_equal(image.numpy(), stored.transpose(2, 0, 1))
    assert image.meta["filename_or_obj"] == str(path) and list(image.meta["spatial_shape"]) == [12, 16]
    if suffix != ".jpg":
        np.testing.assert_array_equal(image.numpy(), array.transpose(2, 0, 1))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_scaled_to_255(tmp_path, suffix):
    values = np.array([[0, 257, 65535, 1000]], dtype=np.uint16).repeat(3, axis=0)
    path = fakes.write(tmp_path / f"deep{suffix}", values)
    image = load_fundus_image(path, num_channels=None)
    assert image.shape == (1, 3, 4) and image.meta["original_bit_depth"] == 16
    np.testing.assert_allclose(image[0, 0].numpy(), values[0] / 257.0, rtol=1e-6)
    assert load_fundus_image(path).shape == (3, 3, 4)  # replicated


def test_rgba_alpha_dropped_and_grayscale_replicated(tmp_path):
    rgba = np.concatenate([fakes.rgb(1), np.full((12, 16, 1), 7, np.uint8)], axis=-1)
    image = load_fundus_image(fakes.write(tmp_path / "rgba.png", rgba))
    np.testing.assert_array_equal(image.numpy(), rgba[..., :3].transpose(2, 0, 1))
    gray = fakes.rgb(2)[..., 0]
    loaded = load_fundus_image(fakes.write(tmp_path / "gray.png", gray))
    assert loaded.shape == (3, 12, 16)
    for channel in range(3):
        np.testing.assert_array_equal(loaded[channel].numpy(), gray)
    assert load_fundus_image(tmp_path / "gray.png", num_channels=None).shape == (1, 12, 16)
    la = np.stack([gray, np.full_like(gray, 9)], axis=-1)
    np.testing.assert_array_equal(load_fundus_image(fakes.write(tmp_path / "la.png", la), None)[0].numpy(), gray)


def test_palette_gif_resolved_through_palette(tmp_path):
    palette_image = Image.new("P", (16, 12))
    palette_image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    indices = np.zeros((12, 16), np.uint8)
    indices[3:6, 4:9] = 1
    palette_image.putdata(indices.ravel().tolist())
    path = tmp_path / "palette.gif"
    palette_image.save(path)
    image = load_fundus_image(path)
    assert image.meta["original_mode"] == "P"
    np.testing.assert_array_equal(image[1].numpy(), indices * 200.0)  # green of palette entry 1
    mask = load_mask(path)
    np.testing.assert_array_equal(mask[0].numpy(), indices)


def test_single_channel_green_or_luminance(tmp_path):
    array = fakes.rgb(5)
    path = fakes.write(tmp_path / "colour.png", array)
    green = load_fundus_image(path, num_channels=1)
    np.testing.assert_array_equal(green[0].numpy(), array[..., 1])
    luma = load_fundus_image(path, num_channels=1, single_channel="luminance")
    expected = 0.299 * array[..., 0] + 0.587 * array[..., 1] + 0.114 * array[..., 2]
    np.testing.assert_allclose(luma[0].numpy(), expected, atol=1e-3)
    with pytest.raises(ValueError, match="num_channels"):
        load_fundus_image(path, num_channels=2)


def test_bilevel_image_scaled(tmp_path):
    bits = fakes.binary_mask(0) > 0
    path = tmp_path / "bits.png"
    Image.fromarray(bits).save(path)
    image = load_fundus_image(path, num_channels=None)
    np.testing.assert_array_equal(image[0].numpy(), bits * 255.0)


def test_truncated_jpeg_names_file(tmp_path):
    path = fakes.truncated_jpeg(tmp_path / "broken.jpg")
    with pytest.raises(DataError, match=rf"{path}: unreadable or truncated image file") as info:
        load_fundus_image(path)
    assert isinstance(info.value, ValueError)
    with pytest.raises(DataError, match=rf"{path}: unreadable or truncated"):
        LoadFundusImaged()({"image": str(path)})


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path / 'absent.png'}: file not found"):
        load_fundus_image(tmp_path / "absent.png")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png")
    with pytest.raises(DataError, match=rf"{garbage}: unreadable image file"):
        decode_image(garbage)
    fake_tiff = tmp_path / "garbage.tif"
    fake_tiff.write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match=rf"{fake_tiff}: unreadable"):
        decode_image(fake_tiff)


def test_unexpected_channel_counts():
    for channels in (2, 5):
        with pytest.raises(DataError, match=rf"x.tif: unexpected channel count {channels}"):
            _channels_last(np.zeros((4, 4, channels), np.uint8), "x.tif", "tifffile", alpha=False)
    assert _channels_last(np.zeros((4, 4, 2), np.uint8), "x.png", "LA", alpha=True).array.shape == (4, 4, 1)


def test_decompression_bomb_limit_raised_deliberately(tmp_path, monkeypatch):
    path = fakes.write(tmp_path / "big.png", fakes.rgb(0))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # 192 pixels > 2 * 50: PIL alone refuses the file
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path).load()
    assert load_fundus_image(path).shape == (3, 12, 16)
    assert Image.MAX_IMAGE_PIXELS == 50  # PIL's global setting restored
    with pytest.raises(DataError, match="big.png: unreadable"):
        load_fundus_image(path, max_image_pixels=60)


def test_mask_binarised_with_greater_than_zero(tmp_path):
    values = np.array([[0, 1, 128, 255]], dtype=np.uint8).repeat(2, axis=0)
    mask = load_mask(fakes.write(tmp_path / "mask.png", values))
    assert mask.dtype == torch.uint8 and mask.shape == (1, 2, 4)
    np.testing.assert_array_equal(mask[0, 0].numpy(), [0, 1, 1, 1])
    red = np.zeros((2, 4, 3), np.uint8)
    red[:, 2, 0] = 255  # IDRiD-style colour mask: lesion in the red channel only
    np.testing.assert_array_equal(load_mask(fakes.write(tmp_path / "red.tif", red))[0, 0].numpy(), [0, 0, 1, 0])


def test_load_maskd_pipeline_and_empty_masks(tmp_path):
    image = fakes.write(tmp_path / "image.jpg", fakes.rgb(0))
    label = fakes.write(tmp_path / "label.png", fakes.binary_mask(0))
    empty = fakes.write(tmp_path / "empty.png", np.zeros((12, 16), np.uint8))
    pipeline = Compose([LoadFundusImaged(), LoadMaskd(keys=("label", "fov")), CheckPairSized()])
    out = pipeline({"image": str(image), "label": str(label), "fov": str(empty), "id": "image"})
    np.testing.assert_array_equal(out["label"][0].numpy(), fakes.binary_mask(0) > 0)
    assert out["fov"].sum() == 0 and out["fov"].shape == (1, 12, 16)  # no foreground: accepted
    healthy = Compose([LoadFundusImaged(), LoadMaskd()])({"image": str(image), "label": None})
    assert healthy["label"].shape == (1, 12, 16) and healthy["label"].sum() == 0
    assert healthy["label"].meta["missing_channels"] == 1
    not_loaded = LoadMaskd()({"image": str(image), "label": None})  # size read from the image header
    assert not_loaded["label"].shape == (1, 12, 16)
    with pytest.raises(DataError, match="image size is unknown"):
        LoadMaskd(ref_key=None)({"label": None})


def test_multi_lesion_labels_stack_channels(tmp_path):
    image = fakes.write(tmp_path / "image.png", fakes.rgb(0))
    ma = fakes.write(tmp_path / "ma.tif", fakes.binary_mask(1))
    ex = fakes.write(tmp_path / "ex.tif", fakes.binary_mask(2, high=1))
    out = Compose([LoadFundusImaged(), LoadMaskd()])({"image": str(image), "label": [str(ma), None, str(ex)]})
    assert out["label"].shape == (3, 12, 16) and out["label"].dtype == torch.uint8
    np.testing.assert_array_equal(out["label"][0].numpy(), fakes.binary_mask(1) > 0)
    assert out["label"][1].sum() == 0
    np.testing.assert_array_equal(out["label"][2].numpy(), fakes.binary_mask(2) > 0)


def test_mask_of_other_size_names_both_files(tmp_path):
    image = fakes.write(tmp_path / "image.png", fakes.rgb(0))
    small = fakes.write(tmp_path / "small.png", fakes.binary_mask(0, height=10, width=16))
    loaded_image = LoadFundusImaged()({"image": str(image), "label": str(small)})
    with pytest.raises(DataError, match=rf"{small}: mask size 10x16 \(HxW\) differs from image {image}"):
        LoadMaskd()(loaded_image)
    with pytest.raises(RuntimeError) as wrapped:  # MONAI's Compose wraps it; the DataError is the cause
        Compose([LoadFundusImaged(), LoadMaskd()])({"image": str(image), "label": str(small)})
    assert isinstance(wrapped.value.__cause__, DataError) and str(small) in str(wrapped.value.__cause__)
    loaded = Compose([LoadFundusImaged(), LoadMaskd(check_size=False)])({"image": str(image), "label": str(small)})
    with pytest.raises(DataError, match=rf"{small}: mask size 10x16 \(HxW\) differs from image {image} of size 12x16"):
        CheckPairSized()(loaded)


def test_embedded_pairs_load():
    entry = build_datalist("idrid_ex_512", split="test")[0]
    out = Compose([LoadFundusImaged(num_channels=1), LoadMaskd()])(entry)
    assert out["image"].shape == (1, 512, 512) and out["label"].shape == (1, 512, 512)
    assert 0 < int(out["label"].sum()) < 512 * 512 and float(out["image"].max()) <= 255.0
