# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Where a training run writes its models, and what it tells the user at the end.

* :func:`training_ckpt_dir` keeps shipped weights safe: a bundle's ``models/`` folder receives the trained model
  (the model-zoo and MONAI Label convention: the server serves ``models/model.pt``) unless a weights file there is
  tracked by git, i.e. it is the weights this repository ships. Then the run writes to a run folder
  (``<bundle_root>/runs/train`` by default) and the shipped file stays as it is; ``overwrite_weights=True`` writes
  into ``models/`` anyway.
* :class:`ValidationHandler` is MONAI's handler that also validates after the last epoch, so that a run shorter than
  ``val_interval`` still selects and saves a model.
* :class:`TrainingSummaryHandler` reports at the end of training what was saved, where, and its validation score,
  and warns when no model or a model that predicts nothing was saved.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import subprocess
import sys
import time
from typing import Any

from monai.handlers import ValidationHandler as _MonaiValidationHandler
from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = [
    "TrainingOutputError",
    "git_tracked_files",
    "shipped_weights",
    "training_ckpt_dir",
    "run_or_shipped_file",
    "running_in_monailabel",
    "ValidationHandler",
    "TrainingSummaryHandler",
    "log_epoch_metrics",
]

logger = logging.getLogger("monai_ext")

#: file name patterns of weights files in a bundle's ``models/`` folder.
WEIGHT_PATTERNS = ("*.pt", "*.ts", "*.pth")


class TrainingOutputError(ValueError):
    """A training or evaluation output folder cannot be used as asked (e.g. it is a file)."""


