# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""What a training run tells the user: one line of metrics per epoch, and at the end what was saved and where.

* :func:`log_epoch_metrics` logs an engine's metrics as one readable line (for ``StatsHandler``).
* :class:`TrainingSummaryHandler` reports at the end of training what was saved, where, and its validation score,
  and warns when no model or a model that predicts nothing was saved.

Where a run saves its files is decided by :func:`monai_ext.utils.run_paths.training_ckpt_dir`.
"""

from __future__ import annotations

import ast
import glob
import logging
import math
import os
import shlex
import sys
import time
from typing import Any

from monai.utils import IgniteInfo, min_version, optional_import

from ..utils.run_paths import shipped_weights

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["TrainingSummaryHandler", "log_epoch_metrics"]

logger = logging.getLogger("monai_ext")


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


#: ids that shape only the training run, left out of the evaluate command printed at the end
_TRAINING_ONLY_IDS = frozenset(
    {"bundle_root", "config_file", "meta_file", "logging_file", "max_epochs", "resume", "init_weights",
     "overwrite_weights", "run_dir", "learning_rate", "val_interval", "seed", "tracking"}
)


def training_command_line(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The config files and the ``--id value`` overrides of a ``python -m monai.bundle run`` command line.

    Args:
        argv: the process's arguments (``sys.argv``).

    Returns:
        the config files of ``--config_file`` (a list literal or one path; empty when there is none, e.g. a run
        started from Python) and the other ``--id value`` / ``--id=value`` pairs in their order.
    """
    configs: list[str] = []
    overrides: list[tuple[str, str]] = []
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            i += 1
            continue
        key, sep, value = arg[2:].partition("=")
        if not sep:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                i += 1
                continue
            value = args[i + 1]
            i += 1
        i += 1
        if key == "config_file":
            try:
                parsed = ast.literal_eval(value) if value.lstrip().startswith(("[", "(")) else value
            except (ValueError, SyntaxError):
                parsed = value
            configs = [str(f) for f in parsed] if isinstance(parsed, (list, tuple)) else [str(parsed)]
        else:
            overrides.append((key, shlex.quote(value)))
    return configs, overrides


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
        ckpt_key: the id of the weights file in the evaluate config (``checkpoint`` in every bundle).
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
        ckpt_key: str = "checkpoint",
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
        configs, overrides = training_command_line(sys.argv)
        if configs:
            # evaluate with the configs that trained the model (dataset and schedule layers included), wherever
            # they are, and with the same network/data overrides; --bundle_root when the configs are elsewhere
            config_dir = os.path.dirname(configs[0])
            evaluate = os.path.join(config_dir, os.path.relpath(self.evaluate_config, "configs"))
            files = [_short(f) for f in configs if os.path.abspath(f) != os.path.abspath(evaluate)]
            files.append(_short(evaluate))
            extra = [f"--{k} {v}" for k, v in overrides if k not in _TRAINING_ONLY_IDS and k != self.ckpt_key]
            if os.path.abspath(config_dir) != os.path.abspath(os.path.join(self.bundle_root, "configs")):
                extra.insert(0, f"--bundle_root {root}")
        else:
            files = [f"{root}/configs/train.json", f"{root}/{self.evaluate_config}"]
            extra = []
        listed = ",".join(f"'{f}'" for f in files)
        command = " ".join([f'python -m monai.bundle run --config_file "[{listed}]"', *extra])
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
