# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Checkpoint handlers: safe loading, warm start from a weights file, and atomic saving.

* :class:`SafeCheckpointLoader` is a drop-in replacement for MONAI's ``CheckpointLoader`` that reads through
  :func:`~monai_ext.utils.checkpoint_io.safe_load_checkpoint` (tensors and plain containers only).
* :class:`InitialWeightsLoader` warm-starts a training from a local weights file (or does nothing without one).
* :class:`AtomicCheckpointSaver` is MONAI's ``CheckpointSaver`` (same arguments: keep the last ``n_saved``
  interval checkpoints, the best ``key_metric_n_saved`` by the key metric, a final one) whose files are written
  atomically. MONAI's own saver passes ``atomic=False`` to ignite's ``DiskSaver`` (to keep group/other read
  permission), so a crash during ``torch.save`` leaves a truncated file under the final name and, with a fixed
  ``key_metric_filename`` such as ``model.pt``, the previous best model is deleted before the new one is written.
  Here every file is written by :class:`AtomicDiskSaver` through
  :func:`~monai_ext.utils.checkpoint_io.atomic_torch_save` (temporary file, fsync, rename), so a reader sees either
  the old complete file or the new complete file.
* :class:`StageCheckpointSaver` is an :class:`AtomicCheckpointSaver` whose file names carry a training stage and an
  upscale factor (``checkpoint_gan_x4_final.pt``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers.checkpoint import BaseSaveHandler
from monai.handlers import CheckpointLoader, CheckpointSaver

from ..utils.checkpoint_io import atomic_torch_save, restore_objects, safe_load_checkpoint
from ..utils.run_paths import stage_checkpoint_path, stage_file_prefix

__all__ = ["SafeCheckpointLoader", "InitialWeightsLoader", "AtomicDiskSaver", "AtomicCheckpointSaver"]


class SafeCheckpointLoader(CheckpointLoader):
    """MONAI ``CheckpointLoader`` that reads through :func:`~monai_ext.utils.checkpoint_io.safe_load_checkpoint`.

    Same arguments and behaviour as ``monai.handlers.CheckpointLoader`` (attach to any engine; loads at
    ``Events.STARTED``; a bare state_dict is accepted for ``load_dict={"model": net}``), but a checkpoint holding
    anything except tensors and plain containers is refused with
    :class:`~monai_ext.utils.checkpoint_io.UnsafeCheckpointError`, and an unreadable file gives a
    :class:`~monai_ext.utils.checkpoint_io.CheckpointReadError` naming it. Usable in bundle configs as
    ``{"_target_": "monai_ext.handlers.SafeCheckpointLoader", "load_path": ..., "load_dict": {"model": "@network"}}``.
    """

    def __call__(self, engine: Engine) -> None:
        checkpoint = safe_load_checkpoint(self.load_path, map_location=self.map_location)
        restore_objects(engine, checkpoint, self.load_dict, self.strict, self.strict_shape, source=self.load_path)
        self.logger.info(f"Restored all variables from {self.load_path}")


class InitialWeightsLoader:
    """Warm start: load a network's weights from a local file when a training starts; nothing without a file.

    The file is a bare ``state_dict`` (a shipped ``models/model.pt``) or a full training checkpoint with a
    ``"model"`` entry; it is read through :func:`~monai_ext.utils.checkpoint_io.safe_load_checkpoint`. Only the
    network is loaded: the optimiser, the learning-rate schedule and the epoch counter start afresh, so the run is a
    new schedule from these weights.
    Attach it before :class:`~monai_ext.handlers.ResumeFromCheckpoint`: both act at ``Events.STARTED``, and a resumed
    checkpoint then overrides the initial weights. Usable in bundle configs as
    ``{"_target_": "monai_ext.handlers.InitialWeightsLoader", "load_path": "@init_weights", "network": "@network"}``
    with ``init_weights`` null by default (``--init_weights <file>`` on the command line).

    Args:
        load_path: the weights file, or ``None`` to leave the network's initialisation alone.
        network: the network to load into.
        strict: whether every key of the network must be in the file and vice versa.
        map_location: passed to ``torch.load``.

    Raises:
        FileNotFoundError: ``load_path`` is given but is not a file (raised at construction, before any training).
    """

    def __init__(
        self, load_path: str | os.PathLike | None, network: torch.nn.Module, strict: bool = True,
        map_location: Any = "cpu",
    ) -> None:
        if load_path is not None and not os.path.isfile(load_path):
            raise FileNotFoundError(f"init_weights: {os.fspath(load_path)!r} is not a file.")
        self.load_path = None if load_path is None else os.fspath(load_path)
        self.network = network
        self.strict = strict
        self.map_location = map_location

    def attach(self, engine: Engine) -> None:
        """Load the weights when ``engine`` starts."""
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine | None = None) -> None:
        if self.load_path is None:
            return
        checkpoint = safe_load_checkpoint(self.load_path, map_location=self.map_location)
        restore_objects(None, checkpoint, {"model": self.network}, strict=self.strict, source=self.load_path)
        if engine is not None:
            engine.logger.info(f"Initial weights loaded from {self.load_path}")


