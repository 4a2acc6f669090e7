# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Stop training on a non-finite loss, after saving a checkpoint, naming the batch that caused it.

On a MONAI ``SupervisedTrainer`` (and on :class:`~monai_ext.engines.gan.SRGanTrainer` with
``event="loss_completed"``) the check runs at ``IterationEvents.LOSS_COMPLETED``, after the loss is computed and
*before* ``backward`` and the optimizer step, so the weights in the saved checkpoint are still the last finite ones
(resumable with :class:`~monai_ext.handlers.resume.ResumeFromCheckpoint` once the cause is fixed). Other trainers
(``GanTrainer``) do not fire that event; there the check runs at ``ITERATION_COMPLETED`` and the checkpoint holds the
weights after the step.

The bad forward pass has already updated the networks' buffers (BatchNorm running statistics turn NaN with the
batch that made the loss NaN). So the handler copies the buffers of the networks in ``save_dict`` at the start of
every iteration and, on a non-finite loss, puts that copy back, in memory and in the checkpoint
(``restore_buffers=True``, the default). The copy costs one device-side clone of the buffers per iteration (for
the bundles' networks tens of kilobytes to a few megabytes, no host synchronisation).

In distributed runs (DDP) the finite flag is all-reduced (one tiny collective per iteration) so that every process
stops at the same iteration. Only rank 0 writes the checkpoint (the weights are the same on every rank, and two
processes must not write one file); then the ranks exchange their offending batches' names and rank 0's checkpoint
path, so that every rank raises the same error, naming the ranks whose loss was not finite and their files.

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

from ..utils.checkpoint_io import atomic_torch_save

__all__ = ["NonFiniteLossError", "NonFiniteLossHandler", "batch_names"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite.

    Attributes:
        epoch, iteration: where it happened.
        names: ids / file names of the samples in the offending batch (under DDP: in the batches of every rank
            whose loss was not finite).
        checkpoint_path: the checkpoint saved just before stopping (``None`` when saving failed or was off); under
            DDP the file rank 0 wrote, the same on every rank.
        values: the loss terms that were not finite, by name (under DDP ``"rank<r>/<name>"``).
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

        {"_target_": "monai_ext.handlers.NonFiniteLossHandler", "save_dir": "@ckpt_dir",
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
        restore_buffers: put back, on a non-finite loss, the buffers (BatchNorm running statistics ...) that the
            networks of ``save_dict`` had when the iteration started, before saving (see the module docstring).
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
        restore_buffers: bool = True,
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
        self.restore_buffers = bool(restore_buffers)
        self._buffer_copies: dict[str, list[torch.Tensor]] = {}

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
        if self.restore_buffers and self._modules():
            engine.add_event_handler(Events.ITERATION_STARTED, self._copy_buffers)

    def _modules(self) -> dict[str, torch.nn.Module]:
        """The networks of ``save_dict`` (unwrapped from DataParallel / DDP) that hold buffers."""
        modules = {}
        for key, obj in self.save_dict.items():
            if isinstance(obj, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
                obj = obj.module
            if isinstance(obj, torch.nn.Module) and next(obj.buffers(), None) is not None:
                modules[key] = obj
        return modules

    def _copy_buffers(self, engine: Engine) -> None:
        with torch.no_grad():
            self._buffer_copies = {key: [b.clone() for b in m.buffers()] for key, m in self._modules().items()}

    def _put_back_buffers(self) -> None:
        with torch.no_grad():
            for key, module in self._modules().items():
                copies = self._buffer_copies.get(key)
                buffers = list(module.buffers())
                if copies is None or len(copies) != len(buffers):
                    continue
                for buffer, copy in zip(buffers, copies):
                    if buffer.shape == copy.shape:
                        buffer.copy_(copy)
                    else:  # a buffer whose size depends on the data (e.g. a sample bank) was replaced
                        buffer.data = copy

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
        rank, world_size = idist.get_rank(), idist.get_world_size()
        if self.restore_buffers:
            self._put_back_buffers()
        # one process writes the file (all hold the same weights under DDP); the others must not race on its name
        checkpoint_path = self._save(engine, epoch, iteration) if rank == 0 else None
        reports = [{"rank": rank, "bad": bad, "names": names, "checkpoint_path": checkpoint_path}]
        if world_size > 1:
            # failure path only (every rank gets here at the same iteration): learn every rank's offending batch and
            # rank 0's checkpoint, so that all ranks raise the same error; rank 0's file is complete by then
            reports = sorted(idist.all_gather(reports[0]), key=lambda r: r["rank"])
        raise self._error(reports, epoch, iteration, world_size)

    def _error(self, reports: list[dict], epoch: int, iteration: int, world_size: int) -> NonFiniteLossError:
        """The error (logged) for the per-rank ``reports`` (rank, non-finite values, batch names, checkpoint)."""
        offending = [r for r in reports if r["bad"]] or reports
        checkpoint_path = next((r["checkpoint_path"] for r in reports if r["rank"] == 0), None)
        parts, names, values = [], [], {}
        for report in offending:
            shown = ", ".join(report["names"][:16])
            if len(report["names"]) > 16:
                shown += f", ... ({len(report['names'])} samples)"
            prefix = f"rank {report['rank']}: " if world_size > 1 else ""
            losses = ", ".join(f"{k}={v}" for k, v in report["bad"].items())
            parts.append(f"{prefix}{losses}; batch: {shown or 'no ids or file names in the batch'}")
            names.extend(report["names"])
            values.update({(f"rank{report['rank']}/{k}" if world_size > 1 else k): v for k, v in report["bad"].items()})
        where = "before the optimizer step" if self._before_step else "after the optimizer step"
        by_rank0 = " by rank 0" if world_size > 1 else ""
        message = (
            f"non-finite loss at epoch {epoch}, iteration {iteration}: "
            + "; ".join(parts)
            + ". "
            + (f"Checkpoint ({where}) saved to {checkpoint_path}{by_rank0}. " if checkpoint_path else "")
            + ("" if checkpoint_path else "No checkpoint saved. ")
            + "Check these files (validate the dataset), lower the learning rate or disable AMP."
        )
        self.logger.error(message)
        return NonFiniteLossError(message, epoch, iteration, names, checkpoint_path, values)

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
