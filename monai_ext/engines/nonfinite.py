# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Stop training on a non-finite loss, after saving a checkpoint, naming the batch that caused it.

On a MONAI ``SupervisedTrainer`` the check runs at ``IterationEvents.LOSS_COMPLETED``, after the loss is computed
and *before* ``backward`` and the optimizer step, so the weights in the saved checkpoint are still the last finite
ones (resumable with :class:`~monai_ext.engines.resume.ResumeFromCheckpoint` once the cause is fixed). Other
trainers (``GanTrainer``, :class:`~monai_ext.engines.gan.SRGanTrainer`) do not fire that event; there the check
runs at ``ITERATION_COMPLETED`` and the checkpoint holds the weights after the step.

In distributed runs the finite flag is all-reduced (one tiny collective per iteration) so that every process stops
at the same iteration; rank 0 saves the checkpoint, each rank names its own batch.

Cost: one ``torch.isfinite(loss).all()`` per iteration and reading that one boolean on the host. On a GPU this
waits for the forward pass to finish before ``backward`` is queued (the loss is needed anyway, and MONAI's
``StatsHandler`` already reads ``loss.item()`` every iteration for logging); on the CPU it is free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedTrainer
from monai.engines.utils import IterationEvents

from .checkpoint import atomic_torch_save

