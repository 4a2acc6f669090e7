# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Local saliency maps of retinal images (curvature, local entropy and uniqueness).

Mahapatra, Bozorgtabar, Hewavitharanage, Garnavi, "Image Super Resolution Using Generative Adversarial Networks
and Local Saliency Maps for Retinal Image Analysis", MICCAI 2017 (arXiv:1710.04783). The paper gives no code; this
module is our reading of its section on local saliency maps:

1. a curvature map ``K = (f_xx f_y^2 + f_yy f_x^2 - 2 f_xy f_x f_y) / (f_x^2 + f_y^2)^(3/2)`` (the curvature of the
   isophote through each pixel), with ``eps^2`` added to the denominator so that flat regions give 0, not 0/0;
2. a local entropy map from an 8-bin histogram of each 7x7 neighbourhood, divided by ``log(8)`` so that it lies in
   [0, 1], inverted (``1 - E``) and smoothed by a 3-tap Gaussian (sigma 0.5);
3. for each of these two feature maps ``F`` (first min-max normalised to [0, 1]) the uniqueness
   ``D_F(s) = sum_{i in N(s)} exp(-||s - s_i||) |F(s) - F(s_i)|`` over a local window, min-max normalised;
4. the saliency ``S = w D_curv + (1 - w) D_(1-ent)`` with ``w = 0.4``, min-max normalised to [0, 1].

Everything is computed with convolutions and ``unfold`` on batches; borders are handled by replicate padding.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.networks.layers.convutils import gaussian_1d
from monai.networks.layers.simplelayers import separable_filtering
from monai.transforms import MapTransform

__all__ = [
    "curvature_map",
    "local_entropy_map",
    "uniqueness_map",
    "minmax_normalize",
    "local_saliency_map",
    "LocalSaliencyMapd",
    "DERIVATIVE_METHODS",
    "HISTOGRAM_METHODS",
]

DERIVATIVE_METHODS = ("gaussian", "finite_difference")
HISTOGRAM_METHODS = ("hard", "soft")
_CHANNEL_REDUCTIONS = ("mean", "luminance", "green")


def _check_batch(image: torch.Tensor, name: str = "image") -> None:
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be a batch of 2D images of shape (N, C, H, W), got {shape}.")


def minmax_normalize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Min-max normalise each sample of a batch to [0, 1]; a constant sample maps to 0.

    Args:
        x: tensor of shape (N, ...).
        eps: lower bound of the value range used as denominator.

    Returns:
        tensor of the same shape, each sample in [0, 1].
    """
    flat = x.flatten(1)
    low = flat.amin(dim=1).view(-1, *([1] * (x.ndim - 1)))
    high = flat.amax(dim=1).view(-1, *([1] * (x.ndim - 1)))
    return (x - low) / (high - low).clamp_min(eps)


def _to_unit_gray(image: torch.Tensor, intensity_range: Sequence[float], channel_reduction: str) -> torch.Tensor:
    low, high = float(intensity_range[0]), float(intensity_range[1])
    if not high > low:
        raise ValueError(f"intensity_range must be (low, high) with high > low, got {tuple(intensity_range)}.")
    if channel_reduction not in _CHANNEL_REDUCTIONS:
        raise ValueError(f"channel_reduction must be one of {_CHANNEL_REDUCTIONS}, got {channel_reduction!r}.")
    if image.shape[1] == 1:
        gray = image
    elif channel_reduction == "mean":
        gray = image.mean(dim=1, keepdim=True)
    elif image.shape[1] != 3:
        raise ValueError(f"channel_reduction={channel_reduction!r} needs 1 or 3 channels, got {image.shape[1]}.")
    elif channel_reduction == "green":
        gray = image[:, 1:2]
    else:  # ITU-R BT.601 luma
        gray = 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
    return (gray - low) / (high - low)


def _derivative_kernels(method: str, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Five 2D cross-correlation kernels giving (f_x, f_y, f_xx, f_yy, f_xy), shape (5, 1, K, K).

    The 1D derivative kernels are scaled so that they are exact on polynomials of degree <= 2: ``sum_j j k1[j] = 1``,
    ``sum_j k2[j] = 0`` and ``sum_j j^2 k2[j] = 2``. x runs along the last axis (width), y along the height.
    """
    if method == "finite_difference":
        smooth = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
        first = torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64)
        second = torch.tensor([1.0, -2.0, 1.0], dtype=torch.float64)
    elif method == "gaussian":
        if not sigma > 0:
            raise ValueError(f"derivative_sigma must be positive for Gaussian derivatives, got {sigma}.")
        radius = max(1, math.ceil(3.0 * sigma))
        t = torch.arange(-radius, radius + 1, dtype=torch.float64)
        smooth = torch.exp(-0.5 * (t / sigma) ** 2)
        smooth = smooth / smooth.sum()
        first = t * smooth
        first = first / (t * first).sum()
        second = (t**2 / sigma**4 - 1.0 / sigma**2) * smooth
        second = second - smooth * second.sum()
        second = 2.0 * second / (t**2 * second).sum()
    else:
        raise ValueError(f"derivative must be one of {DERIVATIVE_METHODS}, got {method!r}.")
    kernels = torch.stack(
        [
            torch.outer(smooth, first),  # f_x
            torch.outer(first, smooth),  # f_y
            torch.outer(smooth, second),  # f_xx
            torch.outer(second, smooth),  # f_yy
            torch.outer(first, first),  # f_xy
        ]
    )
    return kernels.unsqueeze(1).to(dtype=dtype, device=device)


