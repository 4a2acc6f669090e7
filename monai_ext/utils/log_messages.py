# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""One log message from a bundle config, as a ``_target_`` instead of a ``$logging.getLogger(...)`` expression.

In a bundle's ``run`` list (``distill.json`` of ``sai_diagnosis``)::

    {"_target_": "monai_ext.utils.log_message", "logger_name": "sai_diagnosis",
     "message": "loading the MRC-Net teacher from %s (written by train_sr.json)", "args": ["@teacher_path"]}

The message is formatted by :mod:`logging` (``message % args``), so the line printed is that of
``logging.getLogger(logger_name).info(message % args)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

__all__ = ["log_message"]


def log_message(
    message: str, args: Sequence[Any] = (), logger_name: str = "monai_ext", level: int | str = logging.INFO
) -> None:
    """Log ``message % args`` with the logger ``logger_name`` at ``level``.

    Args:
        message: the message, with ``%s`` placeholders for ``args`` (the :mod:`logging` convention).
        args: the values of the placeholders, formatted only when the record is emitted.
        logger_name: name given to :func:`logging.getLogger` (a bundle logs with its own name).
        level: a level number or name (``"INFO"``, ``"warning"``, ...).

    Raises:
        ValueError: ``level`` is not a known level name.
    """
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ValueError(f"log_message: unknown logging level {level!r}.")
        level = number
    logging.getLogger(logger_name).log(level, message, *args)
