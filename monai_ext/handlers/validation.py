# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Validation during training that always scores the last epoch.

:class:`ValidationHandler` is MONAI's handler that also validates after the last epoch, so that a run shorter than
``val_interval`` still selects and saves a model.
"""

from __future__ import annotations

import logging
from typing import Any

from monai.handlers import ValidationHandler as _MonaiValidationHandler
from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["ValidationHandler"]

logger = logging.getLogger("monai_ext")


class ValidationHandler(_MonaiValidationHandler):
    """MONAI's ``ValidationHandler`` that also validates after the last epoch.

    With ``interval=5`` and ``max_epochs=7`` MONAI validates at epoch 5 only, so the last two epochs are never
    scored and a run shorter than ``interval`` saves no best model at all. This handler validates at every
    ``interval``-th epoch and at the last one (``final=True``). Same arguments as MONAI's otherwise. When the
    validator's data loader is empty the handler attaches nothing and logs that training runs without validation.

    Args:
        interval: validate every ``interval`` epochs (or iterations when ``epoch_level=False``).
        validator: the evaluator.
        epoch_level: epoch (True) or iteration (False) interval.
        exec_at_start: also validate before training.
        final: also validate after the last epoch (epoch level only). Defaults to True.
    """

    def __init__(
        self,
        interval: int,
        validator: Any = None,
        epoch_level: bool = True,
        exec_at_start: bool = False,
        final: bool = True,
    ) -> None:
        super().__init__(interval=interval, validator=validator, epoch_level=epoch_level, exec_at_start=exec_at_start)
        self.final = final

    def attach(self, engine: Engine) -> None:
        if self._validation_data_is_empty():
            logger.info("the validation data is empty: training runs without validation")
            return
        if not (self.epoch_level and self.final):
            super().attach(engine)
            return
        interval = max(1, int(self.interval))

        def due(engine: Engine, epoch: int) -> bool:
            return epoch % interval == 0 or epoch == engine.state.max_epochs

        engine.add_event_handler(Events.EPOCH_COMPLETED(event_filter=due), self)
        if self.exec_at_start:
            engine.add_event_handler(Events.STARTED, self)

    def _validation_data_is_empty(self) -> bool:
        loader = getattr(self.validator, "data_loader", None)
        try:
            return loader is not None and len(loader) == 0
        except TypeError:  # an iterable without a length: assume it has data
            return False