class AtomicDiskSaver(BaseSaveHandler):
    """ignite save handler writing atomically (:func:`~monai_ext.utils.checkpoint_io.atomic_torch_save`), optionally
    always to one fixed file name.

    ignite's ``Checkpoint`` asks to remove the file being replaced (the oldest of the last ``n_saved``, the previous
    best) *before* it writes the new one, so a crash in between loses it. Here removals are deferred until the next
    file is completely written; a fixed ``filename`` is simply replaced by the atomic rename. Removing a file that
    is already gone is not an error. Only the process of rank ``save_on_rank`` writes.
    """

    def __init__(
        self, dirname: str | os.PathLike, filename: str | None = None, save_on_rank: int = 0, **kwargs: Any
    ) -> None:
        self.dirname = os.fspath(dirname)
        self.filename = filename
        self.save_on_rank = save_on_rank
        self.kwargs = kwargs
        self._pending_removal: list[str] = []
        if idist.get_rank() == save_on_rank:
            os.makedirs(self.dirname, exist_ok=True)

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        if idist.get_rank() != self.save_on_rank:  # in distributed runs one process writes, like ignite's DiskSaver
            return
        filename = self.filename or filename
        atomic_torch_save(checkpoint, os.path.join(self.dirname, filename), **self.kwargs)
        pending, self._pending_removal = self._pending_removal, []
        for name in pending:
            path = os.path.join(self.dirname, name)
            if name != filename and os.path.exists(path):
                os.remove(path)

    def remove(self, filename: str) -> None:
        self._pending_removal.append(self.filename or filename)


class AtomicCheckpointSaver(CheckpointSaver):
    """MONAI ``CheckpointSaver`` whose checkpoint files are written atomically (write, fsync, rename).

    All arguments are those of ``monai.handlers.CheckpointSaver``; the ones that decide what is kept:

    * ``save_interval=1, epoch_level=True, n_saved=N``: a checkpoint every epoch (``checkpoint_epoch=E.pt``), only
      the last ``N`` kept; ``epoch_level=False`` counts iterations (``checkpoint_iteration=I.pt``).
    * ``save_key_metric=True, key_metric_n_saved=K``: the ``K`` best by the engine's key metric
      (``checkpoint_key_metric=0.8123.pt``), or the single best under ``key_metric_filename`` (e.g. ``model.pt``).
      Attach it to the evaluator for a validation metric.
    * ``save_final=True``: ``checkpoint_final_iteration=I.pt`` when the run completes or raises.

    Args:
        engine_key: when set (e.g. ``"trainer"``), the engine this handler is attached to is added to ``save_dict``
            under that key, so a bundle config can save the trainer state without referring to the trainer from
            its own handler list (which would be a circular reference). ``save_dict`` is copied first, so a dict
            shared with other handlers of the config (a ``checkpoint_objects`` id) is left as it is.
        args, kwargs: passed to ``monai.handlers.CheckpointSaver``.
    """

    def __init__(self, *args: Any, engine_key: str | None = None, **kwargs: Any) -> None:
        # a copy: the engine is added to it under engine_key, and a config may share one dict between handlers
        if "save_dict" in kwargs:
            kwargs["save_dict"] = dict(kwargs["save_dict"])
        elif len(args) > 1:
            args = (args[0], dict(args[1]), *args[2:])
        super().__init__(*args, **kwargs)
        self.engine_key = engine_key
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                fixed = getattr(checkpoint.save_handler, "filename", None)
                checkpoint.save_handler = AtomicDiskSaver(self.save_dir, filename=fixed)
        interval = self._interval_checkpoint
        if interval is not None and "checkpoint" in str(interval.filename_prefix):
            # ignite inserts the object name ("checkpoint") after the prefix: checkpoint_checkpoint_epoch=3.pt
            interval.filename_pattern = "{filename_prefix}_{score_name}={score}.{ext}"

    def attach(self, engine: Engine) -> None:
        if self.engine_key is not None:
            self.save_dict[self.engine_key] = engine  # the ignite Checkpoint objects share this dict
        super().attach(engine)


class StageCheckpointSaver(AtomicCheckpointSaver):
    """The checkpoints of one stage of a multi-stage training, named by the stage and the upscale factor.

    Every epoch ``<stage>_x<factor>_checkpoint_epoch=E.pt`` (the last one kept, for resuming) and at the end
    ``checkpoint_<stage>_x<factor>_final.pt`` (:func:`~monai_ext.utils.run_paths.stage_checkpoint_path`, the file the
    next stage and the evaluation read). Two stages, or two factors, can then share one checkpoint folder. Usable in
    a bundle config as ``{"_target_": "monai_ext.handlers.StageCheckpointSaver", "save_dir": "@ckpt_dir",
    "save_dict": {...}, "stage": "mse", "scale_factor": "@scale_factor", "engine_key": "pretrain_trainer"}``.

    Args:
        save_dir: the checkpoint folder.
        save_dict: the objects to save (``{"model": ..., "optimizer": ...}``).
        stage: the stage name in the file names (``"mse"``, ``"gan"``).
        scale_factor: the upscale factor in the file names.
        save_interval: epochs between two interval checkpoints.
        n_saved: how many interval checkpoints are kept.
        kwargs: further arguments of :class:`AtomicCheckpointSaver` (``engine_key``, ``epoch_level``, ...).
    """

    def __init__(
        self, save_dir: str, save_dict: dict, stage: str, scale_factor: int, save_interval: int = 1,
        n_saved: int = 1, **kwargs: Any,
    ) -> None:
        final_path = stage_checkpoint_path(save_dir, stage, scale_factor)
        super().__init__(
            save_dir, save_dict, save_final=True, final_filename=os.path.basename(final_path),
            save_interval=save_interval, n_saved=n_saved, file_prefix=stage_file_prefix(stage, scale_factor),
            **kwargs,
        )
        self.final_path = final_path
