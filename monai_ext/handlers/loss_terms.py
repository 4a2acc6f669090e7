# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Logging of the individual terms of a composite loss."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["LossTermsHandler"]


class LossTermsHandler:
    """Copy a composite loss's ``last_terms`` into ``engine.state.metrics`` every ``interval`` iterations.

    Composite losses (``DualStreamLoss``, ``SAIDiagnosisLoss``) keep their latest per-term values as detached
    tensors in ``last_terms``. Converting them to floats needs a device synchronisation, so it happens only every
    ``interval`` iterations; the values then show up in ``StatsHandler``/TensorBoard/MLflow output like metrics
    (named ``loss_<term>``).

    Args:
        loss: the composite loss object (anything with a ``last_terms`` dict).
        interval: iterations between two updates.
        prefix: name prefix for the metrics.
        log: also print the terms with the ``logger``.
    """

    def __init__(self, loss: object, interval: int = 1, prefix: str = "loss_", log: bool = False) -> None:
        if not hasattr(loss, "last_terms"):
            raise TypeError(f"{type(loss).__name__} has no `last_terms`; LossTermsHandler needs a composite loss.")
        self.loss = loss
        self.interval = max(1, int(interval))
        self.prefix = prefix
        self.log = log
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.interval), self)

    def __call__(self, engine: Engine) -> None:
        terms = getattr(self.loss, "last_terms", {}) or {}
        if not terms:
            return
        values = torch.stack(
            [torch.as_tensor(v, dtype=torch.float32).detach().reshape(()).cpu() for v in terms.values()]
        )
        for name, value in zip(terms.keys(), values.tolist()):
            engine.state.metrics[f"{self.prefix}{name}"] = value
        if self.log:
            text = " ".join(f"{k}: {v:.4f}" for k, v in zip(terms.keys(), values.tolist()))
            self.logger.info(f"Epoch {engine.state.epoch} iteration {engine.state.iteration}: {text}")
