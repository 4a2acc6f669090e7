# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Training of the literal chain of separately trained x2 super-resolution generators.

Mahapatra, Bozorgtabar, Hewavitharanage, Garnavi, "Image Super Resolution Using Generative Adversarial Networks and
Local Saliency Maps for Retinal Image Analysis", MICCAI 2017 (arXiv:1710.04783), reach x4/x8/x16 by cascading x2
stages. The bundle's default builds one generator with 2/3/4 x2 up-stages; this module trains the option where every
x2 stage is a separate network trained on the outputs of the previous ones.

For a total factor ``R = 2**K`` and a batch holding the LR image ``LR = D_R(HR)`` (``D_r``: Gaussian blur and
subsampling by ``r``, :func:`gaussian_downsample`) and the HR image, stage ``k = 1..K``:

* input: ``G_{k-1}(...G_1(LR))``, the frozen (eval-mode, no-gradient) stages trained before it (stage 1: ``LR``);
* target: ``D_{2**(K-k)}(HR)`` (stage K: ``HR`` itself);
* training: MSE pre-training (MONAI ``SupervisedTrainer``), then optionally adversarial training
  (:class:`~monai_ext.engines.SRGanTrainer` with a fresh discriminator), exactly the two stages of the bundle's
  single-network training, with the same losses.

After each part of a stage its checkpoint is written atomically (:func:`atomic_torch_save`); the next stage reads
the previous stages back from those files (:func:`safe_load_checkpoint`), so what stage k trains on is what was saved.
The whole chain is saved as ``{"model": CascadedSRGenerator.state_dict()}`` for evaluation and inference.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
from monai.engines import SupervisedTrainer
from monai.handlers import StatsHandler, TensorBoardStatsHandler, from_engine

from monai_ext.engines.gan import SRGanTrainer, SRPrepareBatch, gan_loss_terms
from monai_ext.networks.srgan import CascadedSRGenerator
from monai_ext.utils.checkpoint_io import atomic_torch_save, restore_objects, safe_load_checkpoint

__all__ = ["SRChainTrainer", "chain_target_factor"]

logger = logging.getLogger(__name__)


def chain_target_factor(stage: int, num_stages: int) -> int:
    """Downsampling of the HR image that gives the target of ``stage`` (1-based) in a chain of ``num_stages``.

    Raises:
        ValueError: for a stage outside ``1..num_stages``.
    """
    if not 1 <= stage <= num_stages:
        raise ValueError(f"stage must be in [1, {num_stages}], got {stage}.")
    return 2 ** (num_stages - stage)


