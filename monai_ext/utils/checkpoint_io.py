# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Safe checkpoint reading and atomic checkpoint writing, without any ignite handler.

* :func:`safe_load_checkpoint` loads with ``torch.load(weights_only=True)``, so unpickling can never run code, and
  then refuses any checkpoint that holds something other than tensors, numbers, strings and plain containers,
  with an :class:`UnsafeCheckpointError` naming the file and the offending type. A missing, empty or damaged file
  gives a :class:`CheckpointReadError` (:class:`MissingWeightsError` when it does not exist) naming it.
* :func:`restore_objects` puts a loaded checkpoint into networks, optimizers and engines the way MONAI's
  ``CheckpointLoader`` does.
* :func:`atomic_torch_save` writes to a hidden temporary file in the same folder (prefix :data:`TEMP_PREFIX`),
  flushes it to disk and renames it over the final name, so a reader sees either the old complete file or the new
  complete file.

The ignite handlers built on these (``SafeCheckpointLoader``, ``InitialWeightsLoader``, ``AtomicCheckpointSaver``)
are in :mod:`monai_ext.handlers.checkpoint`. This module imports nothing from the rest of ``monai_ext``, so networks
can read their weights files through it.
"""

from __future__ import annotations

import os
import pickle
import re
import uuid
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from ignite.handlers import Checkpoint
from monai.networks.utils import copy_model_state

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = [
    "UnsafeCheckpointError",
    "CheckpointReadError",
    "MissingWeightsError",
    "missing_weights_message",
    "safe_load_checkpoint",
    "restore_objects",
    "atomic_torch_save",
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
        return message + ": train the model first, or give the weights file (e.g. --checkpoint /path/to/model.pt)"
    rel = os.path.relpath(bundle)
    rel = bundle if rel.startswith("..") else rel
    return (
        f"{message}: train first with\n  python -m monai.bundle run training --config_file {rel}/configs/train.json"
        f"\nor give trained weights with --checkpoint /path/to/model.pt (a run folder's model, e.g. "
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
