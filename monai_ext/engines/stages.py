# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""One training stage as a bundle's ``run`` step: attach the checkpoint saver, then run the trainer.

A bundle config lists its stages in ``run`` by ``_target_``; a stage whose trainer has ``max_epochs`` 0 is skipped
(MONAI's ``_disabled_`` switches a stage off by any other condition)::

    "run": [
        {"_target_": "monai_ext.engines.run_training_stage", "trainer": "@pretrain#trainer",
         "checkpoint_saver": "@pretrain#checkpoint_saver"},
        {"_target_": "monai_ext.engines.run_training_stage", "trainer": "@train#trainer",
         "checkpoint_saver": "@train#checkpoint_saver"}
    ]
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["run_training_stage"]

logger = logging.getLogger("monai_ext")


def run_training_stage(trainer: Any, checkpoint_saver: Any | None = None) -> Any:
    """Attach ``checkpoint_saver`` to ``trainer`` and run it.

    The saver is attached here rather than listed in the trainer's handlers: attached last, it runs after every
    handler the trainer was built with (validation included), so an epoch's checkpoint is written once the epoch's
    work is done; and a rank that saves nothing passes None instead of leaving a None in a handler list.
    A stage configured for zero epochs (``--pretrain_epochs 0``) is skipped: nothing runs and nothing is saved
    (run for zero epochs, ignite would still fire ``COMPLETED`` and the saver would write the untrained network
    under the stage's final checkpoint name).

    Args:
        trainer: a MONAI/ignite trainer (anything with ``run()``).
        checkpoint_saver: a handler with ``attach(engine)``, or None (multi-GPU ranks other than 0 save nothing).

    Returns:
        The trainer's state after the run.
    """
    if getattr(getattr(trainer, "state", None), "max_epochs", None) == 0:
        logger.info("training stage skipped: max_epochs is 0")
        return trainer.state
    if checkpoint_saver is not None:
        checkpoint_saver.attach(trainer)
    trainer.run()
    return trainer.state
