# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Adversarial super-resolution training: (LR, HR) batch preparation and trainer.

Mahapatra, Bozorgtabar, Hewavitharanage, Garnavi, MICCAI 2017 (arXiv:1710.04783), on top of SRGAN (Ledig et al.,
CVPR 2017): the generator minimises a content loss (saliency-weighted MSE + VGG16 ``relu4_1`` feature loss + local
saliency loss) plus ``0.01`` times the adversarial loss ``-log D(G(LR))``; the discriminator minimises
``-log D(HR) - log(1 - D(G(LR)))``. Both adversarial terms are binary cross-entropies on logits. The two losses
live in :mod:`monai_ext.losses.gan`; this module re-exports them (``monai_ext.engines.SRGanGeneratorLoss``).

MONAI's ``GanTrainer`` is built for latent-code GANs (its generator loss sees only the generated images), so the
conditional SR GAN runs on :class:`SRGanTrainer`, a MONAI ``Trainer`` (an ignite ``Engine``) with the same handler
support: ``CheckpointSaver``/``CheckpointLoader``, ``StatsHandler``, ``TensorBoardStatsHandler``, ``MLFlowHandler``,
validation handlers. The MSE pre-training stage uses MONAI's ``SupervisedTrainer`` with :class:`SRPrepareBatch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn
from monai.engines import Trainer
from monai.engines.utils import IterationEvents, PrepareBatch, default_metric_cmp_fn
from monai.engines.workflow import Workflow
from monai.utils import CommonKeys, GanKeys, IgniteInfo, min_version, optional_import

# the losses live in monai_ext.losses.gan; this module keeps exporting them under their old path
from monai_ext.losses.gan import SRGanDiscriminatorLoss, SRGanGeneratorLoss
from monai_ext.transforms.resolution import gaussian_downsample

if TYPE_CHECKING:
    from ignite.metrics import Metric
