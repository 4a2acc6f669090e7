# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Safe checkpoint loading and atomic checkpoint writing.

* :func:`safe_load_checkpoint` loads with ``torch.load(weights_only=True)``, so unpickling can never run code, and
  then refuses any checkpoint that holds something other than tensors, numbers, strings and plain containers,
  with an :class:`UnsafeCheckpointError` naming the file and the offending type.
* :class:`SafeCheckpointLoader` is a drop-in replacement for MONAI's ``CheckpointLoader`` built on it.
* :class:`InitialWeightsLoader` warm-starts a training from a local weights file (or does nothing without one).
* :class:`AtomicCheckpointSaver` is MONAI's ``CheckpointSaver`` (same arguments: keep the last ``n_saved``
  interval checkpoints, the best ``key_metric_n_saved`` by the key metric, a final one) whose files are written
  atomically. MONAI's own saver passes ``atomic=False`` to ignite's ``DiskSaver`` (to keep group/other read
  permission), so a crash during ``torch.save`` leaves a truncated file under the final name and, with a fixed
  ``key_metric_filename`` such as ``model.pt``, the previous best model is deleted before the new one is written.
  Here every file is written to a hidden temporary file in the same folder, flushed to disk and renamed over the
  final name, so a reader sees either the old complete file or the new complete file.
"""

from __future__ import annotations

import os
import pickle
import re
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint
from ignite.handlers.checkpoint import BaseSaveHandler
from monai.handlers import CheckpointLoader, CheckpointSaver
from monai.networks.utils import copy_model_state

__all__ = [
    "UnsafeCheckpointError",
    "CheckpointReadError",
    "MissingWeightsError",
    "missing_weights_message",
    "safe_load_checkpoint",
    "restore_objects",
    "SafeCheckpointLoader",
    "InitialWeightsLoader",
    "atomic_torch_save",
    "AtomicDiskSaver",
    "AtomicCheckpointSaver",
    "TEMP_PREFIX",
]

#: prefix of the temporary files written by :func:`atomic_torch_save` (hidden, never matched as a checkpoint).
TEMP_PREFIX = ".tmp-"
_SAFE_LEAVES = (torch.Tensor, bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device)
_SAFE_CONTAINERS = (dict, list, tuple, set, frozenset)  # OrderedDict and torch.Size are subclasses
_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")
# messages of torch's weights-only unpickler when it meets an object it must not build (other failures: damaged file)
_REFUSAL_MARKERS = ("GLOBAL", "Can only create new object", "Can only build", "Trying to call reduce")


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds objects other than tensors, numbers, strings and plain containers."""


class CheckpointReadError(ValueError):
    """A checkpoint file cannot be read: missing, empty, truncated or not a PyTorch checkpoint."""


class MissingWeightsError(CheckpointReadError):
    """The weights file to load does not exist (the bundle was not trained yet, or the path is wrong)."""


def _bundle_of(path: str) -> str | None:
    """The bundle folder holding ``path`` (the nearest parent with ``configs/train.json``, up to 3 levels up)."""
    folder = os.path.dirname(os.path.abspath(path))
    for _ in range(3):
        if os.path.isfile(os.path.join(folder, "configs", "train.json")):
            return folder
        folder = os.path.dirname(folder)
    return None


def missing_weights_message(path: str | os.PathLike) -> str:
    """The message for a missing weights file: which file, and the command that trains the bundle it belongs to."""
    path = os.fspath(path)
    bundle = _bundle_of(path)
    message = f"no weights at {path!r} (the file does not exist)"
    if bundle is None:
        return message + ": train the model first, or give the weights file (e.g. --ckpt_path /path/to/model.pt)"
    rel = os.path.relpath(bundle)
    rel = bundle if rel.startswith("..") else rel
    return (
        f"{message}: train first with\n  python -m monai.bundle run training --config_file {rel}/configs/train.json"
        f"\nor give trained weights with --ckpt_path /path/to/model.pt (a run folder's model, e.g. "
        f"{rel}/runs/train/model.pt)"
    )


