# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Readers for fundus images and their masks, as MONAI dictionary transforms.

Fundus datasets come as JPEG, PNG, TIFF, GIF and PPM files in every flavour: 8- and 16-bit, RGB, RGBA, grayscale,
palette and bilevel. :func:`decode_image` turns any of them into one ``(H, W, C)`` array (``C`` = 1 or 3, alpha
dropped, palette resolved) with its bit depth, and fails with a :class:`~monai_ext.data.errors.DataError` naming the
file and the problem. On top of it:

* :class:`LoadFundusImaged` gives a float32 channel-first ``MetaTensor`` in ``[0, 255]``;
* :class:`LoadMaskd` gives a ``(1, H, W)`` (or one channel per lesion type) uint8 ``{0, 1}`` mask, ``> 0`` being
  foreground, and an all-zero mask of the image size when the label path is ``None`` (an image without lesions);
* :class:`CheckPairSized` checks that loaded masks have the spatial size of their image.

PIL reads everything; ``tifffile`` is used, when installed, only for TIFF files PIL cannot open.

Decompression-bomb limit: PIL refuses images above ``2 * Image.MAX_IMAGE_PIXELS`` (about 179 megapixels by default)
and warns above it. Fundus and ultra-widefield images are large but trusted, so the readers raise the limit to
:data:`DEFAULT_MAX_IMAGE_PIXELS` (2**30, about 1.07 gigapixels) while they open a file, and restore PIL's value right
after; pass ``max_image_pixels=None`` to switch the check off. The global PIL setting is never changed permanently.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from PIL import Image

from ..utils.image_files import IMAGE_SUFFIXES
from .errors import DataError

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "IMAGE_SUFFIXES",
    "DecodedImage",
    "decode_image",
    "read_image_size",
    "load_fundus_image",
    "load_mask",
    "LoadFundusImaged",
    "LoadMaskd",
    "CheckPairSized",
]

#: pixel count up to which PIL opens files silently inside these readers (it refuses twice this many).
DEFAULT_MAX_IMAGE_PIXELS = 1 << 30

# IMAGE_SUFFIXES, the file suffixes (lower case) the dataset layouts treat as images or masks, is defined in
# monai_ext.utils.image_files and re-exported here.

_TIFF_SUFFIXES = (".tif", ".tiff")
_ALPHA_MODES = {"RGBA": "RGBA", "RGBa": "RGBA", "LA": "LA", "La": "LA", "PA": "RGBA"}
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_SINGLE_CHANNEL_CHOICES = ("green", "luminance")
# ITU-R BT.601 luma weights, the ones PIL uses for its "L" conversion.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class DecodedImage:
    """A fully decoded image file.

    Attributes:
        array: ``(H, W, C)`` array with ``C`` = 1 or 3 (alpha dropped, palette resolved), dtype uint8, uint16,
            uint32 or float32 as stored.
        bit_depth: bits per sample of the stored values (1 for bilevel files, 8, 16 or 32); 0 for floating point
            files, whose values are taken as they are.
        mode: PIL mode of the file (``"tifffile"`` when read with tifffile).
        source_channels: channels in the file, alpha included.
        alpha_dropped: whether an alpha channel was removed.
    """

    array: np.ndarray
    bit_depth: int
    mode: str
    source_channels: int
    alpha_dropped: bool

    @property
    def spatial_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the image."""
        return int(self.array.shape[0]), int(self.array.shape[1])

    @property
    def is_palette(self) -> bool:
        """Whether the file stores palette indices (GIF and palette PNG)."""
        return self.mode in ("P", "PA")


_PIXEL_LIMIT_LOCK = threading.Lock()


def _open(path: str, max_image_pixels: int | None) -> Image.Image:
    """``Image.open`` with PIL's decompression-bomb limit raised to ``max_image_pixels`` (``None``: no limit).

    PIL checks the limit in ``Image.open`` only, so the global is changed and restored around that call alone, under
    a lock (thread-safe); decoding happens afterwards, outside the lock.
    """
    with _PIXEL_LIMIT_LOCK:
        previous = Image.MAX_IMAGE_PIXELS
        if max_image_pixels is None:
            Image.MAX_IMAGE_PIXELS = None
        elif previous is not None and previous < max_image_pixels:
            Image.MAX_IMAGE_PIXELS = int(max_image_pixels)
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _check_exists(path: str) -> None:
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")


def _channels_last(array: np.ndarray, path: str, mode: str, alpha: bool) -> DecodedImage:
    """Bring a decoded ``(H, W)`` or ``(H, W, C)`` array to ``(H, W, 1|3)``, dropping alpha; check the channels."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise DataError(f"{path}: unexpected array shape {tuple(array.shape)}; expected (H, W) or (H, W, C)")
    channels = int(array.shape[-1])
    if channels == 2 and alpha:
        return DecodedImage(array[..., :1], 0, mode, 2, True)
    if channels == 4:
        return DecodedImage(array[..., :3], 0, mode, 4, True)
    if channels not in (1, 3):
        raise DataError(
            f"{path}: unexpected channel count {channels}; expected 1 (grayscale), 3 (RGB) or 4 (RGBA)"
        )
    return DecodedImage(array, 0, mode, channels, False)


