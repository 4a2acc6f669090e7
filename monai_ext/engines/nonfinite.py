# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.engines.nonfinite`` moved to :mod:`monai_ext.handlers.nonfinite`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.nonfinite import NonFiniteLossError, NonFiniteLossHandler, batch_names
from ..utils.deprecation import warn_moved_module

__all__ = [
    "NonFiniteLossError",
    "NonFiniteLossHandler",
    "batch_names",
]

warn_moved_module(__name__, "monai_ext.handlers.nonfinite")