def curvature_map(
    gray: torch.Tensor, derivative: str = "gaussian", derivative_sigma: float = 1.0, eps: float = 1e-2
) -> torch.Tensor:
    """Isophote curvature ``(f_xx f_y^2 + f_yy f_x^2 - 2 f_xy f_x f_y) / (f_x^2 + f_y^2 + eps^2)^(3/2)``.

    Args:
        gray: single-channel batch (N, 1, H, W).
        derivative: ``"gaussian"`` (derivatives of a Gaussian-smoothed image, less sensitive to noise, default) or
            ``"finite_difference"`` (central differences ``[-1/2, 0, 1/2]`` and ``[1, -2, 1]``).
        derivative_sigma: standard deviation in pixels of the Gaussian derivative filters (radius ``ceil(3 sigma)``).
        eps: gradient magnitude added in quadrature in the denominator; flat regions (zero gradient) give 0.

    Returns:
        signed curvature map (N, 1, H, W), in 1/pixel.

    Raises:
        ValueError: when ``gray`` is not (N, 1, H, W), ``eps`` is not positive or ``derivative`` is unknown.
    """
    _check_batch(gray, "gray")
    if gray.shape[1] != 1:
        raise ValueError(f"curvature_map expects a single-channel image, got {gray.shape[1]} channels.")
    if not eps > 0:
        raise ValueError(f"eps must be positive (it keeps the denominator away from 0), got {eps}.")
    kernels = _derivative_kernels(derivative, derivative_sigma, gray.dtype, gray.device)
    pad = kernels.shape[-1] // 2
    fx, fy, fxx, fyy, fxy = F.conv2d(F.pad(gray, (pad, pad, pad, pad), mode="replicate"), kernels).unbind(dim=1)
    numerator = fxx * fy**2 + fyy * fx**2 - 2.0 * fxy * fx * fy
    denominator = (fx**2 + fy**2 + eps**2) ** 1.5
    return (numerator / denominator).unsqueeze(1)


