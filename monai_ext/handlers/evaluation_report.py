# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The per-image evaluation report of a segmentation evaluator run.

``EvaluationReportHandler`` collects per-image counts during an evaluator run and writes the CSV / JSON report
(:func:`monai_ext.metrics.reports.write_segmentation_report`) and the first overlays when the run completes.

Bundle config example (``evaluate.json``)::

    "validate#handlers": [..., {"_target_": "monai_ext.handlers.EvaluationReportHandler",
        "output_dir": "$@bundle_root + '/eval'", "num_overlays": 5, "image_key": "image",
        "image_range": [-1, 1]}]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ignite.distributed as idist
import torch
import torch.distributed as dist
from monai.utils import evenly_divisible_all_gather, min_version, optional_import, string_list_all_gather

from ..metrics.reports import sanitize_id, write_overlay, write_overlay_legend, write_segmentation_report
from ..metrics.segmentation import SEGMENTATION_METRICS, PooledPRAUCMetric, canonical_metric_name, segmentation_counts

Events, _ = optional_import("ignite.engine", "0.4.11", min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", "0.4.11", min_version, "Engine")

__all__ = ["EvaluationReportHandler"]


def _samples(data: Any) -> list[Mapping[str, Any]]:
    """Per-sample dicts from a decollated list of dicts or a batch-first dict."""
    if data is None:
        return []
    if isinstance(data, (list, tuple)):
        return [d for d in data if isinstance(d, Mapping)]
    if isinstance(data, Mapping):
        sizes = [v.shape[0] for v in data.values() if isinstance(v, torch.Tensor) and v.ndim > 0]
        sizes += [len(v) for v in data.values() if isinstance(v, (list, tuple))]
        if not sizes:
            return []
        n = sizes[0]
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for k, v in data.items():
            if isinstance(v, (torch.Tensor, list, tuple)) and len(v) == n:
                for i in range(n):
                    out[i][k] = v[i]
        return out
    return []


def _sample_id(sample_out: Mapping[str, Any], sample_batch: Mapping[str, Any], id_key: str | None, keys, index):
    for source in (sample_batch, sample_out):
        if id_key and id_key in source:
            value = source[id_key]
            return str(value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value)
    for source in (sample_out, sample_batch):
        for k in keys:
            meta = getattr(source.get(k), "meta", None) if k else None
            if isinstance(meta, Mapping) and meta.get("filename_or_obj"):
                return Path(str(meta["filename_or_obj"])).stem.split(".")[0]
    return f"sample_{index:05d}"


class EvaluationReportHandler:
    """Writes the per-image evaluation report of a segmentation evaluator run.

    On every iteration it reads each sample of ``engine.state.output`` (decollated list of dicts, MONAI's
    default, or a batch-first dict) and counts ``[TP, FP, TN, FN]`` per class. On ``COMPLETED`` it writes
    ``<output_dir>/<csv_name>`` (one row per image, then ``pooled`` and ``mean`` rows) and
    ``<output_dir>/<json_name>``; the first ``num_overlays`` samples also get an overlay PNG (GT green,
    prediction red, overlap yellow) in ``<output_dir>/<overlay_dir>/<id>_overlay.png``.

    What the bundle must put in ``engine.state.output`` (after ``postprocessing``), per sample:

    * ``pred_key`` (default ``"pred"``): (C, H, W) logits / probabilities (argmax taken) or a (1, H, W) label
      map, **at the resolution the metrics should be computed at**. To report like the papers, resize the
      probabilities to the original image size (nearest) in the postprocessing.
    * ``label_key`` (default ``"label"``): (1, H, W) class indices (or (C, H, W) one-hot) at the same size.
    * optional ``fov_key``: (1, H, W) mask (used only when given).
    * optional ``image_key``: the image for the overlay background (resized bilinearly to the mask size).
    * the id: ``id_key`` (default ``"id"``) from ``engine.state.batch`` or the output; else the stem of the
      ``image`` / ``label`` meta ``filename_or_obj``; else ``sample_<index>``. Ids are checked with
      ``sanitize_id`` (path traversal raises ``ValueError``).

    Under ``torch.distributed`` the counts and ids of every rank are gathered and rank 0 writes the files.

    Args:
        output_dir: the report folder (created).
        metric_name: score names for the CSV / JSON.
        num_classes: number of classes, None to infer from multi-channel predictions (else 2).
        pred_key: output key of the prediction.
        label_key: output key of the label.
        fov_key: output key of an FOV mask, None = count all pixels (the reference code).
        image_key: output key of the overlay background, None = black.
        id_key: batch / output key of the sample id.
        num_overlays: how many overlays to write (the first samples).
        image_range: ``(low, high)`` of the image values for the overlay, None = per-image min / max.
        pr_auc: also compute the pooled PR-AUC and average precision of ``pred`` (logits; softmax applied) into
            the JSON summary.
        pr_auc_bins: None = exact PR curve (keeps every pixel's score, single process only), else the number of
            histogram bins (memory-bounded, distributed-safe).
        csv_name: CSV file name.
        json_name: JSON file name.
        overlay_dir: overlay sub-folder name.
    """

    def __init__(
        self,
        output_dir: str | Path,
        metric_name: Sequence[str] = SEGMENTATION_METRICS,
        num_classes: int | None = None,
        pred_key: str = "pred",
        label_key: str = "label",
        fov_key: str | None = None,
        image_key: str | None = None,
        id_key: str | None = "id",
        num_overlays: int = 0,
        image_range: Sequence[float] | None = None,
        pr_auc: bool = False,
        pr_auc_bins: int | None = None,
        csv_name: str = "metrics.csv",
        json_name: str = "summary.json",
        overlay_dir: str = "overlays",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.metric_name = tuple(canonical_metric_name(m) for m in metric_name)
        self.num_classes = num_classes
        self.pred_key = pred_key
        self.label_key = label_key
        self.fov_key = fov_key
        self.image_key = image_key
        self.id_key = id_key
        if num_overlays < 0:
            raise ValueError(f"num_overlays must be >= 0, got {num_overlays}.")
        self.num_overlays = num_overlays
        self.image_range = image_range
        self.csv_name = Path(csv_name).name
        self.json_name = Path(json_name).name
        self.overlay_dir = sanitize_id(overlay_dir)
        self.legend_name = "overlay_legend.png"
        self._pr_metric = (
            PooledPRAUCMetric(("pr_auc", "average_precision"), pr_auc_bins) if pr_auc else None
        )
        self.summary: dict[str, Any] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget everything collected (called on ``STARTED``)."""
        self._ids: list[str] = []
        self._counts: list[torch.Tensor] = []
        self._overlays = 0
        if self._pr_metric is not None:
            self._pr_metric.reset()

    def attach(self, engine: Engine) -> None:
        """Register the handler on ``STARTED``, ``ITERATION_COMPLETED`` and ``COMPLETED`` of ``engine``.

        Args:
            engine: the evaluator.
        """
        engine.add_event_handler(Events.STARTED, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        engine.add_event_handler(Events.COMPLETED, self.write)

    def start(self, engine: Engine | None = None) -> None:
        """Forget what was collected and remove the previous run's report, overlays and legend from ``output_dir``
        (so that a folder never mixes two runs; other files there are left alone)."""
        self.reset()
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        for name in (self.csv_name, self.json_name, self.legend_name):
            (self.output_dir / name).unlink(missing_ok=True)
        overlays = self.output_dir / self.overlay_dir
        if overlays.is_dir():
            for old in overlays.glob("*_overlay.png"):
                old.unlink()

    def __call__(self, engine: Engine) -> None:
        """Collect the counts of the samples of the current iteration.

        Args:
            engine: the evaluator.

        Raises:
            KeyError: when the prediction or label key is missing from the output.
        """
        outputs = _samples(engine.state.output)
        batches = _samples(engine.state.batch)
        batch_counts = []
        for i, out in enumerate(outputs):
            if self.pred_key not in out or self.label_key not in out:
                raise KeyError(
                    f"EvaluationReportHandler needs '{self.pred_key}' and '{self.label_key}' in engine.state.output,"
                    f" got keys {sorted(out)}."
                )
            batch = batches[i] if i < len(batches) else {}
            index = len(self._ids)
            sample_id = _sample_id(out, batch, self.id_key, (self.image_key, self.label_key, "image"), index)
            pred, label = out[self.pred_key], out[self.label_key]
            fov = out.get(self.fov_key) if self.fov_key else None
            if self.fov_key and fov is None:
                raise KeyError(f"fov_key '{self.fov_key}' is missing from the output of sample '{sample_id}'.")
            if tuple(pred.shape[1:]) != tuple(label.shape[1:]):
                raise ValueError(
                    f"sample '{sample_id}': pred {tuple(pred.shape)} and label {tuple(label.shape)} differ in size;"
                    " resize the prediction to the label resolution in the postprocessing."
                )
            batch_counts.append(
                segmentation_counts(pred[None], label[None], self.num_classes, None if fov is None else fov[None])
            )
            self._ids.append(sample_id)
            if self._pr_metric is not None:
                self._pr_metric(pred[None], label[None])
            if self._overlays < self.num_overlays:
                image = out.get(self.image_key) if self.image_key else None
                write_overlay(self.output_dir / self.overlay_dir, sample_id, label, pred, image, self.image_range)
                self._overlays += 1
        if batch_counts:
            self._counts.append(torch.cat(batch_counts).cpu())

    def write(self, engine: Engine | None = None) -> dict[str, Any] | None:
        """Write the CSV and JSON report (rank 0 only) and return the summary.

        Args:
            engine: the evaluator (unused, for the event signature).

        Returns:
            the JSON summary on rank 0, None elsewhere or when nothing was collected.
        """
        ids = list(self._ids)
        counts = torch.cat(self._counts) if self._counts else None
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if distributed:
            ids = string_list_all_gather(ids)
            if counts is not None:
                # NCCL gathers device tensors only: go through the backend's device and back
                counts = evenly_divisible_all_gather(counts.to(idist.device()), concat=True).cpu()
        extra: dict[str, Any] = {}
        if self._pr_metric is not None and self._ids:
            pr_auc, ap = self._pr_metric.aggregate()
            extra = {"pr_auc": float(pr_auc), "average_precision": float(ap)}
        if (distributed and dist.get_rank() != 0) or counts is None or not ids:
            return None
        self.summary = write_segmentation_report(
            self.output_dir, ids, counts, self.metric_name, extra, self.csv_name, self.json_name
        )
        written = f"{self.csv_name}, {self.json_name}"
        if self._overlays:
            write_overlay_legend(self.output_dir / self.legend_name)
            written += f", {self._overlays} overlays in {self.overlay_dir}/ (colours: {self.legend_name})"
        logging.getLogger("monai_ext").info(f"evaluation report written to {self.output_dir}: {written}")
        return self.summary
