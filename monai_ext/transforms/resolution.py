# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Low/high-resolution image pairs for super-resolution-assisted training.

The dual-stream methods (DS2F, SS-MAF) take a low-resolution (LR) image as network input and predict the
segmentation and the image at the high resolution (HR) ``r`` times larger. :class:`LowResolutionPaird` makes both
from one loaded image, so that the HR image doubles as the super-resolution target.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform

from ..utils.deprecation import renamed_argument

__all__ = [
    "LowResolutionPaird",
    "IntensityRanged",
    "ResizeToReferenced",
    "resize_image",
    "gaussian_downsample",
    "LR_METHODS",
]

LR_METHODS = ("antialias", "opencv", "gaussian")


def _as_batch(img: torch.Tensor) -> torch.Tensor:
    if img.ndim != 3:
        raise ValueError(f"Expected a channel-first 2D image (C, H, W), got shape {tuple(img.shape)}.")
    return torch.as_tensor(img).float().unsqueeze(0)


def resize_image(img: torch.Tensor, spatial_size: Sequence[int], antialias: bool = True) -> torch.Tensor:
    """Bicubic resize of a channel-first 2D image.

    Args:
        img: image of shape (C, H, W).
        spatial_size: target (H, W).
        antialias: low-pass filter when downsampling (PyTorch's antialiased bicubic, like PIL). ``False`` gives
            plain bicubic interpolation with the Keys kernel (a = -0.75) and half-pixel centres, which is what
            OpenCV's ``cv2.resize(..., INTER_CUBIC)`` computes.

    Returns:
        float32 image of shape (C, *spatial_size); metadata of a ``MetaTensor`` input is kept.
    """
    size = tuple(int(s) for s in spatial_size)
    if tuple(img.shape[-2:]) == size:
        return torch.as_tensor(img).float().clone()
    out = F.interpolate(_as_batch(img), size=size, mode="bicubic", align_corners=False, antialias=antialias)[0]
    return out


def _resize_mask(mask: torch.Tensor, spatial_size: Sequence[int]) -> torch.Tensor:
    size = tuple(int(s) for s in spatial_size)
    if tuple(mask.shape[-2:]) == size:
        return mask
    dtype = mask.dtype
    out = F.interpolate(_as_batch(mask), size=size, mode="nearest-exact")[0]
    return out.to(dtype)


