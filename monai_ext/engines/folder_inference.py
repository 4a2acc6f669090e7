# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Inference over a folder where some files may be broken: write what works, report what does not.

:class:`FolderInference` (an ignite engine, the ``evaluator`` of every bundle's ``inference.json``) takes the pieces
an ``inference.json`` already defines for MONAI Label (``network``, ``preprocessing``, ``inferer``,
``postprocessing``) and runs them image by image; :func:`run_folder_inference` does the same in one call. A file that
cannot be read, preprocessed, inferred or written is recorded (file, stage, error message) and the run goes on; at the
end ``failures.json`` and ``failures.csv`` are written to the output folder and a summary is printed. The call raises
:class:`FolderInferenceError` (so ``python -m monai.bundle run`` exits with a non-zero status) only with
``fail_on_error=True``. In ``inference.json``::

    "evaluator": {"_target_": "monai_ext.engines.FolderInference", "network": "@network",
                  "preprocessing": "@preprocessing", "postprocessing": "@postprocessing", "inferer": "@inferer",
                  "image_paths": "@dataset_dir", "output_dir": "@output_dir", "handlers": "@handlers"},
    "run": ["$@evaluator.run()"]

Output names come from the input file stems through :func:`~monai_ext.utils.paths.safe_output_path`; nothing
read from an image file or its metadata is ever evaluated.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine
from monai.transforms import Transform
from PIL import Image

from ..utils.checkpoint_io import restore_objects, safe_load_checkpoint
from ..utils.image_files import FOLDER_INFERENCE_SUFFIXES, list_image_paths
from ..utils.paths import output_name_from_path, safe_output_path

__all__ = [
    "FolderInference",
    "FolderInferenceError",
    "InferenceFailure",
    "FolderInferenceReport",
    "PNGPredictionWriter",
    "list_image_files",
    "run_folder_inference",
]

#: file suffixes taken as images when ``image_paths`` is a folder (``monai_ext.utils.image_files``).
DEFAULT_IMAGE_SUFFIXES = FOLDER_INFERENCE_SUFFIXES
FAILURES_JSON = "failures.json"
FAILURES_CSV = "failures.csv"

logger = logging.getLogger(__name__)


class FolderInferenceError(RuntimeError):
    """Some images failed and ``fail_on_error=True`` was asked for."""


@dataclass(frozen=True)
class InferenceFailure:
    """One image that produced no output: the file, the stage that failed and the error message."""

    file: str
    stage: str
    error: str


@dataclass
class FolderInferenceReport:
    """Outcome of :func:`run_folder_inference`.

    Attributes:
        outputs: ``(input file, output file)`` for every image written.
        failures: one :class:`InferenceFailure` per image without output.
        report_json, report_csv: paths of the failure reports.
    """

    outputs: list[tuple[str, str]] = field(default_factory=list)
    failures: list[InferenceFailure] = field(default_factory=list)
    report_json: str = ""
    report_csv: str = ""

    @property
    def ok(self) -> bool:
        """True when every image produced an output."""
        return not self.failures

    def summary(self) -> str:
        """Console summary: counts, then one line per failure."""
        total = len(self.outputs) + len(self.failures)
        lines = [
            f"folder inference: {total} image(s), {len(self.outputs)} written, {len(self.failures)} failed"
            + (f" (failures listed in {self.report_json})" if self.failures else "")
        ]
        lines += [f"FAILED {f.file} [{f.stage}]: {f.error}" for f in self.failures]
        return "\n".join(lines)


class PNGPredictionWriter:
    """Write ``data[key]`` as an 8-bit PNG named ``<input stem><suffix>`` inside the output folder.

    The prediction is channel-first, ``(C, H, W)`` (the layout of :class:`~monai_ext.data.LoadFundusImaged`); set
    ``transpose=True`` when the image was loaded by MONAI's ``LoadImaged``/``PILReader``, which stores 2D images as
    ``(W, H)``. One channel is written as grayscale, three as RGB; other channel counts are reduced by ``argmax``
    (class probabilities or logits). Values are multiplied by ``scale``; by default a label map whose values are all
    0 or 1 is scaled by 255 (visible masks) and anything else is written as is, clipped to ``[0, 255]``.

    Args:
        key: data key of the prediction.
        suffix: appended to the input's file stem (``"_pred.png"``).
        scale: multiplier applied before rounding; ``None`` for the rule above.
        transpose: swap the two spatial axes before writing.
    """

    def __init__(
        self, key: str = "pred", suffix: str = "_pred.png", scale: float | None = None, transpose: bool = False
    ) -> None:
        if not suffix.lower().endswith(".png"):
            raise ValueError(f"PNGPredictionWriter writes PNG files; suffix must end in '.png', got {suffix!r}")
        self.key = key
        self.suffix = suffix
        self.scale = scale
        self.transpose = transpose

    def __call__(self, data: Mapping[str, Any], output_dir: str, name: str) -> str:
        pred = data[self.key]
        array = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3:
            raise ValueError(f"prediction {self.key!r} has shape {tuple(array.shape)}; expected (C, H, W)")
        if array.shape[0] not in (1, 3):
            array = array.argmax(axis=0)[None]
        if self.transpose:
            array = array.swapaxes(1, 2)
        scale = self.scale
        if scale is None:
            is_binary = array.dtype == bool or bool(np.isin(array, (0, 1)).all())
            scale = 255.0 if is_binary else 1.0
        pixels = np.clip(np.rint(array.astype(np.float64) * scale), 0, 255).astype(np.uint8)
        pixels = pixels[0] if pixels.shape[0] == 1 else np.moveaxis(pixels, 0, -1)
        path = safe_output_path(output_dir, name, self.suffix)
        # write to a fresh hidden file, then rename: no half-written PNG under the final name, no writing through
        # a link planted under a predictable temporary name
        tmp = os.path.join(os.path.dirname(path), f".{uuid.uuid4().hex}.partial.png")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as stream:
                Image.fromarray(pixels).save(stream, format="PNG")
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return path


#: the listing of an input folder: :func:`monai_ext.utils.image_files.list_image_paths`.
list_image_files = list_image_paths


def _input_files(image_paths: Any, image_key: str) -> list[str]:
    if isinstance(image_paths, (str, os.PathLike)):
        path = os.fspath(image_paths)
        if not os.path.exists(path):
            raise ValueError(f"input {path!r} does not exist (expected a folder of images or an image file)")
        return list_image_files(path) if os.path.isdir(path) else [path]
    files = []
    for item in image_paths:
        if isinstance(item, Mapping):
            item = item[image_key]
        files.append(os.fspath(item))
    return files


def _root_message(exc: BaseException) -> str:
    """Message of the error, unwrapping MONAI's ``RuntimeError: applying transform ...`` wrappers."""
    while isinstance(exc, RuntimeError) and str(exc).startswith("applying transform") and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _model_device(network: torch.nn.Module) -> torch.device:
    for tensor in network.parameters():
        return tensor.device
    return torch.device("cpu")


def _write_reports(report: FolderInferenceReport, output_dir: str, num_images: int) -> None:
    report.report_json = os.path.join(output_dir, FAILURES_JSON)
    report.report_csv = os.path.join(output_dir, FAILURES_CSV)
    content = {
        "num_images": num_images,
        "num_written": len(report.outputs),
        "num_failed": len(report.failures),
        "failures": [vars(f) for f in report.failures],
        "outputs": [{"file": src, "output": dst} for src, dst in report.outputs],
    }
    with open(report.report_json, "w", encoding="utf-8") as stream:
        json.dump(content, stream, indent=2)
    with open(report.report_csv, "w", encoding="utf-8", newline="") as stream:
        table = csv.writer(stream)
        table.writerow(["file", "stage", "error"])
        table.writerows([f.file, f.stage, f.error] for f in report.failures)


class FolderInference(Engine):
    """Folder inference as an ignite engine: the ``evaluator`` of a bundle's ``inference.json``.

    One iteration per image: ``preprocessing({image_key: path})``, ``inferer(image[None], network)`` (or
    ``network(image[None])``), ``postprocessing`` with the prediction under ``pred_key``, and the ``writer``. Any
    exception in these stages is caught for that image (``KeyboardInterrupt`` is not) and recorded in
    :attr:`report`; the run goes on. :meth:`run` then writes ``failures.json`` / ``failures.csv``, prints the summary
    and, with ``fail_on_error=True``, raises when an image failed.

    Being an engine, it takes MONAI/ignite handlers (``handlers``, the bundle's ``handlers`` list): the bundle's
    ``SafeCheckpointLoader`` loads the weights when the run starts, and ``--tracking mlflow`` attaches its handler
    here as it does to any MONAI evaluator.

    Args:
        network: the bundle's ``network``; put in eval mode for the run and restored after.
        preprocessing: the bundle's ``preprocessing`` (dictionary transforms starting with a loader).
        postprocessing: the bundle's ``postprocessing`` (``None``: none).
        inferer: the bundle's ``inferer`` (``None``: call the network).
        image_paths: a folder (its image files, sorted), a list of paths, or a data list of dicts with
            ``image_key``.
        output_dir: output folder, created if needed; outputs and ``failures.json``/``failures.csv`` go there.
        writer: ``None`` for :class:`PNGPredictionWriter`; a callable ``writer(data, output_dir, name) -> path``;
            a MONAI ``SaveImaged``/``SaveImage`` transform; or ``False`` when ``postprocessing`` already saves.
        device: where the input goes; default the network's device.
        fail_on_error: raise :class:`FolderInferenceError` after writing the reports when any image failed.
        checkpoint: optional weights file loaded into ``network`` before the run with
            :func:`~monai_ext.utils.checkpoint_io.safe_load_checkpoint` (a state_dict or ``{"model": ...}``); bundles
            load through a ``SafeCheckpointLoader`` in ``handlers`` instead.
        image_key: data key of the image.
        pred_key: data key of the prediction.
        verbose: print the summary.
        handlers: handlers with ``attach(engine)``, attached in order.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        preprocessing: Callable[[dict], Any],
        postprocessing: Callable[[dict], Any] | None,
        inferer: Callable[..., Any] | None,
        image_paths: str | os.PathLike | Sequence[str | os.PathLike | Mapping[str, Any]],
        output_dir: str | os.PathLike,
        writer: Callable[..., Any] | bool | None = None,
        device: str | torch.device | None = None,
        fail_on_error: bool = False,
        checkpoint: str | os.PathLike | None = None,
        image_key: str = "image",
        pred_key: str = "pred",
        verbose: bool = True,
        handlers: Sequence[Any] | None = None,
    ) -> None:
        super().__init__(self._infer_one)
        self.network = network
        self.preprocessing = preprocessing
        self.postprocessing = postprocessing
        self.inferer = inferer
        self.image_paths = image_paths
        self.output_dir = os.fspath(output_dir)
        self.writer = PNGPredictionWriter(key=pred_key) if writer is None else writer
        self.device = torch.device(device) if device is not None else None
        self.fail_on_error = fail_on_error
        self.checkpoint = checkpoint
        self.image_key = image_key
        self.pred_key = pred_key
        self.verbose = verbose
        self.report = FolderInferenceReport()
        self._used_names: set[str] = set()
        for handler in handlers or ():
            handler.attach(self)

    def run(self) -> FolderInferenceReport:  # type: ignore[override]  # as MONAI's Workflow.run: no arguments
        """Infer every image; returns the :class:`FolderInferenceReport`.

        Raises:
            FolderInferenceError: only with ``fail_on_error=True`` and at least one failure.
            ValueError: the input folder (or single file) does not exist, or there is no image to process.
        """
        files = _input_files(self.image_paths, self.image_key)
        if not files:
            raise ValueError(f"no image files to process in {_describe(self.image_paths)}")
        os.makedirs(self.output_dir, exist_ok=True)
        if self.checkpoint is not None:
            restore_objects(None, safe_load_checkpoint(self.checkpoint, map_location="cpu"), {"model": self.network},
                            source=os.fspath(self.checkpoint))
        self.report = FolderInferenceReport()
        self._used_names = set()
        self._input_device = self.device if self.device is not None else _model_device(self.network)
        was_training = self.network.training
        self.network.eval()
        try:
            super().run(files, max_epochs=1)
        finally:
            self.network.train(was_training)
        _write_reports(self.report, self.output_dir, len(files))
        if self.verbose:
            print(self.report.summary(), flush=True)
        if self.fail_on_error and self.report.failures:
            raise FolderInferenceError(
                f"{len(self.report.failures)} of {len(files)} image(s) failed (fail_on_error=True); "
                f"see {self.report.report_json}"
            )
        return self.report

    def _infer_one(self, engine: Engine, path: str) -> str | None:
        """One image; returns the output path, or None when the image failed (recorded in the report)."""
        stage = "preprocessing"
        try:
            data = self.preprocessing({self.image_key: path})
            if not isinstance(data, Mapping):
                raise TypeError(f"preprocessing returned {type(data).__name__}, expected one data dict")
            stage = "inference"
            image = torch.as_tensor(data[self.image_key]).unsqueeze(0).to(self._input_device)
            with torch.no_grad():
                pred = self.inferer(image, self.network) if self.inferer is not None else self.network(image)
                data = dict(data)
                data[self.pred_key] = pred[0]
                stage = "postprocessing"
                if self.postprocessing is not None:
                    data = self.postprocessing(data)
            stage = "writing"
            name = output_name_from_path(path)
            base, count = name, 1
            while name in self._used_names:  # a.png and a.jpg in one folder
                count += 1
                name = f"{base}-{count}"
            output = _write(self.writer, data, self.output_dir, name, self.pred_key)
            self._used_names.add(name)
            self.report.outputs.append((path, output))
            return output
        except Exception as exc:  # one broken file must not stop the others
            self.report.failures.append(InferenceFailure(path, stage, _root_message(exc)))
            logger.debug("inference failed for %s", path, exc_info=True)
            return None


def run_folder_inference(*args: Any, **kwargs: Any) -> FolderInferenceReport:
    """Run a bundle's network on every image, write the good results and report the failures.

    ``FolderInference(*args, **kwargs).run()`` in one call; the arguments are those of :class:`FolderInference`.

    Returns:
        The :class:`FolderInferenceReport`.

    Raises:
        FolderInferenceError: only with ``fail_on_error=True`` and at least one failure.
        ValueError: the input folder (or single file) does not exist, or there is no image to process.
    """
    return FolderInference(*args, **kwargs).run()


def _describe(image_paths: Any) -> str:
    return repr(os.fspath(image_paths)) if isinstance(image_paths, (str, os.PathLike)) else "the given image list"


def _write(writer: Any, data: Mapping[str, Any], output_dir: str, name: str, pred_key: str) -> str:
    if writer is False:
        meta = getattr(data.get(pred_key), "meta", {}) or {}
        return str(meta.get("saved_to", ""))
    if isinstance(writer, Transform):  # MONAI SaveImaged / SaveImage configured in the bundle
        pred = data[pred_key]
        result = writer(data) if hasattr(writer, "keys") else writer(pred)
        saved = result.get(pred_key, pred) if isinstance(result, Mapping) else result
        meta = getattr(saved, "meta", {}) or {}
        return str(meta.get("saved_to", ""))
    return str(writer(data, output_dir, name))
