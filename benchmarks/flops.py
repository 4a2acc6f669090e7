# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Parameter and FLOP counting in the two conventions the papers use.

* **ptflops GMac** (DS2F / SS-MAF papers): ``ptflops.get_model_complexity_info`` with ``backend="pytorch"`` and
  ``count_functional=False``. It counts ``nn.Module`` forward hooks only (convolutions with their bias, BatchNorm,
  ReLU, pooling, linear layers) as multiply-accumulates per sample; functional calls such as ``F.interpolate`` are
  not counted. This reproduces the DS2F paper's "U-Net 384.49 GFLOPs at 876 x 584".
* **FlopCounterMode FLOPs** (SAI paper): ``torch.utils.flop_counter.FlopCounterMode`` totals, which count the
  matrix products and convolutions only, with a multiply-add as 2 FLOPs and no bias. It also counts the backward
  pass, which gives the work of a training step for the achieved-FLOP/s figures.

Both counters run on the ``meta`` device by default: the shapes flow through the network without any arithmetic, so
counting a 1752 x 1168 U-Net takes well under a second instead of a full forward pass. The counts equal those of a
real run (checked in ``tests/benchmarks/test_harness.py``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "count_parameters",
    "ptflops_macs",
    "flop_counter_flops",
    "train_step_flops",
    "saved_activation_bytes",
]


def count_parameters(model: nn.Module, training_only: Iterable[str] = ()) -> dict[str, int]:
    """Count parameters with and without the training-only parts of a network.

    Args:
        model: the network.
        training_only: dotted names of submodules that only exist for training (e.g. ``"sr_decoder"``,
            ``"sr_head"``, ``"feature_fusion"``, a GAN discriminator); names absent from ``model`` are ignored, so one
            list serves every configuration of a network class.

    Returns:
        ``{"total": all parameters, "inference": parameters outside the training-only submodules,
        "training_only": the difference}``. Shared parameters are counted once.
    """
    modules = dict(model.named_modules())
    excluded: set[int] = set()
    for name in training_only:
        module = modules.get(name)
        if module is not None:
            excluded.update(id(p) for p in module.parameters())
    total = inference = 0
    for p in model.parameters():  # parameters() already de-duplicates shared tensors
        total += p.numel()
        if id(p) not in excluded:
            inference += p.numel()
    return {"total": total, "inference": inference, "training_only": total - inference}


def _as_tuple(inputs: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)


def ptflops_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates per sample of ``model`` in eval mode, as ptflops counts them (the DS2F convention).

    Args:
        model: the network; it is put in eval mode for the count and its mode is restored afterwards. Counting runs
            on the device of its parameters (use a model built on ``meta`` for speed).
        input_shape: ``(C, H, W)`` of one input sample.

    Returns:
        MACs per sample (divide by 1e9 for the papers' "GFLOPs", which are GMac).
    """
    from ptflops import get_model_complexity_info

    was_training = model.training
    model.eval()
    try:
        # ptflops prints a warning for every module instance reused in several places (the U-Net shares one ReLU);
        # the counts are right, so its chatter is dropped
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            macs, _ = get_model_complexity_info(
                model,
                tuple(int(s) for s in input_shape),
                as_strings=False,
                print_per_layer_stat=False,
                verbose=False,
                backend="pytorch",
                backend_specific_config={"count_functional": False},
            )
    finally:
        model.train(was_training)
    if macs is None:
        raise RuntimeError(f"ptflops could not count {type(model).__name__} at input {tuple(input_shape)}.")
    return int(macs)


def flop_counter_flops(
    model: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor], forward_kwargs: Mapping[str, Any] | None = None
) -> int:
    """Forward FLOPs (FlopCounterMode convention, 2 per multiply-add) of ``model`` in eval mode on ``inputs``.

    Args:
        model: the network (mode restored afterwards).
        inputs: one tensor or a sequence of positional inputs, on the model's device.
        forward_kwargs: extra keyword arguments of the forward call.

    Returns:
        Total FLOPs for the whole batch of ``inputs``.
    """
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(*_as_tuple(inputs), **dict(forward_kwargs or {}))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def train_step_flops(step: Callable[[], Any]) -> int:
    """FLOPs (FlopCounterMode convention) of one training step: ``step`` runs forward, loss and backward.

    The optimizer update is elementwise and not counted (FlopCounterMode counts matrix products and convolutions).

    Args:
        step: a callable doing forward + loss + ``backward()`` on tensors of the model's device.

    Returns:
        Total FLOPs of the step (forward and backward).
    """
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return int(counter.get_total_flops())


def saved_activation_bytes(model: nn.Module, step: Callable[[], Any]) -> dict[str, int]:
    """Bytes of the tensors autograd saves for backward during ``step`` (forward + loss), by top-level submodule.

    This is the activation memory a training step holds at the start of its backward pass. It runs on ``meta``
    tensors as well (no arithmetic), so it predicts the training memory at paper resolution in a second. Parameters
    are not counted; views of one tensor count once; distinct tensors sharing storage are counted separately (an
    upper bound).

    Args:
        model: the network; saved tensors are attributed to its direct children by name, the rest to ``"(other)"``
            (the loss and functional code outside the children).
        step: forward + loss (no backward needed; the saved tensors are collected as they are packed).

    Returns:
        ``{part name: bytes}`` plus ``"total"``.
    """
    params = {id(p) for p in model.parameters()}
    stack = ["(other)"]
    handles = []
    for name, child in model.named_children():
        handles.append(child.register_forward_pre_hook(lambda m, i, name=name: stack.append(name)))
        handles.append(child.register_forward_hook(lambda m, i, o: stack.pop() and None))
    seen: set[int] = set()
    by_part: dict[str, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        base = t._base if t._base is not None else t
        if id(t) not in params and id(base) not in params and id(base) not in seen:
            seen.add(id(base))
            by_part[stack[-1]] = by_part.get(stack[-1], 0) + base.numel() * base.element_size()
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            step()
    finally:
        for h in handles:
            h.remove()
    by_part["total"] = sum(by_part.values())
    return by_part