__all__ = ["NonFiniteLossError", "NonFiniteLossHandler", "batch_names"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite.

    Attributes:
        epoch, iteration: where it happened.
        names: ids / file names of the samples in the offending batch.
        checkpoint_path: the checkpoint saved just before stopping (``None`` when saving failed or was off).
        values: the loss terms that were not finite, by name.
    """

    def __init__(
        self,
        message: str,
        epoch: int,
        iteration: int,
        names: list[str],
        checkpoint_path: str | None,
        values: dict[str, str],
    ) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
        self.names = names
        self.checkpoint_path = checkpoint_path
        self.values = values


def _as_name_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike, int)):
        return [os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    if isinstance(value, torch.Tensor):
        return [str(v) for v in value.reshape(-1).tolist()] if value.numel() < 10_000 else None
    if isinstance(value, Sequence):
        return [os.fspath(v) if isinstance(v, os.PathLike) else str(v) for v in value]
    return None


def batch_names(batch: Any, batch_keys: Sequence[str] = ("id",), image_keys: Sequence[str] = ("image",)) -> list[str]:
    """Names of the samples of a collated batch, for error messages.

    Looked up in order: the ``batch_keys`` entries (``id`` strings of the data dicts), then the file names MONAI
    keeps in the image metadata (``batch["image"].meta["filename_or_obj"]`` or ``batch["image_meta_dict"]``).

    A decollated batch (a list of per-sample dicts, as MONAI engines hold it at ``ITERATION_COMPLETED``) is
    looked up sample by sample.

    Returns:
        One string per sample, or an empty list when the batch carries no names.
    """
    if isinstance(batch, Sequence) and not isinstance(batch, str) and batch and isinstance(batch[0], Mapping):
        per_sample = [batch_names(item, batch_keys, image_keys) for item in batch]
        return [names[0] if names else "?" for names in per_sample] if any(per_sample) else []
    if not isinstance(batch, Mapping):
        return []
    for key in batch_keys:
        names = _as_name_list(batch.get(key))
        if names:
            return names
    for key in image_keys:
        meta = getattr(batch.get(key), "meta", None) or batch.get(f"{key}_meta_dict")
        if isinstance(meta, Mapping):
            names = _as_name_list(meta.get("filename_or_obj"))
            if names:
                return names
    return []


class NonFiniteLossHandler:
    """Save a checkpoint and raise :class:`NonFiniteLossError` when the training loss is NaN or infinite.

    Usage in ``train#handlers`` of a bundle config::

        {"_target_": "monai_ext.engines.NonFiniteLossHandler", "save_dir": "@ckpt_dir",
         "save_dict": {"model": "@network", "optimizer": "@optimizer", "lr_scheduler": "@lr_scheduler"}}

    The checkpoint ``nonfinite_epoch=E_iteration=I.pt`` is written atomically; its trainer entry records the last
    *completed* iteration (``I - 1`` when caught before the optimizer step), so resuming repeats iteration ``I``.

    Args:
        save_dir: folder of the checkpoint.
        save_dict: objects to save (anything with ``state_dict``); ``None`` or empty: no checkpoint.
        batch_keys: batch entries holding sample ids or file names, looked up before the image metadata.
        loss_keys: entries of ``engine.state.output`` to check (``"loss"`` for MONAI trainers; add ``"g_loss"``,
            ``"d_loss"`` for GANs). Missing keys are ignored.
        output_transform: alternative to ``loss_keys``: maps ``engine.state.output`` to a tensor or a dict of tensors.
        engine_key: key under which the trainer's state goes into the checkpoint (``None``: not saved).
        event: ``"auto"`` (``LOSS_COMPLETED`` on ``SupervisedTrainer``, else ``ITERATION_COMPLETED``),
            ``"loss_completed"`` or ``"iteration_completed"``.
        image_keys: batch entries whose metadata gives file names.
        name: logger name; default the engine's logger.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        save_dict: Mapping[str, Any] | None = None,
        batch_keys: Sequence[str] = ("id",),
        loss_keys: Sequence[str] = ("loss",),
        output_transform: Callable[[Any], Any] | None = None,
        engine_key: str | None = "trainer",
        event: str = "auto",
        image_keys: Sequence[str] = ("image",),
        name: str | None = None,
    ) -> None:
        if event not in ("auto", "loss_completed", "iteration_completed"):
            raise ValueError(f"event must be 'auto', 'loss_completed' or 'iteration_completed', got {event!r}")
        self.save_dir = os.fspath(save_dir)
        self.save_dict = dict(save_dict or {})
        self.batch_keys = tuple(batch_keys)
        self.loss_keys = tuple(loss_keys)
        self.output_transform = output_transform
        self.engine_key = engine_key
        self.event = event
        self.image_keys = tuple(image_keys)
        self.logger = logging.getLogger(name)
        self._name = name
        self._before_step = False

    def attach(self, engine: Engine) -> None:
        """Register on ``engine`` (a trainer)."""
        if self._name is None:
            self.logger = engine.logger
        use_loss_event = self.event == "loss_completed" or (
            self.event == "auto" and isinstance(engine, SupervisedTrainer)
        )
        if use_loss_event:
            if not engine.has_registered_events(IterationEvents.LOSS_COMPLETED):
                raise ValueError(f"{type(engine).__name__} does not fire IterationEvents.LOSS_COMPLETED")
            engine.add_event_handler(IterationEvents.LOSS_COMPLETED, self)
        else:
            engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        self._before_step = use_loss_event

    def _losses(self, output: Any) -> dict[str, torch.Tensor]:
        if isinstance(output, Sequence) and output and isinstance(output[0], Mapping):
            output = output[0]  # decollated engine output: every item holds the batch loss
        if self.output_transform is not None:
            value = self.output_transform(output)
            items = value.items() if isinstance(value, Mapping) else [("loss", value)]
        elif isinstance(output, Mapping):
            items = [(key, output[key]) for key in self.loss_keys if key in output]
        else:
            items = [("loss", output)]
        # decollated outputs hold Python floats; those are already on the host
        return {
            str(k): v if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            for k, v in items
            if isinstance(v, (torch.Tensor, float, int)) and not isinstance(v, bool)
        }

    def __call__(self, engine: Engine) -> None:
        losses = self._losses(engine.state.output)
        if not losses:
            return
        # one reduction on the device, one boolean to the host
        finite = torch.stack([torch.isfinite(v.detach()).all() for v in losses.values()]).all()
        if idist.get_world_size() > 1:
            # all processes must stop together, or the others would wait forever in the next gradient all-reduce
            finite = idist.all_reduce(finite.float(), op="MIN") > 0
        if bool(finite):
            return
        bad = {k: str(v.detach().float().mean().item()) for k, v in losses.items() if not bool(torch.isfinite(v).all())}
        epoch, iteration = engine.state.epoch, engine.state.iteration
        names = batch_names(engine.state.batch, self.batch_keys, self.image_keys)
        checkpoint_path = self._save(engine, epoch, iteration) if idist.get_rank() == 0 else None
        shown = ", ".join(names[:16]) + (f", ... ({len(names)} samples)" if len(names) > 16 else "")
        where = "before the optimizer step" if self._before_step else "after the optimizer step"
        message = (
            f"non-finite loss at epoch {epoch}, iteration {iteration}: "
            + (", ".join(f"{k}={v}" for k, v in bad.items()) or "on another process (this one is finite)")
            + f"; batch: {shown or 'no ids or file names in the batch'}. "
            + (
                f"Checkpoint ({where}) saved to {checkpoint_path}. "
                if checkpoint_path
                else ("No checkpoint saved. " if idist.get_rank() == 0 else "Checkpoint saved by rank 0. ")
            )
            + "Check these files (validate the dataset), lower the learning rate or disable AMP."
        )
        self.logger.error(message)
        raise NonFiniteLossError(message, epoch, iteration, names, checkpoint_path, bad)

    def _save(self, engine: Engine, epoch: int, iteration: int) -> str | None:
        if not self.save_dict and self.engine_key is None:
            return None
        checkpoint: dict[str, Any] = {}
        for key, obj in self.save_dict.items():
            if isinstance(obj, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
                obj = obj.module
            checkpoint[key] = obj.state_dict()
        if self.engine_key is not None:
            state = dict(engine.state_dict())
            if self._before_step and "iteration" in state:
                state["iteration"] = iteration - 1
            checkpoint[self.engine_key] = state
        path = os.path.join(self.save_dir, f"nonfinite_epoch={epoch}_iteration={iteration}.pt")
        try:
            os.makedirs(self.save_dir, exist_ok=True)
            atomic_torch_save(checkpoint, path)
        except Exception as exc:  # the loss error is the one to report; say why the checkpoint is missing
            self.logger.error(f"could not save the checkpoint {path}: {exc}")
            return None
        return path