def git_tracked_files(folder: str | os.PathLike) -> set[str] | None:
    """Names of the files directly in ``folder`` that git tracks, or None when ``folder`` is not in a git work tree.

    Uses ``git ls-files`` (no network, no write). Returns None as well when git is not installed.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return None
    try:
        result = subprocess.run(
            ["git", "-C", folder, "ls-files", "-z", "--", "."],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return {name for name in result.stdout.split("\0") if name and "/" not in name}


def shipped_weights(models_dir: str | os.PathLike) -> list[str]:
    """Weights files (``*.pt``, ``*.ts``, ``*.pth``) in ``models_dir`` that git tracks: the weights a repository ships.

    Empty when the folder is not in a git work tree (a downloaded bundle, a MONAI Label app's copy) or holds no
    tracked weights.
    """
    tracked = git_tracked_files(models_dir)
    if not tracked:
        return []
    present = {os.path.basename(p) for pattern in WEIGHT_PATTERNS for p in glob.glob(os.path.join(models_dir, pattern))}
    return sorted(os.path.join(os.fspath(models_dir), name) for name in present & tracked)


def running_in_monailabel() -> bool:
    """True inside a MONAI Label server's training (the server imports ``monailabel`` and runs the bundle in-process;
    its multi-GPU path runs ``torchrun ... --config_file "['.../configs/monailabel_train.json', ...]"``)."""
    return "monailabel" in sys.modules or any("monailabel_train.json" in str(arg) for arg in sys.argv)


def run_or_shipped_file(ckpt_dir: str | os.PathLike, bundle_root: str | os.PathLike, filename: str) -> str:
    """``<ckpt_dir>/<filename>`` when a run made it, else the shipped ``<bundle_root>/models/<filename>``.

    A stage that reads an earlier stage's output (e.g. the distilled SR student) prefers the file of the current
    run folder and falls back to the bundle's shipped copy, so that a quick start that skips the earlier stages
    still finds it. The returned path may not exist (neither was made); callers decide what that means.
    """
    made = os.path.join(os.fspath(ckpt_dir), filename)
    return made if os.path.isfile(made) else os.path.join(os.fspath(bundle_root), "models", filename)


def training_ckpt_dir(
    bundle_root: str | os.PathLike,
    run_dir: str | os.PathLike | None = None,
    overwrite_weights: bool = False,
    monailabel: bool | None = None,
) -> str:
    """The folder a training run writes its checkpoints and best model to.

    ``<bundle_root>/models`` (where MONAI Label and the model zoo expect ``model.pt``) unless that folder holds
    weights tracked by git: then ``run_dir`` (default ``<bundle_root>/runs/train``), so that training never replaces
    the shipped weights. ``overwrite_weights=True`` always returns ``models``, and so does training started by a MONAI
    Label server (its ``/train`` request fine-tunes ``models/model.pt`` and then serves the result). The choice is
    logged.

    Args:
        bundle_root: the bundle folder.
        run_dir: the run folder used when the shipped weights are protected.
        overwrite_weights: write into ``models/`` even when it holds tracked (shipped) weights.
        monailabel: whether MONAI Label runs the training; None detects it (:func:`running_in_monailabel`).
    """
    models_dir = os.path.join(os.fspath(bundle_root), "models")
    run_dir = os.fspath(run_dir) if run_dir else os.path.join(os.fspath(bundle_root), "runs", "train")
    shipped = shipped_weights(models_dir)
    if not shipped:
        logger.info(f"training writes its checkpoints and best model to {models_dir}")
        return models_dir
    if running_in_monailabel() if monailabel is None else monailabel:
        logger.warning(
            f"MONAI Label training: writes to {models_dir}, the model the server serves, replacing the shipped weights "
            f"{', '.join(shipped)} (restore them with `git checkout -- {models_dir}`)"
        )
        return models_dir
    if overwrite_weights:
        logger.warning(
            f"overwrite_weights=true: training writes to {models_dir} and may replace the shipped weights "
            f"{', '.join(shipped)} (restore them with `git checkout -- {models_dir}`)"
        )
        return models_dir
    if os.path.isfile(run_dir):
        raise TrainingOutputError(f"run_dir {run_dir!r} is a file; give a folder (e.g. --run_dir {run_dir}_dir)")
    logger.info(
        f"training writes its checkpoints and best model to the run folder {run_dir}; the shipped weights "
        f"{', '.join(shipped)} are kept (--overwrite_weights true would replace them)"
    )
    return run_dir


class ValidationHandler(_MonaiValidationHandler):
    """MONAI's ``ValidationHandler`` that also validates after the last epoch.

    With ``interval=5`` and ``max_epochs=7`` MONAI validates at epoch 5 only, so the last two epochs are never
    scored and a run shorter than ``interval`` saves no best model at all. This handler validates at every
    ``interval``-th epoch and at the last one (``final=True``). Same arguments as MONAI's otherwise.

    Args:
        interval: validate every ``interval`` epochs (or iterations when ``epoch_level=False``).
        validator: the evaluator.
        epoch_level: epoch (True) or iteration (False) interval.
        exec_at_start: also validate before training.
        final: also validate after the last epoch (epoch level only). Defaults to True.
    """

    def __init__(
        self,
        interval: int,
        validator: Any = None,
        epoch_level: bool = True,
        exec_at_start: bool = False,
        final: bool = True,
    ) -> None:
        super().__init__(interval=interval, validator=validator, epoch_level=epoch_level, exec_at_start=exec_at_start)
        self.final = final

    def attach(self, engine: Engine) -> None:
        if not (self.epoch_level and self.final):
            super().attach(engine)
            return
        interval = max(1, int(self.interval))

        def due(engine: Engine, epoch: int) -> bool:
            return epoch % interval == 0 or epoch == engine.state.max_epochs

        engine.add_event_handler(Events.EPOCH_COMPLETED(event_filter=due), self)
        if self.exec_at_start:
            engine.add_event_handler(Events.STARTED, self)


def _format_metric(value: Any) -> str:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 else value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4f}"


def log_epoch_metrics(engine: Engine, logger_name: str = "monai_ext") -> str:
    """Log the engine's metrics as one line, ``name: value`` pairs separated by `` | `` (scalars with 4 decimals,
    nested dicts flattened with ``/``). For ``StatsHandler(epoch_print_logger=...)``: MONAI's own line runs a
    non-scalar value into the next name. Returns the line."""

    def flat(prefix: str, value: Any):
        if isinstance(value, dict):
            for key, sub in value.items():
                yield from flat(f"{prefix}/{key}" if prefix else str(key), sub)
        else:
            yield prefix, value

    pairs = [f"{name}: {_format_metric(value)}" for name, value in flat("", dict(engine.state.metrics))]
    line = f"Epoch[{engine.state.epoch}] Metrics -- " + " | ".join(pairs)
    logging.getLogger(logger_name).info(line)
    return line


def _short(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


class TrainingSummaryHandler:
    """Log what a training run saved, where, and how good it is, when the trainer completes.

    At ``Events.COMPLETED`` of the trainer it logs the best model file (if this run wrote it), its validation score
    and epoch, the last checkpoint, and how to evaluate it. It warns when this run saved no best model (no
    validation ran or the validation set was empty) and when the saved model's score is at or below
    ``empty_score`` (a segmentation model with foreground IoU 0 predicts no foreground at all).

    Args:
        ckpt_dir: the folder the run saves to (``@ckpt_dir``).
        model_filename: the best model's file name in ``ckpt_dir``. Defaults to ``"model.pt"``.
        validator: the evaluator whose ``best_metric`` selected the model (``@validate#evaluator``).
        bundle_root: the bundle folder, used to print the evaluate command; None prints no command.
        empty_score: warn when the best score is at or below this value; None disables the check.
        empty_message: what a score at or below ``empty_score`` means, for the warning.
        evaluate_config: config file(s) layered for evaluation, relative to ``bundle_root``.
        selection: ``"best"`` (the file is the best-scoring model, the default) or ``"final"`` (the file holds the
            last weights; the best validation score is reported for information).
    """

    def __init__(
        self,
        ckpt_dir: str | os.PathLike,
        model_filename: str = "model.pt",
        validator: Any = None,
        bundle_root: str | os.PathLike | None = None,
        empty_score: float | None = 0.0,
        empty_message: str = "the model predicts no foreground",
        evaluate_config: str = "configs/evaluate.json",
        selection: str = "best",
        ckpt_key: str = "ckpt_path",
    ) -> None:
        self.ckpt_key = ckpt_key
        if selection not in ("best", "final"):
            raise ValueError(f"selection must be 'best' or 'final', got {selection!r}")
        self.selection = selection
        self.ckpt_dir = os.fspath(ckpt_dir)
        self.model_filename = model_filename
        self.validator = validator
        self.bundle_root = os.fspath(bundle_root) if bundle_root is not None else None
        self.empty_score = empty_score
        self.empty_message = empty_message
        self.evaluate_config = evaluate_config
        self.started = 0.0
        self.lines: list[str] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self.on_started)

    def on_started(self, engine: Engine) -> None:
        self.started = time.time() - 1.0  # file-system time stamps may be coarse
        # registered now, so that it runs after every COMPLETED handler attached before the run (final checkpoint)
        if not engine.has_event_handler(self.on_completed, Events.COMPLETED):
            engine.add_event_handler(Events.COMPLETED, self.on_completed)

    def _written_here(self, path: str) -> bool:
        return os.path.isfile(path) and os.path.getmtime(path) >= self.started

    def _evaluate_command(self, model_path: str) -> str | None:
        if self.bundle_root is None:
            return None
        root = _short(self.bundle_root)
        configs = f"['{root}/configs/train.json','{root}/{self.evaluate_config}']"
        command = f'python -m monai.bundle run --config_file "{configs}"'
        default = os.path.join(self.bundle_root, "models", self.model_filename)
        if os.path.abspath(model_path) != os.path.abspath(default):
            command += f" --{self.ckpt_key} {_short(model_path)}"
        return command

    def on_completed(self, engine: Engine) -> None:
        model_path = os.path.join(self.ckpt_dir, self.model_filename)
        state = getattr(self.validator, "state", None)
        metric_name = getattr(state, "key_metric_name", None) or "validation score"
        best = getattr(state, "best_metric", -1)
        best_epoch = getattr(state, "best_metric_epoch", -1)
        lines: list[str] = []
        warn: list[str] = []
        checkpoints = sorted(
            (p for p in glob.glob(os.path.join(self.ckpt_dir, "checkpoint*.pt")) if self._written_here(p)),
            key=os.path.getmtime,
        )
        if self._written_here(model_path) and self.selection == "final":
            lines.append(
                f"training finished after {engine.state.epoch} epochs: final model saved to {_short(model_path)}"
                + (f" (best {metric_name} = {best:.4f} at epoch {best_epoch})" if best_epoch and best_epoch > 0 else "")
            )
            command = self._evaluate_command(model_path)
            if command:
                lines.append(f"evaluate it with: {command}")
        elif self._written_here(model_path) and best_epoch is not None and best_epoch >= 0:
            lines.append(
                f"training finished after {engine.state.epoch} epochs: best model saved to {_short(model_path)} "
                f"({metric_name} = {best:.4f} at epoch {best_epoch})"
            )
            score_bad = isinstance(best, (int, float)) and (not math.isfinite(best))
            if self.empty_score is not None and isinstance(best, (int, float)) and best <= self.empty_score:
                score_bad = True
            if score_bad:
                warn.append(
                    f"the saved model scores {metric_name} = {best:.4f}: {self.empty_message}. Train longer "
                    "(more epochs, e.g. the config's default --max_epochs) before using it"
                )
            command = self._evaluate_command(model_path)
            if command:
                lines.append(f"evaluate it with: {command}")
        elif self._written_here(model_path):
            lines.append(f"training finished after {engine.state.epoch} epochs: model saved to {_short(model_path)}")
        else:
            reason = (
                "validation never ran (validation set empty or validation disabled)"
                if best_epoch is None or best_epoch < 0
                else "no validation improved on the starting score"
            )
            warn.append(
                f"training finished after {engine.state.epoch} epochs but saved no model to {_short(model_path)}: "
                f"{reason}"
            )
        if checkpoints:
            lines.append(f"last full checkpoint (for --resume true): {_short(checkpoints[-1])}")
        if self.bundle_root is not None:
            models_dir = os.path.join(self.bundle_root, "models")
            shipped = shipped_weights(models_dir)
            if shipped and os.path.abspath(self.ckpt_dir) != os.path.abspath(models_dir):
                lines.append(f"the shipped weights {', '.join(_short(p) for p in shipped)} are unchanged")
        self.lines = lines + [f"WARNING: {w}" for w in warn]
        for line in lines:
            logger.info(line)
        for line in warn:
            logger.warning(line)