def _find_unsafe(obj: Any) -> tuple[str, str] | None:
    """(where, type name) of the first object that is not a safe leaf or plain container, or None."""
    stack: list[tuple[str, Any]] = [("", obj)]
    seen: set[int] = set()
    while stack:
        where, item = stack.pop()
        if isinstance(item, _SAFE_LEAVES):
            continue
        if not isinstance(item, _SAFE_CONTAINERS):
            return where or "<top level>", f"{type(item).__module__}.{type(item).__qualname__}"
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            for key, value in item.items():
                if not isinstance(key, (str, int, float, bool, type(None), tuple)):
                    return f"{where}[{key!r}]", f"key of type {type(key).__module__}.{type(key).__qualname__}"
                stack.append((f"{where}[{key!r}]", value))
        else:
            stack.extend((f"{where}[{i}]", value) for i, value in enumerate(item))
    return None


def safe_load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", mmap: bool = False) -> Any:
    """Load a checkpoint without ever executing code from it.

    The file is read with ``torch.load(weights_only=True)``: its restricted unpickler only builds tensors and a
    short list of plain types, so a malicious pickle cannot run code. The result is then walked and anything that
    is not a tensor, number, string, bytes, ``None``, ``torch.dtype``/``torch.device`` or a dict/list/tuple/set of
    those is refused (this also catches types that other code allowed with ``torch.serialization.add_safe_globals``).

    Args:
        path: the checkpoint file.
        map_location: passed to ``torch.load`` (default ``"cpu"``).
        mmap: memory-map the tensors instead of reading them (cheap inspection of large checkpoints).

    Returns:
        The loaded object, e.g. a state_dict or ``{"model": state_dict, "optimizer": ..., "trainer": ...}``.

    Raises:
        UnsafeCheckpointError: the file holds anything else (pickled classes, functions, numpy arrays, ...).
        CheckpointReadError: the file is missing, empty, truncated or not a PyTorch checkpoint.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingWeightsError(missing_weights_message(path))
    if not os.path.isfile(path):
        raise CheckpointReadError(f"checkpoint {path!r} is not a file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if not any(marker in text for marker in _REFUSAL_MARKERS):
            lines = [line for line in text.splitlines() if line.strip() and "Weights only load failed" not in line]
            raise CheckpointReadError(
                f"checkpoint {path!r} cannot be read ({lines[0] if lines else type(exc).__name__}); it is empty, "
                "truncated (e.g. an interrupted save) or not a PyTorch checkpoint"
            ) from None
        found = _GLOBAL_RE.search(text)
        what = found.group(1) if found else "a non-tensor object"
        raise UnsafeCheckpointError(
            f"checkpoint {path!r} was refused: it holds {what}, but only tensors, numbers, strings and plain "
            "containers are loaded (torch.load weights_only=True). Load only checkpoints you trust; re-save a "
            "trusted one as a plain state_dict with torch.save(model.state_dict(), path)."
        ) from None
    except Exception as exc:  # the unpickler of a damaged file fails in many ways (EOFError, KeyError, IndexError...)
        detail = str(exc).split(". ")[0] or type(exc).__name__
        raise CheckpointReadError(
            f"checkpoint {path!r} cannot be read ({detail}); it is empty, truncated (e.g. an interrupted save) "
            "or not a PyTorch checkpoint"
        ) from exc
    unsafe = _find_unsafe(checkpoint)
    if unsafe is not None:
        where, type_name = unsafe
        raise UnsafeCheckpointError(
            f"checkpoint {path!r} was refused: {where} holds {type_name}, but only tensors, numbers, strings and "
            "plain containers are accepted. Load only checkpoints you trust."
        )
    return checkpoint


def restore_objects(
    engine: Engine | None,
    checkpoint: Mapping,
    load_dict: dict,
    strict: bool = True,
    strict_shape: bool = True,
    source: str = "checkpoint",
) -> None:
    """Load ``checkpoint`` into the objects of ``load_dict`` the way MONAI's ``CheckpointLoader`` does.

    A bare state_dict is accepted for a single-entry ``load_dict``. The engine's ``max_epochs`` is kept (a
    resumed run may train longer than the run that saved the checkpoint).

    Raises:
        ValueError: the checkpoint's epoch is beyond the engine's ``max_epochs``.
    """
    first_key = next(iter(load_dict))
    if len(load_dict) == 1 and (not isinstance(checkpoint, Mapping) or first_key not in checkpoint):
        checkpoint = {first_key: checkpoint}
    load_dict = dict(load_dict)
    if not strict_shape:
        checkpoint = dict(checkpoint)
        for key in list(load_dict):
            if isinstance(load_dict[key], torch.nn.Module):
                checkpoint[key] = copy_model_state(load_dict[key], checkpoint[key], inplace=False)[0]
            else:
                warnings.warn(f"strict_shape=False: only networks are loaded from {source}, skipping {key!r}.")
                load_dict.pop(key)
        strict = False
    prior_max_epochs = engine.state.max_epochs if engine is not None else None
    Checkpoint.load_objects(to_load=load_dict, checkpoint=checkpoint, strict=strict)
    if engine is not None:
        if prior_max_epochs is not None and engine.state.epoch > prior_max_epochs:
            raise ValueError(
                f"{source} was saved at epoch {engine.state.epoch}, beyond max_epochs={prior_max_epochs} of this "
                "run; set max_epochs larger than the checkpoint's epoch to train further."
            )
        engine.state.max_epochs = prior_max_epochs


class SafeCheckpointLoader(CheckpointLoader):
    """MONAI ``CheckpointLoader`` that reads through :func:`safe_load_checkpoint`.

    Same arguments and behaviour as ``monai.handlers.CheckpointLoader`` (attach to any engine; loads at
    ``Events.STARTED``; a bare state_dict is accepted for ``load_dict={"model": net}``), but a checkpoint holding
    anything except tensors and plain containers is refused with :class:`UnsafeCheckpointError`, and an
    unreadable file gives a :class:`CheckpointReadError` naming it. Usable in bundle configs as
    ``{"_target_": "monai_ext.engines.SafeCheckpointLoader", "load_path": ..., "load_dict": {"model": "@network"}}``.
    """

    def __call__(self, engine: Engine) -> None:
        checkpoint = safe_load_checkpoint(self.load_path, map_location=self.map_location)
        restore_objects(engine, checkpoint, self.load_dict, self.strict, self.strict_shape, source=self.load_path)
        self.logger.info(f"Restored all variables from {self.load_path}")


class InitialWeightsLoader:
    """Warm start: load a network's weights from a local file when a training starts; nothing without a file.

    The file is a bare ``state_dict`` (a shipped ``models/model.pt``) or a full training checkpoint with a
    ``"model"`` entry; it is read through :func:`safe_load_checkpoint`. Only the network is loaded: the optimiser,
    the learning-rate schedule and the epoch counter start afresh, so the run is a new schedule from these weights.
    Attach it before :class:`~monai_ext.engines.ResumeFromCheckpoint`: both act at ``Events.STARTED``, and a resumed
    checkpoint then overrides the initial weights. Usable in bundle configs as
    ``{"_target_": "monai_ext.engines.InitialWeightsLoader", "load_path": "@init_weights", "network": "@network"}``
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


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """``torch.save`` that replaces ``path`` only once the new file is complete.

    The object is written to a hidden temporary file in the same folder, flushed and fsynced, then renamed over
    ``path`` (``os.replace`` is atomic on POSIX and Windows). On any error the temporary file is removed and
    ``path`` is untouched. The file gets the usual ``0o666 & ~umask`` permissions.

    Args:
        obj: what to save.
        path: the final file name.
        kwargs: passed to ``torch.save``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{os.path.basename(path)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            torch.save(obj, stream, **kwargs)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


class AtomicDiskSaver(BaseSaveHandler):
    """ignite save handler writing with :func:`atomic_torch_save`, optionally always to one fixed file name.

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
            its own handler list (which would be a circular reference).
        args, kwargs: passed to ``monai.handlers.CheckpointSaver``.
    """

    def __init__(self, *args: Any, engine_key: str | None = None, **kwargs: Any) -> None:
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