def _decode_with_pil(image: Image.Image, path: str) -> DecodedImage:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in _ALPHA_MODES and mode != _ALPHA_MODES[mode]:
        image = image.convert(_ALPHA_MODES[mode])
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        image = image.convert("RGB")
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F") and mode not in _SIXTEEN_BIT_MODES:
        try:
            image = image.convert("RGB")
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: unsupported image mode {mode!r} ({exc})") from exc
    array = np.asarray(image)
    decoded = _channels_last(array, path, mode, alpha=image.mode in ("LA", "RGBA"))
    if mode == "1":
        decoded.array, decoded.bit_depth = decoded.array.astype(np.uint8), 1
    elif mode in _SIXTEEN_BIT_MODES:
        decoded.array, decoded.bit_depth = decoded.array.astype(np.uint16), 16
    elif mode == "I":
        # PIL's 32-bit integer mode mostly carries 16-bit samples (older PNG/TIFF decoders); wider values are 32-bit.
        low, high = int(decoded.array.min()), int(decoded.array.max())
        if low < 0:
            raise DataError(f"{path}: negative pixel values ({low}) in a 32-bit integer image are not supported")
        if high <= 0xFFFF:
            decoded.array, decoded.bit_depth = decoded.array.astype(np.uint16), 16
        else:
            decoded.array, decoded.bit_depth = decoded.array.astype(np.uint32), 32
    elif mode == "F":
        decoded.array, decoded.bit_depth = decoded.array.astype(np.float32), 0
    else:
        decoded.bit_depth = 8
    return decoded


def _decode_with_tifffile(path: str, pil_error: Exception) -> DecodedImage:
    try:
        import tifffile  # optional dependency, only for TIFF flavours PIL cannot open
    except ImportError:
        raise DataError(f"{path}: unreadable image file ({pil_error}); installing tifffile may help") from pil_error
    try:
        array = np.asarray(tifffile.imread(path))
    except Exception as exc:
        raise DataError(f"{path}: unreadable TIFF file ({exc})") from exc
    array = np.squeeze(array) if array.ndim > 3 else array
    decoded = _channels_last(array, path, "tifffile", alpha=False)
    kind = decoded.array.dtype
    if kind == np.bool_:
        decoded.array, decoded.bit_depth = decoded.array.astype(np.uint8), 1
    elif kind == np.uint8:
        decoded.bit_depth = 8
    elif kind == np.uint16:
        decoded.bit_depth = 16
    elif kind == np.uint32:
        decoded.bit_depth = 32
    elif np.issubdtype(kind, np.floating):
        decoded.array, decoded.bit_depth = decoded.array.astype(np.float32), 0
    else:
        raise DataError(f"{path}: unsupported TIFF sample type {kind}")
    return decoded