def local_entropy_map(
    gray01: torch.Tensor,
    window: int = 7,
    num_bins: int = 8,
    histogram: str = "hard",
    soft_bin_sigma: float = 0.5,
) -> torch.Tensor:
    """Entropy of the intensity histogram of each ``window x window`` neighbourhood, divided by ``log(num_bins)``.

    ``histogram="hard"`` counts pixels in ``num_bins`` equal bins of [0, 1] (not differentiable).
    ``histogram="soft"`` is the differentiable version used by the loss: each pixel contributes to every bin with
    Gaussian-kernel memberships ``softmax_k(-(x - c_k)^2 / (2 (soft_bin_sigma * bin_width)^2))`` around the bin centres
    ``c_k``, so the memberships of a pixel sum to 1 and the local histogram is their window average.

    Args:
        gray01: single-channel batch (N, 1, H, W) with intensities in [0, 1] (values outside are clipped).
        window: odd neighbourhood size (paper: 7).
        num_bins: number of histogram bins (paper: 8).
        histogram: ``"hard"`` or ``"soft"``.
        soft_bin_sigma: kernel width of the soft binning, in bin widths.

    Returns:
        entropy map (N, 1, H, W) in [0, 1].

    Raises:
        ValueError: for an even window, fewer than 2 bins or an unknown histogram method.
    """
    _check_batch(gray01, "gray01")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer, got {window}.")
    if num_bins < 2:
        raise ValueError(f"num_bins must be at least 2, got {num_bins}.")
    x = gray01.clamp(0.0, 1.0)
    if histogram == "hard":
        index = (x * num_bins).floor().clamp_(max=num_bins - 1).long().squeeze(1)
        membership = F.one_hot(index, num_bins).permute(0, 3, 1, 2).to(gray01.dtype)
    elif histogram == "soft":
        if not soft_bin_sigma > 0:
            raise ValueError(f"soft_bin_sigma must be positive, got {soft_bin_sigma}.")
        centres = (torch.arange(num_bins, dtype=x.dtype, device=x.device) + 0.5) / num_bins
        width = soft_bin_sigma / num_bins
        membership = torch.softmax(-0.5 * ((x - centres.view(1, -1, 1, 1)) / width) ** 2, dim=1)
    else:
        raise ValueError(f"histogram must be one of {HISTOGRAM_METHODS}, got {histogram!r}.")
    pad = window // 2
    prob = F.avg_pool2d(F.pad(membership, (pad, pad, pad, pad), mode="replicate"), window, stride=1)
    # p log p -> 0 as p -> 0; the clamp keeps the gradient finite where a (soft) bin is nearly empty.
    entropy = -(prob * torch.log(prob.clamp_min(1e-12))).sum(dim=1, keepdim=True)
    return entropy / math.log(num_bins)


def uniqueness_map(features: torch.Tensor, window: int = 7) -> torch.Tensor:
    """``D_F(s) = sum_{i in N(s)} exp(-||s - s_i||) |F(s) - F(s_i)|`` for every channel of ``features``.

    Args:
        features: batch (N, C, H, W); each channel is one feature map ``F``.
        window: odd size of the square neighbourhood ``N(s)``; distances are Euclidean, in pixels.

    Returns:
        uniqueness maps (N, C, H, W), not normalised.

    Raises:
        ValueError: for an even or non-positive window.
    """
    _check_batch(features, "features")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer, got {window}.")
    n, c, h, w = features.shape
    pad = window // 2
    offsets = torch.arange(-pad, pad + 1, dtype=features.dtype, device=features.device)
    weights = torch.exp(-torch.sqrt(offsets.view(-1, 1) ** 2 + offsets.view(1, -1) ** 2)).flatten()
    neighbours = F.unfold(F.pad(features, (pad, pad, pad, pad), mode="replicate"), window)
    neighbours = neighbours.view(n, c, window * window, h * w)
    centre = features.reshape(n, c, 1, h * w)
    unique = (weights.view(1, 1, -1, 1) * (centre - neighbours).abs()).sum(dim=2)
    return unique.view(n, c, h, w)