class SRChainTrainer:
    """Train ``num_stages`` x2 generators one after another, stage k on the outputs of stages 1..k-1.

    Checkpoints in ``ckpt_dir`` (``k`` 1-based): ``<file_prefix>_stage<k>_mse.pt`` (``model``, ``optimizer``) after
    the MSE part, ``<file_prefix>_stage<k>.pt`` (``model``; with the adversarial part also ``discriminator``,
    ``optimizer``, ``d_optimizer``) when the stage is done, and ``<file_prefix>_final.pt`` (``model`` = the state dict
    of the whole :class:`~monai_ext.networks.CascadedSRGenerator`).

    Args:
        num_stages: number of x2 stages ``K`` (the data loader's LR images are ``2**K`` times smaller than HR).
        generator_def: builds a fresh x2 generator (e.g. ``functools.partial(SRGenerator, scale_factor=2, ...)``).
        train_data_loader: loader of dict batches with the LR image under ``lr_key`` and the HR image under
            ``hr_key`` (the bundle's ``train#dataloader``).
        ckpt_dir: folder of the checkpoints (created).
        device: device of the training.
        pretrain_epochs: epochs of MSE training per stage (0 skips it).
        pretrain_loss: loss of the MSE part (default ``torch.nn.MSELoss()``).
        pretrain_optimizer_def: ``params -> optimizer`` for the MSE part (default Adam, lr 1e-3).
        max_epochs: epochs of adversarial training per stage (0 skips it).
        discriminator_def: builds a fresh discriminator per stage; needed when ``max_epochs > 0``.
        g_loss_function: generator loss of the adversarial part, ``(sr, target, fake_logits) -> loss``.
        d_loss_function: discriminator loss, ``(real_logits, fake_logits) -> loss``.
        g_optimizer_def: ``params -> optimizer`` for the generator in the adversarial part.
        d_optimizer_def: ``params -> optimizer`` for the discriminator.
        d_train_steps: discriminator updates per iteration.
        lr_key: key of the LR image in the batch.
        hr_key: key of the HR image in the batch.
        blur_sigma: sigma of the Gaussian downsampling of the intermediate targets (default ``factor / 2``).
        epoch_length: iterations per epoch (default: the loader length).
        file_prefix: prefix of the checkpoint names (e.g. ``"chain_x4"``).
        log_dir: folder for TensorBoard logs; ``None`` logs to the console only.
        amp: mixed precision on CUDA.
        skip_trained_stages: a stage whose ``<file_prefix>_stage<k>.pt`` exists is loaded instead of trained
            (continue an interrupted chain).

    Raises:
        ValueError: for ``num_stages < 1``, no training epochs at all, or adversarial training without its parts.
    """

    def __init__(
        self,
        num_stages: int,
        generator_def: Callable[[], nn.Module],
        train_data_loader: Iterable,
        ckpt_dir: str | os.PathLike,
        device: str | torch.device = "cpu",
        pretrain_epochs: int = 1,
        pretrain_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        pretrain_optimizer_def: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        max_epochs: int = 0,
        discriminator_def: Callable[[], nn.Module] | None = None,
        g_loss_function: Callable[..., torch.Tensor] | None = None,
        d_loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        g_optimizer_def: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        d_optimizer_def: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        d_train_steps: int = 1,
        lr_key: str = "image",
        hr_key: str = "hr_image",
        blur_sigma: float | None = None,
        epoch_length: int | None = None,
        file_prefix: str = "chain",
        log_dir: str | os.PathLike | None = None,
        amp: bool = False,
        skip_trained_stages: bool = False,
    ) -> None:
        if int(num_stages) < 1:
            raise ValueError(f"num_stages must be a positive integer, got {num_stages}.")
        if pretrain_epochs < 0 or max_epochs < 0 or pretrain_epochs + max_epochs == 0:
            raise ValueError(
                f"pretrain_epochs ({pretrain_epochs}) and max_epochs ({max_epochs}) must be non-negative and not "
                "both 0."
            )
        if max_epochs > 0:
            missing = [
                name
                for name, value in (
                    ("discriminator_def", discriminator_def),
                    ("g_loss_function", g_loss_function),
                    ("d_loss_function", d_loss_function),
                    ("g_optimizer_def", g_optimizer_def),
                    ("d_optimizer_def", d_optimizer_def),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"adversarial training (max_epochs={max_epochs}) needs {', '.join(missing)}.")
        self.num_stages = int(num_stages)
        self.generator_def = generator_def
        self.train_data_loader = train_data_loader
        self.ckpt_dir = os.fspath(ckpt_dir)
        self.device = torch.device(device)
        self.pretrain_epochs = int(pretrain_epochs)
        self.pretrain_loss = pretrain_loss if pretrain_loss is not None else nn.MSELoss()
        self.pretrain_optimizer_def = pretrain_optimizer_def or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.max_epochs = int(max_epochs)
        self.discriminator_def = discriminator_def
        self.g_loss_function = g_loss_function
        self.d_loss_function = d_loss_function
        self.g_optimizer_def = g_optimizer_def
        self.d_optimizer_def = d_optimizer_def
        self.d_train_steps = int(d_train_steps)
        self.lr_key = lr_key
        self.hr_key = hr_key
        self.blur_sigma = blur_sigma
        self.epoch_length = epoch_length
        self.file_prefix = file_prefix
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.amp = amp
        self.skip_trained_stages = skip_trained_stages
        #: the engines that trained each stage (1-based stage -> {"mse": ..., "gan": ...}), for inspection.
        self.stage_engines: dict[int, dict[str, Any]] = {}

    def checkpoint_path(self, stage: int | None = None, part: str = "") -> str:
        """``<ckpt_dir>/<file_prefix>_stage<k><part>.pt``, or ``<file_prefix>_final.pt`` for ``stage=None``."""
        name = f"{self.file_prefix}_final.pt" if stage is None else f"{self.file_prefix}_stage{stage}{part}.pt"
        return os.path.join(self.ckpt_dir, name)

    def load_previous_stages(self, stage: int) -> CascadedSRGenerator | None:
        """The frozen chain of stages ``1..stage-1`` read back from their checkpoints (``None`` for stage 1)."""
        if stage == 1:
            return None
        chain = CascadedSRGenerator(
            stages=[self.generator_def() for _ in range(stage - 1)],
            stage_checkpoints=[self.checkpoint_path(k) for k in range(1, stage)],
            checkpoint_key="model",
        )
        chain.requires_grad_(False)
        return chain.to(self.device).eval()

    def stage_prepare_batch(self, stage: int, previous: nn.Module | None = None) -> SRPrepareBatch:
        """Batch preparation of ``stage``: input = ``previous(LR)`` (no gradient), target = downsampled HR."""
        return SRPrepareBatch(
            lr_key=self.lr_key,
            hr_key=self.hr_key,
            blur_sigma=self.blur_sigma,
            input_network=previous,
            target_scale_factor=chain_target_factor(stage, self.num_stages),
        )

    def _handlers(self, tag: str, output_transform: Callable) -> list:
        handlers: list = [StatsHandler(tag_name=tag, output_transform=output_transform)]
        if self.log_dir is not None:
            handlers.append(
                TensorBoardStatsHandler(log_dir=self.log_dir, tag_name=tag, output_transform=output_transform)
            )
        return handlers

    def train_stage(self, stage: int) -> nn.Module:
        """Train stage ``stage`` (1-based) on the outputs of the saved earlier stages; return its generator."""
        previous = self.load_previous_stages(stage)
        prepare_batch = self.stage_prepare_batch(stage, previous)
        generator = self.generator_def().to(self.device)
        engines: dict[str, Any] = {}
        final: dict[str, Any] = {}
        if self.pretrain_epochs > 0:
            optimizer = self.pretrain_optimizer_def(generator.parameters())
            trainer = SupervisedTrainer(
                device=self.device,
                max_epochs=self.pretrain_epochs,
                train_data_loader=self.train_data_loader,
                network=generator,
                optimizer=optimizer,
                loss_function=self.pretrain_loss,
                epoch_length=self.epoch_length,
                prepare_batch=prepare_batch,
                train_handlers=self._handlers(f"chain_stage{stage}_mse_loss", from_engine(["loss"], first=True)),
                amp=self.amp,
            )
            trainer.run()
            engines["mse"] = trainer
            final = {"model": generator.state_dict(), "optimizer": optimizer.state_dict()}
            atomic_torch_save(final, self.checkpoint_path(stage, "_mse"))
        if self.max_epochs > 0:
            discriminator = self.discriminator_def().to(self.device)  # type: ignore[misc]
            g_optimizer = self.g_optimizer_def(generator.parameters())  # type: ignore[misc]
            d_optimizer = self.d_optimizer_def(discriminator.parameters())  # type: ignore[misc]
            trainer = SRGanTrainer(
                device=self.device,
                max_epochs=self.max_epochs,
                train_data_loader=self.train_data_loader,
                g_network=generator,
                g_optimizer=g_optimizer,
                g_loss_function=self.g_loss_function,
                d_network=discriminator,
                d_optimizer=d_optimizer,
                d_loss_function=self.d_loss_function,
                epoch_length=self.epoch_length,
                prepare_batch=prepare_batch,
                d_train_steps=self.d_train_steps,
                train_handlers=self._handlers(f"chain_stage{stage}_train_loss", gan_loss_terms),
                amp=self.amp,
            )
            trainer.run()
            engines["gan"] = trainer
            final = {
                "model": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "optimizer": g_optimizer.state_dict(),
                "d_optimizer": d_optimizer.state_dict(),
            }
        atomic_torch_save(final, self.checkpoint_path(stage))
        self.stage_engines[stage] = engines
        logger.info(f"chain stage {stage}/{self.num_stages} saved to {self.checkpoint_path(stage)}")
        return generator.eval()

    def run(self) -> CascadedSRGenerator:
        """Train (or, with ``skip_trained_stages``, load) every stage in order; save and return the whole chain."""
        os.makedirs(self.ckpt_dir, exist_ok=True)
        stages: list[nn.Module] = []
        for stage in range(1, self.num_stages + 1):
            path = self.checkpoint_path(stage)
            if self.skip_trained_stages and os.path.isfile(path):
                generator = self.generator_def()
                restore_objects(None, safe_load_checkpoint(path), {"model": generator}, source=path)
                logger.info(f"chain stage {stage}/{self.num_stages} loaded from {path} (skip_trained_stages)")
                stages.append(generator.to(self.device).eval())
            else:
                stages.append(self.train_stage(stage))
        chain = CascadedSRGenerator(stages=stages).eval()
        atomic_torch_save({"model": chain.state_dict()}, self.checkpoint_path())
        logger.info(f"chain of {self.num_stages} x2 stages saved to {self.checkpoint_path()}")
        return chain
