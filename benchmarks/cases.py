# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The benchmark cases: each bundle's networks with their losses, optimizers and input sizes.

Two sizes per case: ``paper`` (the papers' resolutions: HRF 876 x 584 -> 1752 x 1168, IDRiD 720 x 480 -> 1440 x 960,
CAD-CAP 128 -> 512, PCam 96 -> 192, fundus SR x4) and ``small`` (the same full-width networks on small images,
a quick CPU run). Shapes are written (H, W), so HRF "876 x 584" (W x H) is ``(584, 876)``.

Every network is the paper's full-width configuration; the losses and optimizers are the bundles' (DS2F:
CE + MSE + SSIM + RMI with SGD; SS-MAF: CBCE + MSE + RMI + MSE; MRC-Net: L1 reconstruction; SAI: the full
diagnosis loss with Adam; saliency SRGAN: saliency-weighted MSE + VGG16 relu4_1 + local saliency + 0.01
adversarial, then the discriminator update). The VGG16 of the feature loss has random weights here (no download);
its cost does not depend on the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.harness import Options, StepBundle, autocast_context

__all__ = ["Size", "Case", "CASES", "SIZES", "DUAL_STREAM_TRAINING_ONLY", "get_case"]

#: submodules of ``DualStreamNet`` that only run in training (the SR stream and the fusion module)
DUAL_STREAM_TRAINING_ONLY = ("sr_decoder", "sr_head", "feature_fusion", "output_fusion")
SIZES = ("small", "paper")


@dataclass(frozen=True)
class Size:
    """Input size of a case.

    Args:
        lr_hw: network input (H, W) for inference (and training unless ``train_lr_hw`` is set).
        out_hw: output (H, W) (for the tables).
        train_batch: training batch size; ``None`` skips the training measurement.
        infer_batch: inference batch size.
        train_lr_hw: training input (H, W) when it differs (SRGAN trains on crops).
        timed: ``False`` counts parameters and FLOPs only (no timed run; used where a timed run would cost minutes
            and the same-run ratio is also measured at the small size).
    """

    lr_hw: tuple[int, int]
    out_hw: tuple[int, int]
    train_batch: int | None = 2
    infer_batch: int = 1
    train_lr_hw: tuple[int, int] | None = None
    timed: bool = True

    def input_hw(self, train: bool) -> tuple[int, int]:
        return self.train_lr_hw if (train and self.train_lr_hw is not None) else self.lr_hw


def _randn(shape: tuple[int, ...], device: torch.device, gen: torch.Generator | None) -> torch.Tensor:
    if device.type == "meta":
        return torch.empty(shape, device=device)
    return torch.randn(shape, generator=gen).to(device)


def _rand_labels(shape: tuple[int, ...], device: torch.device, gen: torch.Generator | None, num_classes: int,
                 foreground: float = 0.1) -> torch.Tensor:
    """Class indices; for 2 classes about ``foreground`` of the pixels are class 1 (thin vessels, small lesions)."""
    if device.type == "meta":
        return torch.empty(shape, dtype=torch.long, device=device)
    if num_classes == 2:
        return (torch.rand(shape, generator=gen) < foreground).long().to(device)
    return torch.randint(0, num_classes, shape, generator=gen).to(device)


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)