else:
    Metric, _ = optional_import("ignite.metrics", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Metric")

__all__ = [
    "gaussian_downsample",
    "SRPrepareBatch",
    "SRGanGeneratorLoss",
    "SRGanDiscriminatorLoss",
    "SRGanTrainer",
    "gan_loss_terms",
]

logger = logging.getLogger(__name__)


def _tensor(value: Any) -> torch.Tensor:
    value = torch.as_tensor(value)
    return value.as_tensor() if hasattr(value, "as_tensor") else value


class SRPrepareBatch(PrepareBatch):
    """Turn a collated batch into ``(lr, hr)`` for ``SupervisedTrainer`` (MSE stage) and :class:`SRGanTrainer`.

    The LR input is ``batch[lr_key]`` (e.g. made by ``LowResolutionPaird``) or, with ``scale_factor``, made on the
    fly from the HR image by :func:`gaussian_downsample`. For the literal cascade of x2 generators, stage k is
    trained with ``input_network`` = the frozen stages 1..k-1 (applied to the LR input without gradient) and
    ``target_scale_factor = 2**(K-k)`` (the HR target downsampled to the output size of stage k).

    Args:
        lr_key: key of the LR image in the batch.
        hr_key: key of the HR image in the batch.
        scale_factor: when given, the LR input is always made from HR by Gaussian blur + subsampling by it.
        blur_sigma: Gaussian sigma of the on-the-fly degradations (default ``factor / 2``).
        input_network: optional module applied to the LR input under ``torch.no_grad`` (frozen earlier stages).
        target_scale_factor: downsampling of the HR target (1: the HR image itself).
    """

    def __init__(
        self,
        lr_key: str = "image",
        hr_key: str = "hr_image",
        scale_factor: int | None = None,
        blur_sigma: float | None = None,
        input_network: nn.Module | Callable[[torch.Tensor], torch.Tensor] | None = None,
        target_scale_factor: int = 1,
    ) -> None:
        self.lr_key = lr_key
        self.hr_key = hr_key
        self.scale_factor = None if scale_factor is None else int(scale_factor)
        self.blur_sigma = blur_sigma
        self.input_network = input_network
        self.target_scale_factor = int(target_scale_factor)

    def __call__(
        self,
        batchdata: Mapping[str, Any],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.hr_key not in batchdata:
            raise KeyError(f"The batch has no {self.hr_key!r} entry (HR target); it has {sorted(batchdata)}.")
        hr = _tensor(batchdata[self.hr_key]).to(device=device, non_blocking=non_blocking, **kwargs)
        if self.scale_factor is not None:
            lr = gaussian_downsample(hr, self.scale_factor, self.blur_sigma)
        elif self.lr_key in batchdata:
            lr = _tensor(batchdata[self.lr_key]).to(device=device, non_blocking=non_blocking, **kwargs)
        else:
            raise KeyError(
                f"The batch has no {self.lr_key!r} entry (LR input) and no scale_factor was given to make it; "
                f"it has {sorted(batchdata)}."
            )
        if self.input_network is not None:
            with torch.no_grad():
                lr = self.input_network(lr)
        if self.target_scale_factor > 1:
            hr = gaussian_downsample(hr, self.target_scale_factor, self.blur_sigma)
        return lr, hr


def gan_loss_terms(output: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar losses of an :class:`SRGanTrainer` iteration output, as a dict for ``StatsHandler``,
    ``TensorBoardStatsHandler`` and ``MLFlowHandler`` (``output_transform``)."""
    if isinstance(output, Sequence) and output and isinstance(output[0], Mapping):
        output = output[0]
    return {k: output[k] for k in (GanKeys.GLOSS, GanKeys.DLOSS) if k in output}


class SRGanTrainer(Trainer):
    """Conditional GAN trainer for super-resolution on the MONAI/ignite workflow.

    Each iteration: ``(lr, hr) = prepare_batch(batch)``, ``sr = G(lr)``; ``d_train_steps`` discriminator updates on
    ``d_loss_function(D(hr), D(sr.detach()))``; one generator update on ``g_loss_function(sr, hr, D(sr))``.

    It drives MONAI handlers the way ``SupervisedTrainer`` does: ``engine.state.output`` holds ``image`` (LR),
    ``label`` (HR), ``pred`` (SR), ``loss`` (= ``g_loss``, the generator loss, a scalar tensor), ``g_loss`` and
    ``d_loss`` (the mean over the discriminator steps); the iteration fires ``IterationEvents.FORWARD_COMPLETED``
    (after ``G(lr)``), ``LOSS_COMPLETED`` (after the generator loss, before its backward; the discriminator has
    already been updated), ``BACKWARD_COMPLETED`` and ``MODEL_COMPLETED`` (after the generator step), where MONAI
    decollates the output (``decollate=True``, the default: ``from_engine(['loss'], first=True)`` then gives the
    loss as a number, which ``StatsHandler``/``MLFlowHandler`` need) and applies ``postprocessing``. ``optimizer``
    and ``network`` are the generator's optimiser and network, so ``MLFlowHandler`` logs the generator's learning
    rate (``lr_group_<i>``) and ``LrScheduleHandler``-style handlers find them.

    Mixed precision (``amp=True``) autocasts the forward passes of both networks on the generator's device type
    (CUDA or CPU) with ``amp_kwargs`` (e.g. ``{"dtype": torch.bfloat16}``); the losses are computed in float32 from
    the autocast outputs. Gradient scaling (one ``GradScaler`` per optimiser) is used only for float16 on CUDA.

    Args:
        device: device of the training.
        max_epochs: number of epochs.
        train_data_loader: loader of dict batches.
        g_network: generator (LR -> SR).
        g_optimizer: generator optimiser.
        g_loss_function: ``(sr, hr, fake_logits) -> loss``, e.g. :class:`SRGanGeneratorLoss`.
        d_network: discriminator (image -> logits).
        d_optimizer: discriminator optimiser.
        d_loss_function: ``(real_logits, fake_logits) -> loss``, e.g. :class:`SRGanDiscriminatorLoss`.
        epoch_length: iterations per epoch (default: the loader length).
        prepare_batch: batch -> ``(lr, hr)``; default :class:`SRPrepareBatch`.
        d_train_steps: discriminator updates per iteration.
        non_blocking: non-blocking host-to-device copies.
        iteration_update: replaces the iteration function (MONAI convention).
        postprocessing: post transforms applied to the output at ``MODEL_COMPLETED``.
        key_train_metric: ignite metric(s) computed on the training output.
        additional_metrics: more ignite metrics.
        metric_cmp_fn: comparison of the key metric values.
        train_handlers: MONAI/ignite handlers (checkpoints, stats, TensorBoard, MLflow ...).
        amp: automatic mixed precision (autocast on the generator's device type).
        event_names: additional custom ignite events (MONAI convention).
        event_to_attr: map of custom events to state attributes (MONAI convention).
        decollate: decollate the output into a list of per-sample dicts at ``MODEL_COMPLETED`` (MONAI default).
        optim_set_to_none: ``zero_grad(set_to_none=...)`` of both optimisers.
        to_kwargs: extra arguments of ``Tensor.to`` in ``prepare_batch``.
        amp_kwargs: arguments of ``torch.autocast`` (e.g. ``dtype``).
        compile: wrap both networks in ``torch.compile``.
        compile_kwargs: arguments of ``torch.compile``.

    Raises:
        ValueError: for ``d_train_steps < 1``.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Any,
        g_network: nn.Module,
        g_optimizer: torch.optim.Optimizer,
        g_loss_function: Callable,
        d_network: nn.Module,
        d_optimizer: torch.optim.Optimizer,
        d_loss_function: Callable,
        epoch_length: int | None = None,
        prepare_batch: Callable | None = None,
        d_train_steps: int = 1,
        non_blocking: bool = False,
        iteration_update: Callable | None = None,
        postprocessing: Callable | None = None,
        key_train_metric: dict[str, Metric] | None = None,
        additional_metrics: dict[str, Metric] | None = None,
        metric_cmp_fn: Callable = default_metric_cmp_fn,
        train_handlers: Sequence | None = None,
        amp: bool = False,
        event_names: list | None = None,
        event_to_attr: dict | None = None,
        decollate: bool = True,
        optim_set_to_none: bool = False,
        to_kwargs: dict | None = None,
        amp_kwargs: dict | None = None,
        compile: bool = False,
        compile_kwargs: dict | None = None,
    ) -> None:
        if d_train_steps < 1:
            raise ValueError(f"d_train_steps must be at least 1, got {d_train_steps}.")
        if compile:
            g_network = torch.compile(g_network, **(compile_kwargs or {}))  # type: ignore[assignment]
            d_network = torch.compile(d_network, **(compile_kwargs or {}))  # type: ignore[assignment]
        # set before the Workflow constructor, which attaches the handlers (they may look at these attributes)
        self.g_network = g_network
        self.g_optimizer = g_optimizer
        self.g_loss_function = g_loss_function
        self.d_network = d_network
        self.d_optimizer = d_optimizer
        self.d_loss_function = d_loss_function
        self.d_train_steps = int(d_train_steps)
        self.optim_set_to_none = optim_set_to_none
        self.compile = compile
        # what MONAI handlers look for on a trainer (MLFlowHandler logs `optimizer.param_groups` learning rates)
        self.network = g_network
        self.optimizer = g_optimizer
        self.loss_function = g_loss_function
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=SRPrepareBatch() if prepare_batch is None else prepare_batch,
            iteration_update=iteration_update,
            postprocessing=postprocessing,
            key_metric=key_train_metric,
            additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn,
            handlers=train_handlers,
            amp=amp,
            event_names=event_names,
            event_to_attr=event_to_attr,
            decollate=decollate,
            to_kwargs=to_kwargs,
            amp_kwargs=amp_kwargs,
        )
        self.amp_device_type = self._device_type(g_network, device)
        default_dtype = torch.float16 if self.amp_device_type == "cuda" else torch.bfloat16
        use_scaler = amp and self.amp_device_type == "cuda" and self.amp_kwargs.get("dtype", default_dtype) == torch.float16
        self.g_scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        self.d_scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)

    @staticmethod
    def _device_type(network: nn.Module, device: str | torch.device) -> str:
        parameter = next(iter(network.parameters()), None)
        return parameter.device.type if parameter is not None else torch.device(device).type

    def run(self) -> None:  # type: ignore[override]
        """Run the training (``Trainer.run`` without its CUDA ``GradScaler``: this trainer keeps one per optimiser)."""
        Workflow.run(self)

    def _autocast(self) -> Any:
        return torch.autocast(self.amp_device_type, enabled=bool(self.amp), **self.amp_kwargs)

    def _iteration(self, engine: SRGanTrainer, batchdata: dict | Sequence) -> dict[str, Any] | list:
        """One generator forward, ``d_train_steps`` discriminator updates and one generator update."""
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        lr, hr = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        engine.state.output = {CommonKeys.IMAGE: lr, CommonKeys.LABEL: hr}
        engine.g_network.train()
        engine.d_network.train()
        with engine._autocast():
            sr = engine.g_network(lr)
        engine.state.output[CommonKeys.PRED] = sr
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)

        fake = sr.detach()
        d_losses = []
        for _ in range(engine.d_train_steps):
            engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
            with engine._autocast():
                real_logits, fake_logits = engine.d_network(hr), engine.d_network(fake)
            d_loss = engine.d_loss_function(real_logits.float(), fake_logits.float())
            engine.d_scaler.scale(d_loss).backward()
            engine.d_scaler.step(engine.d_optimizer)
            engine.d_scaler.update()
            d_losses.append(d_loss.detach())

        # D also receives gradients here; they are cleared before its next update and never stepped
        engine.g_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        with engine._autocast():
            fake_logits = engine.d_network(sr)
        g_loss = engine.g_loss_function(sr.float(), hr.float(), fake_logits.float())
        engine.state.output[CommonKeys.LOSS] = g_loss
        engine.state.output[GanKeys.GLOSS] = g_loss
        engine.state.output[GanKeys.DLOSS] = d_losses[0] if len(d_losses) == 1 else torch.stack(d_losses).mean()
        engine.fire_event(IterationEvents.LOSS_COMPLETED)
        engine.g_scaler.scale(g_loss).backward()
        engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
        engine.g_scaler.step(engine.g_optimizer)
        engine.g_scaler.update()

        g_value = g_loss.detach()
        engine.state.output.update({CommonKeys.PRED: sr.detach(), CommonKeys.LOSS: g_value, GanKeys.GLOSS: g_value})
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