def gaussian_downsample(image: torch.Tensor, factor: int, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur then subsampling by ``factor`` at the centres of the ``factor``-pixel blocks (N, C, H, W).

    Mahapatra et al. (MICCAI 2017) make the LR image by Gaussian blurring and downsampling. LR pixel ``k`` is the
    blurred HR image sampled at the block centre ``k * factor + (factor - 1) / 2``, the grid of area / antialiased
    downsampling and of ``F.interpolate(..., align_corners=False)`` upsampling. For even factors that centre lies
    between two HR pixels, so the Gaussian is evaluated at half-integer offsets: the result is one strided,
    separable convolution with taps ``exp(-(j - (factor - 1) / 2)^2 / (2 sigma^2))``, ``j = -R .. factor - 1 + R``,
    ``R = round(3 sigma)`` (the Gaussian is truncated at ``R + (factor - 1) / 2``), without the extra blur of
    blurring and then averaging. For odd factors this is blurring and taking pixel ``factor // 2`` of each block.
    Borders use reflect padding.

    Args:
        image: batch (N, C, H, W) with H and W divisible by ``factor``.
        factor: integer downsampling factor (1 returns the input).
        sigma: Gaussian sigma in HR pixels; default ``factor / 2``.

    Returns:
        batch (N, C, H / factor, W / factor) in the dtype of ``image``.

    Raises:
        ValueError: for a non-4D input, a factor < 1, a non-positive sigma, a size not divisible by the factor, or
            an image smaller than the padding the kernel needs.
    """
    if image.ndim != 4:
        raise ValueError(f"gaussian_downsample expects (N, C, H, W), got {tuple(image.shape)}.")
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}.")
    if factor == 1:
        return image
    h, w = image.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"image size {(h, w)} is not divisible by the downsampling factor {factor}.")
    sigma = factor / 2 if sigma is None else float(sigma)
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}.")
    radius = max(1, int(round(3 * sigma)))
    if radius >= min(h, w):
        raise ValueError(
            f"image size {(h, w)} is too small for Gaussian downsampling with sigma {sigma} (reflect padding of "
            f"{radius} pixels needs a size above {radius})."
        )
    image = torch.as_tensor(image)
    dtype = image.dtype if image.is_floating_point() else torch.float32
    taps = torch.arange(-radius, factor + radius, dtype=torch.float64, device=image.device) - (factor - 1) / 2
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(dtype)
    c = image.shape[1]
    x = F.pad(image.to(dtype), (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, factor), groups=c)
    x = F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(factor, 1), groups=c)
    return x


class LowResolutionPaird(MapTransform):
    """Make the high-resolution target and the low-resolution input from one image.

    The image under ``keys`` is taken as the original (any size). The transform writes the HR image, resized to
    ``hr_spatial_size`` (or kept at its size), to ``hr_key`` and replaces ``keys`` with the LR image of size
    ``hr_spatial_size / scale_factor``. Masks under ``label_keys`` are resized to the HR size (nearest neighbour).

    LR methods:

    - ``"antialias"`` (default): HR by antialiased bicubic resize of the original, LR by antialiased bicubic
      downsampling of the HR image. The LR image is then a proper low-pass version of the SR target.
    - ``"opencv"``: the authors' pipeline (imed_vision ``SegPathDataset``): both HR and LR by plain bicubic
      resize of the *original* (OpenCV ``INTER_CUBIC``, no antialiasing), so LR is aliased.
    - ``"gaussian"``: Gaussian blur of the HR image then subsampling by ``r`` at the block centres (Mahapatra et al.
      2017; :func:`gaussian_downsample`), on the same grid as ``"antialias"``.

    Bicubic interpolation overshoots; with ``clip_range`` the results are clamped to the normalised intensity range.

    Args:
        keys: image key(s); each is replaced by its LR version.
        hr_key: key for the HR image (with several ``keys``, ``hr_key`` is used as a suffix: ``<key>_hr``);
            ``None`` keeps only the LR image (a degradation step, e.g. simulated low-resolution inputs).
        scale_factor: ``r``, the ratio of HR to LR size (1 gives HR = LR, the plain baseline).
        upscale_rate: deprecated name of ``scale_factor`` (kept for one release, with a ``FutureWarning``).
        hr_spatial_size: HR (H, W). Must be divisible by ``scale_factor``. ``None`` keeps the image size
            (which must then be divisible by ``scale_factor``).
        method: one of ``"antialias"``, ``"opencv"``, ``"gaussian"``.
        label_keys: mask keys resized to the HR size with nearest-neighbour interpolation.
        clip_range: (low, high) to clamp images to, or ``None``.
        blur_sigma: Gaussian sigma in HR pixels for ``method="gaussian"``; defaults to ``scale_factor / 2``.
        allow_missing_keys: do not fail on missing keys.

    Raises:
        ValueError: an unknown method, a non-positive rate, or an HR size not divisible by the rate.
    """

    @renamed_argument("upscale_rate", "scale_factor")
    def __init__(
        self,
        keys: KeysCollection = "image",
        hr_key: str | None = "hr_image",
        scale_factor: int = 2,
        hr_spatial_size: Sequence[int] | None = None,
        method: str = "antialias",
        label_keys: KeysCollection = (),
        clip_range: Sequence[float] | None = None,
        blur_sigma: float | None = None,
        allow_missing_keys: bool = False,
        upscale_rate: int | None = None,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if method not in LR_METHODS:
            raise ValueError(f"Unknown LR method {method!r}; choose one of {LR_METHODS}.")
        if int(scale_factor) < 1:
            raise ValueError(f"scale_factor must be a positive integer, got {scale_factor}.")
        self.hr_key = hr_key
        self.scale_factor = int(scale_factor)
        self.hr_spatial_size = None if hr_spatial_size is None else tuple(int(s) for s in hr_spatial_size)
        if self.hr_spatial_size is not None:
            self._check_divisible(self.hr_spatial_size)
        self.method = method
        self.label_keys = (label_keys,) if isinstance(label_keys, str) else tuple(label_keys)
        self.clip_range = None if clip_range is None else (float(clip_range[0]), float(clip_range[1]))
        self.blur_sigma = blur_sigma if blur_sigma is not None else self.scale_factor / 2

    def _check_divisible(self, size: Sequence[int]) -> None:
        if any(s % self.scale_factor for s in size):
            raise ValueError(
                f"The HR size {tuple(size)} is not divisible by the upscale rate {self.scale_factor}; "
                "choose an HR spatial size that is a multiple of the rate."
            )

    def _clip(self, img: torch.Tensor) -> torch.Tensor:
        return img if self.clip_range is None else img.clamp(*self.clip_range)

    def _make_pair(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hr_size = self.hr_spatial_size or tuple(int(s) for s in img.shape[-2:])
        self._check_divisible(hr_size)
        lr_size = tuple(s // self.scale_factor for s in hr_size)
        antialias = self.method != "opencv"
        hr = resize_image(img, hr_size, antialias=antialias)
        if self.scale_factor == 1:
            lr = hr.clone()
        elif self.method == "antialias":
            lr = resize_image(hr, lr_size, antialias=True)
        elif self.method == "opencv":
            lr = resize_image(img, lr_size, antialias=False)
        else:
            lr = gaussian_downsample(_as_batch(hr), self.scale_factor, self.blur_sigma)[0]
        return self._clip(hr), self._clip(lr)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        hr_size = None
        for key in keys:
            hr, lr = self._make_pair(d[key])
            hr_size = tuple(hr.shape[-2:])
            if self.hr_key is not None:
                d[self.hr_key if len(keys) == 1 else f"{key}_hr"] = hr
            d[key] = lr
        if hr_size is not None:
            for key in self.label_keys:
                if key in d and d[key] is not None:
                    d[key] = _resize_mask(torch.as_tensor(d[key]), hr_size)
        return d


class IntensityRanged(MapTransform):
    """Linearly map intensities from ``in_range`` to ``out_range`` and record the range in the data.

    The normalisation range travels with the sample under ``range_key`` (a float32 tensor ``[low, high]``), so that
    range-dependent losses and metrics (SSIM, PSNR) use the right data range after collation.

    Args:
        keys: image keys to rescale.
        in_range: (low, high) of the input, e.g. (0, 255) for 8-bit images.
        out_range: (low, high) of the output, e.g. (-1, 1) as in the authors' code or (0, 1).
        range_key: key under which ``out_range`` is stored; ``None`` to skip.
        clip: clamp the result to ``out_range``.
        allow_missing_keys: do not fail on missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection = "image",
        in_range: Sequence[float] = (0.0, 255.0),
        out_range: Sequence[float] = (-1.0, 1.0),
        range_key: str | None = "intensity_range",
        clip: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.in_range = (float(in_range[0]), float(in_range[1]))
        self.out_range = (float(out_range[0]), float(out_range[1]))
        if self.in_range[1] <= self.in_range[0] or self.out_range[1] <= self.out_range[0]:
            raise ValueError(f"Ranges must be increasing, got in_range={in_range}, out_range={out_range}.")
        self.range_key = range_key
        self.clip = clip

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        (a, b), (c, e) = self.in_range, self.out_range
        scale = (e - c) / (b - a)
        for key in self.key_iterator(d):
            img = torch.as_tensor(d[key]).float() if not isinstance(d[key], torch.Tensor) else d[key].float()
            img = (img - a) * scale + c
            d[key] = img.clamp(c, e) if self.clip else img
        if self.range_key is not None:
            d[self.range_key] = torch.tensor(self.out_range, dtype=torch.float32)
        return d


class ResizeToReferenced(MapTransform):
    """Resize predictions to the spatial size of a reference entry (e.g. the original-resolution mask).

    The authors evaluate at the original image resolution: class probabilities predicted at HR are resized to the
    size of the original mask with nearest-neighbour interpolation before the argmax.

    Args:
        keys: channel-first tensors to resize (C, H, W).
        ref_key: entry whose last two dimensions give the target size, or a key holding a (H, W) sequence.
        meta_key: when set (e.g. ``"spatial_shape"``), the target size is read from ``d[ref_key].meta[meta_key]``
            instead: ``monai_ext.data.LoadFundusImaged`` records the original (H, W) there, so predictions can be
            brought back to the size of the image file after the input was resized.
        mode: interpolation mode of ``torch.nn.functional.interpolate`` (``"nearest"`` as the authors, or
            ``"bilinear"``).
        allow_missing_keys: do not fail on missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        ref_key: str = "label",
        meta_key: str | None = None,
        mode: str = "nearest",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key
        self.meta_key = meta_key
        self.mode = mode

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        ref = d[self.ref_key]
        if self.meta_key is not None:
            meta = getattr(ref, "meta", None) or {}
            if self.meta_key not in meta:
                raise KeyError(f"{self.ref_key!r} carries no {self.meta_key!r} metadata to take the target size from.")
            ref = [int(v) for v in torch.as_tensor(meta[self.meta_key]).reshape(-1)[-2:]]
        size = tuple(int(s) for s in (ref.shape[-2:] if isinstance(ref, torch.Tensor) else ref))
        for key in self.key_iterator(d):
            img = d[key]
            if tuple(img.shape[-2:]) != size:
                kwargs = {"align_corners": False} if self.mode in ("bilinear", "bicubic") else {}
                d[key] = F.interpolate(img.unsqueeze(0).float(), size=size, mode=self.mode, **kwargs)[0]
        return d