def _as_float(out: Any) -> Any:
    """Outputs in float32 for the loss (AMP runs the network in reduced precision, the loss in float32)."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, dict):
        return {k: _as_float(v) for k, v in out.items()}
    if isinstance(out, tuple):
        return tuple(_as_float(v) for v in out)
    return out


@dataclass
class Case:
    """One network of one bundle, with what its training step needs.

    Args:
        name: case id (``<bundle part>_<dataset>``).
        bundle: bundle folder name.
        dataset: dataset whose resolution the ``paper`` size uses.
        description: one line for the tables.
        build: returns the network (on the current default device).
        make_inputs: ``(batch, size, device, seed, train=False) -> (inputs tuple, targets)``.
        sizes: ``{"small": Size, "paper": Size}``.
        make_loss: returns the loss callable ``(outputs, targets) -> scalar``.
        make_optimizer: returns the optimizer of the network.
        training_only: submodules counted as training-only parameters.
        in_channels: image channels (for ptflops).
        custom_step: optional ``(model, net, inputs, targets, device, options) -> train_step`` replacing the
            supervised step (the GAN's two-player step).
    """

    name: str
    bundle: str
    dataset: str
    description: str
    build: Callable[[], nn.Module]
    make_inputs: Callable[..., tuple[tuple[torch.Tensor, ...], Any]]
    sizes: dict[str, Size]
    make_loss: Callable[[], Callable[[Any, Any], torch.Tensor]] | None = None
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None = None
    training_only: tuple[str, ...] = ()
    in_channels: int = 3
    custom_step: Callable[..., Callable[[bool], torch.Tensor]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def prepare(
        self,
        model: nn.Module,
        batch: int,
        size: Size,
        device: torch.device,
        options: Options,
        timed_model: nn.Module | None = None,
    ) -> StepBundle:
        """Build the inputs, targets, loss and optimizer of a training step on ``model``."""
        seed = None if device.type == "meta" else options.seed
        inputs, targets = self.make_inputs(batch, size, device, seed, train=True)
        if options.channels_last:
            inputs = tuple(t.contiguous(memory_format=torch.channels_last) for t in inputs)
        net = timed_model if timed_model is not None else model
        if self.custom_step is not None:
            step = self.custom_step(model, net, inputs, targets, device, options)
            return StepBundle(model, step, inputs)
        assert self.make_loss is not None and self.make_optimizer is not None
        loss_fn = self.make_loss()
        if isinstance(loss_fn, nn.Module):
            loss_fn = loss_fn.to(device)
        optimizer = self.make_optimizer(model)
        scaler = torch.amp.GradScaler("cuda") if (options.amp == "fp16" and device.type == "cuda") else None

        def train_step(update: bool) -> torch.Tensor:
            if update:
                optimizer.zero_grad(set_to_none=True)
            with autocast_context(device, options.amp):
                outputs = net(*inputs)
            loss = loss_fn(_as_float(outputs), targets)
            if scaler is not None:
                scaler.scale(loss).backward()
                if update:
                    scaler.step(optimizer)
                    scaler.update()
            else:
                loss.backward()
                if update:
                    optimizer.step()
            return loss.detach()

        return StepBundle(model, train_step, inputs)


# --------------------------------------------------------------------------------------------------------------
# dual-stream segmentation (DS2F, SS-MAF)


def _segmentation_inputs(num_classes: int, scale_factor: int, dual_stream: bool) -> Callable[..., Any]:
    def make(batch: int, size: Size, device: torch.device, seed: int | None, train: bool = False) -> Any:
        gen = _generator(seed)
        h, w = size.input_hw(train)
        x = _randn((batch, 3, h, w), device, gen)
        hr = (h * scale_factor, w * scale_factor)
        label = _rand_labels((batch, 1, *hr), device, gen, num_classes)
        if not dual_stream:
            return (x,), label[:, 0]
        hr_image = _randn((batch, 3, *hr), device, gen).clamp(-1.0, 1.0)
        intensity_range = torch.tensor([[-1.0, 1.0]] * batch, device=device)
        return (x,), {"label": label, "hr_image": hr_image, "intensity_range": intensity_range}

    return make


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    # the DS2F bundle's optimizer (train.json): SGD, Nesterov momentum 0.9, weight decay 1e-4
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)


def _adam(lr: float, weight_decay: float = 0.0) -> Callable[[nn.Module], torch.optim.Optimizer]:
    def make(model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    return make


def _unet() -> nn.Module:
    from monai_ext.networks import BaselineUNet

    return BaselineUNet(spatial_dims=2, in_channels=3, out_channels=2)


def _dual_stream(fusion: str, checkpoint_training_branch: bool = False) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from monai_ext.networks import DualStreamNet

        return DualStreamNet(
            spatial_dims=2,
            in_channels=3,
            out_channels=2,
            scale_factor=2,
            fusion=fusion,
            checkpoint_training_branch=checkpoint_training_branch,
        )

    return build


def _ce_loss() -> Callable[[Any, Any], torch.Tensor]:
    return nn.CrossEntropyLoss()


def _ds2f_loss() -> Callable[[Any, Any], torch.Tensor]:
    from monai_ext.losses import DualStreamLoss

    return DualStreamLoss(seg_loss="ce", sr_loss="mse", fused_seg_loss="rmi", fused_sr_loss="ssim", num_classes=2)


def _ssmaf_loss() -> Callable[[Any, Any], torch.Tensor]:
    from monai_ext.losses import DualStreamLoss

    return DualStreamLoss(seg_loss="cbce", sr_loss="mse", fused_seg_loss="rmi", fused_sr_loss="mse", num_classes=2)


HRF_PAPER_LR, HRF_PAPER_HR = (584, 876), (1168, 1752)
HRF_SMALL_LR, HRF_SMALL_HR = (64, 96), (128, 192)
IDRID_PAPER_LR, IDRID_PAPER_HR = (480, 720), (960, 1440)

# --------------------------------------------------------------------------------------------------------------
# SR-assisted diagnosis (MRC-Net, SAI)


def _sr_inputs(upscale: int, channels: int = 3) -> Callable[..., Any]:
    def make(batch: int, size: Size, device: torch.device, seed: int | None, train: bool = False) -> Any:
        gen = _generator(seed)
        h, w = size.input_hw(train)
        x = _randn((batch, channels, h, w), device, gen)
        return (x,), _randn((batch, channels, h * upscale, w * upscale), device, gen)

    return make


def _classification_inputs(num_classes: int) -> Callable[..., Any]:
    def make(batch: int, size: Size, device: torch.device, seed: int | None, train: bool = False) -> Any:
        gen = _generator(seed)
        h, w = size.input_hw(train)
        x = _randn((batch, 3, h, w), device, gen)
        if device.type == "meta":
            label = torch.empty((batch,), dtype=torch.long, device=device)
        else:
            label = (torch.arange(batch) % num_classes).to(device)  # every batch holds several classes
        return (x,), {"label": label}

    return make


def _mrcnet(recursions: int, upscale: int = 4) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from monai_ext.networks import MRCNet

        return MRCNet(3, 3, scale_factor=upscale, num_recursions=recursions)

    return build


def _sr_l1_loss() -> Callable[[Any, Any], torch.Tensor]:
    def loss(outputs: Any, target: torch.Tensor) -> torch.Tensor:
        sr = outputs["sr"] if isinstance(outputs, dict) else outputs
        return F.l1_loss(sr, target)

    return loss


def _sai_framework(num_classes: int, upscale: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from monai_ext.networks import SAIFramework

        return SAIFramework(3, num_classes, scale_factor=upscale)

    return build


def _sai_loss() -> Callable[[Any, Any], torch.Tensor]:
    from monai_ext.losses import SAIDiagnosisLoss

    return SAIDiagnosisLoss()


# --------------------------------------------------------------------------------------------------------------
# saliency SRGAN (fundus x4)


class SRGANPair(nn.Module):
    """Generator and discriminator in one module; ``forward`` is the generator (the inference network)."""

    def __init__(self, scale_factor: int = 4) -> None:
        super().__init__()
        from monai_ext.networks import SRDiscriminator, SRGenerator

        self.generator = SRGenerator(spatial_dims=2, in_channels=3, out_channels=3, scale_factor=scale_factor)
        self.discriminator = SRDiscriminator(spatial_dims=2, in_channels=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x)


def _srgan_step(
    model: nn.Module, net: nn.Module, inputs: tuple[torch.Tensor, ...], target: torch.Tensor,
    device: torch.device, options: Options,
) -> Callable[[bool], torch.Tensor]:
    """Saliency-SRGAN step: generator update (content + 0.01 adversarial), then discriminator update."""
    from monai_ext.losses import LocalSaliencyLoss, SaliencyWeightedMSELoss, VGGFeatureLoss

    pixel = SaliencyWeightedMSELoss()
    saliency = LocalSaliencyLoss()
    vgg = VGGFeatureLoss(allow_random_weights=True, input_range=(-4.0, 4.0)).to(device)
    generator = torch.compile(model.generator) if options.compile else model.generator
    discriminator = model.discriminator
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=1e-4, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=1e-4, betas=(0.9, 0.999))
    (x,) = inputs

    def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))

    def step(update: bool) -> torch.Tensor:
        if update:
            opt_g.zero_grad(set_to_none=True)
        with autocast_context(device, options.amp):
            fake = generator(x)
            fake_logits = discriminator(fake)
        fake32 = fake.float()
        loss_g = pixel(fake32, target) + vgg(fake32, target) + saliency(fake32, target)
        loss_g = loss_g + 0.01 * bce(fake_logits.float(), True)
        loss_g.backward()
        if update:
            opt_g.step()
            opt_d.zero_grad(set_to_none=True)
        with autocast_context(device, options.amp):
            real_logits = discriminator(target)
            fake_logits = discriminator(fake.detach())
        loss_d = bce(real_logits.float(), True) + bce(fake_logits.float(), False)
        loss_d.backward()
        if update:
            opt_d.step()
        return loss_g.detach()

    return step


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case(
            name="unet_hr_hrf",
            bundle="ds2f",
            dataset="HRF",
            description="plain U-Net at the HR input (what DS2F avoids)",
            build=_unet,
            make_inputs=_segmentation_inputs(2, 1, dual_stream=False),
            sizes={
                "small": Size(HRF_SMALL_HR, HRF_SMALL_HR, train_batch=None),
                "paper": Size(HRF_PAPER_HR, HRF_PAPER_HR, train_batch=None, timed=False),
            },
            make_loss=_ce_loss,
            make_optimizer=_sgd,
        ),
        Case(
            name="unet_lr_hrf",
            bundle="ds2f",
            dataset="HRF",
            description="plain U-Net at the LR input",
            build=_unet,
            make_inputs=_segmentation_inputs(2, 1, dual_stream=False),
            sizes={
                "small": Size(HRF_SMALL_LR, HRF_SMALL_LR, train_batch=2),
                "paper": Size(HRF_PAPER_LR, HRF_PAPER_LR, train_batch=None),
            },
            make_loss=_ce_loss,
            make_optimizer=_sgd,
        ),
        Case(
            name="ds2f_unet_hrf",
            bundle="ds2f",
            dataset="HRF",
            description="DS2F U-Net + MSCG, x2 (CE + MSE + SSIM + RMI)",
            build=_dual_stream("mscg"),
            make_inputs=_segmentation_inputs(2, 2, dual_stream=True),
            sizes={
                "small": Size(HRF_SMALL_LR, HRF_SMALL_HR, train_batch=2),
                "paper": Size(HRF_PAPER_LR, HRF_PAPER_HR, train_batch=2),
            },
            make_loss=_ds2f_loss,
            make_optimizer=_sgd,
            training_only=DUAL_STREAM_TRAINING_ONLY,
        ),
        Case(
            name="ds2f_unet_hrf_ckpt",
            bundle="ds2f",
            dataset="HRF",
            description="DS2F as above, SR stream + MSCG recomputed in backward (activation_checkpointing=true)",
            build=_dual_stream("mscg", checkpoint_training_branch=True),
            make_inputs=_segmentation_inputs(2, 2, dual_stream=True),
            sizes={
                "small": Size(HRF_SMALL_LR, HRF_SMALL_HR, train_batch=2),
                "paper": Size(HRF_PAPER_LR, HRF_PAPER_HR, train_batch=2),
            },
            make_loss=_ds2f_loss,
            make_optimizer=_sgd,
            training_only=DUAL_STREAM_TRAINING_ONLY,
        ),
        Case(
            name="ssmaf_unet_idrid",
            bundle="ss_maf",
            dataset="IDRiD",
            description="SS-MAF U-Net + MAF, x2 (CBCE + MSE + RMI + MSE)",
            build=_dual_stream("maf"),
            make_inputs=_segmentation_inputs(2, 2, dual_stream=True),
            sizes={
                "small": Size(HRF_SMALL_LR, HRF_SMALL_HR, train_batch=2),
                "paper": Size(IDRID_PAPER_LR, IDRID_PAPER_HR, train_batch=2),
            },
            make_loss=_ssmaf_loss,
            make_optimizer=_sgd,
            training_only=DUAL_STREAM_TRAINING_ONLY,
        ),
        Case(
            name="mrcnet_student_cadcap",
            bundle="sai_diagnosis",
            dataset="CAD-CAP",
            description="MRC-Net student (T=1), x4, L1 reconstruction",
            build=_mrcnet(1),
            make_inputs=_sr_inputs(4),
            sizes={
                "small": Size((32, 32), (128, 128), train_batch=2),
                "paper": Size((128, 128), (512, 512), train_batch=2),
            },
            make_loss=_sr_l1_loss,
            make_optimizer=_adam(1e-4),
        ),
        Case(
            name="mrcnet_teacher_cadcap",
            bundle="sai_diagnosis",
            dataset="CAD-CAP",
            description="MRC-Net recursive teacher (T=3), x4, L1 reconstruction",
            build=_mrcnet(3),
            make_inputs=_sr_inputs(4),
            sizes={
                "small": Size((32, 32), (128, 128), train_batch=2),
                "paper": Size((128, 128), (512, 512), train_batch=2),
            },
            make_loss=_sr_l1_loss,
            make_optimizer=_adam(1e-4),
        ),
        Case(
            name="sai_framework_cadcap",
            bundle="sai_diagnosis",
            dataset="CAD-CAP",
            description="SAI framework: MRC-Net x4 + dual ResNet-18 with SAI, K=3",
            build=_sai_framework(3, 4),
            make_inputs=_classification_inputs(3),
            sizes={
                "small": Size((32, 32), (128, 128), train_batch=2),
                "paper": Size((128, 128), (512, 512), train_batch=2),
            },
            make_loss=_sai_loss,
            make_optimizer=_adam(5e-4, 1e-5),
        ),
        Case(
            name="sai_framework_pcam",
            bundle="sai_diagnosis",
            dataset="PCam",
            description="SAI framework: MRC-Net x2 + dual ResNet-18 with SAI, K=2",
            build=_sai_framework(2, 2),
            make_inputs=_classification_inputs(2),
            sizes={
                "small": Size((48, 48), (96, 96), train_batch=2),
                "paper": Size((96, 96), (192, 192), train_batch=4),
            },
            make_loss=_sai_loss,
            make_optimizer=_adam(5e-4, 1e-5),
        ),
        Case(
            name="srgan_x4_fundus",
            bundle="saliency_sr",
            dataset="fundus",
            description="saliency SRGAN x4 (16 blocks per x2 stage); trains on 96 px HR crops, D training-only",
            build=lambda: SRGANPair(4),
            make_inputs=_sr_inputs(4),
            sizes={
                "small": Size((32, 32), (128, 128), train_batch=2, train_lr_hw=(12, 12)),
                "paper": Size((128, 128), (512, 512), train_batch=4, train_lr_hw=(24, 24)),
            },
            training_only=("discriminator",),
            custom_step=_srgan_step,
        ),
    )
}


def get_case(name: str) -> Case:
    """The case called ``name``.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
    """
    if name not in CASES:
        raise KeyError(f"unknown benchmark case {name!r}; known cases: {', '.join(CASES)}.")
    return CASES[name]
