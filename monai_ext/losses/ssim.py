# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Structural-similarity loss ``1 - SSIM`` on top of ``pytorch_msssim.ssim``.

Wang, Bovik, Sheikh, Simoncelli, "Image Quality Assessment: From Error Visibility to Structural Similarity",
IEEE TIP 2004. DS2F uses it as the proxy loss on the fused super-resolution output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.utils import convert_to_tensor
from pytorch_msssim import ssim
from torch.nn.modules.loss import _Loss

from .reduction import reduce_loss, validate_reduction

__all__ = ["SSIMLoss"]

_AUTHORS_DATA_RANGE = 1.0  # what the released DS2F code passes, although its images are in [-1, 1]


class SSIMLoss(_Loss):
    """``1 - SSIM(input, target)`` with a Gaussian window and no padding (``pytorch_msssim`` conventions).

    The data range sets the stabilising constants ``C1 = (K1 * L)**2`` and ``C2 = (K2 * L)**2`` and must be the
    range of the image normalisation: ``L = 2`` for images in ``[-1, 1]``. It is taken, in this order, from
    ``authors_data_range`` (forces ``L = 1``), the ``data_range`` given at call time, or the constructor's
    ``data_range``.

    Args:
        data_range: fixed data range ``L``; ``None`` requires it at call time.
        win_size: side of the Gaussian window (odd).
        win_sigma: standard deviation of the Gaussian window.
        channel: number of image channels (checked against the input).
        nonnegative_ssim: clamp the per-channel SSIM at 0 before averaging (``pytorch_msssim`` option).
        authors_data_range: use ``L = 1`` whatever the image range, as the released DS2F code does on its
            ``[-1, 1]`` images (``C1``, ``C2`` four times smaller than intended).
        K: ``(K1, K2)`` constants.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-sample ``1 - SSIM``, shape (N,)).

    Raises:
        ValueError: on an even window, an unknown ``reduction``, a non-positive data range, or ``authors_data_range``
            together with a ``data_range`` other than 1.
    """

    def __init__(
        self,
        data_range: float | None = None,
        win_size: int = 11,
        win_sigma: float = 1.5,
        channel: int = 3,
        nonnegative_ssim: bool = False,
        authors_data_range: bool = False,
        K: Sequence[float] = (0.01, 0.03),
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=validate_reduction(reduction, "SSIMLoss"))
        if win_size % 2 != 1:
            raise ValueError(f"SSIMLoss: win_size must be odd, got {win_size}.")
        if data_range is not None and data_range <= 0:
            raise ValueError(f"SSIMLoss: data_range must be > 0, got {data_range}.")
        if authors_data_range and data_range is not None and data_range != _AUTHORS_DATA_RANGE:
            raise ValueError(
                f"SSIMLoss: authors_data_range=True fixes data_range to {_AUTHORS_DATA_RANGE}, "
                f"got data_range={data_range}."
            )
        self.data_range = data_range
        self.win_size = int(win_size)
        self.win_sigma = float(win_sigma)
        self.channel = int(channel)
        self.nonnegative_ssim = bool(nonnegative_ssim)
        self.authors_data_range = bool(authors_data_range)
        self.K = (float(K[0]), float(K[1]))

    def _resolve_data_range(
        self, data_range: float | torch.Tensor | None, reference: torch.Tensor
    ) -> float | torch.Tensor:
        if self.authors_data_range:
            return _AUTHORS_DATA_RANGE
        if data_range is None:
            data_range = self.data_range
        if data_range is None:
            raise ValueError(
                "SSIMLoss: no data range: pass data_range to the constructor, or at call time as a float or the "
                "(N, 2) intensity_range tensor of the batch (e.g. 2.0 for images in [-1, 1])."
            )
        if not isinstance(data_range, torch.Tensor):
            return float(data_range)
        value = convert_to_tensor(data_range, track_meta=False).to(device=reference.device, dtype=reference.dtype)
        n = reference.shape[0]
        if value.ndim == 2 and value.shape == (n, 2):
            value = value[:, 1] - value[:, 0]
        elif value.ndim == 1 and value.shape[0] == n:
            pass
        elif value.ndim == 0:
            return value
        else:
            raise ValueError(
                f"SSIMLoss: a tensor data_range must be 0-d, per-sample (N,) or an (N, 2) intensity_range with "
                f"N={n}, got shape {tuple(value.shape)}."
            )
        return value.reshape((n,) + (1,) * (reference.ndim - 1))

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, data_range: float | torch.Tensor | None = None
    ) -> torch.Tensor:
        """Compute ``1 - SSIM``.

        Args:
            input: predicted images (N, C, H, W) (or (N, C, D, H, W)).
            target: reference images of the same shape.
            data_range: optional data range for this call: a float, a 0-d tensor, per-sample ranges (N,), or the
                batch's ``intensity_range`` (N, 2) from which ``high - low`` is used.

        Returns:
            the reduced loss (see ``reduction``).

        Raises:
            ValueError: on a channel count other than ``channel``, shape mismatch or no data range.
        """
        x = convert_to_tensor(input, track_meta=False)
        y = convert_to_tensor(target, track_meta=False).to(x.dtype)
        if x.shape != y.shape:
            raise ValueError(f"SSIMLoss: input shape {tuple(x.shape)} != target shape {tuple(y.shape)}.")
        if x.shape[1] != self.channel:
            raise ValueError(f"SSIMLoss: input has {x.shape[1]} channels, expected channel={self.channel}.")
        value_range = self._resolve_data_range(data_range, x)
        per_sample = ssim(
            x,
            y,
            data_range=value_range,
            size_average=False,
            win_size=self.win_size,
            win_sigma=self.win_sigma,
            K=self.K,
            nonnegative_ssim=self.nonnegative_ssim,
        )
        return reduce_loss(1.0 - per_sample, self.reduction)