def decode_image(path: str | os.PathLike, max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> DecodedImage:
    """Decode an image file fully (not just its header).

    Args:
        path: image file (jpg, png, tif, gif, ppm, bmp, ...).
        max_image_pixels: PIL decompression-bomb limit used while opening the file; ``None`` disables the check.

    Returns:
        The :class:`DecodedImage`.

    Raises:
        DataError: when the file is missing, unreadable or truncated, or has an unexpected channel count
            (2 channels without alpha, or more than 4).
    """
    path = os.fspath(path)
    _check_exists(path)
    try:
        with _open(path, max_image_pixels) as image:
            image.load()
            return _decode_with_pil(image, path)
    except DataError:
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, EOFError, ... for broken files
        is_tiff = path.lower().endswith(_TIFF_SUFFIXES)
        if is_tiff and (isinstance(exc, Image.UnidentifiedImageError) or importlib.util.find_spec("tifffile")):
            return _decode_with_tifffile(path, exc)
        if isinstance(exc, Image.UnidentifiedImageError):
            raise DataError(f"{path}: unreadable image file (not a recognised image format)") from exc
        raise DataError(f"{path}: unreadable or truncated image file ({type(exc).__name__}: {exc})") from exc


def read_image_size(
    path: str | os.PathLike, max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
) -> tuple[int, int]:
    """Return ``(H, W)`` of an image file from its header, without decoding the pixels.

    Raises:
        DataError: when the file is missing or its header cannot be read.
    """
    path = os.fspath(path)
    _check_exists(path)
    try:
        with _open(path, max_image_pixels) as image:
            width, height = image.size
    except Exception as exc:
        if path.lower().endswith(_TIFF_SUFFIXES):
            return decode_image(path, max_image_pixels).spatial_shape
        raise DataError(f"{path}: unreadable image header ({type(exc).__name__}: {exc})") from exc
    return int(height), int(width)


def _to_unit_255(decoded: DecodedImage) -> np.ndarray:
    """Scale the stored values to float32 ``[0, 255]``: ``value * 255 / (2**bit_depth - 1)``."""
    array = decoded.array.astype(np.float32)
    if decoded.bit_depth not in (0, 8):
        array *= np.float32(255.0 / float(2**decoded.bit_depth - 1))
    return array


def _image_meta(path: str, decoded: DecodedImage) -> dict[str, Any]:
    return {
        "filename_or_obj": path,
        "spatial_shape": np.asarray(decoded.spatial_shape, dtype=np.int64),
        "original_channel_dim": 0,
        "original_mode": decoded.mode,
        "original_bit_depth": decoded.bit_depth,
        "original_channels": decoded.source_channels,
    }


def load_fundus_image(
    path: str | os.PathLike,
    num_channels: int | None = 3,
    single_channel: str = "green",
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
) -> MetaTensor:
    """Load an image as a float32 channel-first ``MetaTensor`` in ``[0, 255]``.

    Args:
        path: image file.
        num_channels: 3 (grayscale replicated), 1 (``single_channel`` of colour images) or ``None`` (as stored).
        single_channel: ``"green"`` (the usual choice for vessels and lesions) or ``"luminance"``
            (ITU-R BT.601, as PIL's ``"L"``), used when ``num_channels=1`` and the file is colour.
        max_image_pixels: see :func:`decode_image`.

    Returns:
        ``(C, H, W)`` float32 ``MetaTensor``; 16-bit files are divided by 257, bilevel files give 0/255. Its ``meta``
        holds ``filename_or_obj``, ``spatial_shape`` (original ``(H, W)``), ``original_channel_dim`` (0),
        ``original_mode``, ``original_bit_depth`` and ``original_channels``.

    Raises:
        DataError: for unreadable files and unexpected channel counts (see :func:`decode_image`).
        ValueError: for an invalid ``num_channels`` or ``single_channel``.
    """
    if num_channels not in (1, 3, None):
        raise ValueError(f"num_channels must be 1, 3 or None, got {num_channels!r}")
    if single_channel not in _SINGLE_CHANNEL_CHOICES:
        raise ValueError(f"single_channel must be one of {_SINGLE_CHANNEL_CHOICES}, got {single_channel!r}")
    path = os.fspath(path)
    decoded = decode_image(path, max_image_pixels)
    array = _to_unit_255(decoded)
    channels = array.shape[-1]
    if num_channels == 3 and channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif num_channels == 1 and channels == 3:
        array = array[..., 1:2] if single_channel == "green" else (array @ _LUMA_WEIGHTS)[..., None]
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return MetaTensor(tensor, meta=_image_meta(path, decoded))


def _mask_array(path: str, max_image_pixels: int | None) -> tuple[np.ndarray, DecodedImage]:
    """(H, W) bool foreground of a mask file: any colour channel > 0."""
    decoded = decode_image(path, max_image_pixels)
    return decoded.array.max(axis=-1) > 0, decoded


def load_mask(
    path: str | os.PathLike | None | Sequence[str | os.PathLike | None],
    spatial_shape: Sequence[int] | None = None,
    allow_missing: bool = True,
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
    reference_name: str = "the paired image",
) -> MetaTensor:
    """Load a binary mask as a ``(1, H, W)`` uint8 ``{0, 1}`` ``MetaTensor`` (foreground = any channel ``> 0``).

    Args:
        path: mask file; ``None`` for an image without foreground (e.g. a healthy image without a lesion mask),
            which gives an all-zero mask of ``spatial_shape``; or a sequence of those (one per lesion type), which
            gives one channel each, in order.
        spatial_shape: ``(H, W)`` of the paired image. Required for ``None`` paths; when given, every mask file must
            have this size.
        allow_missing: accept ``None`` paths.
        max_image_pixels: see :func:`decode_image`.
        reference_name: how error messages name the source of ``spatial_shape`` (e.g. the image file).

    Returns:
        ``(L, H, W)`` uint8 ``MetaTensor`` (``L`` = 1 for a single path); ``meta`` holds ``filename_or_obj`` (the first
        file, ``""`` when none), ``source_files`` (all files joined by ``"|"``, ``""`` for missing ones),
        ``spatial_shape`` and ``missing_channels`` (how many channels came from ``None``).

    Raises:
        DataError: for unreadable files, a mask whose size differs from ``spatial_shape`` (or from the other masks),
            a ``None`` path with ``allow_missing=False`` or without ``spatial_shape``.
    """
    single = path is None or isinstance(path, (str, os.PathLike))
    paths = [path] if single else list(path)
    if not paths:
        raise DataError("empty list of mask paths")
    expected = None if spatial_shape is None else (int(spatial_shape[-2]), int(spatial_shape[-1]))
    expected_from = reference_name
    planes: list[np.ndarray | None] = []
    for item in paths:
        if item is None:
            if not allow_missing:
                raise DataError("mask path is None and allow_missing=False")
            planes.append(None)
            continue
        item = os.fspath(item)
        plane, _ = _mask_array(item, max_image_pixels)
        if expected is not None and plane.shape != expected:
            raise DataError(
                f"{item}: mask size {plane.shape[0]}x{plane.shape[1]} (HxW) differs from {expected_from} "
                f"{expected[0]}x{expected[1]}"
            )
        if expected is None:
            expected, expected_from = plane.shape, f"mask {item}"
        planes.append(plane)
    if expected is None:
        raise DataError("mask path is None and the image size is unknown: load the image first (ref_key)")
    stacked = np.zeros((len(planes), *expected), dtype=np.uint8)
    for index, plane in enumerate(planes):
        if plane is not None:
            stacked[index] = plane
    files = ["" if item is None else os.fspath(item) for item in paths]
    meta = {
        "filename_or_obj": next((f for f in files if f), ""),
        "source_files": "|".join(files),
        "spatial_shape": np.asarray(expected, dtype=np.int64),
        "original_channel_dim": 0,
        "missing_channels": sum(plane is None for plane in planes),
    }
    return MetaTensor(torch.from_numpy(stacked), meta=meta)


def _reference_shape(value: Any, max_image_pixels: int | None) -> tuple[int, int] | None:
    """Original ``(H, W)`` of a loaded (or not yet loaded) reference image."""
    if isinstance(value, MetaTensor) and "spatial_shape" in value.meta:
        shape = np.asarray(value.meta["spatial_shape"]).reshape(-1)
        return int(shape[-2]), int(shape[-1])
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return int(value.shape[-2]), int(value.shape[-1])
    if isinstance(value, (str, os.PathLike)):
        return read_image_size(value, max_image_pixels)
    return None


def _file_of(value: Any) -> str:
    if isinstance(value, MetaTensor):
        return str(value.meta.get("filename_or_obj", "<unknown file>"))
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return "<in-memory array>"


class LoadFundusImaged(MapTransform):
    """Dictionary transform that loads fundus images with :func:`load_fundus_image`.

    The result replaces the path: a float32 ``(C, H, W)`` ``MetaTensor`` in ``[0, 255]`` whose ``meta`` keeps the
    file name (``filename_or_obj``) and the original size (``spatial_shape``).

    Args:
        keys: keys of the image paths.
        num_channels: 3, 1 or ``None`` (see :func:`load_fundus_image`).
        single_channel: ``"green"`` or ``"luminance"`` for ``num_channels=1``.
        max_image_pixels: PIL decompression-bomb limit while reading; ``None`` disables it.
        allow_missing_keys: do not raise when a key is absent.

    Raises:
        DataError: naming the file, for unreadable or truncated files and unexpected channel counts.
    """

    def __init__(
        self,
        keys: KeysCollection = "image",
        num_channels: int | None = 3,
        single_channel: str = "green",
        max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if num_channels not in (1, 3, None):
            raise ValueError(f"num_channels must be 1, 3 or None, got {num_channels!r}")
        if single_channel not in _SINGLE_CHANNEL_CHOICES:
            raise ValueError(f"single_channel must be one of {_SINGLE_CHANNEL_CHOICES}, got {single_channel!r}")
        self.num_channels = num_channels
        self.single_channel = single_channel
        self.max_image_pixels = max_image_pixels

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = load_fundus_image(d[key], self.num_channels, self.single_channel, self.max_image_pixels)
        return d


class LoadMaskd(MapTransform):
    """Dictionary transform that loads binary masks (labels, FOV masks) with :func:`load_mask`.

    Each path becomes a ``(1, H, W)`` uint8 ``{0, 1}`` ``MetaTensor`` (``> 0`` is foreground, whatever the file's
    0/1, 0/255, palette or colour encoding); a list of paths (one per lesion type) becomes one channel each. A
    ``None`` path is an image without foreground (for example a healthy E-Ophtha image) and gives an all-zero mask of
    the size of ``data[ref_key]``, which is why this transform runs after :class:`LoadFundusImaged`. When
    ``check_size`` is set, each mask must have the original size of ``data[ref_key]``.

    Args:
        keys: keys of the mask paths, e.g. ``("label", "fov")``.
        ref_key: key of the paired image (loaded tensor or path); ``None`` to skip the size check and to refuse
            ``None`` paths.
        allow_missing: accept ``None`` paths as all-zero masks.
        check_size: check that masks have the image's original size.
        max_image_pixels: PIL decompression-bomb limit while reading; ``None`` disables it.
        allow_missing_keys: do not raise when a key is absent.

    Raises:
        DataError: naming the file, for unreadable files and masks whose size differs from their image.
    """

    def __init__(
        self,
        keys: KeysCollection = "label",
        ref_key: str | None = "image",
        allow_missing: bool = True,
        check_size: bool = True,
        max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key
        self.allow_missing = allow_missing
        self.check_size = check_size
        self.max_image_pixels = max_image_pixels

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        reference = d.get(self.ref_key) if self.ref_key is not None else None
        for key in self.key_iterator(d):
            value = d[key]
            if value is not None and not isinstance(value, (str, os.PathLike, Sequence)):
                raise DataError(f"{key!r} must be a mask path, None or a list of them, got {type(value).__name__}")
            values = [value] if value is None or isinstance(value, (str, os.PathLike)) else list(value)
            needs_shape = self.check_size or any(v is None for v in values)
            shape = _reference_shape(reference, self.max_image_pixels) if needs_shape else None
            if shape is None and any(v is None for v in values):
                raise DataError(
                    f"{key!r} is None (no mask file) and the image size is unknown: set ref_key to the loaded image "
                    f"key (got ref_key={self.ref_key!r})"
                )
            name = f"image {_file_of(reference)}" if reference is not None else "the paired image"
            d[key] = load_mask(value, shape, self.allow_missing, self.max_image_pixels, name)
        return d


class CheckPairSized(MapTransform):
    """Check that loaded masks have the spatial size of their loaded image.

    Args:
        image_key: key of the loaded image tensor.
        label_keys: keys of the loaded mask tensors (missing keys are skipped).

    Raises:
        DataError: naming both files and sizes when a mask's ``(H, W)`` differs from the image's.
    """

    def __init__(self, image_key: str = "image", label_keys: KeysCollection = ("label", "fov")) -> None:
        super().__init__(label_keys, allow_missing_keys=True)
        self.image_key = image_key

    def __call__(self, data: Mapping[Hashable, Any]) -> Mapping[Hashable, Any]:
        image = data[self.image_key]
        height, width = int(image.shape[-2]), int(image.shape[-1])
        for key in self.key_iterator(data):
            mask = data[key]
            if not isinstance(mask, (torch.Tensor, np.ndarray)):
                raise DataError(f"{key!r} is not loaded (got {type(mask).__name__}); run LoadMaskd first")
            if tuple(mask.shape[-2:]) != (height, width):
                raise DataError(
                    f"{_file_of(mask)}: mask size {mask.shape[-2]}x{mask.shape[-1]} (HxW) differs from image "
                    f"{_file_of(image)} of size {height}x{width}"
                )
        return data
