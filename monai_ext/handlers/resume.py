# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Resume an interrupted training run from the latest full checkpoint in a folder.

:class:`ResumeFromCheckpoint` is attached to a MONAI ``SupervisedTrainer`` (``train#handlers`` in a bundle
config). When the trainer starts it looks at the checkpoints in ``ckpt_dir``, keeps the *full* ones (holding
every entry of ``load_dict``: model, optimizer, scheduler, trainer), picks the one with the highest trainer
iteration stored inside, and restores all objects, so training continues at the next epoch with the same
weights, optimizer moments, learning rate and counters. Files are read with
:func:`~monai_ext.utils.checkpoint_io.safe_load_checkpoint`.

Exact continuation (interrupted + resumed == uninterrupted) also needs each epoch's randomness to depend only on the
seed and the epoch number: add :class:`~monai_ext.handlers.seeding.EpochSeedHandler` to the same handler list,
and save checkpoints at epoch ends (``AtomicCheckpointSaver(save_interval=1, epoch_level=True)``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ignite.engine import Engine, Events

from ..utils.checkpoint_io import TEMP_PREFIX, CheckpointReadError, restore_objects, safe_load_checkpoint

__all__ = ["CheckpointInfo", "find_checkpoints", "find_latest_checkpoint", "ResumeFromCheckpoint"]

CHECKPOINT_EXTENSIONS = (".pt", ".pth", ".ckpt")
_NUMBER_RE = re.compile(r"(epoch|iteration|final_iteration)=(\d+)")


@dataclass(frozen=True)
class CheckpointInfo:
    """What :func:`find_checkpoints` learnt about one file.

    Attributes:
        path: the file.
        keys: the top-level keys (empty for a bare state_dict).
        iteration: trainer iteration stored in the file (``None`` without a trainer entry).
        epoch: trainer epoch derived from it (``None`` when unknown).
        name_number: the epoch or iteration number in a MONAI file name (``checkpoint_epoch=3.pt`` -> 3).
        mtime: modification time.
    """

    path: str
    keys: tuple[str, ...]
    iteration: int | None
    epoch: int | None
    name_number: int | None
    mtime: float


def _trainer_position(entry: Any) -> tuple[int | None, int | None]:
    """(iteration, epoch) from an ignite ``Engine.state_dict()`` entry."""
    if not isinstance(entry, Mapping):
        return None, None
    epoch_length = entry.get("epoch_length")
    iteration, epoch = entry.get("iteration"), entry.get("epoch")
    if iteration is None and epoch is not None and epoch_length:
        iteration = int(epoch) * int(epoch_length)
    if epoch is None and iteration is not None and epoch_length:
        epoch = int(iteration) // int(epoch_length)
    return (None if iteration is None else int(iteration)), (None if epoch is None else int(epoch))


def find_checkpoints(
    ckpt_dir: str | os.PathLike, engine_key: str = "trainer"
) -> tuple[list[CheckpointInfo], list[str]]:
    """Inspect every checkpoint file in ``ckpt_dir`` (memory-mapped, so large files are cheap).

    Hidden files (including the temporary files of an interrupted atomic save) are ignored.

    Args:
        ckpt_dir: the folder.
        engine_key: key of the trainer state inside the checkpoints.

    Returns:
        ``(infos, skipped)``: one :class:`CheckpointInfo` per readable file, and ``"path: reason"`` for each file
        that could not be read (empty, truncated, not a checkpoint).

    Raises:
        UnsafeCheckpointError: a file in the folder holds objects other than tensors and plain containers.
    """
    ckpt_dir = os.fspath(ckpt_dir)
    infos: list[CheckpointInfo] = []
    skipped: list[str] = []
    if not os.path.isdir(ckpt_dir):
        return infos, skipped
    for name in sorted(os.listdir(ckpt_dir)):
        path = os.path.join(ckpt_dir, name)
        if name.startswith((".", TEMP_PREFIX)) or not name.endswith(CHECKPOINT_EXTENSIONS) or not os.path.isfile(path):
            continue
        try:
            try:
                checkpoint = safe_load_checkpoint(path, map_location="cpu", mmap=True)
            except CheckpointReadError:  # legacy (non-zip) files cannot be memory-mapped
                checkpoint = safe_load_checkpoint(path, map_location="cpu")
        except CheckpointReadError as exc:
            skipped.append(f"{path}: {exc}")
            continue
        keys = tuple(str(k) for k in checkpoint) if isinstance(checkpoint, Mapping) else ()
        iteration, epoch = _trainer_position(checkpoint.get(engine_key) if isinstance(checkpoint, Mapping) else None)
        numbers = _NUMBER_RE.findall(name)
        name_number = int(numbers[-1][1]) if numbers else None
        infos.append(CheckpointInfo(path, keys, iteration, epoch, name_number, os.path.getmtime(path)))
        del checkpoint
    return infos, skipped


def find_latest_checkpoint(
    ckpt_dir: str | os.PathLike, required_keys: tuple[str, ...] | list[str], engine_key: str = "trainer"
) -> tuple[CheckpointInfo | None, list[str]]:
    """The latest checkpoint in ``ckpt_dir`` holding all ``required_keys``.

    Latest = highest trainer iteration stored in the file; files without a trainer entry rank below, by the
    number in their name (``epoch=N``, ``iteration=N``), then by modification time.

    Returns:
        ``(info or None, skipped)``, ``skipped`` as in :func:`find_checkpoints`.
    """
    infos, skipped = find_checkpoints(ckpt_dir, engine_key)
    full = [info for info in infos if all(key in info.keys for key in required_keys)]
    if not full:
        return None, skipped

    def rank(info: CheckpointInfo) -> tuple:
        return (
            info.iteration if info.iteration is not None else -1,
            info.name_number if info.name_number is not None else -1,
            info.mtime,
        )

    return max(full, key=rank), skipped


class ResumeFromCheckpoint:
    """At trainer start, restore model, optimizer, scheduler and trainer counters from the latest full checkpoint.

    Usage in ``train#handlers`` of a bundle config (before ``ValidationHandler``/savers)::

        {"_target_": "monai_ext.handlers.ResumeFromCheckpoint", "ckpt_dir": "@ckpt_dir", "enabled": "@resume",
         "load_dict": {"model": "@network", "optimizer": "@optimizer", "lr_scheduler": "@lr_scheduler"}}

    The trainer itself is added under ``engine_key`` when attached (referring to ``@train#trainer`` from its own
    handler list would be circular). Save full checkpoints with the same keys, e.g.
    ``AtomicCheckpointSaver(save_dir=@ckpt_dir, save_dict={model, optimizer, lr_scheduler}, engine_key="trainer",
    save_interval=1, n_saved=2)``.

    Without any usable checkpoint (empty or missing folder) training starts from scratch, with a log line. Files that
    cannot be read (e.g. truncated by a crash of a non-atomic saver) are skipped with a warning; a file holding
    objects other than tensors raises :class:`~monai_ext.utils.checkpoint_io.UnsafeCheckpointError`.

    Args:
        ckpt_dir: folder of the checkpoints.
        load_dict: objects to restore, by checkpoint key.
        enabled: ``False`` makes the handler do nothing (one switch in the config: ``"resume": false``).
        engine_key: key under which the attached engine's state is restored (``None``: not restored).
        strict: passed to ``load_state_dict``.
        map_location: passed to ``torch.load``.
        name: logger name; default the engine's logger.
    """

    def __init__(
        self,
        ckpt_dir: str | os.PathLike,
        load_dict: Mapping[str, Any],
        enabled: bool = True,
        engine_key: str | None = "trainer",
        strict: bool = True,
        map_location: Any = "cpu",
        name: str | None = None,
    ) -> None:
        if not load_dict:
            raise ValueError("ResumeFromCheckpoint needs a non-empty load_dict, e.g. {'model': network}")
        self.ckpt_dir = os.fspath(ckpt_dir)
        self.load_dict = dict(load_dict)
        self.enabled = bool(enabled)
        self.engine_key = engine_key
        self.strict = strict
        self.map_location = map_location
        self.logger = logging.getLogger(name)
        self._name = name
        self.loaded_path: str | None = None

    def attach(self, engine: Engine) -> None:
        """Register at ``Events.STARTED`` of ``engine`` (the trainer)."""
        if self._name is None:
            self.logger = engine.logger
        if self.engine_key is not None and self.engine_key not in self.load_dict:
            self.load_dict[self.engine_key] = engine
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if not self.enabled:
            return
        engine_key = self.engine_key or "trainer"
        info, skipped = find_latest_checkpoint(self.ckpt_dir, tuple(self.load_dict), engine_key)
        for line in skipped:
            self.logger.warning(f"resume: skipping unreadable checkpoint {line}")
        if info is None:
            self.logger.info(
                f"resume: no checkpoint in {self.ckpt_dir!r} holds all of {sorted(self.load_dict)}; "
                "training starts from scratch"
            )
            return
        checkpoint = safe_load_checkpoint(info.path, map_location=self.map_location)
        restore_objects(engine, checkpoint, self.load_dict, strict=self.strict, source=info.path)
        self.loaded_path = info.path
        self.logger.info(
            f"resume: restored {sorted(self.load_dict)} from {info.path} "
            f"(epoch {engine.state.epoch}, iteration {engine.state.iteration})"
        )
