# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Evaluation of the saliency-guided SRGAN bundle: image quality against bicubic, and the downstream protocol.

Mahapatra, Bozorgtabar, Hewavitharanage, Garnavi, "Image Super Resolution Using Generative Adversarial Networks and
Local Saliency Maps for Retinal Image Analysis", MICCAI 2017 (arXiv:1710.04783), and its journal version
"Retinal Vasculature Segmentation Using Local Saliency Maps and Generative Adversarial Networks For Image Super
Resolution" (Table 2 protocol).

For every test image (HR, resized to the bundle's ``hr_spatial_size``) and every factor ``r``:

* LR = Gaussian blur + subsampling of HR by ``r`` (:func:`monai_ext.engines.gaussian_downsample`, the same
  convention as the training pairs);
* SR = the generator trained at ``r`` applied to LR; bicubic = bicubic upsampling of LR (the baseline);
* PSNR, SSIM, RMSE on the BT.601 Y channel and the gradient-energy sharpness (a documented substitute for the
  paper's S3), for SR and for bicubic (``monai_ext.metrics.super_resolution_metrics``), on the whole image and
  inside the field of view (``*_fov``: ``monai_ext.metrics.masked_super_resolution_metrics``; the FOV is the
  image's ``fov`` mask when the data has one, else the HR image thresholded by ``fov_mask_from_image``), since
  the black border, reproduced almost exactly by every method, inflates whole-image PSNR;
* downstream: a vessel-segmentation U-Net trained on HR images is applied to HR, SR and bicubic images; accuracy,
  sensitivity, specificity and Dice are pooled over all pixels of all test images.

Outputs (``output_dir``): ``sr_metrics.csv`` (one row per image, factor and method, then ``mean`` rows),
``downstream_segmentation.csv`` (per image, then ``pooled`` rows), ``evaluation.json`` (means, pooled scores,
settings, and what was skipped) and ``summary.json``: the same content plus a ``headline`` object per factor
(``"x4": {"psnr", "ssim", "psnr_bicubic", "ssim_bicubic", "psnr_fov", "ssim_fov", "psnr_fov_bicubic",
"ssim_fov_bicubic", "sharpness_fov", "sharpness_fov_bicubic", "sharpness_fov_hr", "dice_sr", "dice_bicubic",
"dice_hr"}``; a value that was not measured is ``null``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai_ext.engines import gaussian_downsample
from monai_ext.metrics import (
    fov_mask_from_image,
    masked_super_resolution_metrics,
    pooled_scores,
    segmentation_counts,
    super_resolution_metrics,
    write_json,
    write_metrics_csv,
)
from monai_ext.utils import restore_objects, safe_load_checkpoint

__all__ = [
    "SR_METRICS",
    "SEG_METRICS",
    "load_weights",
    "bicubic_upsample",
    "headline_metrics",
    "evaluate_super_resolution",
]

SR_METRICS = ("psnr", "ssim", "rmse", "sharpness")
FOV_METRICS = ("psnr_fov", "ssim_fov", "rmse_fov", "sharpness_fov")
SEG_METRICS = ("accuracy", "recall", "specificity", "dice")
_SEG_NAMES = {"recall": "sensitivity"}

logger = logging.getLogger(__name__)


def load_weights(network: nn.Module, path: str | os.PathLike, key: str = "model") -> nn.Module:
    """Load ``network`` from a checkpoint: a bare state dict or a dict holding it under ``key``.

    Args:
        network: the module to fill.
        path: checkpoint file (read with ``torch.load(weights_only=True)`` through ``safe_load_checkpoint``).
        key: entry of a checkpoint dict holding the state dict (the bundle's checkpoints use ``"model"``).

    Returns:
        ``network``, in eval mode.
    """
    restore_objects(None, safe_load_checkpoint(path, map_location="cpu"), {key: network}, source=os.fspath(path))
    return network.eval()


def bicubic_upsample(image: torch.Tensor, factor: int, intensity_range: Sequence[float]) -> torch.Tensor:
    """Bicubic upsampling (half-pixel centres, no antialiasing) of a batch, clamped to ``intensity_range``."""
    up = F.interpolate(image, scale_factor=factor, mode="bicubic", align_corners=False)
    return up.clamp(float(intensity_range[0]), float(intensity_range[1]))


def _sample_id(data: Mapping[str, Any], index: int) -> str:
    sample_id = data.get("id")
    if sample_id is None:
        meta = getattr(data.get("image"), "meta", {}) or {}
        path = meta.get("filename_or_obj")
        return os.path.splitext(os.path.basename(str(path)))[0] if path else f"image_{index}"
    return str(sample_id)


def _as_batch(value: Any, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    tensor = tensor.as_tensor() if hasattr(tensor, "as_tensor") else tensor
    return tensor.unsqueeze(0).to(device=device, dtype=dtype)


def _mean_rows(rows: list[dict[str, Any]], group_keys: Sequence[str], metrics: Sequence[str]) -> dict[tuple, dict]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in group_keys), []).append(row)
    return {
        key: {m: float(sum(r[m] for r in members) / len(members)) for m in metrics} for key, members in groups.items()
    }


def headline_metrics(summary: Mapping[str, Any], factors: Sequence[int]) -> dict[str, dict[str, float | None]]:
    """The ``headline`` object of ``summary.json``: per factor the SR and bicubic image quality (whole image and
    inside the FOV), the FOV sharpness of SR, bicubic and HR, and the pooled downstream Dice on SR, bicubic and HR
    images; ``None`` where not measured (no generator or no segmentation network)."""
    headline: dict[str, dict[str, float | None]] = {}
    seg = summary.get("downstream_segmentation", {})
    for factor in factors:
        key = f"x{int(factor)}"
        sr = summary["super_resolution"].get(key, {}).get("sr", {})
        bicubic = summary["super_resolution"].get(key, {}).get("bicubic", {})
        down = seg.get(key, {})
        headline[key] = {
            "psnr": sr.get("psnr"),
            "ssim": sr.get("ssim"),
            "psnr_bicubic": bicubic.get("psnr"),
            "ssim_bicubic": bicubic.get("ssim"),
            "psnr_fov": sr.get("psnr_fov"),
            "ssim_fov": sr.get("ssim_fov"),
            "psnr_fov_bicubic": bicubic.get("psnr_fov"),
            "ssim_fov_bicubic": bicubic.get("ssim_fov"),
            "sharpness_fov": sr.get("sharpness_fov"),
            "sharpness_fov_bicubic": bicubic.get("sharpness_fov"),
            "sharpness_fov_hr": bicubic.get("sharpness_fov_hr"),
            "dice_sr": down.get("sr", {}).get("dice"),
            "dice_bicubic": down.get("bicubic", {}).get("dice"),
            "dice_hr": seg.get("hr", {}).get("dice"),
        }
    return headline


def evaluate_super_resolution(
    datalist: Sequence[Mapping[str, Any]],
    preprocessing: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    generator_def: Callable[[int], nn.Module],
    generator_checkpoints: Mapping[int | str, str | os.PathLike | None],
    output_dir: str | os.PathLike,
    intensity_range: Sequence[float] = (0.0, 1.0),
    factors: Sequence[int] = (4, 8),
    seg_network: nn.Module | None = None,
    seg_checkpoint: str | os.PathLike | None = None,
    blur_sigma: float | None = None,
    crop_border: int | None = None,
    device: str | torch.device = "cpu",
    inferer: Callable[[torch.Tensor, nn.Module], torch.Tensor] | None = None,
    require_generators: bool = False,
    require_segmentation: bool = False,
    fov_threshold: float = 20.0 / 255.0,
) -> dict[str, Any]:
    """Evaluate SR generators against bicubic upsampling and run the downstream segmentation protocol.

    Args:
        datalist: data dicts (``image``, ``label``, ``id``), e.g. the CHASE_DB1 test split.
        preprocessing: transforms giving ``image`` (C, H, W) in ``intensity_range`` at the HR size and ``label``
            (1, H, W); H and W must be divisible by every factor.
        generator_def: called as ``generator_def(scale_factor=factor)`` to build a fresh generator (e.g. a
            ``functools.partial`` of ``SRGenerator``); weights come from ``generator_checkpoints``.
        generator_checkpoints: ``factor -> checkpoint path`` (keys may be ints or strings). A factor without a
            checkpoint file is reported with bicubic only and listed under ``missing`` (an error with
            ``require_generators``).
        output_dir: folder of the CSV and JSON files (created).
        intensity_range: ``(low, high)`` of the image normalisation.
        factors: upscale factors to evaluate.
        seg_network: vessel-segmentation network trained on HR images (returns 2-class logits); ``None`` skips the
            downstream protocol.
        seg_checkpoint: weights of ``seg_network``; a missing file skips the downstream protocol (an error with
            ``require_segmentation``).
        blur_sigma: Gaussian sigma of the degradation in HR pixels (default ``factor / 2``, as in training).
        crop_border: pixels removed from each border before the SR metrics; ``None`` uses the factor.
        device: where the networks run.
        inferer: ``inferer(lr, generator)``, e.g. a ``SlidingWindowInferer`` for large images; default a plain call.
        require_generators: raise when a factor has no checkpoint.
        require_segmentation: raise when the segmentation checkpoint is missing.
        fov_threshold: level (on the [0, 1] scale) of the HR channel mean above which a pixel is inside the field of
            view, for data without an ``fov`` mask (``monai_ext.metrics.fov_mask_from_image``).

    Returns:
        the summary written to ``evaluation.json`` and ``summary.json`` (the latter with the ``headline``).

    Raises:
        FileNotFoundError: for a missing checkpoint under ``require_generators`` / ``require_segmentation``.
        ValueError: for an empty data list.
    """
    if not datalist:
        raise ValueError("evaluate_super_resolution got an empty data list.")
    device = torch.device(device)
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    low, high = float(intensity_range[0]), float(intensity_range[1])
    checkpoints = {int(k): v for k, v in generator_checkpoints.items()}
    missing: list[str] = []

    generators: dict[int, nn.Module] = {}
    for factor in factors:
        path = checkpoints.get(int(factor))
        if path is None or not os.path.isfile(os.fspath(path)):
            message = (
                f"no x{factor} generator checkpoint ({path!r}); train one with --scale_factor {factor}. "
                f"x{factor} is reported with the bicubic baseline only."
            )
            if require_generators:
                raise FileNotFoundError(message)
            logger.warning(message)
            missing.append(f"generator_x{factor}")
            continue
        generators[int(factor)] = load_weights(generator_def(scale_factor=int(factor)), path).to(device)

    segmenter = None
    if seg_network is not None:
        if seg_checkpoint is None or not os.path.isfile(os.fspath(seg_checkpoint)):
            message = (
                f"no segmentation checkpoint ({seg_checkpoint!r}); train it with configs/train_downstream_seg.json. "
                "The downstream protocol is skipped."
            )
            if require_segmentation:
                raise FileNotFoundError(message)
            logger.warning(message)
            missing.append("segmentation")
        else:
            segmenter = load_weights(seg_network, seg_checkpoint).to(device)

    sr_rows: list[dict[str, Any]] = []
    seg_rows: list[dict[str, Any]] = []
    seg_counts: dict[tuple[str, str], list[torch.Tensor]] = {}
    start = time.perf_counter()

    def segment(image: torch.Tensor, label: torch.Tensor, sample_id: str, factor: str, source: str) -> None:
        counts = segmentation_counts(segmenter(image).argmax(dim=1, keepdim=True), label, num_classes=2)
        seg_counts.setdefault((factor, source), []).append(counts)
        scores = pooled_scores(counts, SEG_METRICS)
        seg_rows.append(
            {"id": sample_id, "factor": factor, "input": source}
            | {_SEG_NAMES.get(m, m): float(scores[m]) for m in SEG_METRICS}
        )

    with torch.no_grad():
        for index, item in enumerate(datalist):
            data = preprocessing(dict(item))
            sample_id = _sample_id({**data, "id": item.get("id")}, index)
            hr = _as_batch(data["image"], device, torch.float32)
            label = _as_batch(data["label"], device) if "label" in data and segmenter is not None else None
            if label is not None:
                segment(hr, label, sample_id, "-", "hr")
            if "fov" in data:
                fov = _as_batch(data["fov"], device) != 0
            else:
                fov = fov_mask_from_image(hr, (low, high), fov_threshold)
            for factor in factors:
                factor = int(factor)
                lr = gaussian_downsample(hr, factor, blur_sigma)
                outputs = {"bicubic": bicubic_upsample(lr, factor, (low, high))}
                if factor in generators:
                    net = generators[factor]
                    sr = inferer(lr, net) if inferer is not None else net(lr)
                    outputs["sr"] = sr.clamp(low, high)
                border = factor if crop_border is None else int(crop_border)
                for method, image in outputs.items():
                    values = super_resolution_metrics(image, hr, (low, high), y_channel=True, crop_border=border)
                    inside = masked_super_resolution_metrics(
                        image, hr, fov, (low, high), y_channel=True, crop_border=border
                    )
                    sr_rows.append(
                        {"id": sample_id, "factor": factor, "method": method}
                        | {m: float(values[m][0]) for m in SR_METRICS}
                        | {"sharpness_hr": float(values["sharpness_target"][0])}
                        | {f"{m}_fov": float(inside[m][0]) for m in ("psnr", "ssim", "rmse", "sharpness")}
                        | {
                            "sharpness_fov_hr": float(inside["sharpness_target"][0]),
                            "fov_fraction": float(inside["fov_fraction"][0]),
                        }
                    )
                    if label is not None:
                        segment(image, label, sample_id, str(factor), method)
            logger.info(f"evaluated {sample_id} ({index + 1}/{len(datalist)})")

    sr_means = _mean_rows(
        sr_rows, ("factor", "method"), (*SR_METRICS, "sharpness_hr", *FOV_METRICS, "sharpness_fov_hr", "fov_fraction")
    )
    sr_summary_rows = {
        f"mean_x{factor}_{method}": {"factor": factor, "method": method} | values
        for (factor, method), values in sr_means.items()
    }
    write_metrics_csv(os.path.join(output_dir, "sr_metrics.csv"), sr_rows, sr_summary_rows)
    summary: dict[str, Any] = {
        "super_resolution": {
            f"x{factor}": {method: values for (f, method), values in sr_means.items() if f == factor}
            for factor in factors
        },
        "downstream_segmentation": {},
        "settings": {
            "num_images": len(datalist),
            "factors": [int(f) for f in factors],
            "degradation": "Gaussian blur (sigma = factor / 2 HR pixels unless blur_sigma is set) + subsampling",
            "blur_sigma": blur_sigma,
            "crop_border": "factor" if crop_border is None else int(crop_border),
            "sr_metrics": "PSNR/SSIM/RMSE on the BT.601 Y channel, [0, 1] scale (data range 1)",
            "sharpness": "gradient_sharpness: mean squared Sobel gradient magnitude (Tenengrad) on Y; substitute for "
            "the paper's S3, values not comparable with S3",
            "fov": "*_fov metrics: inside the field of view only (the data's fov mask, else HR channel mean > "
            f"{fov_threshold:.4f} on the [0, 1] scale); SSIM averaged over the windows centred in the FOV",
            "segmentation_metrics": "pooled over all pixels of all test images (no FOV mask); sensitivity = recall",
            "generator_checkpoints": {f"x{f}": os.fspath(checkpoints[f]) for f in generators},
            "seg_checkpoint": os.fspath(seg_checkpoint) if segmenter is not None else None,
        },
        "missing": missing,
        "seconds": time.perf_counter() - start,
    }
    if seg_rows:
        pooled_rows: dict[str, dict[str, Any]] = {}
        downstream: dict[str, Any] = {}
        for (factor, source), counts in seg_counts.items():
            scores = pooled_scores(torch.cat(counts), SEG_METRICS)
            values = {_SEG_NAMES.get(m, m): float(scores[m]) for m in SEG_METRICS}
            pooled_rows[f"pooled_{source}" if factor == "-" else f"pooled_x{factor}_{source}"] = {
                "factor": factor,
                "input": source,
            } | values
            if factor == "-":
                downstream[source] = values
            else:
                downstream.setdefault(f"x{factor}", {})[source] = values
        write_metrics_csv(os.path.join(output_dir, "downstream_segmentation.csv"), seg_rows, pooled_rows)
        summary["downstream_segmentation"] = downstream
    write_json(os.path.join(output_dir, "evaluation.json"), summary)
    summary = {"headline": headline_metrics(summary, factors), **summary}
    write_json(os.path.join(output_dir, "summary.json"), summary)
    logger.info(f"SR evaluation written to {output_dir} ({summary['seconds']:.1f} s)")
    return summary