def local_saliency_map(
    image: torch.Tensor,
    intensity_range: Sequence[float] = (0.0, 1.0),
    channel_reduction: str = "mean",
    derivative: str = "gaussian",
    derivative_sigma: float = 1.0,
    curvature_eps: float = 1e-2,
    entropy_window: int = 7,
    num_bins: int = 8,
    entropy_smoothing_sigma: float = 0.5,
    uniqueness_window: int = 7,
    curvature_weight: float = 0.4,
    histogram: str = "hard",
    soft_bin_sigma: float = 0.5,
) -> torch.Tensor:
    """Local saliency map ``S = w D_curv + (1 - w) D_(1-ent)`` of Mahapatra et al. (MICCAI 2017), in [0, 1].

    Colour images are reduced to one channel first, and intensities are mapped from ``intensity_range`` to [0, 1]
    (so the histogram bins and ``curvature_eps`` do not depend on the image normalisation). Each sample of the
    batch is normalised on its own; a flat image gives an all-zero map.

    Args:
        image: batch (N, C, H, W), C = 1 or 3.
        intensity_range: ``(low, high)`` of the image normalisation, e.g. ``(-1, 1)``.
        channel_reduction: ``"mean"`` of the channels, ``"luminance"`` (BT.601) or the ``"green"`` channel.
        derivative: ``"gaussian"`` (default) or ``"finite_difference"``, see :func:`curvature_map`.
        derivative_sigma: sigma in pixels of the Gaussian derivative filters.
        curvature_eps: safe-denominator constant of the curvature, in intensity units per pixel (intensities in
            [0, 1]).
        entropy_window: neighbourhood of the local entropy (paper: 7).
        num_bins: histogram bins of the local entropy (paper: 8).
        entropy_smoothing_sigma: sigma of the 3-tap Gaussian that smooths ``1 - E`` (paper: 0.5; truncated at
            2 sigma, i.e. 3 taps for sigma 0.5).
        uniqueness_window: neighbourhood of the uniqueness sums (not given in the paper; 7 like the entropy).
        curvature_weight: ``w`` (paper: 0.4).
        histogram: ``"hard"`` (counts, as in the paper) or ``"soft"`` (Gaussian-kernel binning, differentiable).
        soft_bin_sigma: kernel width of the soft binning, in bin widths.

    Returns:
        saliency map (N, 1, H, W) in [0, 1], same dtype and device as ``image``.

    Raises:
        ValueError: for a non-4D input, unsupported channel count or invalid options.
    """
    _check_batch(image)
    if not 0.0 <= curvature_weight <= 1.0:
        raise ValueError(f"curvature_weight must be in [0, 1], got {curvature_weight}.")
    if not torch.is_floating_point(image):
        image = image.float()
    gray = _to_unit_gray(image, intensity_range, channel_reduction)

    curvature = minmax_normalize(curvature_map(gray, derivative, derivative_sigma, curvature_eps))

    inv_entropy = 1.0 - local_entropy_map(gray, entropy_window, num_bins, histogram, soft_bin_sigma)
    if entropy_smoothing_sigma > 0:
        sigma = torch.tensor(float(entropy_smoothing_sigma))
        kernel = gaussian_1d(sigma, truncated=2.0, approx="sampled", normalize=True).to(image.device, image.dtype)
        inv_entropy = separable_filtering(inv_entropy, [kernel, kernel], mode="replicate")
    inv_entropy = minmax_normalize(inv_entropy)

    unique = minmax_normalize(uniqueness_map(torch.cat([curvature, inv_entropy], dim=1), uniqueness_window))
    saliency = curvature_weight * unique[:, 0:1] + (1.0 - curvature_weight) * unique[:, 1:2]
    return minmax_normalize(saliency)


class LocalSaliencyMapd(MapTransform):
    """Dictionary transform that adds the local saliency map of channel-first images (C, H, W) as (1, H, W).

    Args:
        keys: keys of the images.
        saliency_keys: output keys, one per key; default ``"<key>_saliency"``.
        allow_missing_keys: do not raise when a key is absent.
        saliency_kwargs: options of :func:`local_saliency_map` (``intensity_range``, ``histogram``, ...).
    """

    def __init__(
        self,
        keys: KeysCollection,
        saliency_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
        **saliency_kwargs,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if saliency_keys is None:
            saliency_keys = [f"{k}_saliency" for k in self.keys]
        elif isinstance(saliency_keys, (str, Hashable)) and not isinstance(saliency_keys, (list, tuple)):
            saliency_keys = [saliency_keys]
        if len(saliency_keys) != len(self.keys):
            raise ValueError(f"saliency_keys ({len(saliency_keys)}) must match keys ({len(self.keys)}) in length.")
        self.saliency_keys = tuple(saliency_keys)
        self.saliency_kwargs = saliency_kwargs

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.saliency_keys):
            img = d[key]
            img = img.as_tensor() if isinstance(img, MetaTensor) else torch.as_tensor(img)
            if img.ndim != 3:
                raise ValueError(f"LocalSaliencyMapd expects '{key}' of shape (C, H, W), got {tuple(img.shape)}.")
            with torch.no_grad():
                d[out_key] = local_saliency_map(img.unsqueeze(0), **self.saliency_kwargs)[0]
        return d
